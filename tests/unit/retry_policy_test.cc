// Back-off, Retry-After and retryable statuses of the outbound HTTP client
// (http_client/retry_policy.h). Pure: no I/O, no clock, no randomness.

#include "http_client/retry_policy.h"

#include <gtest/gtest.h>

#include <deque>

namespace mm::http_client {
namespace {

using namespace std::chrono;

TimePoint Utc(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return TimePoint{sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s}};
}

// 2026-06-03 09:15:27 UTC, a Wednesday.
const TimePoint kNow = Utc(2026, 6, 3, 9, 15, 27);

RetryPolicy Policy(milliseconds initial = milliseconds{500}, milliseconds max = milliseconds{30000},
                   seconds max_retry_after = seconds{300}) {
  return RetryPolicy(RetryPolicyOptions{initial, max, max_retry_after});
}

TEST(RetryPolicyStatusTest, TooManyRequestsAndServerErrorsOnly) {
  EXPECT_TRUE(IsRetryableStatus(429));
  for (int status : {500, 501, 502, 503, 504, 507, 599}) EXPECT_TRUE(IsRetryableStatus(status)) << status;
  for (int status : {100, 200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 408, 409, 422, 428, 431, 499, 600, 0}) {
    EXPECT_FALSE(IsRetryableStatus(status)) << status;
  }
}

TEST(RetryPolicyBackoffTest, GrowsExponentiallyWithFullRandomness) {
  RetryPolicy policy = Policy();
  // random just below 1: the whole window, which doubles per retry.
  const double almost_one = 0.999999;
  EXPECT_EQ(policy.Backoff(0, almost_one), milliseconds{499});
  EXPECT_EQ(policy.Backoff(1, almost_one), milliseconds{999});
  EXPECT_EQ(policy.Backoff(2, almost_one), milliseconds{1999});
  EXPECT_EQ(policy.Backoff(3, almost_one), milliseconds{3999});
  // Full jitter: the delay is random * window, anywhere from 0.
  EXPECT_EQ(policy.Backoff(0, 0.0), milliseconds{0});
  EXPECT_EQ(policy.Backoff(0, 0.5), milliseconds{250});
  EXPECT_EQ(policy.Backoff(2, 0.25), milliseconds{500});
  EXPECT_EQ(policy.Backoff(3, 0.5), milliseconds{2000});
}

TEST(RetryPolicyBackoffTest, CappedAtMaxBackoff) {
  RetryPolicy policy = Policy(milliseconds{500}, milliseconds{3000});
  EXPECT_EQ(policy.Backoff(2, 1.0), milliseconds{2000});
  EXPECT_EQ(policy.Backoff(3, 1.0), milliseconds{3000});  // 4000 capped
  EXPECT_EQ(policy.Backoff(10, 1.0), milliseconds{3000});
  EXPECT_EQ(policy.Backoff(10, 0.5), milliseconds{1500});
  // A huge retry count neither overflows nor goes negative.
  EXPECT_EQ(policy.Backoff(1000, 1.0), milliseconds{3000});
  EXPECT_EQ(policy.Backoff(64, 0.5), milliseconds{1500});
}

TEST(RetryPolicyBackoffTest, ScriptedRandomSequence) {
  // What a client sees over five attempts with a scripted Random().
  RetryPolicy policy = Policy(milliseconds{100}, milliseconds{1000});
  std::deque<double> randoms = {0.5, 0.5, 0.5, 0.5, 0.1};
  std::vector<milliseconds> delays;
  for (int retry = 0; retry < 5; ++retry) {
    delays.push_back(policy.Backoff(retry, randoms.front()));
    randoms.pop_front();
  }
  EXPECT_EQ(delays, (std::vector<milliseconds>{milliseconds{50}, milliseconds{100}, milliseconds{200},
                                               milliseconds{400}, milliseconds{100}}));
}

TEST(RetryPolicyBackoffTest, OutOfRangeInputsClamped) {
  RetryPolicy policy = Policy();
  EXPECT_EQ(policy.Backoff(-3, 1.0), milliseconds{500});  // as retry 0
  EXPECT_EQ(policy.Backoff(0, -1.0), milliseconds{0});
  EXPECT_EQ(policy.Backoff(0, 7.0), milliseconds{500});
}

TEST(RetryPolicyHttpDateTest, ImfFixdate) {
  EXPECT_EQ(ParseHttpDate("Wed, 03 Jun 2026 09:15:57 GMT", kNow), Utc(2026, 6, 3, 9, 15, 57));
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT", kNow), Utc(1994, 11, 6, 8, 49, 37));
  EXPECT_EQ(ParseHttpDate("Thu, 01 Jan 1970 00:00:00 GMT", kNow), TimePoint{});
  EXPECT_EQ(ParseHttpDate("Tue, 29 Feb 2028 23:59:59 GMT", kNow), Utc(2028, 2, 29, 23, 59, 59));
}

TEST(RetryPolicyHttpDateTest, ObsoleteForms) {
  EXPECT_EQ(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT", kNow), Utc(1994, 11, 6, 8, 49, 37));
  EXPECT_EQ(ParseHttpDate("Wednesday, 03-Jun-26 09:16:27 GMT", kNow), Utc(2026, 6, 3, 9, 16, 27));
  EXPECT_EQ(ParseHttpDate("Thursday, 01-Jan-70 00:00:00 GMT", kNow), Utc(2070, 1, 1, 0, 0, 0));  // < 50 years ahead
  EXPECT_EQ(ParseHttpDate("Sun Nov  6 08:49:37 1994", kNow), Utc(1994, 11, 6, 8, 49, 37));
  EXPECT_EQ(ParseHttpDate("Wed Jun 03 09:16:27 2026", kNow), Utc(2026, 6, 3, 9, 16, 27));
}

TEST(RetryPolicyHttpDateTest, Malformed) {
  for (const char* text : {"", "Wed, 03 Jun 2026 09:15:57", "Wed, 03 Jun 2026 09:15:57 UTC",
                           "Wed, 3 Jun 2026 09:15:57 GMT", "Wed, 03 June 2026 09:15:57 GMT",
                           "Wed, 31 Jun 2026 09:15:57 GMT", "Wed, 03 Jun 2026 24:00:00 GMT",
                           "Wed, 03 Jun 2026 09:60:00 GMT", "Xyz, 03 Jun 2026 09:15:57 GMT",
                           "Wed, 03 Jun 2026 09:15:57 GMT ", "2026-06-03T09:15:57Z", "Wed, 03 jun 2026 09:15:57 GMT",
                           "Wed Jun  3 09:15:57 26"}) {
    EXPECT_EQ(ParseHttpDate(text, kNow), std::nullopt) << text;
  }
}

TEST(RetryPolicyRetryAfterTest, DeltaSeconds) {
  EXPECT_EQ(ParseRetryAfter("2", kNow), milliseconds{2000});
  EXPECT_EQ(ParseRetryAfter("0", kNow), milliseconds{0});
  EXPECT_EQ(ParseRetryAfter("120", kNow), milliseconds{120000});
  EXPECT_EQ(ParseRetryAfter(" 7 ", kNow), milliseconds{7000});
  EXPECT_EQ(ParseRetryAfter("0030", kNow), milliseconds{30000});
  // Absurdly large: saturates instead of overflowing; the policy caps it.
  std::optional<milliseconds> huge = ParseRetryAfter("99999999999999999999999999", kNow);
  ASSERT_TRUE(huge.has_value());
  EXPECT_GT(*huge, hours{24 * 365});
}

TEST(RetryPolicyRetryAfterTest, HttpDate) {
  EXPECT_EQ(ParseRetryAfter("Wed, 03 Jun 2026 09:15:57 GMT", kNow), milliseconds{30000});
  EXPECT_EQ(ParseRetryAfter("Wed, 03 Jun 2026 10:15:27 GMT", kNow), milliseconds{3600000});
  // Now or in the past: retry at once.
  EXPECT_EQ(ParseRetryAfter("Wed, 03 Jun 2026 09:15:27 GMT", kNow), milliseconds{0});
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kNow), milliseconds{0});
  // A date between whole seconds of `now` rounds up: never retry before the named moment.
  EXPECT_EQ(ParseRetryAfter("Wed, 03 Jun 2026 09:15:28 GMT", kNow + milliseconds{250}), milliseconds{750});
}

