// PgChangeFeed against the real PostgreSQL: the user-state snapshot, reading the change log,
// notifications, and the key guarantee of DESIGN §5: a reader tailing the log while several
// replicas write sees every committed change exactly once, in order, with no gap.

#include "store/pg_change_feed.h"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "pg_event_builders.h"
#include "store/pg_event_store.h"

namespace mm::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

class PgChangeFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = TestDatabase::Create("feed");
    sql_ = std::make_unique<SqlSession>(*db_);
    store_ = std::make_unique<store::PgEventStore>(db_->url());
    feed_ = std::make_unique<store::PgChangeFeed>(db_->url());
  }

  uint64_t Head() const {
    return std::stoull(sql_->Scalar("SELECT last_sequence FROM change_log_head"));
  }

  std::map<std::string, store::UserStateRow> LoadAll(uint64_t& head) {
    std::map<std::string, store::UserStateRow> rows;
    auto loaded = feed_->LoadUserStates([&](store::UserStateRow&& row) {
      std::string id = row.user_id;  // in no particular order
      EXPECT_TRUE(rows.emplace(id, std::move(row)).second) << id << " twice";
    });
    if (!loaded.ok()) throw std::runtime_error("LoadUserStates: " + loaded.status().ToString());
    head = *loaded;
    return rows;
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<SqlSession> sql_;
  std::unique_ptr<store::PgEventStore> store_;
  std::unique_ptr<store::PgChangeFeed> feed_;
};

void ExpectSameUserState(const store::UserStateRow& got, const store::UserStateRow& want) {
  EXPECT_EQ(got.user_id, want.user_id);
  EXPECT_EQ(got.state, want.state) << want.user_id;
  EXPECT_EQ(got.state_changed_at, want.state_changed_at) << want.user_id;
  EXPECT_EQ(got.disabled_reason, want.disabled_reason) << want.user_id;
  EXPECT_EQ(got.sessions_valid_after, want.sessions_valid_after) << want.user_id;
}

// ---- LoadUserStates. ----

TEST_F(PgChangeFeedTest, LoadUserStatesReturnsEveryUserAndTheHead) {
  uint64_t head = 99;
  EXPECT_TRUE(LoadAll(head).empty());
  EXPECT_EQ(head, 0u);

  MustApply(*store_, {UserCreated("c1", "u-active", At(1)),
                      UserDisabled("d1", "u-disabled", At(5), "reason \"q\" ✓"),
                      UserDisabled("d2", "u-enabled", At(5)), UserEnabled("e2", "u-enabled", At(6)),
                      UserDeleted("x1", "u-deleted", At(7)), MemberAdded("m1", "acct", "u-member", At(2))});
  auto rows = LoadAll(head);
  EXPECT_EQ(head, Head());
  const domain::StateSet state = ReadState(*sql_);
  ASSERT_EQ(rows.size(), state.users.size());
  for (const auto& [id, user] : state.users) ExpectSameUserState(rows.at(id), store::ToUserStateRow(user));
  EXPECT_EQ(rows.at("u-disabled").disabled_reason, "reason \"q\" ✓");
  EXPECT_EQ(rows.at("u-enabled").sessions_valid_after, At(5));
  EXPECT_EQ(rows.at("u-enabled").state_changed_at, At(6));
  EXPECT_EQ(rows.at("u-deleted").state, domain::UserState::kDeleted);
  EXPECT_EQ(rows.at("u-active").state_changed_at, std::nullopt);
}

// COPY's text format escapes tabs, newlines and backslashes: the load undoes every one.
TEST_F(PgChangeFeedTest, LoadUserStatesKeepsEveryByteOfIdsAndReasons) {
  const std::string id = "u\ttab\\back\nnew\rline \\N \xE2\x9C\x93";
  const std::string reason = "\\N\t\\x41 \\101 \"q\"\nnext \b\f\v";
  MustApply(*store_, {UserDisabled("d1", id, At(5), reason), UserCreated("c1", "\\N", At(1))});
  uint64_t head = 0;
  auto rows = LoadAll(head);
  ASSERT_EQ(rows.size(), 2u);
  ASSERT_EQ(rows.count(id), 1u);
  EXPECT_EQ(rows.at(id).disabled_reason, reason);
  EXPECT_EQ(rows.at(id).state, domain::UserState::kDisabled);
  EXPECT_EQ(rows.at("\\N").state, domain::UserState::kActive);
  EXPECT_EQ(rows.at("\\N").disabled_reason, std::nullopt);
}

