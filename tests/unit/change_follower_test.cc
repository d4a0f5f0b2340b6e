// ChangeFollower (cache/change_follower.h) over the in-memory store as its ChangeFeed:
// snapshot, following, surviving an unreachable database, never skipping a row.

#include "cache/change_follower.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "event_builders.h"
#include "store/in_memory_event_store.h"
#include "wait_until.h"

namespace mm::cache {
namespace {

using domain::ProviderEvent;
using domain::UserState;
using testutil::At;
using testutil::WaitUntil;

// A ChangeFeed in front of the store with its own fault switches, so that the store keeps
// accepting writes while the follower cannot read them.
class SwitchableFeed final : public store::ChangeFeed {
 public:
  explicit SwitchableFeed(store::ChangeFeed& inner) : inner_(inner) {}

  absl::StatusOr<uint64_t> LoadUserStates(
      const std::function<void(store::UserStateRow&&)>& row) override {
    if (down_.load()) return absl::UnavailableError("feed down");
    return inner_.LoadUserStates(row);
  }
  absl::StatusOr<std::vector<store::ChangeRow>> ReadChanges(uint64_t after, int limit) override {
    if (down_.load()) return absl::UnavailableError("feed down");
    auto rows = inner_.ReadChanges(after, limit);
    if (rows.ok()) {
      for (store::ChangeRow& r : *rows) {
        if (r.sequence == corrupt_sequence_.load()) r.record_json = "{not json";
      }
    }
    return rows;
  }
  absl::Status WaitForNotification(std::chrono::milliseconds timeout) override {
    if (down_.load()) return absl::UnavailableError("feed down");
    return inner_.WaitForNotification(timeout);
  }

  void SetDown(bool down) { down_.store(down); }
  // Makes the change-log row at `sequence` unreadable (0: none).
  void Corrupt(uint64_t sequence) { corrupt_sequence_.store(sequence); }

 private:
  store::ChangeFeed& inner_;
  std::atomic<bool> down_{false};
  std::atomic<uint64_t> corrupt_sequence_{0};
};

ChangeFollowerOptions FastOptions() {
  ChangeFollowerOptions options;
  options.poll_interval = std::chrono::milliseconds(10);
  options.error_backoff = std::chrono::milliseconds(5);
  return options;
}

// A store, a cache following it through a switchable feed, and helpers to write to the store.
// Members are declared so that the follower stops before anything it uses is destroyed.
class ChangeFollowerTest : public ::testing::Test {
 protected:
  void Commit(const ProviderEvent& event) {
    const ProviderEvent* batch[] = {&event};
    ASSERT_TRUE(store_.ApplyBatch(batch).ok());
  }
  void StartFollower(ChangeFollowerOptions options = FastOptions()) {
    follower_ = std::make_unique<ChangeFollower>(feed_, cache_, waiters_, options);
    follower_->Start();
  }
  UserState StateOf(const std::string& user) { return cache_.Check(user, std::nullopt).state; }
  bool Known(const std::string& user) { return cache_.Check(user, std::nullopt).known; }
  bool CaughtUp() { return cache_.sequence() == store_.LastSequence(); }

