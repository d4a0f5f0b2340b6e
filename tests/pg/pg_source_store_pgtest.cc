// The pull sources' storage on a real PostgreSQL (store/pg_source_store.h, and the checkpoint
// part of PgEventStore): checkpoints written in the events' transaction or not at all, what a
// run reads back, run reports, ListSources, and the lease — one holder at a time, freed when
// its session ends.

#include <gtest/gtest.h>

#include "pg_event_builders.h"
#include "store/pg_event_store.h"
#include "store/pg_read_store.h"
#include "store/pg_source_store.h"

namespace mm::testing {
namespace {

class PgSourceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = TestDatabase::Create("sources");
    events_ = std::make_unique<store::PgEventStore>(db_->url());
    sources_ = std::make_unique<store::PgSourceStore>(db_->url());
  }

  store::SourceCheckpoint Checkpoint(std::string position) const {
    store::SourceCheckpoint c;
    c.source = "huudis-audit";
    c.scope = "acc_1";
    c.position_json = std::move(position);
    return c;
  }

  absl::StatusOr<std::vector<store::ApplyResult>> Apply(const std::vector<ProviderEvent>& events,
                                                        const std::vector<store::SourceCheckpoint>& checkpoints) {
    std::vector<const ProviderEvent*> e;
    for (const ProviderEvent& x : events) e.push_back(&x);
    std::vector<const store::SourceCheckpoint*> c;
    for (const store::SourceCheckpoint& x : checkpoints) c.push_back(&x);
    return events_->ApplyBatch(e, c);
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<store::PgEventStore> events_;
  std::unique_ptr<store::PgSourceStore> sources_;
};

TEST_F(PgSourceStoreTest, ACheckpointIsWrittenWithItsEventsAndReadBack) {
  ASSERT_TRUE(Apply({UserDisabled("aud_0", "u0", At(1))}, {}).ok());
  store::SourceCheckpoint first = Checkpoint(R"({"sweep": {"cursor": "c1"}})");
  first.page_begin = 0;  // the page: aud_0 (a duplicate, read again), aud_1, aud_2
  first.page_end = 3;
  first.items_added = {"u1", "u2", "u3"};
  ASSERT_TRUE(Apply({UserDisabled("aud_0", "u0", At(1)), UserDisabled("aud_1", "u1", At(1)),
                     UserDisabled("aud_2", "u2", At(2)), UserDisabled("other", "u9", At(2))},
                    {first})
                  .ok());
  EXPECT_EQ(db_->Scalar("SELECT events_yielded FROM source_state"), "2");  // the new ones of its page
  auto position = sources_->LoadPosition("huudis-audit", "acc_1");
  ASSERT_TRUE(position.ok()) << position.status();
  EXPECT_EQ(*position, R"({"sweep": {"cursor": "c1"}})");
  auto items = sources_->LoadItems("huudis-audit", "acc_1");
  ASSERT_TRUE(items.ok());
  EXPECT_EQ(std::set<std::string>(items->begin(), items->end()), (std::set<std::string>{"u1", "u2", "u3"}));

  // A second checkpoint: position replaced, watermark set, count added, items as a diff.
  store::SourceCheckpoint second = Checkpoint(R"({"watermark": "2026-06-01T00:00:00.000000Z"})");
  second.watermark = At(5);
  second.items_added = {"u4"};
  second.items_removed = {"u1", "nope"};
  ASSERT_TRUE(Apply({}, {second}).ok());  // a checkpoint alone (a page that yields nothing)
  EXPECT_EQ(db_->Scalar("SELECT events_yielded FROM source_state"), "2");
  EXPECT_EQ(db_->Scalar("SELECT position->>'watermark' FROM source_state"), "2026-06-01T00:00:00.000000Z");
  EXPECT_EQ(db_->Scalar("SELECT " MM_SQL_MICROS("watermark") " FROM source_state"), std::to_string(ToUnixMicros(At(5))));
  items = sources_->LoadItems("huudis-audit", "acc_1");
  EXPECT_EQ(std::set<std::string>(items->begin(), items->end()), (std::set<std::string>{"u2", "u3", "u4"}));
  // Unknown sources have nothing.
  EXPECT_FALSE(sources_->LoadPosition("huudis-audit", "acc_other")->has_value());
  EXPECT_TRUE(sources_->LoadItems("monocloud", "")->empty());
}

TEST_F(PgSourceStoreTest, AFailedBatchStoresNeitherItsEventsNorItsCheckpoint) {
  // A checkpoint the database refuses (its position is not JSON) fails the whole batch: the
  // events are not stored without it.
  store::SourceCheckpoint bad = Checkpoint("{not json");
  auto failed = Apply({UserDisabled("aud_1", "u1", At(1))}, {bad});
  EXPECT_TRUE(absl::IsInvalidArgument(failed.status())) << failed.status();
  EXPECT_EQ(db_->Scalar("SELECT count(*) FROM provider_events"), "0");
  EXPECT_EQ(db_->Scalar("SELECT count(*) FROM source_state"), "0");
}

TEST_F(PgSourceStoreTest, WhatAReconcileRunComparesWith) {
  MustApply(*events_, {MemberAdded("e1", "acc_1", "u1", At(1), "admin"), MemberAdded("e2", "acc_1", "u2", At(1)),
                       MemberRemoved("e3", "acc_1", "u2", At(2)), MemberAdded("e4", "acc_2", "u3", At(1)),
                       UserDisabled("e5", "u1", At(3)), Wrap("op1", UserFact(EventKind::kUserDisabled, "u3", At(4)),
                                                             Provider::kOperator)});
  auto present = sources_->PresentMembers("acc_1");
  ASSERT_TRUE(present.ok()) << present.status();
  EXPECT_EQ(*present, (std::map<std::string, std::string>{{"u1", "admin"}}));
  auto users = sources_->Users({"u1", "u2", "u3", "nobody"});
  ASSERT_TRUE(users.ok()) << users.status();
  ASSERT_EQ(users->size(), 3u);
  EXPECT_EQ(users->at("u1").state, domain::UserState::kDisabled);
  EXPECT_EQ(users->at("u1").state_provider, Provider::kHuudis);
  EXPECT_EQ(users->at("u1").state_changed_at, At(3));
  EXPECT_EQ(users->at("u2").state, domain::UserState::kActive);
  EXPECT_FALSE(users->at("u2").state_provider.has_value());  // named, never disabled or enabled
  EXPECT_EQ(users->at("u3").state_provider, Provider::kOperator);
  // Many ids at once (sliced internally).
  std::vector<std::string> many;
  for (int i = 0; i < 12000; ++i) many.push_back("x" + std::to_string(i));
  many.push_back("u1");
  EXPECT_EQ(sources_->Users(many)->size(), 1u);
}

TEST_F(PgSourceStoreTest, RunReportsKeepTheLastSuccessAndAreListed) {
  ASSERT_TRUE(sources_->RecordRun({.source = "huudis-lists", .scope = "acc_1", .attempted_at = At(10), .status = "ok",
                                   .error = std::nullopt, .drift = 4, .puller = "pod-a"})
                  .ok());
  ASSERT_TRUE(sources_->RecordRun({.source = "huudis-lists", .scope = "acc_1", .attempted_at = At(20),
                                   .status = "error", .error = "HTTP 500: boom", .drift = 0, .puller = "pod-b"})
                  .ok());
  auto status = sources_->LoadStatus("huudis-lists", "acc_1");
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(status->has_value());
  const store::SourceStatus& s = **status;
  EXPECT_EQ(s.status, "error");
  EXPECT_EQ(s.last_attempt_at, At(20));
  EXPECT_EQ(s.last_success_at, At(10));  // kept from the earlier run
  EXPECT_EQ(s.last_error, "HTTP 500: boom");
  EXPECT_EQ(s.last_error_at, At(20));
  EXPECT_EQ(s.last_run_drift, 0);
  EXPECT_EQ(s.puller, "pod-b");
  // A checkpoint does not touch the run report, and a run report not the position.
  store::SourceCheckpoint c;
  c.source = "huudis-lists";
  c.scope = "acc_1";
  c.position_json = R"({"listed_at": "x"})";
  c.page_end = 1;
  ASSERT_TRUE(Apply({UserDisabled("r1", "u1", At(1))}, {c}).ok());
  ASSERT_TRUE(sources_->RecordRun({.source = "huudis-lists", .scope = "acc_1", .attempted_at = At(30), .status = "ok",
                                   .error = std::nullopt, .drift = 1, .puller = "pod-b"})
                  .ok());
  status = sources_->LoadStatus("huudis-lists", "acc_1");
  EXPECT_EQ((*status)->events_yielded, 1);
  EXPECT_EQ((*status)->last_error, std::nullopt);  // cleared by a success
  EXPECT_EQ((*status)->last_success_at, At(30));
  EXPECT_EQ(*sources_->LoadPosition("huudis-lists", "acc_1"), R"({"listed_at": "x"})");

  ASSERT_TRUE(sources_->RecordRun({.source = "huudis-audit", .scope = "acc_1", .attempted_at = At(1), .status = "stopped",
                                   .error = "HTTP 401", .drift = 0, .puller = "pod-a"})
                  .ok());
  store::PgReadStore reads(db_->url());
  auto listed = reads.ListSources();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].source, "huudis-audit");
  EXPECT_EQ((*listed)[0].status, "stopped");
  EXPECT_FALSE((*listed)[0].last_success_at.has_value());
  EXPECT_EQ((*listed)[1].source, "huudis-lists");
}

