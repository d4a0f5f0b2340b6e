// The read replica's PostgreSQL side (server/store/replica_router.h, pg_replica_monitor.h) on a
// real server: PgReadStore::ChangeLogHead reads change_log_head; the monitor probes the head
// (and no replay age on a server that is not a standby) and marks the replica up, or down when
// it cannot connect; a router whose replica URL refuses connections answers from the primary.
// Replay itself (a real standby, paused and resumed) is tests/topology/read_replica_topology_test.cc.

#include <memory>
#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include "store/pg_read_store.h"
#include "store/pg_replica_monitor.h"
#include "store/replica_router.h"
#include "test_database.h"

namespace mm::testing {
namespace {

// Nothing listens on port 1 of the loopback: connections are refused at once.
constexpr char kRefusedUrl[] = "postgresql://postgres@127.0.0.1:1/mm";

class PgReadReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = TestDatabase::Create("replica");
    db_->Query("UPDATE change_log_head SET last_sequence = 7");
  }
  std::unique_ptr<TestDatabase> db_;
};

TEST_F(PgReadReplicaTest, ChangeLogHeadIsTheHeadRow) {
  store::PgReadStore store(db_->url());
  absl::StatusOr<uint64_t> head = store.ChangeLogHead();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(*head, 7u);
  db_->Query("UPDATE change_log_head SET last_sequence = 9");
  store.Reconnect();  // dropped, then opened again by the next call
  EXPECT_EQ(store.ChangeLogHead().value_or(0), 9u);
}

TEST_F(PgReadReplicaTest, TheMonitorProbesTheHeadAndMarksTheReplicaUpOrDown) {
  store::ReplicaHealth health;
  store::PgReplicaMonitor monitor(db_->url(), health);
  ASSERT_TRUE(monitor.ProbeOnce().ok());
  store::ReplicaProbe probe = monitor.last();
  EXPECT_TRUE(probe.probed && probe.up);
  EXPECT_EQ(probe.head, 7u);
  EXPECT_FALSE(probe.replay_age_seconds) << "not a standby: pg_last_xact_replay_timestamp() is NULL";
  EXPECT_TRUE(health.up());
  EXPECT_EQ(store::ReplicaLagOf(probe, 10).sequences, 3u);

  store::PgReplicaMonitor unreachable(kRefusedUrl, health);
  absl::Status s = unreachable.ProbeOnce();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_FALSE(unreachable.last().up);
  EXPECT_FALSE(health.up());
  ASSERT_TRUE(monitor.ProbeOnce().ok());
  EXPECT_TRUE(health.up());
  EXPECT_EQ(health.recoveries(), 1u);
}

TEST_F(PgReadReplicaTest, ARouterWhoseReplicaRefusesConnectionsAnswersFromThePrimary) {
  store::PgReadStore primary(db_->url());
  store::ReplicaHealth health;
  std::vector<store::Fallback> fell_back;
  std::vector<store::ReadTarget> answered;
  store::ReplicaRouter router(primary, std::make_unique<store::PgReadStore>(kRefusedUrl), &health, {},
                              {.answered = [&](store::ReadTarget t) { answered.push_back(t); },
                               .fell_back = [&](store::Fallback f) { fell_back.push_back(f); }});
  router.Expect({});
  absl::StatusOr<store::SeatCountView> seats = router.GetSeatCount("acc_nobody");
  ASSERT_TRUE(seats.ok()) << seats.status();
  EXPECT_EQ(seats->sequence, 7u) << "the primary's head";
  EXPECT_EQ(fell_back, std::vector<store::Fallback>{store::Fallback::kUnavailable});
  EXPECT_EQ(answered, std::vector<store::ReadTarget>{store::ReadTarget::kPrimary});
  EXPECT_FALSE(health.up()) << "marked down for every worker";
}

}  // namespace
}  // namespace mm::testing
