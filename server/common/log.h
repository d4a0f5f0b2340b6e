#pragma once
// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-06-03T09:15:27.402000Z","level":"info","msg":"listening","component":"ingress","addr":"0.0.0.0:8080"}
// Never pass secrets, tokens or request bodies as fields. Thread-safe.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/time.h"

namespace mm::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug" | "info" | "warn" | "error".
bool ParseLevel(std::string_view text, Level& out);
void SetLevel(Level level);
bool Enabled(Level level);

using Field = std::pair<std::string_view, std::string>;
void Write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void Debug(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kDebug, msg, f); }
inline void Info(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kInfo, msg, f); }
inline void Warn(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kWarn, msg, f); }
inline void Error(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kError, msg, f); }

// At most `lines` lines per `period` from one call site, for logs that outside input can
// trigger at will (rejected requests, refused connections): a flood costs a few lines, not
// the disk or the log pipeline. Thread-safe; one instance per call site, e.g. a static.
class RateLimit {
 public:
  RateLimit(int lines, std::chrono::milliseconds period, const Clock& clock = SystemClock::Instance())
      : lines_(lines), period_(period), clock_(clock) {}
  // Whether a line may be written now. When it may, `suppressed` is how many were not written
  // since the last one that was (log it with the line, so the count of events stays known).
  bool Allow(uint64_t& suppressed);

 private:
  const int lines_;
  const std::chrono::milliseconds period_;
  const Clock& clock_;
  absl::Mutex mu_;
  TimePoint window_start_ ABSL_GUARDED_BY(mu_){};
  int written_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t suppressed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mm::log
