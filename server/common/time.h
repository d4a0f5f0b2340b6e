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

// Parses an RFC 3339 / ISO-8601 UTC-or-offset timestamp such as "2026-06-03T09:15:27.402Z" or
// "2026-06-03T11:15:27+02:00". Fractions beyond microseconds are truncated. nullopt if malformed.
std::optional<TimePoint> ParseRfc3339(std::string_view text);

// Formats as "2026-06-03T09:15:27.402000Z" (always six fraction digits, UTC).
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