TEST_F(PgSourceStoreTest, OneLeaseHolderAtATimeAndALostSessionFreesIt) {
  store::PgSourceLease a(db_->url() + "?application_name=mm_lease_a", "source:huudis-audit");
  store::PgSourceLease b(db_->url(), "source:huudis-audit");
  store::PgSourceLease other(db_->url(), "source:monocloud");
  EXPECT_TRUE(a.Hold());
  EXPECT_TRUE(a.Hold());  // still held
  EXPECT_FALSE(b.Hold());
  EXPECT_TRUE(other.Hold());  // another source's lease is its own
  a.Release();
  EXPECT_TRUE(b.Hold());
  b.Release();

  // The holder's session dies (the replica crashed): the server frees the lock, the holder
  // notices at its next check, and another replica takes it.
  ASSERT_TRUE(a.Hold());
  EXPECT_FALSE(b.Hold());
  db_->Query("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = 'mm_lease_a'");
  EXPECT_TRUE(b.Hold());
  EXPECT_FALSE(a.Hold());
  // An unreachable database holds nothing.
  store::PgSourceLease unreachable("postgresql://postgres@127.0.0.1:1/x", "source:huudis-audit");
  EXPECT_FALSE(unreachable.Hold());
}

}  // namespace
}  // namespace mm::testing
