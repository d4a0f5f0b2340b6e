// Fuzz target: record JSON decoding (server/domain/records_json.h), i.e. what decodes a
// change-log row's record (server/cache/change_follower.cc, server/api/change_service.cc) and
// the users/accounts/memberships `record` column (server/store/pg_event_store.cc). The first
// input byte picks the entity (as the row's `entity` column does), the rest is the record.
// Round trip: a record that decodes re-encodes to JSON that decodes to an equal record and
// re-encodes to the same text; a user's cache row (store::ToUserStateRow) is the same from both.

#include "domain/records_json.h"
#include "fuzz_support.h"
#include "store/event_store.h"

namespace {

template <typename Record>
void Check(std::string_view json, absl::StatusOr<Record> (*from_json)(std::string_view)) {
  absl::StatusOr<Record> record = from_json(json);
  if (!mm::fuzz::Decoded(record)) return;
  mm::fuzz::CheckRecordRoundTrip(*record, from_json);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view json = mm::fuzz::AsText(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      Check(json, mm::domain::UserFromJson);
      absl::StatusOr<mm::domain::UserRecord> user = mm::domain::UserFromJson(json);
      if (user.ok()) {
        const mm::store::UserStateRow row = mm::store::ToUserStateRow(*user);
        const mm::store::UserStateRow again =
            mm::store::ToUserStateRow(*mm::domain::UserFromJson(mm::domain::ToJson(*user)));
        MM_FUZZ_CHECK(row.user_id == again.user_id && row.state == again.state &&
                      row.state_changed_at == again.state_changed_at &&
                      row.disabled_reason == again.disabled_reason &&
                      row.sessions_valid_after == again.sessions_valid_after);
      }
      break;
    }
    case 1:
      Check(json, mm::domain::AccountFromJson);
      break;
    default:
      Check(json, mm::domain::MembershipFromJson);
  }
  return 0;
}
