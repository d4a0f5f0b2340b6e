// Where the read RPCs' database reads go (server/store/replica_router.h): to the read replica,
// unless a min_sequence it has not replayed within the wait, or a failure of it, sends them to
// the primary; an unreachable replica is skipped by every worker until it is marked up again;
// the change log and replays always read the primary. And the ReadPool hands read tasks the
// router, other tasks the primary.

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/pg_replica_monitor.h"
#include "store/read_pool.h"
#include "store/replica_router.h"

namespace mm::store {
namespace {

using namespace std::chrono_literals;

// A store that answers GetUser with a user named after itself, and counts what it was asked.
class FakeStore final : public ReadStore {
 public:
  explicit FakeStore(std::string name) : name_(std::move(name)) {}

  std::string name_;
  uint64_t head = 0;
  // Each ChangeLogHead call adds this to head after answering (replay going on).
  uint64_t replay_per_poll = 0;
  absl::Status fail = absl::OkStatus();  // every call fails with it when set
  absl::Status answer_status = absl::OkStatus();  // GetUser answers it (an answer, not a failure)
  int reads = 0;
  int head_reads = 0;
  int reconnects = 0;

  void Reconnect() override { ++reconnects; }

  absl::StatusOr<std::optional<UserView>> GetUser(const std::string& user_id) override {
    ++reads;
    if (!fail.ok()) return fail;
    if (!answer_status.ok()) return answer_status;
    UserView view;
    view.record.user_id = user_id + "@" + name_;
    return std::optional<UserView>(view);
  }
  absl::StatusOr<uint64_t> ChangeLogHead() override {
    ++head_reads;
    if (!fail.ok()) return fail;
    const uint64_t now = head;
    head += replay_per_poll;
    return now;
  }
  absl::StatusOr<std::vector<ChangeRow>> ReadChanges(uint64_t, int) override {
    ++reads;
    return std::vector<ChangeRow>{};
  }
  absl::StatusOr<std::vector<DeadLetterView>> GetDeadLetters(const std::string&, const std::vector<std::string>&) override {
    ++reads;
    return std::vector<DeadLetterView>{};
  }
  absl::StatusOr<std::optional<MembershipView>> GetMembership(const std::string&, const std::string&) override {
    return absl::UnimplementedError("not used");
  }
  absl::StatusOr<Page<MembershipView>> ListMembers(const std::string&, const std::string&, const std::string&,
                                                   int) override {
    return absl::UnimplementedError("not used");
  }
  absl::StatusOr<Page<MembershipView>> ListUserMemberships(const std::string&, const std::string&, int) override {
    return absl::UnimplementedError("not used");
  }
  absl::StatusOr<SeatCountView> GetSeatCount(const std::string&) override { return absl::UnimplementedError("not used"); }
  absl::StatusOr<Page<SeatCountView>> ListSeatCounts(const std::string&, int) override {
    return absl::UnimplementedError("not used");
  }
  absl::StatusOr<std::vector<SourceStatus>> ListSources() override { return absl::UnimplementedError("not used"); }
};

struct Recorded {
  std::vector<ReadTarget> answered;
  std::vector<Fallback> fell_back;
};

class ReplicaRouterTest : public ::testing::Test {
 protected:
  ReplicaRouterTest() {
    auto replica = std::make_unique<FakeStore>("replica");
    replica_ = replica.get();
    router_ = std::make_unique<ReplicaRouter>(
        primary_, std::move(replica), &health_, ReplicaRouter::Options{.max_wait = 200ms, .poll_interval = 5ms},
        ReplicaRouter::Callbacks{.answered = [this](ReadTarget t) { recorded_.answered.push_back(t); },
                                 .fell_back = [this](Fallback f) { recorded_.fell_back.push_back(f); }});
  }

  // Who answered GetUser under `freshness`: "replica" or "primary".
  std::string Read(Freshness freshness = {}) {
    router_->Expect(freshness);
    auto user = router_->GetUser("usr");
    EXPECT_TRUE(user.ok()) << user.status();
    if (!user.ok() || !*user) return "";
    return (*user)->record.user_id.substr(4);
  }