  store::InMemoryEventStore store_;
  SwitchableFeed feed_{store_};
  UserStateCache cache_{UnknownUsers::kActive};
  SequenceWaiters waiters_;
  std::unique_ptr<ChangeFollower> follower_;
};

TEST_F(ChangeFollowerTest, LoadsTheSnapshotAndMarksLoaded) {
  Commit(testutil::UserDisabled("e1", "u1", At(1), "fraud"));
  Commit(testutil::UserCreated("e2", "u2", At(1)));
  EXPECT_FALSE(cache_.loaded());
  StartFollower();
  ASSERT_TRUE(WaitUntil([&] { return cache_.loaded(); }));
  EXPECT_EQ(StateOf("u1"), UserState::kDisabled);
  EXPECT_EQ(cache_.Check("u1", std::nullopt).disabled_reason, "fraud");
  EXPECT_TRUE(Known("u2"));
  EXPECT_EQ(cache_.size(), 2u);
  EXPECT_GE(cache_.sequence(), store_.LastSequence());
  EXPECT_TRUE(WaitUntil([&] { return follower_->healthy(); }));
}

TEST_F(ChangeFollowerTest, FollowsChangesAppliedAfterTheSnapshot) {
  Commit(testutil::UserCreated("e1", "u1", At(1)));
  StartFollower();
  ASSERT_TRUE(WaitUntil([&] { return cache_.loaded(); }));

  Commit(testutil::UserDisabled("e2", "u1", At(2), "fraud"));
  ASSERT_TRUE(WaitUntil([&] { return StateOf("u1") == UserState::kDisabled; }));
  EXPECT_EQ(cache_.Check("u1", At(1)).sessions_valid_after, At(2));

  Commit(testutil::UserEnabled("e3", "u1", At(3)));
  ASSERT_TRUE(WaitUntil([&] { return StateOf("u1") == UserState::kActive; }));
  // Re-enabled, but a token from before the disable stays revoked.
  EXPECT_FALSE(cache_.Check("u1", At(1)).active);
  EXPECT_TRUE(cache_.Check("u1", At(2)).active);
  EXPECT_TRUE(WaitUntil([&] { return CaughtUp(); }));
}

TEST_F(ChangeFollowerTest, UsersNamedOnlyByMembershipEventsBecomeKnown) {
  StartFollower();
  ASSERT_TRUE(WaitUntil([&] { return cache_.loaded(); }));
  Commit(testutil::MemberAdded("e1", "a1", "u9", At(1)));
  ASSERT_TRUE(WaitUntil([&] { return Known("u9"); }));
  EXPECT_TRUE(cache_.Check("u9", std::nullopt).active);
  // Account and membership rows advance the position without touching users.
  EXPECT_TRUE(WaitUntil([&] { return CaughtUp(); }));
  EXPECT_EQ(cache_.size(), 1u);
}

TEST_F(ChangeFollowerTest, WaitersFireWhenTheFollowerReachesTheirSequence) {
  StartFollower();
  ASSERT_TRUE(WaitUntil([&] { return cache_.loaded(); }));
  Commit(testutil::UserDisabled("e1", "u1", At(1)));
  std::atomic<int> answer{-1};
  waiters_.Wait(store_.LastSequence(), std::chrono::steady_clock::now() + std::chrono::seconds(5),
                [&](bool reached) { answer.store(reached ? 1 : 0); });
  ASSERT_TRUE(WaitUntil([&] { return answer.load() != -1; }));
  EXPECT_EQ(answer.load(), 1);
  EXPECT_EQ(StateOf("u1"), UserState::kDisabled);  // the state is there when the waiter fires
}

TEST_F(ChangeFollowerTest, PagesThroughABacklogLargerThanTheReadLimit) {
  ChangeFollowerOptions options = FastOptions();
  options.read_limit = 3;
  StartFollower(options);
  ASSERT_TRUE(WaitUntil([&] { return cache_.loaded(); }));
  feed_.SetDown(true);  // let a backlog of 50 user rows build up
  for (int i = 0; i < 50; ++i) {
    Commit(testutil::UserDisabled("e" + std::to_string(i), "u" + std::to_string(i), At(1)));
  }
  feed_.SetDown(false);
  ASSERT_TRUE(WaitUntil([&] { return CaughtUp(); }));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(StateOf("u" + std::to_string(i)), UserState::kDisabled);
}

TEST_F(ChangeFollowerTest, KeepsAnsweringWhileTheStoreIsUnavailableAndCatchesUp) {
  Commit(testutil::UserDisabled("e1", "u1", At(1), "fraud"));
  StartFollower();
  ASSERT_TRUE(WaitUntil([&] { return cache_.loaded() && follower_->healthy(); }));

  store_.SetUnavailable(true);
  ASSERT_TRUE(WaitUntil([&] { return !follower_->healthy(); }));
  UserCheck check = cache_.Check("u1", std::nullopt);
  EXPECT_EQ(check.state, UserState::kDisabled);
  EXPECT_FALSE(check.active);

  store_.SetUnavailable(false);
  Commit(testutil::UserEnabled("e2", "u1", At(2)));
  ASSERT_TRUE(WaitUntil([&] { return StateOf("u1") == UserState::kActive; }));
  EXPECT_TRUE(WaitUntil([&] { return follower_->healthy() && CaughtUp(); }));
}

TEST_F(ChangeFollowerTest, CatchesUpOnChangesCommittedWhileItCouldNotRead) {
  StartFollower();
  ASSERT_TRUE(WaitUntil([&] { return cache_.loaded() && follower_->healthy(); }));
  const uint64_t before = cache_.sequence();

  feed_.SetDown(true);
  ASSERT_TRUE(WaitUntil([&] { return !follower_->healthy(); }));
  Commit(testutil::UserDisabled("e1", "u1", At(1)));
  Commit(testutil::UserDeleted("e2", "u2", At(1)));
  // Nothing new can be read: the old answer stands, and says how old it is.
  EXPECT_FALSE(Known("u1"));
  EXPECT_EQ(cache_.sequence(), before);

  feed_.SetDown(false);
  ASSERT_TRUE(WaitUntil([&] { return CaughtUp(); }));
  EXPECT_EQ(StateOf("u1"), UserState::kDisabled);
  EXPECT_EQ(StateOf("u2"), UserState::kDeleted);
  EXPECT_TRUE(WaitUntil([&] { return follower_->healthy(); }));
}

TEST_F(ChangeFollowerTest, RetriesTheSnapshotUntilTheStoreIsBack) {
  Commit(testutil::UserDisabled("e1", "u1", At(1)));
  feed_.SetDown(true);
  StartFollower();
  // While the snapshot cannot load, the cache is not ready (readiness waits for it).
  EXPECT_FALSE(WaitUntil([&] { return cache_.loaded(); }, std::chrono::milliseconds(50)));
  feed_.SetDown(false);
  ASSERT_TRUE(WaitUntil([&] { return cache_.loaded(); }));
  EXPECT_EQ(StateOf("u1"), UserState::kDisabled);
}

TEST_F(ChangeFollowerTest, NeverSkipsAnUnreadableRow) {
  StartFollower();
  ASSERT_TRUE(WaitUntil([&] { return cache_.loaded(); }));
  const uint64_t start = cache_.sequence();
  feed_.Corrupt(start + 1);  // the first row of the next commit
  Commit(testutil::UserDisabled("e1", "u1", At(1)));
  Commit(testutil::UserDisabled("e2", "u2", At(1)));
  // The follower stops before the bad row, however often it retries...
  EXPECT_FALSE(WaitUntil([&] { return cache_.sequence() > start; }, std::chrono::milliseconds(50)));
  EXPECT_FALSE(Known("u2"));
  // ...and goes on once the row reads again.
  feed_.Corrupt(0);
  ASSERT_TRUE(WaitUntil([&] { return CaughtUp(); }));
  EXPECT_EQ(StateOf("u1"), UserState::kDisabled);
  EXPECT_EQ(StateOf("u2"), UserState::kDisabled);
}

TEST_F(ChangeFollowerTest, StopIsIdempotent) {
  StartFollower();
  ASSERT_TRUE(WaitUntil([&] { return cache_.loaded(); }));
  follower_->Stop();
  follower_->Stop();
  follower_.reset();
}

}  // namespace
}  // namespace mm::cache
