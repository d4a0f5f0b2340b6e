// ChangeFollower (cache/change_follower.h) over the in-memory store as its ChangeFeed:
// snapshot, following, surviving an unreachable database, never skipping a row.

#include "cache/change_follower.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
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
  absl::StatusOr<store::ChangeRead> ReadChanges(uint64_t after, int limit) override {
    if (down_.load()) return absl::UnavailableError("feed down");
    auto read = inner_.ReadChanges(after, limit);
    if (read.ok()) {
      for (store::ChangeRow& r : read->rows) {
        if (r.sequence == corrupt_sequence_.load()) r.record_json = "{not json";
      }
    }
    return read;
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

// The hardening issue's worst case: one unreadable row used to stop the cache for everyone.
// Now it is reported, the cache reloads its snapshot (which holds that user's state in plain
// columns), and later changes of other users keep arriving.
TEST_F(ChangeFollowerTest, AnUnreadableRowIsReportedAndNeverStallsTheCache) {
  std::vector<uint64_t> undecodable;
  std::vector<std::string> reloads;
  std::mutex mu;
  ChangeFollowerObserver observer;
  observer.undecodable = [&](uint64_t seq) {
    std::lock_guard lock(mu);
    undecodable.push_back(seq);
  };
  observer.reloaded = [&](std::string_view why) {
    std::lock_guard lock(mu);
    reloads.emplace_back(why);
  };
  ChangeHub hub;
  follower_ = std::make_unique<ChangeFollower>(feed_, cache_, waiters_, FastOptions(), &hub, observer);
  auto sub = hub.Subscribe([] {});  // before the start: holds nothing; taken again below
  follower_->Start();
  ASSERT_TRUE(WaitUntil([&] { return cache_.loaded(); }));
  sub = hub.Subscribe([] {});
  const uint64_t start = cache_.sequence();
  feed_.Corrupt(start + 1);  // the row of the next commit
  Commit(testutil::UserDisabled("e1", "u1", At(1)));
  Commit(testutil::UserDisabled("e2", "u2", At(1)));
  ASSERT_TRUE(WaitUntil([&] { return CaughtUp(); }));
  // Both disables are in the cache: u1's from the reloaded snapshot, u2's from either.
  EXPECT_EQ(StateOf("u1"), UserState::kDisabled);
  EXPECT_EQ(StateOf("u2"), UserState::kDisabled);
  Commit(testutil::UserDisabled("e3", "u3", At(1)));  // and following goes on
  ASSERT_TRUE(WaitUntil([&] { return StateOf("u3") == UserState::kDisabled; }));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(undecodable, std::vector<uint64_t>{start + 1});  // reported once, not spun on
    EXPECT_EQ(reloads, std::vector<std::string>{"undecodable_row"});
  }
  EXPECT_FALSE(follower_->reloading());
  // Watchers still get every row, the unreadable one included (they report it themselves).
  std::vector<uint64_t> published;
  ASSERT_TRUE(WaitUntil([&] {
    for (const auto& row : sub->Take(100).rows) published.push_back(row->sequence);
    return !published.empty() && published.back() == store_.LastSequence();
  }));
  std::vector<uint64_t> expected;
  for (uint64_t seq = start + 1; seq <= store_.LastSequence(); ++seq) expected.push_back(seq);
  EXPECT_EQ(published, expected);
}

// DESIGN §5a: a database restored behind this replica, or a failover to a standby that lost
// commits, is noticed — by the head being behind, or by the row at the replica's position
// being another one — and the snapshot is reloaded; the cache then holds the database's truth,
// not what it had seen of a history that no longer exists.
TEST_F(ChangeFollowerTest, ALogReplacedUnderTheReplicaReloadsTheSnapshot) {
  std::vector<std::string> reloads;
  std::mutex mu;
  ChangeFollowerObserver observer;
  observer.reloaded = [&](std::string_view why) {
    std::lock_guard lock(mu);
    reloads.emplace_back(why);
  };
  ChangeHub hub;
  Commit(testutil::UserCreated("e0", "u0", At(0)));
  store_.KeepHistory();
  const uint64_t backup = store_.LastSequence();
  follower_ = std::make_unique<ChangeFollower>(feed_, cache_, waiters_, FastOptions(), &hub, observer);
  follower_->Start();
  ASSERT_TRUE(WaitUntil([&] { return cache_.loaded(); }));
  auto sub = hub.Subscribe([] {});

  // Commits the replica sees, then lost: the head goes behind the replica.
  Commit(testutil::UserDisabled("e1", "u1", At(1)));
  Commit(testutil::UserDisabled("e2", "u2", At(1)));
  ASSERT_TRUE(WaitUntil([&] { return StateOf("u2") == UserState::kDisabled; }));
  ASSERT_TRUE(store_.RestoreTo(backup));
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard lock(mu);
    return reloads.size() == 1;
  }));
  ASSERT_TRUE(WaitUntil([&] { return cache_.sequence() == backup; }));
  EXPECT_EQ(StateOf("u0"), UserState::kActive);
  // Users only the lost commits knew are forgotten, as on a replica that starts now.
  EXPECT_FALSE(Known("u1"));
  EXPECT_FALSE(Known("u2"));
  EXPECT_TRUE(WaitUntil([&] { return sub->Take(0).reset; }));  // watchers of the old log end

  // Lost again, but the new primary's writes have already passed the replica's position
  // before it looks: the row at its position is another one.
  Commit(testutil::UserDisabled("e3", "u3", At(1)));
  ASSERT_TRUE(WaitUntil([&] { return StateOf("u3") == UserState::kDisabled; }));
  feed_.SetDown(true);
  ASSERT_TRUE(store_.RestoreTo(backup));
  Commit(testutil::UserCreated("e4", "u4", At(1)));
  Commit(testutil::UserCreated("e5", "u5", At(1)));
  feed_.SetDown(false);
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard lock(mu);
    return reloads.size() == 2;
  }));
  ASSERT_TRUE(WaitUntil([&] { return CaughtUp() && Known("u5"); }));
  EXPECT_TRUE(Known("u4"));
  EXPECT_FALSE(Known("u3"));
  EXPECT_EQ(reloads, (std::vector<std::string>{"changelog_behind", "changelog_behind"}));
  EXPECT_FALSE(follower_->reloading());
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
