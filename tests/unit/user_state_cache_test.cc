// The in-memory IsUserActive answer (cache/user_state_cache.h): unknown users under both
// settings, states, the token-issue-time rule (DESIGN §2 rule 4) and what the answer reports.

#include "cache/user_state_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <string>
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

TEST(UserStateCacheTest, ASweepForgetsUsersNotPutAgain) {
  UserStateCache cache(UnknownUsers::kInactive);
  for (int i = 0; i < 200; ++i) cache.Put(Row("u" + std::to_string(i), UserState::kDisabled));
  cache.BeginSweep();
  for (int i = 0; i < 200; i += 2) cache.Put(Row("u" + std::to_string(i), UserState::kActive));
  cache.Put(Row("new", UserState::kActive));
  EXPECT_TRUE(cache.Check("u1", std::nullopt).known);  // nobody is forgotten before the end
  EXPECT_EQ(cache.EndSweep(true), 100u);
  EXPECT_EQ(cache.size(), 101u);
  for (int i = 0; i < 200; ++i) {
    UserCheck check = cache.Check("u" + std::to_string(i), std::nullopt);
    EXPECT_EQ(check.known, i % 2 == 0) << i;
    if (check.known) {
      EXPECT_TRUE(check.active);
    }
  }
  EXPECT_TRUE(cache.Check("new", std::nullopt).known);
  // A failed reload forgets nobody; a forgotten user can come back.
  cache.BeginSweep();
  cache.Put(Row("u1", UserState::kDeleted));
  EXPECT_EQ(cache.EndSweep(false), 0u);
  EXPECT_EQ(cache.size(), 102u);
  EXPECT_EQ(cache.Check("u1", std::nullopt).state, UserState::kDeleted);
  EXPECT_TRUE(cache.Check("u0", std::nullopt).known);
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

TEST(UserStateCacheTest, ReasonsAreStoredOncePerDistinctText) {
  UserStateCache cache(UnknownUsers::kActive);
  const char* reasons[] = {"account_compromise", "terminated", "incident INC-4242: sign-ins"};
  for (int i = 0; i < 3000; ++i) {
    store::UserStateRow row = Row("u" + std::to_string(i), UserState::kDisabled, At(i));
    row.disabled_reason = std::string(reasons[i % 3]);  // a fresh string each time
    cache.Put(row);
  }
  EXPECT_EQ(cache.distinct_reasons(), 3u);
  for (int i = 0; i < 3000; ++i) {
    EXPECT_EQ(cache.Check("u" + std::to_string(i), std::nullopt).disabled_reason, reasons[i % 3]) << i;
  }
  // An empty reason reads back as empty, like none, and takes no entry.
  store::UserStateRow empty = Row("u-empty", UserState::kDisabled);
  empty.disabled_reason = "";
  cache.Put(empty);
  EXPECT_EQ(cache.Check("u-empty", std::nullopt).disabled_reason, "");
  EXPECT_EQ(cache.distinct_reasons(), 3u);
  // Replacing a user's reason replaces what it reads.
  store::UserStateRow changed = Row("u0", UserState::kDisabled);
  changed.disabled_reason = "terminated";
  cache.Put(changed);
  EXPECT_EQ(cache.Check("u0", std::nullopt).disabled_reason, "terminated");
  EXPECT_EQ(cache.size(), 3001u);
}

TEST(UserStateCacheTest, IdsAreComparedWholeByteForByte) {
  UserStateCache cache(UnknownUsers::kInactive);
  std::string with_nul("usr_a\0b", 7);
  std::string longer_than_a_chunk(70000, 'z');  // a record of its own in the arena
  std::vector<std::string> ids = {"u", "u1", "u10", "U1", "", with_nul, std::string("usr_a"),
                                  std::string(300, 'x'), longer_than_a_chunk};
  for (size_t i = 0; i < ids.size(); ++i) {
    cache.Put(Row(ids[i], i % 2 == 0 ? UserState::kDisabled : UserState::kActive, At(static_cast<int64_t>(i))));
  }
  EXPECT_EQ(cache.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    UserCheck check = cache.Check(ids[i], std::nullopt);
    EXPECT_TRUE(check.known) << i;
    EXPECT_EQ(check.active, i % 2 != 0) << i;
    EXPECT_EQ(check.sessions_valid_after, At(static_cast<int64_t>(i))) << i;
  }
  EXPECT_FALSE(cache.Check("u100", std::nullopt).known);
  EXPECT_FALSE(cache.Check(std::string(299, 'x'), std::nullopt).known);
  EXPECT_FALSE(cache.Check(std::string("usr_a\0c", 7), std::nullopt).known);
  EXPECT_FALSE(cache.Check(std::string(69999, 'z') + "y", std::nullopt).known);
}

TEST(UserStateCacheTest, ReserveChangesNothingVisible) {
  UserStateCache cache(UnknownUsers::kInactive);
  cache.Put(Row("before", UserState::kDisabled));
  cache.Reserve(100000);
  cache.Reserve(10);  // never shrinks
  for (int i = 0; i < 5000; ++i) cache.Put(Row("u" + std::to_string(i), UserState::kActive));
  EXPECT_EQ(cache.size(), 5001u);
  EXPECT_FALSE(cache.Check("before", std::nullopt).active);
  EXPECT_TRUE(cache.Check("before", std::nullopt).known);
  for (int i = 0; i < 5000; ++i) EXPECT_TRUE(cache.Check("u" + std::to_string(i), std::nullopt).active) << i;
}

TEST(UserStateCacheTest, CompactPerUser) {
  // Huudis-shaped ids (usr_ + 26 characters): the records, the arena's slack and the tables
  // stay well under the 200 bytes a user the service may use in all.
  UserStateCache cache(UnknownUsers::kActive);
  constexpr int kUsers = 200000;
  for (int i = 0; i < kUsers; ++i) {
    char id[40];
    std::snprintf(id, sizeof id, "usr_01KS%022d", i);
    store::UserStateRow row = Row(id, i % 30 == 0 ? UserState::kDisabled : UserState::kActive, At(i));
    if (i % 30 == 0) row.disabled_reason = "account_compromise";
    cache.Put(row);
  }
  ASSERT_EQ(cache.size(), static_cast<size_t>(kUsers));
  double per_user = static_cast<double>(cache.memory_bytes()) / kUsers;
  EXPECT_LT(per_user, 80.0);
  EXPECT_GT(per_user, 30.0);  // the id alone is 30 bytes: the accounting is not off
}

TEST(UserStateCacheTest, ReadersKeepFindingUsersWhileTablesGrow) {
  // The writer adds users (tables rehash, the arenas take new chunks) and flips one user;
  // readers must always find every user added before they started, with its state.
  UserStateCache cache(UnknownUsers::kInactive);
  for (int i = 0; i < 1000; ++i) cache.Put(Row("old" + std::to_string(i), UserState::kActive));
  std::atomic<bool> done{false};
  std::atomic<int> wrong{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      for (int n = 0; !done.load(); ++n) {
        UserCheck c = cache.Check("old" + std::to_string((n * 7 + t) % 1000), std::nullopt);
        if (!c.known || !c.active) wrong.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 100000; ++i) {
    cache.Put(Row("new" + std::to_string(i), i % 2 == 0 ? UserState::kDisabled : UserState::kActive));
  }
  done.store(true);
  for (std::thread& r : readers) r.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(cache.size(), 101000u);
  EXPECT_FALSE(cache.Check("new99998", std::nullopt).active);
  EXPECT_TRUE(cache.Check("new99999", std::nullopt).active);
}

}  // namespace
}  // namespace mm::cache
