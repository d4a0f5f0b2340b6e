// log::RateLimit (common/log.h): at most N lines per period from one call site, with the count
// of those not written reported on the next one that is. Time comes from a manual clock.

#include <gtest/gtest.h>

#include <chrono>

#include "common/log.h"
#include "common/time.h"

namespace mm {
namespace {

class ManualClock final : public Clock {
 public:
  TimePoint Now() const override { return now; }
  TimePoint now = FromUnixSeconds(1780000000);
};

TEST(LogRateLimitTest, AllowsTheBudgetPerPeriodThenCountsWhatItDropped) {
  ManualClock clock;
  log::RateLimit limit(3, std::chrono::seconds(1), clock);
  uint64_t suppressed = 99;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limit.Allow(suppressed)) << i;
    EXPECT_EQ(suppressed, 0u);
  }
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limit.Allow(suppressed));
  clock.now += std::chrono::milliseconds(999);
  EXPECT_FALSE(limit.Allow(suppressed)) << "still the same period";
  clock.now += std::chrono::milliseconds(1);
  ASSERT_TRUE(limit.Allow(suppressed));
  EXPECT_EQ(suppressed, 6u) << "the first line of a period says how many were dropped";
  ASSERT_TRUE(limit.Allow(suppressed));
  EXPECT_EQ(suppressed, 0u);
}

TEST(LogRateLimitTest, AClockThatGoesBackStartsANewPeriod) {
  ManualClock clock;
  log::RateLimit limit(1, std::chrono::hours(1), clock);
  uint64_t suppressed = 0;
  ASSERT_TRUE(limit.Allow(suppressed));
  EXPECT_FALSE(limit.Allow(suppressed));
  clock.now -= std::chrono::minutes(5);
  EXPECT_TRUE(limit.Allow(suppressed)) << "a stepped-back clock must not silence the log for the step";
  EXPECT_EQ(suppressed, 1u);
}

}  // namespace
}  // namespace mm
