// Fuzz target: HTTP-date and Retry-After (server/http_client/retry_policy.h). Round trips: a
// parsed HTTP-date written back as an IMF-fixdate (what senders must send) parses to the same
// instant; a Retry-After delay is never negative, and one in whole seconds written back as
// delta-seconds parses to the same delay (below the 10^9 s where delta-seconds saturate). The delay a policy applies is within its caps.

#include <chrono>
#include <ctime>
#include <string>

#include "fuzz_support.h"
#include "http_client/retry_policy.h"

namespace {

// "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7), or "" when the year has no 4 digits.
std::string ImfFixdate(mm::TimePoint t) {
  const std::time_t seconds = std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
  std::tm parts{};
  if (gmtime_r(&seconds, &parts) == nullptr || parts.tm_year + 1900 < 1000 || parts.tm_year + 1900 > 9999) return "";
  char text[64];
  const size_t n = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &parts);
  return std::string(text, n);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = mm::fuzz::AsText(data, size);
  const mm::TimePoint now = mm::fuzz::Now();

  if (std::optional<mm::TimePoint> t = mm::http_client::ParseHttpDate(text, now)) {
    MM_FUZZ_CHECK(*t == std::chrono::floor<std::chrono::seconds>(*t));  // HTTP-dates have whole seconds
    const std::string fixdate = ImfFixdate(*t);
    if (!fixdate.empty()) MM_FUZZ_CHECK(mm::http_client::ParseHttpDate(fixdate, now) == t);
  }

  if (std::optional<std::chrono::milliseconds> delay = mm::http_client::ParseRetryAfter(text, now)) {
    MM_FUZZ_CHECK(delay->count() >= 0);
    if (delay->count() % 1000 == 0 && *delay < std::chrono::seconds(1'000'000'000)) {
      const std::string delta = std::to_string(delay->count() / 1000);
      MM_FUZZ_CHECK(mm::http_client::ParseRetryAfter(delta, now) == delay);
    }
    const mm::http_client::RetryPolicy policy({});
    const std::chrono::milliseconds applied = policy.DelayAfterStatus(0, 503, text, now, 0.5);
    MM_FUZZ_CHECK(applied.count() >= 0 && applied <= policy.options().max_retry_after);
  }
  return 0;
}
