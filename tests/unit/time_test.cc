// RFC 3339 parsing and formatting (common/time.h).

#include "common/time.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace mm {
namespace {

using namespace std::chrono;

// Expected instants written out by hand, independently of the parser.
TimePoint Utc(int y, unsigned mo, unsigned d, int h, int mi, int s, int64_t us = 0) {
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s} +
         microseconds{us};
}

TEST(ParseRfc3339Test, UtcWithZ) {
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27Z"), Utc(2026, 6, 3, 9, 15, 27));
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), TimePoint{});
  EXPECT_EQ(ParseRfc3339("2026-06-03t09:15:27z"), Utc(2026, 6, 3, 9, 15, 27));  // lower case
  EXPECT_EQ(ParseRfc3339("2026-06-03 09:15:27Z"), Utc(2026, 6, 3, 9, 15, 27));  // space
}

TEST(ParseRfc3339Test, Offsets) {
  EXPECT_EQ(ParseRfc3339("2026-06-03T11:15:27+02:00"), Utc(2026, 6, 3, 9, 15, 27));
  EXPECT_EQ(ParseRfc3339("2026-06-03T03:45:27-05:30"), Utc(2026, 6, 3, 9, 15, 27));
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27+00:00"), Utc(2026, 6, 3, 9, 15, 27));
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27-00:00"), Utc(2026, 6, 3, 9, 15, 27));
  // An offset that crosses midnight and a year boundary.
  EXPECT_EQ(ParseRfc3339("2027-01-01T01:00:00+02:00"), Utc(2026, 12, 31, 23, 0, 0));
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27.5+23:59"), Utc(2026, 6, 2, 9, 16, 27, 500000));
}

TEST(ParseRfc3339Test, FractionsOfZeroToNineDigits) {
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27.4Z"), Utc(2026, 6, 3, 9, 15, 27, 400000));
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27.40Z"), Utc(2026, 6, 3, 9, 15, 27, 400000));
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27.402Z"), Utc(2026, 6, 3, 9, 15, 27, 402000));
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27.4021Z"), Utc(2026, 6, 3, 9, 15, 27, 402100));
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27.40215Z"), Utc(2026, 6, 3, 9, 15, 27, 402150));
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27.000001Z"), Utc(2026, 6, 3, 9, 15, 27, 1));
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27.123456Z"), Utc(2026, 6, 3, 9, 15, 27, 123456));
  // Beyond microseconds the digits are truncated, not rounded.
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27.1234567Z"), Utc(2026, 6, 3, 9, 15, 27, 123456));
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27.12345678Z"), Utc(2026, 6, 3, 9, 15, 27, 123456));
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27.999999999Z"), Utc(2026, 6, 3, 9, 15, 27, 999999));
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27.000000000+01:00"), Utc(2026, 6, 3, 8, 15, 27));
  // A dot with no digits is not a fraction.
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27.Z"), std::nullopt);
}

TEST(ParseRfc3339Test, CalendarIsChecked) {
  EXPECT_EQ(ParseRfc3339("2026-02-30T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-02-29T00:00:00Z"), std::nullopt);  // not a leap year
  EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00Z"), Utc(2024, 2, 29, 0, 0, 0));
  EXPECT_EQ(ParseRfc3339("2026-04-31T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-13-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-00-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-01-00T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-01-01T24:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-01-01T00:60:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-01-01T00:00:61Z"), std::nullopt);
}

