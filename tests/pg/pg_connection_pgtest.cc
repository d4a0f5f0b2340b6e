// Error mapping (broken connection -> UNAVAILABLE, serialization failure or
// deadlock -> ABORTED, anything else -> INTERNAL) on errors a real server produces, and
// PgConnection's reconnect after Reset().

#include "store/pg_connection.h"

#include <chrono>
#include <functional>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "store/pg_event_store.h"
#include "test_database.h"

namespace mm::testing {
namespace {

using store::CatchAll;
using store::StatusFromException;

class PgConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = TestDatabase::Create("conn", /*migrate=*/false);
    db_->Query("CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)");
    db_->Query("INSERT INTO t VALUES (1, 0), (2, 0)");
  }
  void Terminate(int pid) const {
    ASSERT_EQ(db_->Scalar("SELECT pg_terminate_backend(" + std::to_string(pid) + ", 5000)"), "t");
  }

  std::unique_ptr<TestDatabase> db_;
};

// The status that `fn` ends with, through the store's one mapping function.
absl::Status StatusOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
  return absl::OkStatus();
}

TEST_F(PgConnectionTest, BrokenConnectionIsUnavailable) {
  pqxx::connection conn(db_->url());
  Terminate(conn.backendpid());
  absl::Status status = StatusOf([&] { pqxx::nontransaction(conn).exec("SELECT 1"); });
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  // CatchAll is the same mapping.
  EXPECT_TRUE(absl::IsUnavailable(CatchAll([&] { pqxx::nontransaction(conn).exec("SELECT 1"); })));
}

TEST_F(PgConnectionTest, UnreachableServerIsUnavailable) {
  absl::Status status = CatchAll([] { pqxx::connection("postgresql://postgres@127.0.0.1:1/x"); });
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  store::PgEventStore store("postgresql://postgres@127.0.0.1:1/x");
  status = store.Connect();
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
}

TEST_F(PgConnectionTest, SyntaxErrorIsInternal) {
  pqxx::connection conn(db_->url());
  absl::Status status = StatusOf([&] { pqxx::nontransaction(conn).exec("SELEC 1"); });
  EXPECT_TRUE(absl::IsInternal(status)) << status;
  EXPECT_NE(status.message().find("42601"), std::string::npos) << status;
}

// Write skew under SERIALIZABLE: each transaction reads what the other writes.
TEST_F(PgConnectionTest, SerializationFailureIsAborted) {
  pqxx::connection c1(db_->url()), c2(db_->url());
  pqxx::transaction<pqxx::isolation_level::serializable> t1(c1), t2(c2);
  absl::Status status = StatusOf([&] {
    t1.exec("SELECT sum(v) FROM t");
    t2.exec("SELECT sum(v) FROM t");
    t1.exec("UPDATE t SET v = 1 WHERE id = 1");
    t2.exec("UPDATE t SET v = 1 WHERE id = 2");
    t1.commit();
    t2.commit();
  });
  EXPECT_TRUE(absl::IsAborted(status)) << status;
  EXPECT_NE(status.message().find("serializ"), std::string::npos) << status;
}

TEST_F(PgConnectionTest, DeadlockIsAborted) {
  pqxx::connection c1(db_->url()), c2(db_->url());
  for (pqxx::connection* c : {&c1, &c2}) pqxx::nontransaction(*c).exec("SET deadlock_timeout = '50ms'");
  pqxx::work t1(c1), t2(c2);
  t1.exec("UPDATE t SET v = v + 1 WHERE id = 1");
  t2.exec("UPDATE t SET v = v + 1 WHERE id = 2");
  absl::Status s1, s2;
  std::thread other([&] { s2 = StatusOf([&] { t2.exec("UPDATE t SET v = v + 1 WHERE id = 1"); }); });
  // Let t2 queue behind t1 before t1 closes the cycle.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (db_->Scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                     " AND datname = current_database()") != "1" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  s1 = StatusOf([&] { t1.exec("UPDATE t SET v = v + 1 WHERE id = 2"); });
  other.join();
  absl::Status victim = s1.ok() ? s2 : s1;
  EXPECT_TRUE(s1.ok() != s2.ok()) << s1 << " / " << s2;
  EXPECT_TRUE(absl::IsAborted(victim)) << victim;
}

// The mapping for SQLSTATEs that are hard to provoke on demand, as libpq reports them.
TEST(StatusFromExceptionTest, MapsSqlStates) {
  struct Case {
    const char* sqlstate;
    absl::StatusCode code;
  };
  for (const Case& c : {Case{"40001", absl::StatusCode::kAborted},
                        Case{"40P01", absl::StatusCode::kAborted},
                        Case{"08006", absl::StatusCode::kUnavailable},
                        Case{"08001", absl::StatusCode::kUnavailable},
                        Case{"57P01", absl::StatusCode::kUnavailable},
                        Case{"57P03", absl::StatusCode::kUnavailable},
                        Case{"53300", absl::StatusCode::kUnavailable},
                        Case{"53100", absl::StatusCode::kUnavailable},   // disk full
                        Case{"57014", absl::StatusCode::kUnavailable},   // statement timeout
                        Case{"58030", absl::StatusCode::kUnavailable},   // I/O error
                        Case{"25006", absl::StatusCode::kUnavailable},   // read-only (demoted)
                        Case{"40003", absl::StatusCode::kUnavailable},   // completion unknown
                        // Content: the one event is dead-lettered, nothing is retried.
                        Case{"22008", absl::StatusCode::kInvalidArgument},  // datetime overflow
                        Case{"22021", absl::StatusCode::kInvalidArgument},  // bad encoding
                        Case{"22P05", absl::StatusCode::kInvalidArgument},  // \u0000 in jsonb
                        Case{"23514", absl::StatusCode::kInvalidArgument},  // check violation
                        Case{"23505", absl::StatusCode::kInvalidArgument},
                        Case{"54000", absl::StatusCode::kInvalidArgument},  // index row too big
                        Case{"42601", absl::StatusCode::kInternal},
                        Case{"XX000", absl::StatusCode::kInternal}}) {
    EXPECT_EQ(StatusFromException(pqxx::sql_error("boom", "SELECT 1", c.sqlstate)).code(), c.code)
        << c.sqlstate;
  }
  EXPECT_TRUE(absl::IsUnavailable(StatusFromException(pqxx::broken_connection("gone"))));
  EXPECT_TRUE(absl::IsUnavailable(StatusFromException(pqxx::in_doubt_error("commit?"))));
  EXPECT_TRUE(absl::IsInternal(StatusFromException(std::runtime_error("bug"))));
}

