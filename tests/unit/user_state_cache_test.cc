// The in-memory IsUserActive answer (cache/user_state_cache.h): unknown users under both
// settings, states, the token-issue-time rule (DESIGN §2 rule 4) and what the answer reports.

#include "cache/user_state_cache.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "event_builders.h"

namespace mm::cache {
namespace {

using domain::UserState;
using testutil::At;

store::UserStateRow Row(const std::string& id, UserState state,
                        std::optional<TimePoint> sessions_valid_after = std::nullopt) {
  store::UserStateRow row;
  row.user_id = id;
  row.state = state;
  row.sessions_valid_after = sessions_valid_after;
  return row;
}

TEST(UserStateCacheTest, UnknownUserIsActiveByDefault) {
  UserStateCache cache(UnknownUsers::kActive);
  UserCheck check = cache.Check("nobody", std::nullopt);
  EXPECT_FALSE(check.known);
  EXPECT_TRUE(check.active);
  EXPECT_TRUE(cache.Check("nobody", At(0)).active);
}

TEST(UserStateCacheTest, UnknownUserIsInactiveWhenFailingClosed) {
  UserStateCache cache(UnknownUsers::kInactive);
  UserCheck check = cache.Check("nobody", std::nullopt);
  EXPECT_FALSE(check.known);
  EXPECT_FALSE(check.active);
  // Known users are unaffected by the setting.
  cache.Put(Row("u1", UserState::kActive));
  EXPECT_TRUE(cache.Check("u1", std::nullopt).active);
}

TEST(UserStateCacheTest, ActiveUser) {
  UserStateCache cache(UnknownUsers::kInactive);
  cache.Put(Row("u1", UserState::kActive));
  UserCheck check = cache.Check("u1", At(5));
  EXPECT_TRUE(check.known);
  EXPECT_TRUE(check.active);
  EXPECT_EQ(check.state, UserState::kActive);
  EXPECT_EQ(check.sessions_valid_after, std::nullopt);
  EXPECT_EQ(check.state_changed_at, std::nullopt);
}

TEST(UserStateCacheTest, DisabledUserIsInactiveAndSaysWhy) {
  UserStateCache cache(UnknownUsers::kActive);
  store::UserStateRow row = Row("u1", UserState::kDisabled, At(5));
  row.state_changed_at = At(5);
  row.disabled_reason = "fraud";
  cache.Put(row);
  for (std::optional<TimePoint> token : {std::optional<TimePoint>(), std::optional(At(9))}) {
    UserCheck check = cache.Check("u1", token);
    EXPECT_TRUE(check.known);
    EXPECT_FALSE(check.active);
    EXPECT_EQ(check.state, UserState::kDisabled);
    EXPECT_EQ(check.state_changed_at, At(5));
    EXPECT_EQ(check.disabled_reason, "fraud");
    EXPECT_EQ(check.sessions_valid_after, At(5));
  }
}

TEST(UserStateCacheTest, DeletedUserIsInactive) {
  UserStateCache cache(UnknownUsers::kActive);
  cache.Put(Row("u1", UserState::kDeleted));
  UserCheck check = cache.Check("u1", std::nullopt);
  EXPECT_TRUE(check.known);
  EXPECT_FALSE(check.active);
  EXPECT_EQ(check.state, UserState::kDeleted);
}

TEST(UserStateCacheTest, TokenIssuedBeforeSessionsValidAfterIsRevoked) {
  UserStateCache cache(UnknownUsers::kActive);
  cache.Put(Row("u1", UserState::kActive, At(10)));  // disabled at 10, enabled since
  EXPECT_FALSE(cache.Check("u1", At(9)).active);
  EXPECT_FALSE(cache.Check("u1", At(10) - std::chrono::microseconds(1)).active);
  EXPECT_TRUE(cache.Check("u1", At(10)).active);  // equal is valid
  EXPECT_TRUE(cache.Check("u1", At(11)).active);
  EXPECT_TRUE(cache.Check("u1", std::nullopt).active);  // no token time given: state only
  EXPECT_EQ(cache.Check("u1", At(9)).state, UserState::kActive);
}

TEST(UserStateCacheTest, PutReplacesTheEntry) {
  UserStateCache cache(UnknownUsers::kActive);
  store::UserStateRow disabled = Row("u1", UserState::kDisabled, At(5));
  disabled.disabled_reason = "fraud";
  cache.Put(disabled);
  cache.Put(Row("u1", UserState::kActive, At(5)));
  UserCheck check = cache.Check("u1", At(6));
  EXPECT_TRUE(check.active);
  EXPECT_EQ(check.disabled_reason, "");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(UserStateCacheTest, ReportsSequenceFreshnessAndLoaded) {
  UserStateCache cache(UnknownUsers::kActive);
  EXPECT_FALSE(cache.loaded());
  EXPECT_EQ(cache.Check("u1", std::nullopt).sequence, 0u);
  cache.SetSequence(42);
  cache.MarkFresh(At(3));
  cache.MarkLoaded();
  EXPECT_TRUE(cache.loaded());
  EXPECT_EQ(cache.sequence(), 42u);
  EXPECT_EQ(cache.fresh_as_of(), At(3));
  UserCheck check = cache.Check("u1", std::nullopt);  // known or not, the position is reported
  EXPECT_EQ(check.sequence, 42u);
  EXPECT_EQ(check.fresh_as_of, At(3));
}

TEST(UserStateCacheTest, ManyUsersAcrossShards) {
  UserStateCache cache(UnknownUsers::kInactive);
  for (int i = 0; i < 1000; ++i) {
    cache.Put(Row("u" + std::to_string(i), i % 3 == 0 ? UserState::kDisabled : UserState::kActive));
  }
  EXPECT_EQ(cache.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(cache.Check("u" + std::to_string(i), std::nullopt).active, i % 3 != 0) << i;
  }
}

TEST(UserStateCacheTest, ConcurrentReadersSeeWholeEntries) {
  // One writer flips users between two complete states; readers must only ever see one of
  // them (never a disabled state with the active state's reason, say). Run under TSan too.
  UserStateCache cache(UnknownUsers::kActive);
  store::UserStateRow disabled = Row("u1", UserState::kDisabled, At(5));
  disabled.disabled_reason = "fraud";
  store::UserStateRow active = Row("u1", UserState::kActive, At(5));
  cache.Put(active);
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!done.load()) {
        UserCheck c = cache.Check("u1", At(6));
        bool consistent = c.state == UserState::kDisabled
                              ? (!c.active && c.disabled_reason == "fraud")
                              : (c.active && c.disabled_reason.empty());
        if (!consistent) torn.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 20000; ++i) cache.Put(i % 2 == 0 ? disabled : active);
  done.store(true);
  for (std::thread& r : readers) r.join();
  EXPECT_EQ(torn.load(), 0);
}

}  // namespace
}  // namespace mm::cache
