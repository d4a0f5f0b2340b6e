#pragma once
// What every provider event must satisfy before it is stored (DESIGN §5a), whichever adapter or
// pull source made it: the limits adapters apply to the values they read, and the last check
// the ingest step makes so that no value inside one authentic event can make a write batch fail
// or a change-log row unreadable — and so stop other events from applying.
//
// The limits are bytes of UTF-8. They keep every value inside what PostgreSQL stores and
// indexes (a btree entry must stay under ~2.7 kB: (account_id, role, user_id) is indexed) and
// what a record's JSON can carry (no NUL: PostgreSQL text and jsonb refuse it).

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/time.h"
#include "domain/events.h"

namespace mm::domain {

inline constexpr size_t kMaxIdBytes = 256;         // event, user and account ids (DESIGN §4)
inline constexpr size_t kMaxEventTypeBytes = 256;  // the provider's event type
inline constexpr size_t kMaxRoleBytes = 256;       // a membership role (indexed)
inline constexpr size_t kMaxEmailBytes = 320;      // RFC 5321's longest address
inline constexpr size_t kMaxNameBytes = 1024;      // user and account display names
inline constexpr size_t kMaxReasonBytes = 1024;    // a disable reason
inline constexpr size_t kMaxActorBytes = 256;      // who did it (an id or an operator's name)
inline constexpr size_t kMaxAddedViaBytes = 256;   // how a member joined

// Fact times the mirror stores: from the epoch to the end of year 9999. Earlier or later
// instants cannot be represented (DESIGN §5a) and dead-letter their event.
inline constexpr TimePoint kEarliestFactTime{};
inline constexpr TimePoint kLatestFactTime = kLatestFormattable;
inline constexpr bool IsRepresentableFactTime(TimePoint t) {
  return t >= kEarliestFactTime && t <= kLatestFactTime;
}

// Why `id` cannot be an event, user or account id the mirror stores (empty, over kMaxIdBytes,
// holding NUL, not UTF-8), naming it `label`; nullopt if it can.
std::optional<std::string> CheckId(std::string_view label, std::string_view id);

// `text` cut to at most `max_bytes` without splitting a UTF-8 sequence (for display text
// such as names and reasons, where a shortened value is better than none).
std::string TruncateUtf8(std::string_view text, size_t max_bytes);

// Takes every fact time later than `received_at + max_skew` (the envelope's and each
// normalized event's) as `received_at`, since a provider's clock running ahead must not, say,
// revoke a user's sessions until a date years away. Returns how many times were replaced.
int ClampFutureFactTimes(ProviderEvent& event, std::chrono::seconds max_skew);

// Why a normalized event's values are out of bounds (ids, role, texts, fact time), or nullopt.
std::optional<std::string> CheckValues(const NormalizedEvent& event);

// The ingest step's last check, on every event before it is queued for storage:
// 1. ClampFutureFactTimes.
// 2. INVALID_ARGUMENT if the event cannot be stored at all: an event id or type that is empty,
//    over its limit or holds NUL, a body holding NUL, a receive time out of range.
// 3. Otherwise an event time or a normalized event's value out of bounds makes it a dead letter
//    (its events dropped, the reason set; an unrepresentable event time replaced by the
//    receive time so that the letter itself can be stored; for an ignored event, whose time
//    decides nothing, that replacement is all).
// 4. named_users becomes the storable user ids of the adapter's list and of the facts (before
//    a dead letter drops them), each once.
// Every event this accepts can be stored and its records read back (the change-log invariant).
struct Prepared {
  int clamped = 0;             // fact times taken as the receive time
  bool dead_lettered = false;  // made a dead letter here
};
absl::StatusOr<Prepared> PrepareForStore(ProviderEvent& event, std::chrono::seconds max_skew);

}  // namespace mm::domain
