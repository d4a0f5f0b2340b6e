#pragma once
// What the adapter tests share: the fixtures, times written out by hand, request headers as the
// ingress looks them up, and a field-by-field comparison of normalized events.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "adapters/webhook_adapter.h"
#include "common/time.h"
#include "domain/events.h"

namespace mm::adapters::testing {

inline std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(MM_FIXTURES_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << "fixture missing: " << name;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Fixture times written out by hand, independently of the parsers under test.
inline TimePoint Utc(int y, unsigned mo, unsigned d, int h, int mi, int s, int ms) {
  using namespace std::chrono;
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s} + milliseconds{ms};
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

// Case-insensitive, as the ingress's lookup is.
inline HeaderLookup Headers(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string_view> {
    for (const auto& [key, value] : values) {
      if (EqualsIgnoreCase(key, name)) return std::string_view(value);
    }
    return std::nullopt;
  };
}

inline void ExpectSameEvent(const domain::NormalizedEvent& actual, const domain::NormalizedEvent& expected) {
  EXPECT_EQ(domain::EventKindName(actual.kind), domain::EventKindName(expected.kind));
  EXPECT_EQ(actual.user_id, expected.user_id);
  EXPECT_EQ(actual.account_id, expected.account_id);
  EXPECT_EQ(FormatRfc3339(actual.fact_time), FormatRfc3339(expected.fact_time));
  EXPECT_EQ(actual.email, expected.email);
  EXPECT_EQ(actual.name, expected.name);
  EXPECT_EQ(actual.account_name, expected.account_name);
  EXPECT_EQ(actual.role, expected.role);
  EXPECT_EQ(actual.reason, expected.reason);
  EXPECT_EQ(actual.actor, expected.actor);
  EXPECT_EQ(actual.added_via, expected.added_via);
  EXPECT_EQ(actual.joined_at.has_value(), expected.joined_at.has_value());
  if (actual.joined_at && expected.joined_at) {
    EXPECT_EQ(FormatRfc3339(*actual.joined_at), FormatRfc3339(*expected.joined_at));
  }
}

}  // namespace mm::adapters::testing
