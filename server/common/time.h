#pragma once
// Time values used across the service. PostgreSQL `timestamptz` has microsecond resolution, so
// every instant is a system_clock time point in microseconds: what we store is what we compare.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mm {

using TimePoint = std::chrono::sys_time<std::chrono::microseconds>;

// The instants FormatRfc3339 writes and ParseRfc3339 reads back: years 0001 to 9999 in UTC
// (PostgreSQL has no year 0; a fifth year digit is not RFC 3339).
inline constexpr TimePoint kEarliestFormattable{std::chrono::sys_days{std::chrono::year{1} / 1 / 1}};
inline constexpr TimePoint kLatestFormattable{std::chrono::sys_days{std::chrono::year{10000} / 1 / 1} -
                                              std::chrono::microseconds{1}};
inline constexpr bool IsFormattable(TimePoint t) {
  return t >= kEarliestFormattable && t <= kLatestFormattable;
}

// Parses an RFC 3339 / ISO-8601 UTC-or-offset timestamp such as "2026-06-03T09:15:27.402Z" or
// "2026-06-03T11:15:27+02:00". Fractions beyond microseconds are truncated. nullopt if
// malformed, or if the instant (after its offset) is not IsFormattable: whatever this returns,
// FormatRfc3339 writes in a form this reads back to the same instant.
std::optional<TimePoint> ParseRfc3339(std::string_view text);

// Formats as "2026-06-03T09:15:27.402000Z" (always six fraction digits, UTC). `t` must be
// IsFormattable for the result to be RFC 3339 (a bug otherwise; asserted in debug builds).
std::string FormatRfc3339(TimePoint t);

TimePoint FromUnixSeconds(int64_t seconds);
TimePoint FromUnixMillis(int64_t millis);
int64_t ToUnixMicros(TimePoint t);
TimePoint FromUnixMicros(int64_t micros);

// Time source, injected so that replay windows and batch timers are tested without sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
  static const SystemClock& Instance();
};

}  // namespace mm
