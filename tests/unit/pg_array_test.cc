// PostgreSQL array literals (pure string tests; the database round trip is a pgtest).

#include "store/pg_array.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace mm::store {
namespace {

using ::testing::ElementsAre;

// Decodes a one-dimensional array literal the way PostgreSQL's array_in does for the subset
// the builder may produce: `{` elements `}`, elements separated by commas, each either a
// double-quoted string (backslash escapes the next character) or unquoted (NULL = SQL NULL).
// nullopt if the literal is malformed.
std::optional<std::vector<std::optional<std::string>>> Decode(const std::string& literal) {
  if (literal.size() < 2 || literal.front() != '{' || literal.back() != '}') return std::nullopt;
  std::vector<std::optional<std::string>> out;
  size_t i = 1;
  const size_t end = literal.size() - 1;
  if (i == end) return out;
  while (true) {
    if (i < end && literal[i] == '"') {
      std::string element;
      ++i;
      while (i < end && literal[i] != '"') {
        if (literal[i] == '\\') ++i;
        if (i >= end) return std::nullopt;
        element.push_back(literal[i++]);
      }
      if (i >= end) return std::nullopt;  // unterminated
      ++i;
      out.emplace_back(std::move(element));
    } else {
      size_t stop = literal.find(',', i);
      if (stop == std::string::npos || stop > end) stop = end;
      std::string bare = literal.substr(i, stop - i);
      if (bare.empty() || bare.find_first_of("\"\\{} ") != std::string::npos) return std::nullopt;
      if (bare == "NULL") {
        out.emplace_back(std::nullopt);
      } else {
        out.emplace_back(std::move(bare));
      }
      i = stop;
    }
    if (i == end) return out;
    if (literal[i] != ',') return std::nullopt;
    ++i;
  }
}

std::string One(std::string_view element) {
  PgArrayBuilder b;
  b.Add(element);
  return b.Finish();
}

TEST(PgArrayTest, EmptyArray) {
  PgArrayBuilder b;
  EXPECT_EQ(b.Finish(), "{}");
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(ToPgArray({}), "{}");
}

TEST(PgArrayTest, PlainElementsAreQuoted) { EXPECT_EQ(ToPgArray({"a", "bc"}), R"({"a","bc"})"); }

TEST(PgArrayTest, QuotesAndBackslashesAreEscaped) {
  EXPECT_EQ(One(R"(say "hi")"), R"({"say \"hi\""})");
  EXPECT_EQ(One(R"(C:\dir\)"), R"({"C:\\dir\\"})");
  EXPECT_EQ(One(R"(\")"), R"({"\\\""})");
}

TEST(PgArrayTest, CommasBracesAndSpacesNeedNoEscapeInsideQuotes) {
  EXPECT_EQ(One("a,b"), R"({"a,b"})");
  EXPECT_EQ(One("{x}"), R"({"{x}"})");
  EXPECT_EQ(One(" padded "), R"({" padded "})");
  EXPECT_EQ(One("line\nbreak\ttab"), "{\"line\nbreak\ttab\"}");
}

TEST(PgArrayTest, TheTextNullIsNotSqlNull) {
  EXPECT_EQ(One("NULL"), R"({"NULL"})");
  EXPECT_EQ(One("null"), R"({"null"})");
  PgArrayBuilder b;
  b.AddNull();
  EXPECT_EQ(b.Finish(), "{NULL}");
}

TEST(PgArrayTest, EmptyStringIsAnEmptyQuotedElement) {
  EXPECT_EQ(One(""), R"({""})");
  EXPECT_EQ(ToPgArray({"", ""}), R"({"",""})");
}

TEST(PgArrayTest, UnicodeBytesPassThrough) {
  EXPECT_EQ(One("\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82"),
            "{\"\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82\"}");
}

TEST(PgArrayTest, OptionalElements) {
  PgArrayBuilder b;
  b.Add(std::optional<std::string>("x"));
  b.Add(std::optional<std::string>());
  b.Add(std::optional<std::string>("NULL"));
  EXPECT_EQ(b.Finish(), R"({"x",NULL,"NULL"})");
  EXPECT_EQ(b.size(), 3u);
}

TEST(PgArrayTest, Integers) {
  PgArrayBuilder b;
  b.AddInt(0);
  b.AddInt(-5);
  b.AddInt(std::numeric_limits<int64_t>::max());
  b.AddInt(std::numeric_limits<int64_t>::min());
  EXPECT_EQ(b.Finish(), "{0,-5,9223372036854775807,-9223372036854775808}");
}

TEST(PgArrayTest, Bools) {
  PgArrayBuilder b;
  b.AddBool(true);
  b.AddBool(false);
  b.AddNull();
  EXPECT_EQ(b.Finish(), "{t,f,NULL}");
}

TEST(PgArrayTest, FinishDoesNotConsumeTheBuilder) {
  PgArrayBuilder b;
  b.Add(std::string_view("a"));  // Add("a") alone is ambiguous (string_view vs optional)
  EXPECT_EQ(b.Finish(), R"({"a"})");
  EXPECT_EQ(b.Finish(), R"({"a"})");
  b.Add(std::string_view("b"));
  EXPECT_EQ(b.Finish(), R"({"a","b"})");
  EXPECT_EQ(b.size(), 2u);
}

TEST(PgArrayTest, TrickyElementsDecodeBackExactly) {
  std::vector<std::optional<std::string>> elements = {
      "",  "NULL", std::nullopt,   "\"", "\\",  "\\\"",    ",",
      "{", "}",    "{\"a\",NULL}", " ",  "a b", "\xc3\xa9"};
  PgArrayBuilder b;
  for (const auto& e : elements) b.Add(e);
  auto decoded = Decode(b.Finish());
  ASSERT_TRUE(decoded.has_value()) << b.Finish();
  EXPECT_EQ(*decoded, elements);
}

TEST(PgArrayTest, RandomStringsDecodeBackExactly) {
  // Strings over an alphabet made of the characters that matter to the array syntax.
  const std::string alphabet = "ab\"\\,{} NUL\n\xc3\xa9";
  std::mt19937 rng(42);
  for (int round = 0; round < 500; ++round) {
    std::vector<std::optional<std::string>> elements;
    int n = std::uniform_int_distribution<int>(0, 6)(rng);
    for (int i = 0; i < n; ++i) {
      if (std::uniform_int_distribution<int>(0, 9)(rng) == 0) {
        elements.emplace_back(std::nullopt);
        continue;
      }
      std::string s;
      int len = std::uniform_int_distribution<int>(0, 8)(rng);
      for (int k = 0; k < len; ++k) {
        s.push_back(alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(rng)]);
      }
      elements.emplace_back(std::move(s));
    }
    PgArrayBuilder b;
    for (const auto& e : elements) b.Add(e);
    auto decoded = Decode(b.Finish());
    ASSERT_TRUE(decoded.has_value()) << b.Finish();
    ASSERT_EQ(*decoded, elements) << b.Finish();
  }
}

TEST(PgArrayTest, DecoderSelfCheck) {
  // The reference decoder must itself tell elements apart, or the tests above prove nothing.
  EXPECT_THAT(*Decode(R"({"a","b\"c",NULL,x})"), ElementsAre("a", "b\"c", std::nullopt, "x"));
  EXPECT_FALSE(Decode(R"({"a})").has_value());
  EXPECT_FALSE(Decode(R"({a b})").has_value());
  EXPECT_FALSE(Decode("a").has_value());
}

}  // namespace
}  // namespace mm::store