TEST_F(PgChangeFeedTest, UserCountHintFollowsAnalyze) {
  EXPECT_EQ(feed_->UserCountHint(), 0u);  // never analyzed: unknown
  sql_->Query("INSERT INTO users (user_id, state, record) SELECT 'h' || i, 'active', '{}'"
              " FROM generate_series(1, 5000) AS i");
  sql_->Query("ANALYZE users");
  EXPECT_EQ(feed_->UserCountHint(), 5000u);
}

// Many users, inserted by one statement, streamed in one go; a commit that lands while the
// load is under way is not part of its snapshot, and the head agrees with the rows.
TEST_F(PgChangeFeedTest, LoadUserStatesStreamsOneSnapshot) {
  constexpr int kUsers = 100000;
  sql_->Query(
      "INSERT INTO users (user_id, state, state_changed_at, disabled_reason, sessions_valid_after,"
      " record)"
      " SELECT 'bulk-' || lpad(i::text, 6, '0'),"
      "  CASE WHEN i % 10 = 0 THEN 'disabled' ELSE 'active' END,"
      "  CASE WHEN i % 10 = 0 THEN to_timestamp(" + std::to_string(kBaseUnixSeconds) + " + i) END,"
      "  CASE WHEN i % 10 = 0 THEN 'bulk ' || i END,"
      "  CASE WHEN i % 10 = 0 THEN to_timestamp(" + std::to_string(kBaseUnixSeconds) + " + i) END,"
      "  jsonb_build_object('user_id', 'bulk-' || lpad(i::text, 6, '0'),"
      "   'state', CASE WHEN i % 10 = 0 THEN 'disabled' ELSE 'active' END)"
      " FROM generate_series(1, " + std::to_string(kUsers) + ") AS i");
  sql_->Query("UPDATE change_log_head SET last_sequence = 41");

  uint64_t head = 0;
  auto rows = LoadAll(head);
  ASSERT_EQ(rows.size(), static_cast<size_t>(kUsers));
  EXPECT_EQ(head, 41u);
  const store::UserStateRow& disabled = rows.at("bulk-054320");
  EXPECT_EQ(disabled.state, domain::UserState::kDisabled);
  EXPECT_EQ(disabled.disabled_reason, "bulk 54320");
  EXPECT_EQ(disabled.sessions_valid_after, At(54320));
  EXPECT_EQ(disabled.state_changed_at, At(54320));
  EXPECT_EQ(rows.at("bulk-054321").state, domain::UserState::kActive);
  EXPECT_EQ(rows.at("bulk-054321").sessions_valid_after, std::nullopt);

  // One more user; another writer commits while the load is running.
  MustApply(*store_, {UserDisabled("d1", "bulk-100001", At(3))});
  const uint64_t head_before = Head();
  store::PgEventStore other(db_->url());
  bool committed = false;
  size_t seen = 0;
  auto loaded = feed_->LoadUserStates([&](store::UserStateRow&& row) {
    if (!committed) {
      committed = true;
      // One new user, one change to a user the load has not necessarily delivered yet.
      MustApply(other, {UserDisabled("late", "zz-late", At(9)),
                        UserDisabled("d3", "bulk-099999", At(9))});
    }
    EXPECT_NE(row.user_id, "zz-late");
    if (row.user_id == "bulk-099999") {
      EXPECT_EQ(row.state, domain::UserState::kActive);
    }
    ++seen;
  });
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(seen, static_cast<size_t>(kUsers) + 1);
  EXPECT_EQ(*loaded, head_before) << "head from another snapshot than the rows";
  EXPECT_EQ(Head(), head_before + 2);
}

// ---- ReadChanges. ----

