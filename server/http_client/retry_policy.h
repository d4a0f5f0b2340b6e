#pragma once
// When and how long the outbound HTTP client waits before another attempt. Pure: no I/O, no
// clock and no randomness of its own (the caller passes `now` and a uniform random number), so
// every rule here is tested without sleeping (tests/unit/retry_policy_test.cc).
//
// Rules:
// - retried: 429 and every 5xx status, and transport failures (decided by the client);
// - the delay before retry number `retry` (0 = the first retry) is exponential back-off with full
//   jitter: random * min(max_backoff, initial_backoff * 2^retry);
// - except that a valid Retry-After (RFC 9110 §10.2.3: delta-seconds or an HTTP-date) on a 429 or
//   503 sets the delay exactly, capped at max_retry_after; a date in the past means "now". A
//   malformed or negative Retry-After is ignored (back-off applies).

#include <chrono>
#include <optional>
#include <string_view>

#include "common/time.h"

namespace mm::http_client {

// True for the final HTTP statuses worth another attempt: 429 and 500..599.
bool IsRetryableStatus(int status);

// Parses an HTTP-date (RFC 9110 §5.6.7) in any of its three forms: IMF-fixdate
// "Sun, 06 Nov 1994 08:49:37 GMT" (what senders must send), and the obsolete RFC 850
// "Sunday, 06-Nov-94 08:49:37 GMT" (a two-digit year more than 50 years ahead of `now` is in
// the past century) and asctime "Sun Nov  6 08:49:37 1994". The weekday is not checked against
// the date. nullopt if malformed.
std::optional<TimePoint> ParseHttpDate(std::string_view text, TimePoint now);

// Parses a Retry-After value into a delay from `now`: delta-seconds ("120") or an HTTP-date.
// Leading and trailing blanks are allowed; a date in the past gives 0; an absurdly large
// delta-seconds saturates (the caller caps it). nullopt if malformed (including "-5", "1.5", "").
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value, TimePoint now);

struct RetryPolicyOptions {
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::seconds max_retry_after{300};
};

class RetryPolicy {
 public:
  explicit RetryPolicy(RetryPolicyOptions options);

  // Full-jitter exponential back-off before retry number `retry` (0 = the first retry):
  // random * min(max_backoff, initial_backoff * 2^retry), rounded down to milliseconds.
  // `random` is clamped to [0, 1]; negative `retry` counts as 0.
  std::chrono::milliseconds Backoff(int retry, double random) const;

  // The delay before retry number `retry` after a retryable response with `status`: the
  // Retry-After delay (capped at max_retry_after) if `status` is 429 or 503 and `retry_after`
  // parses, otherwise Backoff(retry, random).
  std::chrono::milliseconds DelayAfterStatus(int retry, int status,
                                             std::optional<std::string_view> retry_after,
                                             TimePoint now, double random) const;

  const RetryPolicyOptions& options() const { return options_; }

 private:
  RetryPolicyOptions options_;
};

}  // namespace mm::http_client
