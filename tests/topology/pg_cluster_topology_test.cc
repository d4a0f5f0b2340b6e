// The topology test support itself (tests/support/pg_cluster.h), without the service: a
// migrated primary streams to a synchronous standby; a fenced primary refuses writes; a clean
// failover and the old primary following the new one; PgBouncer in front.

#include <string>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "pg_cluster.h"

namespace mm::testing {
namespace {

TEST(PgClusterTopologyTest, PrimaryStandbyFailoverAndPgBouncer) {
  auto primary = PgServer::StartPrimary();
  EXPECT_FALSE(primary->InRecovery());
  EXPECT_NE(primary->Scalar("SELECT count(*) FROM schema_migrations"), "0") << "migrations applied";

  auto standby = PgServer::StartStandby(*primary, {.synchronous = true, .application_name = "smoke"});
  EXPECT_TRUE(standby->InRecovery());
  EXPECT_NE(standby->port(), primary->port());
  EXPECT_EQ(primary->Scalar("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'smoke'"), "sync");
  primary->Query("CREATE TABLE smoke (x int)");
  primary->Query("INSERT INTO smoke VALUES (1)");
  standby->WaitCaughtUp();
  EXPECT_EQ(standby->Scalar("SELECT count(*) FROM smoke"), "1");

  // Fenced: writes fail with SQLSTATE 25006, reads go on; unfenced, writes work again.
  primary->SetDefaultReadOnly(true);
  try {
    primary->Query("INSERT INTO smoke VALUES (2)");
    ADD_FAILURE() << "a fenced primary accepted a write";
  } catch (const pqxx::sql_error& e) {
    EXPECT_EQ(e.sqlstate(), "25006") << e.what();
  }
  EXPECT_EQ(primary->Scalar("SELECT count(*) FROM smoke"), "1");
  primary->SetDefaultReadOnly(false);
  primary->Query("INSERT INTO smoke VALUES (2)");

  // A clean switchover: the old primary stops, the standby is promoted, the old primary follows.
  standby->WaitCaughtUp();
  primary->Stop(PgServer::StopMode::kFast);
  EXPECT_FALSE(primary->running());
  standby->Promote();
  EXPECT_FALSE(standby->InRecovery());
  standby->Query("INSERT INTO smoke VALUES (3)");
  primary->RestartAsStandbyOf(*standby, {.application_name = "old_primary"});
  EXPECT_TRUE(primary->InRecovery());
  primary->WaitCaughtUp();
  EXPECT_EQ(primary->Scalar("SELECT count(*) FROM smoke"), "3");

  auto bouncer = PgBouncerProcess::Start(
      {.target_port = standby->port(), .dbname = standby->database(), .default_pool_size = 2});
  {
    pqxx::connection conn(bouncer->url());
    pqxx::nontransaction txn(conn);
    EXPECT_EQ(txn.exec("SELECT count(*) FROM smoke")[0][0].as<std::string>(), "3");
  }
  bouncer->Pause();
  bouncer->Resume();
  // Pointed at the other node (now a standby): reads are served from it.
  bouncer->Retarget(primary->host(), primary->port());
  {
    pqxx::connection conn(bouncer->url());
    pqxx::nontransaction txn(conn);
    EXPECT_EQ(txn.exec("SELECT pg_is_in_recovery()")[0][0].as<std::string>(), "t");
  }
  EXPECT_NE(bouncer->Admin("SHOW POOLS").find(standby->database()), std::string::npos) << bouncer->Log();
}

}  // namespace
}  // namespace mm::testing