TEST_F(PgChangeFeedTest, ReadChangesReturnsRowsInOrderWithLimit) {
  MustApply(*store_, {UserCreated("c1", "u1", At(1)), AccountCreated("a1", "acct", At(1), "Acme")});
  MustApply(*store_, {MemberAdded("m1", "acct", "u2", At(2), "admin")});
  MustApply(*store_, {UserDisabled("d1", "u1", At(3), "gone")});
  // u1, acct | u2, acct/u2 (acct itself unchanged: the add names no account) | u1
  ASSERT_EQ(Head(), 5u);

  auto first_read = feed_->ReadChanges(0, 3);
  ASSERT_TRUE(first_read.ok()) << first_read.status();
  EXPECT_EQ(first_read->head, 5u);
  EXPECT_FALSE(first_read->after_committed_at.has_value());  // there is no row 0
  const std::vector<store::ChangeRow>* first = &first_read->rows;
  ASSERT_EQ(first->size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ((*first)[i].sequence, i + 1);
  EXPECT_EQ((*first)[0].entity, store::EntityKind::kUser);
  EXPECT_EQ((*first)[1].entity, store::EntityKind::kAccount);
  EXPECT_EQ((*first)[2].entity, store::EntityKind::kUser);

  auto rest_read = feed_->ReadChanges(3, 100);
  ASSERT_TRUE(rest_read.ok()) << rest_read.status();
  EXPECT_EQ(rest_read->head, 5u);
  // The commit time of the row the read starts after: how a follower recognises its log.
  EXPECT_EQ(rest_read->after_committed_at, (*first)[2].committed_at);
  const std::vector<store::ChangeRow>* rest = &rest_read->rows;
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ((*rest)[0].sequence, 4u);
  EXPECT_EQ((*rest)[0].entity, store::EntityKind::kMembership);
  EXPECT_EQ((*rest)[1].sequence, 5u);
  auto member = domain::MembershipFromJson((*rest)[0].record_json);
  ASSERT_TRUE(member.ok()) << (*rest)[0].record_json;
  EXPECT_EQ(member->role, "admin");
  EXPECT_TRUE(member->present);
  auto last_user = domain::UserFromJson((*rest)[1].record_json);
  ASSERT_TRUE(last_user.ok()) << (*rest)[1].record_json;
  EXPECT_EQ(last_user->user_id, "u1");
  EXPECT_EQ(last_user->state, domain::UserState::kDisabled);
  EXPECT_EQ(last_user->disabled_reason, "gone");
  // committed_at is the commit's time (same machine, same clock).
  const auto age = SystemClock::Instance().Now() - (*rest)[1].committed_at;
  EXPECT_LT(std::chrono::abs(age), std::chrono::minutes(1));

  auto none = feed_->ReadChanges(5, 100);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->rows.empty());
  EXPECT_EQ(none->after_committed_at, (*rest)[1].committed_at);
  // Past the head (a replica ahead of a restored database): the head says so.
  auto ahead = feed_->ReadChanges(9, 100);
  ASSERT_TRUE(ahead.ok());
  EXPECT_EQ(ahead->head, 5u);
  EXPECT_TRUE(ahead->rows.empty());
  EXPECT_FALSE(ahead->after_committed_at.has_value());
}

// ---- WaitForNotification. ----

TEST_F(PgChangeFeedTest, WaitForNotificationWakesPromptlyOnACommit) {
  ASSERT_TRUE(feed_->ReadChanges(0, 10).ok());  // connected and listening
  std::thread writer([&] {
    std::this_thread::sleep_for(milliseconds(200));
    MustApply(*store_, {UserDisabled("d1", "u1", At(1))});
  });
  const auto start = steady_clock::now();
  absl::Status woke = feed_->WaitForNotification(milliseconds(10000));
  const auto waited = steady_clock::now() - start;
  writer.join();
  EXPECT_TRUE(woke.ok()) << woke;
  EXPECT_LT(waited, std::chrono::seconds(2)) << "not woken by the commit";
  auto rows = feed_->ReadChanges(0, 10);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->rows.size(), 1u);
}

