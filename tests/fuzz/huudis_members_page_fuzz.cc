// Fuzz target: the Huudis members page decoder (server/adapters/huudis_pull.h
// DecodeHuudisMembersPage). Checks: the contract (listed members have an id and a role; a
// next cursor is never empty), and the round trip of what the lists source stores: the
// listing reconciled against an empty workspace (domain::DiffMembers, as
// server/sources/huudis_lists_source.cc does), made into provider events and stored, reads
// back identically (fuzz_support.h).

#include <set>

#include "adapters/huudis_pull.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<mm::adapters::HuudisMembersPage> page =
      mm::adapters::DecodeHuudisMembersPage(mm::fuzz::AsText(data, size));
  if (!mm::fuzz::Decoded(page)) return 0;
  if (page->next_cursor) MM_FUZZ_CHECK(!page->next_cursor->empty());
  for (const mm::domain::ListedMember& member : page->members) {
    MM_FUZZ_CHECK(!member.user_id.empty() && !member.role.empty());
    if (member.joined_at) MM_FUZZ_CHECK(mm::IsFormattable(*member.joined_at));
  }
  const std::set<std::string> unusable(page->unusable.begin(), page->unusable.end());
  mm::fuzz::CheckCorrectionsStored(
      mm::domain::DiffMembers("acc_fuzz", page->members, unusable, {}, mm::fuzz::Now()), mm::domain::Provider::kHuudis);
  return 0;
}
