#include "common/log.h"

#include <atomic>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "common/time.h"

namespace mm::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
// Whole lines: concurrent writers never interleave.
ABSL_CONST_INIT absl::Mutex g_write_mu(absl::kConstInit);
constexpr const char* kLevelNames[] = {"debug", "info", "warn", "error"};
}  // namespace

bool ParseLevel(std::string_view text, Level& out) {
  for (int i = 0; i < 4; ++i) {
    if (text == kLevelNames[i]) {
      out = static_cast<Level>(i);
      return true;
    }
  }
  return false;
}

void SetLevel(Level level) { g_level.store(static_cast<int>(level)); }
bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  nlohmann::ordered_json line;
  line["ts"] = FormatRfc3339(SystemClock::Instance().Now());
  line["level"] = kLevelNames[static_cast<int>(level)];
  line["msg"] = msg;
  for (const auto& [key, value] : fields) line[std::string(key)] = value;
  // Replace invalid UTF-8 instead of throwing: a log line must never take the process down.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  absl::MutexLock lock(&g_write_mu);
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

bool RateLimit::Allow(uint64_t& suppressed) {
  const TimePoint now = clock_.Now();
  absl::MutexLock lock(&mu_);
  if (now - window_start_ >= period_ || now < window_start_) {
    window_start_ = now;
    written_ = 0;
  }
  if (written_ >= lines_) {
    ++suppressed_;
    return false;
  }
  ++written_;
  suppressed = suppressed_;
  suppressed_ = 0;
  return true;
}

}  // namespace mm::log
