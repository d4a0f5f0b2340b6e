// ReadinessTracker (main/readiness.h): the answer, its checks, and that every change of the
// answer reaches the listener (the gRPC health status) from whichever evaluation saw it.

#include "main/readiness.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

namespace mm {
namespace {

TEST(ReadinessTrackerTest, ReadyOnlyWhenEveryCheckIsOkAndEveryChangeIsPublished) {
  std::string database = "unreachable", cache = "loading";
  ReadinessTracker tracker;
  tracker.AddCheck("database", [&] { return database; });
  tracker.AddCheck("cache", [&] { return cache; });
  std::vector<bool> published;
  tracker.SetListener([&](bool ready) { published.push_back(ready); });

  ingress::Readiness r = tracker.Evaluate();
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.checks.at("database"), "unreachable");
  EXPECT_EQ(r.checks.at("cache"), "loading");
  EXPECT_EQ(published, std::vector<bool>{false});  // the first answer, at once

  database = "ok";
  EXPECT_FALSE(tracker.Evaluate().ready);
  cache = "ok";
  EXPECT_TRUE(tracker.Evaluate().ready);
  EXPECT_TRUE(tracker.Evaluate().ready);
  cache = "reloading";
  EXPECT_FALSE(tracker.Evaluate().ready);
  EXPECT_EQ(published, (std::vector<bool>{false, true, false}));  // changes only
}

TEST(ReadinessTrackerTest, ANewListenerHearsTheCurrentAnswer) {
  ReadinessTracker tracker;
  tracker.AddCheck("schema", [] { return std::string("ok"); });
  EXPECT_TRUE(tracker.Evaluate().ready);  // no listener yet
  int told_ready = 0;
  tracker.SetListener([&](bool ready) { told_ready += ready ? 1 : 0; });
  tracker.Evaluate();
  tracker.Evaluate();
  EXPECT_EQ(told_ready, 1);
}

}  // namespace
}  // namespace mm