TEST(RetryPolicyRetryAfterTest, MalformedAndNegative) {
  for (const char* text : {"", "  ", "-1", "-120", "+5", "1.5", "5s", "soon", "0x10", "1 2",
                           "Wed, 03 Jun 2026 09:15:57"}) {
    EXPECT_EQ(ParseRetryAfter(text, kNow), std::nullopt) << "'" << text << "'";
  }
}

TEST(RetryPolicyDelayTest, RetryAfterOn429And503SetsTheDelay) {
  RetryPolicy policy = Policy();
  EXPECT_EQ(policy.DelayAfterStatus(0, 429, "2", kNow, 0.5), milliseconds{2000});
  EXPECT_EQ(policy.DelayAfterStatus(3, 503, "10", kNow, 0.5), milliseconds{10000});
  EXPECT_EQ(policy.DelayAfterStatus(0, 503, "Wed, 03 Jun 2026 09:16:27 GMT", kNow, 0.5), milliseconds{60000});
  EXPECT_EQ(policy.DelayAfterStatus(0, 429, "0", kNow, 0.9), milliseconds{0});
}

TEST(RetryPolicyDelayTest, RetryAfterCappedAtMaxRetryAfter) {
  RetryPolicy policy = Policy(milliseconds{500}, milliseconds{30000}, seconds{300});
  EXPECT_EQ(policy.DelayAfterStatus(0, 429, "301", kNow, 0.5), seconds{300});
  EXPECT_EQ(policy.DelayAfterStatus(0, 429, "86400", kNow, 0.5), seconds{300});
  EXPECT_EQ(policy.DelayAfterStatus(0, 503, "Thu, 04 Jun 2026 09:15:27 GMT", kNow, 0.5), seconds{300});
  EXPECT_EQ(policy.DelayAfterStatus(0, 503, "99999999999999999999", kNow, 0.5), seconds{300});
  EXPECT_EQ(policy.DelayAfterStatus(0, 429, "300", kNow, 0.5), seconds{300});
  EXPECT_EQ(policy.DelayAfterStatus(0, 429, "299", kNow, 0.5), seconds{299});
}