// Whatever parses must format and parse back to the same instant (the change log stores times
// as text in records): year 0 and instants past 9999 after their offset are refused.
TEST(ParseRfc3339Test, OnlyInstantsThatFormatBackParse) {
  EXPECT_EQ(ParseRfc3339("0000-01-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("0001-01-01T00:00:00Z"), kEarliestFormattable);
  EXPECT_EQ(ParseRfc3339("0001-01-01T00:30:00+01:00"), std::nullopt);  // year 0 in UTC
  EXPECT_EQ(ParseRfc3339("9999-12-31T23:59:59.999999Z"), kLatestFormattable);
  EXPECT_EQ(ParseRfc3339("9999-12-31T23:59:59-00:01"), std::nullopt);  // 10000-01-01 in UTC
  EXPECT_EQ(ParseRfc3339("9999-12-31T23:59:60Z"), std::nullopt);       // leap second into 10000
  EXPECT_EQ(ParseRfc3339("9999-12-31T23:00:00-23:59"), std::nullopt);
  for (const char* text : {"0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z",
                           "9999-12-31T23:59:59+23:59", "1969-12-31T23:59:59.5-05:00"}) {
    std::optional<TimePoint> t = ParseRfc3339(text);
    ASSERT_TRUE(t.has_value()) << text;
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(*t)), t) << text;
  }
  EXPECT_TRUE(IsFormattable(kEarliestFormattable));
  EXPECT_FALSE(IsFormattable(kEarliestFormattable - std::chrono::microseconds(1)));
  EXPECT_FALSE(IsFormattable(kLatestFormattable + std::chrono::microseconds(1)));
}

TEST(ParseRfc3339Test, ZoneIsRequiredAndWellFormed) {
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27.402"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27+0200"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27+02"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27+2:00"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27+24:00"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27+02:60"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27UTC"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27ZZ"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27Z "), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-06-03T09:15:27+02:00:00"), std::nullopt);
}

TEST(ParseRfc3339Test, Garbage) {
  for (const char* bad : {"", "garbage", "2026-06-03", "2026-06-03T09:15Z", "26-06-03T09:15:27Z",
                          "2026/06/03T09:15:27Z", "2026-06-03X09:15:27Z", "2026-6-3T9:15:27Z",
                          " 2026-06-03T09:15:27Z", "2026-06-03T09:15:2aZ", "-2026-06-03T09:15:27Z",
                          "1780000000", "2026-06-03T09:15:27.4.5Z"}) {
    EXPECT_EQ(ParseRfc3339(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(FormatRfc3339Test, AlwaysSixFractionDigitsInUtc) {
  EXPECT_EQ(FormatRfc3339(Utc(2026, 6, 3, 9, 15, 27, 402000)), "2026-06-03T09:15:27.402000Z");
  EXPECT_EQ(FormatRfc3339(TimePoint{}), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatRfc3339(Utc(2024, 2, 29, 23, 59, 59, 999999)), "2024-02-29T23:59:59.999999Z");
}

TEST(FormatRfc3339Test, RoundTrips) {
  std::mt19937_64 rng(7);
  // 1970 .. 2100, any microsecond.
  std::uniform_int_distribution<int64_t> micros(0, int64_t{4102444800} * 1000000);
  for (int i = 0; i < 2000; ++i) {
    TimePoint t = FromUnixMicros(micros(rng));
    std::string text = FormatRfc3339(t);
    ASSERT_EQ(ParseRfc3339(text), t) << text;
  }
}

TEST(FormatRfc3339Test, RoundTripsBeforeTheEpoch) {
  for (TimePoint t : {Utc(1969, 12, 31, 23, 59, 59, 999999), Utc(1900, 1, 1, 0, 0, 0, 1)}) {
    std::string text = FormatRfc3339(t);
    EXPECT_EQ(ParseRfc3339(text), t) << text;
  }
  EXPECT_EQ(FormatRfc3339(Utc(1969, 12, 31, 23, 59, 59, 999999)), "1969-12-31T23:59:59.999999Z");
}

TEST(UnixTimeTest, Conversions) {
  EXPECT_EQ(FromUnixSeconds(1780000000), Utc(2026, 5, 28, 20, 26, 40));
  EXPECT_EQ(FromUnixMillis(1780000000250), Utc(2026, 5, 28, 20, 26, 40, 250000));
  EXPECT_EQ(FromUnixMicros(1780000000000001), Utc(2026, 5, 28, 20, 26, 40, 1));
  EXPECT_EQ(ToUnixMicros(Utc(2026, 5, 28, 20, 26, 40, 1)), 1780000000000001);
  EXPECT_EQ(ToUnixMicros(FromUnixMicros(-5)), -5);
}

TEST(SystemClockTest, NowIsCurrent) {
  TimePoint before = time_point_cast<microseconds>(system_clock::now());
  TimePoint now = SystemClock::Instance().Now();
  TimePoint after = time_point_cast<microseconds>(system_clock::now());
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
}

}  // namespace
}  // namespace mm
