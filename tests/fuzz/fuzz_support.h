#pragma once
// What the fuzz targets of tests/fuzz/ share: the check that aborts with a message, the fixed
// clock, and the round trip every parsed provider event must survive — stored the way the
// writer and the store store it (server/ingest/event_writer.cc, server/store/pg_event_store.cc)
// and read back identically.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/time.h"
#include "domain/convergence.h"
#include "domain/event_checks.h"
#include "domain/events.h"
#include "domain/records.h"
#include "domain/records_json.h"
#include "domain/reconcile.h"
#include "sources/corrections.h"

namespace mm::fuzz {

// A broken property: says which, then aborts (libFuzzer saves the input as a crash artifact).
[[noreturn]] inline void Fail(const char* what, const char* file, int line) {
  std::fprintf(stderr, "\nFUZZ CHECK FAILED: %s (%s:%d)\n", what, file, line);
  std::abort();
}
#define MM_FUZZ_CHECK(condition)                                         \
  do {                                                                   \
    if (!(condition)) ::mm::fuzz::Fail(#condition, __FILE__, __LINE__);  \
  } while (false)

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// False for an input the parser refused, after checking that it said so with INVALID_ARGUMENT,
// the one error the service's parsers give for bad input.
template <typename T>
bool Decoded(const absl::StatusOr<T>& result) {
  if (result.ok()) return true;
  MM_FUZZ_CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
  return false;
}

// The receive time of every fuzzed delivery: a fixed instant (the fixtures' June 2026), so that
// inputs replay identically.
inline constexpr int64_t kNowSeconds = 1780478129;
inline TimePoint Now() { return FromUnixSeconds(kNowSeconds); }

// The maximum clock skew of the writer's default settings (server/config/settings.h).
inline constexpr std::chrono::seconds kMaxClockSkew{300};

// Splits `text` at its first `separator`: {before, after}; no separator: {text, ""}.
inline std::pair<std::string_view, std::string_view> SplitFirst(std::string_view text, char separator) {
  const size_t at = text.find(separator);
  if (at == std::string_view::npos) return {text, std::string_view()};
  return {text.substr(0, at), text.substr(at + 1)};
}

// A record written as its JSON (the `record` column, the change-log payload) reads back equal,
// and writing what was read gives the same text.
template <typename Record>
void CheckRecordRoundTrip(const Record& record,
                          absl::StatusOr<Record> (*from_json)(std::string_view)) {
  const std::string json = domain::ToJson(record);
  absl::StatusOr<Record> back = from_json(json);
  MM_FUZZ_CHECK(back.ok());
  MM_FUZZ_CHECK(*back == record);
  MM_FUZZ_CHECK(domain::ToJson(*back) == json);
}

inline void CheckStateRoundTrip(const domain::StateSet& state) {
  for (const auto& [id, user] : state.users) CheckRecordRoundTrip(user, domain::UserFromJson);
  for (const auto& [id, account] : state.accounts) CheckRecordRoundTrip(account, domain::AccountFromJson);
  for (const auto& [key, membership] : state.memberships) {
    CheckRecordRoundTrip(membership, domain::MembershipFromJson);
  }
}

// What the store keeps of one provider event, read back: the event is prepared as the writer
// prepares it, applied to an empty mirror by the convergence rules as the store applies it,
// and every record it produced survives its JSON; the event's own times survive RFC 3339 (the
// `provider_events` columns). An event PrepareForStore refuses is never stored: nothing to check.
inline void CheckStoredRoundTrip(domain::ProviderEvent event) {
  absl::StatusOr<domain::Prepared> prepared = domain::PrepareForStore(event, kMaxClockSkew);
  if (!prepared.ok()) return;
  for (TimePoint t : {event.fact_time, event.received_at}) {
    MM_FUZZ_CHECK(IsFormattable(t));
    MM_FUZZ_CHECK(ParseRfc3339(FormatRfc3339(t)) == t);
  }
  domain::StateSet state;
  domain::TouchedKeys changed;
  const domain::Outcome outcome = domain::Decide(event, /*duplicate=*/false, state, changed);
  if (event.dead_letter_reason) MM_FUZZ_CHECK(outcome == domain::Outcome::kDeadLettered);
  if (event.ignored) MM_FUZZ_CHECK(outcome == domain::Outcome::kIgnored);
  CheckStateRoundTrip(state);
  // Applying the same provider event again changes nothing (the rules are idempotent; dedup
  // aside). Not for an operator's action: it always takes effect, 1 µs after the state it
  // replaces (DESIGN §3), so it moves its own state again.
  if (event.provider == domain::Provider::kOperator) return;
  const domain::StateSet once = state;
  domain::TouchedKeys again;
  domain::Decide(event, /*duplicate=*/false, state, again);
  MM_FUZZ_CHECK(state == once);
}

// The WebhookAdapter::Decode contract (server/adapters/webhook_adapter.h) every adapter keeps:
// an error is UNAUTHENTICATED or INVALID_ARGUMENT; an event is from `provider`, keeps the body
// exactly, was received now and has an id and type within their limits. Returns the event, or
// nullptr for an error.
inline const domain::ProviderEvent* CheckDecodeContract(const absl::StatusOr<domain::ProviderEvent>& result,
                                                        std::string_view body, domain::Provider provider) {
  if (!result.ok()) {
    const absl::StatusCode code = result.status().code();
    MM_FUZZ_CHECK(code == absl::StatusCode::kUnauthenticated || code == absl::StatusCode::kInvalidArgument);
    return nullptr;
  }
  MM_FUZZ_CHECK(result->provider == provider);
  MM_FUZZ_CHECK(result->raw_body == body);
  MM_FUZZ_CHECK(result->received_at == Now());
  MM_FUZZ_CHECK(!result->event_id.empty() && result->event_id.size() <= domain::kMaxIdBytes);
  MM_FUZZ_CHECK(!result->event_type.empty() && result->event_type.size() <= domain::kMaxEventTypeBytes);
  return &*result;
}

// The mirror after applying `event` to an empty one.
inline domain::StateSet AppliedToEmpty(const domain::ProviderEvent& event) {
  domain::StateSet state;
  domain::TouchedKeys changed;
  domain::Decide(event, /*duplicate=*/false, state, changed);
  return state;
}

// A replay: decoding the stored raw body of `decoded` again (with the same `headers`) gives the
// same event and converges the mirror to the same state. Then the stored round trip.
template <typename Adapter, typename Headers>
void CheckReplayAndStoredRoundTrip(const Adapter& adapter, const Headers& headers, domain::ProviderEvent decoded) {
  absl::StatusOr<domain::ProviderEvent> replayed = adapter.Decode(headers, decoded.raw_body, Now());
  MM_FUZZ_CHECK(replayed.ok());
  MM_FUZZ_CHECK(replayed->event_id == decoded.event_id && replayed->event_type == decoded.event_type);
  MM_FUZZ_CHECK(replayed->fact_time == decoded.fact_time);
  MM_FUZZ_CHECK(replayed->dead_letter_reason == decoded.dead_letter_reason);
  MM_FUZZ_CHECK(AppliedToEmpty(*replayed) == AppliedToEmpty(decoded));
  CheckStoredRoundTrip(std::move(decoded));
}

// A pull source's corrections, made into provider events as the sources make them
// (server/sources/corrections.h) and stored, read back.
inline void CheckCorrectionsStored(const std::vector<domain::Correction>& corrections, domain::Provider provider) {
  const sources::CorrectionRun run{.source = "fuzz", .scope = "fuzz", .provider = provider, .listed_at = Now()};
  for (const domain::Correction& correction : corrections) {
    CheckStoredRoundTrip(sources::CorrectionEvent(run, correction, Now()));
  }
}

// A decoded user listing, reconciled against an empty mirror (every user becomes known) and
// stored.
inline void CheckListedUsersStored(const std::vector<domain::ListedUser>& users, domain::Provider provider,
                                   bool use_changed_at) {
  for (const domain::ListedUser& user : users) MM_FUZZ_CHECK(!user.user_id.empty());
  CheckCorrectionsStored(
      domain::DiffUsers(users, {}, {.listed_at = Now(), .use_changed_at = use_changed_at}), provider);
}

}  // namespace mm::fuzz