TEST(RetryPolicyDelayTest, MalformedOrMissingRetryAfterFallsBackToBackoff) {
  RetryPolicy policy = Policy();
  EXPECT_EQ(policy.DelayAfterStatus(2, 429, std::nullopt, kNow, 0.5), milliseconds{1000});
  EXPECT_EQ(policy.DelayAfterStatus(2, 429, "-5", kNow, 0.5), milliseconds{1000});
  EXPECT_EQ(policy.DelayAfterStatus(2, 503, "later", kNow, 0.5), milliseconds{1000});
  EXPECT_EQ(policy.DelayAfterStatus(2, 503, "", kNow, 0.5), milliseconds{1000});
}

TEST(RetryPolicyDelayTest, RetryAfterIgnoredOnOtherStatuses) {
  // RFC 9110 gives Retry-After meaning on 503 (and 3xx); RFC 6585 on 429. A 500 or 502 carrying
  // one gets the normal back-off.
  RetryPolicy policy = Policy();
  EXPECT_EQ(policy.DelayAfterStatus(1, 500, "60", kNow, 0.5), milliseconds{500});
  EXPECT_EQ(policy.DelayAfterStatus(1, 502, "60", kNow, 0.5), milliseconds{500});
  EXPECT_EQ(policy.DelayAfterStatus(1, 504, "60", kNow, 0.5), milliseconds{500});
}

}  // namespace
}  // namespace mm::http_client
