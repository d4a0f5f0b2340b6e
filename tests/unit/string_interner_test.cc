// StringInterner (cache/string_interner.h): one stable copy per distinct string, from any
// thread.

#include "cache/string_interner.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace mm::cache {
namespace {

TEST(StringInternerTest, EqualStringsShareOneCopy) {
  StringInterner interner;
  std::string a = "account_compromise";
  const std::string* first = interner.Intern(a);
  a[0] = 'X';  // the interned copy is its own
  EXPECT_EQ(*first, "account_compromise");
  EXPECT_EQ(interner.Intern("account_compromise"), first);
  const std::string* other = interner.Intern("terminated");
  EXPECT_NE(other, first);
  EXPECT_EQ(*other, "terminated");
  EXPECT_EQ(interner.size(), 2u);
}

TEST(StringInternerTest, AddressesSurviveGrowth) {
  StringInterner interner;
  std::vector<const std::string*> seen;
  for (int i = 0; i < 10000; ++i) seen.push_back(interner.Intern("reason " + std::to_string(i)));
  for (int i = 0; i < 10000; ++i) {
    EXPECT_EQ(*seen[static_cast<size_t>(i)], "reason " + std::to_string(i));
    EXPECT_EQ(interner.Intern("reason " + std::to_string(i)), seen[static_cast<size_t>(i)]);
  }
  EXPECT_EQ(interner.size(), 10000u);
}

TEST(StringInternerTest, ConcurrentInterningAgreesOnOneCopy) {
  StringInterner interner;
  std::vector<std::vector<const std::string*>> got(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) got[t].push_back(interner.Intern("r" + std::to_string(i % 500)));
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(interner.size(), 500u);
  for (size_t t = 1; t < got.size(); ++t) EXPECT_EQ(got[t], got[0]);
}

}  // namespace
}  // namespace mm::cache