TEST_F(PgChangeFeedTest, NotificationThatArrivedEarlierIsTakenAtOnce) {
  ASSERT_TRUE(feed_->ReadChanges(0, 10).ok());
  MustApply(*store_, {UserDisabled("d1", "u1", At(1))});
  const auto start = steady_clock::now();
  EXPECT_TRUE(feed_->WaitForNotification(milliseconds(10000)).ok());
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(PgChangeFeedTest, WaitForNotificationReturnsOkAfterTheTimeout) {
  ASSERT_TRUE(feed_->ReadChanges(0, 10).ok());
  const auto start = steady_clock::now();
  absl::Status status = feed_->WaitForNotification(milliseconds(300));
  const auto waited = steady_clock::now() - start;
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_GE(waited, milliseconds(250));
  EXPECT_LT(waited, std::chrono::seconds(2));
  // A batch that changes nothing (a duplicate, an ignored event) does not notify.
  MustApply(*store_, {Ignored("i1", "{}")});
  const auto again = steady_clock::now();
  EXPECT_TRUE(feed_->WaitForNotification(milliseconds(300)).ok());
  EXPECT_GE(steady_clock::now() - again, milliseconds(250));
}

TEST_F(PgChangeFeedTest, LostConnectionIsUnavailableThenReconnects) {
  store::PgChangeFeed feed(db_->url() + "?application_name=mm_feed_under_test");
  ASSERT_TRUE(feed.ReadChanges(0, 10).ok());
  sql_->Query("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
             " WHERE application_name = 'mm_feed_under_test'");
  const auto start = steady_clock::now();
  absl::Status lost = feed.WaitForNotification(milliseconds(3000));
  EXPECT_TRUE(absl::IsUnavailable(lost)) << lost;
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(2)) << "waited on a dead connection";
  MustApply(*store_, {UserDisabled("d1", "u1", At(1))});
  auto rows = feed.ReadChanges(0, 10);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->rows.size(), 1u);
}

// ---- DESIGN §5: every committed change exactly once, in order, under concurrent writers. ----

TEST_F(PgChangeFeedTest, TailingReaderSeesEveryChangeOnceInOrderUnderConcurrentWriters) {
  constexpr int kWriters = 6;
  constexpr int kBatchesPerWriter = 150;
  std::atomic<int> writers_running{kWriters};
  std::mutex failures_mu;
  std::vector<std::string> failures;

  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      // Each writer is its own replica: its own store and connection.
      store::PgEventStore store(db_->url());
      std::mt19937 rng(static_cast<uint32_t>(1000 + w));
      HistoryShape shape;
      shape.users = 40;
      shape.accounts = 5;
      shape.never_lower_seats = true;  // this test is about the feed, not seat counts
      for (int b = 0; b < kBatchesPerWriter; ++b) {
        std::vector<ProviderEvent> batch;
        const int n = std::uniform_int_distribution<int>(1, 4)(rng);
        for (int i = 0; i < n; ++i) {
          batch.push_back(RandomEvent(rng, shape, "w" + std::to_string(w) + "-" + std::to_string(b) +
                                                      "-" + std::to_string(i),
                                      Provider::kHuudis));
        }
        auto results = ApplyEvents(store, batch);
        if (!results.ok()) {
          std::lock_guard lock(failures_mu);
          failures.push_back(results.status().ToString());
        }
      }
      --writers_running;
    });
  }

  // The tailing reader: what a replica's cache does.
  std::vector<uint64_t> seen;
  size_t unparsable = 0;
  uint64_t last = 0;
  store::PgChangeFeed reader(db_->url());
  const auto deadline = steady_clock::now() + std::chrono::seconds(60);
  while (steady_clock::now() < deadline) {
    const bool writers_done = writers_running.load() == 0;
    auto rows = reader.ReadChanges(last, 100);
    ASSERT_TRUE(rows.ok()) << rows.status();
    for (const store::ChangeRow& row : rows->rows) {
      seen.push_back(row.sequence);
      last = row.sequence;
      try {
        CanonicalRecord(row);
      } catch (const std::exception&) {
        ++unparsable;
      }
    }
    if (rows->rows.empty()) {
      if (writers_done) break;  // everything committed before this read has been read
      ASSERT_TRUE(reader.WaitForNotification(milliseconds(100)).ok());
    }
  }
  for (std::thread& t : writers) t.join();

  EXPECT_TRUE(failures.empty()) << failures.size() << " batches failed, first: " << failures[0];
  const uint64_t head = Head();
  // Some batches change nothing (ignored, dead-lettered, stale, duplicate): still, most do.
  EXPECT_GT(head, static_cast<uint64_t>(kWriters * kBatchesPerWriter / 2)) << "too few changes";
  ASSERT_EQ(seen.size(), head) << "the reader missed or repeated changes";
  for (size_t i = 0; i < seen.size(); ++i) {
    ASSERT_EQ(seen[i], i + 1) << "gap or disorder at position " << i;
  }
  EXPECT_EQ(unparsable, 0u);
  ExpectStoreInvariants(*sql_);
}

}  // namespace
}  // namespace mm::testing