  FakeStore primary_{"primary"};
  FakeStore* replica_ = nullptr;
  ReplicaHealth health_;
  Recorded recorded_;
  std::unique_ptr<ReplicaRouter> router_;
};

TEST_F(ReplicaRouterTest, WithoutMinSequenceTheReplicaAnswersEvenWhenBehind) {
  replica_->head = 3;
  EXPECT_EQ(Read(), "replica");
  EXPECT_EQ(replica_->head_reads, 0) << "no sequence asked: no head read";
  EXPECT_EQ(primary_.reads, 0);
  EXPECT_EQ(recorded_.answered, std::vector<ReadTarget>{ReadTarget::kReplica});
  EXPECT_TRUE(recorded_.fell_back.empty());
}

TEST_F(ReplicaRouterTest, AReplicaThatHasReplayedMinSequenceAnswers) {
  replica_->head = 10;
  EXPECT_EQ(Read({.min_sequence = 10}), "replica");
  EXPECT_EQ(Read({.min_sequence = 7}), "replica");
  EXPECT_EQ(replica_->head_reads, 2) << "one head read before each answer";
  EXPECT_EQ(primary_.reads, 0);
}

TEST_F(ReplicaRouterTest, AReplicaThatReplaysWithinTheWaitAnswers) {
  replica_->head = 5;
  replica_->replay_per_poll = 1;  // reaches 8 at the fourth read of its head
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(Read({.min_sequence = 8}), "replica");
  EXPECT_EQ(replica_->head_reads, 4);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 15ms) << "three polls of 5 ms";
  EXPECT_TRUE(recorded_.fell_back.empty());
}

TEST_F(ReplicaRouterTest, AReplicaStillBehindAfterTheWaitLeavesTheReadToThePrimary) {
  replica_->head = 5;
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(Read({.min_sequence = 6}), "primary");
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_GE(waited, 190ms) << "waited for replay up to max_wait";
  EXPECT_LT(waited, 1s);
  EXPECT_GT(replica_->head_reads, 10);
  EXPECT_EQ(replica_->reads, 0) << "the replica was not asked the read itself";
  EXPECT_EQ(recorded_.fell_back, std::vector<Fallback>{Fallback::kBehind});
  EXPECT_EQ(recorded_.answered, std::vector<ReadTarget>{ReadTarget::kPrimary});
  EXPECT_TRUE(health_.up()) << "behind is not down";
}

TEST_F(ReplicaRouterTest, TheWaitTakesAtMostHalfOfWhatIsLeftOfTheCall) {
  replica_->head = 5;
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(Read({.min_sequence = 6, .deadline = std::chrono::system_clock::now() + 60ms}), "primary");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 100ms) << "about 30 ms, not max_wait's 200";
  // A deadline already past: one look at the head, no wait.
  replica_->head_reads = 0;
  EXPECT_EQ(Read({.min_sequence = 6, .deadline = std::chrono::system_clock::now() - 1s}), "primary");
  EXPECT_EQ(replica_->head_reads, 1);
}

TEST_F(ReplicaRouterTest, AnUnreachableReplicaIsSkippedUntilMarkedUpAgain) {
  replica_->fail = absl::UnavailableError("connection refused");
  EXPECT_EQ(Read(), "primary");
  EXPECT_FALSE(health_.up());
  EXPECT_EQ(recorded_.fell_back, std::vector<Fallback>{Fallback::kUnavailable});
  const int tried = replica_->reads;
  EXPECT_EQ(Read({.min_sequence = 1}), "primary");
  EXPECT_EQ(replica_->reads, tried) << "marked down: not tried again";
  EXPECT_EQ(replica_->head_reads, 0);
  replica_->fail = absl::OkStatus();
  replica_->head = 1;
  health_.Mark(true);  // what the monitor does once it answers
  EXPECT_EQ(Read({.min_sequence = 1}), "replica");
  EXPECT_EQ(replica_->reconnects, 1) << "its old connection predates the recovery";
  EXPECT_EQ(Read(), "replica");
  EXPECT_EQ(replica_->reconnects, 1);
}