// What PostgreSQL itself answers for values it refuses, and that only the first line of its
// message (never a DETAIL quoting the row) is kept.
TEST_F(PgConnectionTest, RefusedValuesAreInvalidArgumentWithoutTheirDetail) {
  db_->Query("CREATE TABLE c (id int PRIMARY KEY, v int CHECK (v >= 0), t timestamptz, k text)");
  db_->Query("CREATE INDEX c_k ON c (k)");
  pqxx::connection conn(db_->url());
  auto run = [&](const std::string& sql) { return StatusOf([&] { pqxx::nontransaction(conn).exec(sql); }); };
  absl::Status check = run("INSERT INTO c (id, v) VALUES (1, -1)");
  EXPECT_TRUE(absl::IsInvalidArgument(check)) << check;
  EXPECT_EQ(check.message().find("DETAIL"), std::string_view::npos) << check;
  EXPECT_EQ(check.message().find("Failing row"), std::string_view::npos) << check;
  EXPECT_TRUE(absl::IsInvalidArgument(run("INSERT INTO c (id, t) VALUES (2, '0000-01-01T00:00:00Z')")));
  EXPECT_TRUE(absl::IsInvalidArgument(run(
      "INSERT INTO c (id, k) SELECT 3, string_agg(md5(random()::text), '') FROM generate_series(1, 300)")));
  EXPECT_TRUE(absl::IsInvalidArgument(run("SELECT '{\"a\":\"\\u0000\"}'::jsonb")));
  EXPECT_TRUE(absl::IsInternal(run("SELEC 1")));
}

// What libpqxx 6.4 actually throws for 40001 / 40P01 (result.cxx ThrowSQLError): its own
// transaction_rollback classes, which are pqxx::failure but not pqxx::sql_error.
TEST(StatusFromExceptionTest, MapsLibpqxxRollbackExceptionsToAborted) {
  EXPECT_TRUE(absl::IsAborted(StatusFromException(pqxx::serialization_failure("40001"))));
  EXPECT_TRUE(absl::IsAborted(StatusFromException(pqxx::deadlock_detected("40P01"))));
}

// ---- PgConnection. ----

TEST_F(PgConnectionTest, ReconnectsAndPreparesAgainAfterReset) {
  int connects = 0, resets = 0;
  store::PgConnection conn(db_->url(), {{"pid", "SELECT pg_backend_pid()"}},
                           [&](pqxx::connection&) { ++connects; }, [&] { ++resets; });
  EXPECT_FALSE(conn.IsOpen());
  auto pid = [&] { return pqxx::nontransaction(conn.Get()).exec_prepared1("pid")[0].as<int>(); };
  const int first = pid();
  EXPECT_TRUE(conn.IsOpen());
  EXPECT_EQ(pid(), first) << "Get() reconnected without a reason";

  conn.Reset();
  EXPECT_FALSE(conn.IsOpen());
  EXPECT_EQ(resets, 1);
  const int second = pid();
  EXPECT_NE(second, first);
  EXPECT_EQ(connects, 2);
  EXPECT_EQ(db_->Scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(first)),
            "0")
      << "Reset() left the old connection open";
}

TEST_F(PgConnectionTest, ReconnectsAfterTheServerDroppedTheConnection) {
  store::PgConnection conn(db_->url(), {{"pid", "SELECT pg_backend_pid()"}});
  std::optional<int> pid;
  auto read_pid = [&] { pid = pqxx::nontransaction(conn.Get()).exec_prepared1("pid")[0].as<int>(); };
  ASSERT_TRUE(CatchAll(read_pid).ok());
  const int first = *pid;
  Terminate(first);

  absl::Status lost = CatchAll(read_pid);
  EXPECT_TRUE(absl::IsUnavailable(lost)) << lost;
  conn.Reset();  // what the store does after UNAVAILABLE
  absl::Status again = CatchAll(read_pid);
  ASSERT_TRUE(again.ok()) << again;
  EXPECT_NE(*pid, first);
}

TEST_F(PgConnectionTest, BadStatementFailsOnConnect) {
  store::PgConnection conn(db_->url(), {{"bad", "SELECT FROM nowhere WHERE"}});
  absl::Status status = CatchAll([&] { conn.Get(); });
  EXPECT_TRUE(absl::IsInternal(status)) << status;
  // A store on a database without the schema fails at start-up, not on the first batch.
  store::PgEventStore unmigrated(db_->url());
  EXPECT_FALSE(unmigrated.Connect().ok());
}

}  // namespace
}  // namespace mm::testing