TEST_F(ReplicaRouterTest, AReplicaThatFailsOtherwiseLeavesThatReadToThePrimary) {
  replica_->fail = absl::AbortedError("canceling statement due to conflict with recovery");
  EXPECT_EQ(Read(), "primary");
  EXPECT_TRUE(health_.up()) << "a conflict is not an outage";
  EXPECT_EQ(recorded_.fell_back, std::vector<Fallback>{Fallback::kError});
  // Failing to read its head is the same.
  EXPECT_EQ(Read({.min_sequence = 1}), "primary");
  EXPECT_EQ(recorded_.fell_back.size(), 2u);
}

TEST_F(ReplicaRouterTest, AnAnswerThatIsAnErrorIsTheReplicasAnswer) {
  replica_->answer_status = absl::OutOfRangeError("before the horizon");
  router_->Expect({});
  auto user = router_->GetUser("usr");
  EXPECT_EQ(user.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(primary_.reads, 0) << "the primary would say the same";
  EXPECT_EQ(recorded_.answered, std::vector<ReadTarget>{ReadTarget::kReplica});
}

TEST_F(ReplicaRouterTest, TheChangeLogAndReplaysAlwaysReadThePrimary) {
  router_->Expect({});
  ASSERT_TRUE(router_->ReadChanges(0, 10).ok());
  ASSERT_TRUE(router_->GetDeadLetters("", {"evt"}).ok());
  EXPECT_EQ(primary_.reads, 2);
  EXPECT_EQ(replica_->reads, 0);
}

TEST(ReplicaRouterWithoutReplicaTest, EveryReadGoesToThePrimary) {
  FakeStore primary("primary");
  std::vector<ReadTarget> answered;
  ReplicaRouter router(primary, nullptr, nullptr, {},
                       {.answered = [&](ReadTarget t) { answered.push_back(t); }, .fell_back = nullptr});
  router.Expect({.min_sequence = 42});
  auto user = router.GetUser("usr");
  ASSERT_TRUE(user.ok() && *user);
  EXPECT_EQ((*user)->record.user_id, "usr@primary");
  EXPECT_EQ(answered, std::vector<ReadTarget>{ReadTarget::kPrimary});
}

TEST(ReadPoolReplicaTest, ReadTasksGetTheRouterOtherTasksThePrimary) {
  ReplicaHealth health;
  ReadPool pool([] { return std::make_unique<FakeStore>("primary"); }, 1, 10,
                {.replica = [] { return std::make_unique<FakeStore>("replica"); },
                 .health = &health,
                 .options = {},
                 .callbacks = {}});
  auto read_on = [](bool read_task, ReadPool& p) {
    std::promise<std::string> who;
    auto task = [&who](ReadStore& store) {
      auto user = store.GetUser("usr");
      who.set_value(user.ok() && *user ? (*user)->record.user_id : "error");
    };
    EXPECT_TRUE(read_task ? p.TrySubmitRead({}, task) : p.TrySubmit(task));
    return who.get_future().get();
  };
  EXPECT_EQ(read_on(true, pool), "usr@replica");
  EXPECT_EQ(read_on(false, pool), "usr@primary");
}

TEST(ReplicaLagTest, BehindInSequencesAndInTheAgeOfTheLastReplayedCommit) {
  ReplicaProbe probe{.probed = true, .up = true, .head = 40, .replay_age_seconds = 2.5};
  ReplicaLag lag = ReplicaLagOf(probe, 45);
  EXPECT_EQ(lag.sequences, 5u);
  EXPECT_DOUBLE_EQ(lag.seconds, 2.5);
  lag = ReplicaLagOf(probe, 40);  // caught up: its last replay may be old, the lag is 0
  EXPECT_EQ(lag.sequences, 0u);
  EXPECT_EQ(lag.seconds, 0);
  lag = ReplicaLagOf(probe, 38);  // the cache behind the replica
  EXPECT_EQ(lag.sequences, 0u);
  probe.replay_age_seconds.reset();  // nothing replayed since it started
  EXPECT_EQ(ReplicaLagOf(probe, 45).seconds, 0);
  EXPECT_EQ(ReplicaLagOf(ReplicaProbe{}, 45).sequences, 0u) << "never probed";
}

}  // namespace
}  // namespace mm::store
