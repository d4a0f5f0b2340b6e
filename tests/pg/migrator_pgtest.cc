// Migrations (DESIGN §6) against the real PostgreSQL: bookkeeping, idempotence, checksums,
// a failing migration, concurrent runs (the advisory lock), a newer database, no server.

#include "store/migrator.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <latch>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "test_database.h"

namespace mm::testing {
namespace {

using store::ApplyMigrations;
using store::CheckSchemaCurrent;
using store::Migration;
using store::MigrationSource;
using store::PrepareMigrations;

constexpr char kUnreachable[] = "postgresql://postgres@127.0.0.1:1/x";

// The embedded migrations followed by `extra` synthetic ones.
std::vector<Migration> Migrations(const std::vector<MigrationSource>& extra = {}) {
  std::vector<MigrationSource> sources = store::EmbeddedMigrationSources();
  sources.insert(sources.end(), extra.begin(), extra.end());
  auto prepared = PrepareMigrations(sources);
  if (!prepared.ok()) throw std::runtime_error(prepared.status().ToString());
  return *prepared;
}

// Synthetic migrations numbered after any the binary will ever embed.
const MigrationSource kExtra{"9001_extra.sql", "CREATE TABLE extra_one (x int);"};
const MigrationSource kMore{"9002_more.sql", "CREATE TABLE extra_two (x int);"};

// "1,2,...": the embedded migrations' versions, then `extra`, as AppliedVersions shows them.
std::string Versions(const std::vector<int>& extra = {}) {
  std::string out;
  for (const Migration& m : Migrations()) out += (out.empty() ? "" : ",") + std::to_string(m.version);
  for (int v : extra) out += "," + std::to_string(v);
  return out;
}

std::vector<std::string> FileNames(const std::vector<Migration>& migrations) {
  std::vector<std::string> names;
  for (const Migration& m : migrations) names.push_back(m.file_name);
  return names;
}

class MigratorTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = TestDatabase::Create("migr", /*migrate=*/false); }

  bool TableExists(const std::string& name) const {
    return db_->Scalar("SELECT to_regclass('" + name + "') IS NOT NULL") == "t";
  }
  std::string AppliedVersions() const {
    return db_->Scalar("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations");
  }

  // After the embedded ones and 9001 were applied: `migrations` is refused naming `file`,
  // nothing applied.
  void ExpectRefused(const std::vector<Migration>& migrations, const std::string& file) const {
    auto refused = ApplyMigrations(db_->url(), migrations);
    EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
    EXPECT_NE(refused.status().message().find(file), std::string::npos) << refused.status();
    EXPECT_FALSE(TableExists("extra_two"));
    EXPECT_EQ(AppliedVersions(), Versions({9001}));
  }

  std::unique_ptr<TestDatabase> db_;
};

TEST_F(MigratorTest, FreshDatabaseAppliesEveryMigrationAndRecordsIt) {
  const std::vector<Migration> migrations = Migrations({kExtra});
  auto report = ApplyMigrations(db_->url(), migrations);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->applied, FileNames(migrations));
  EXPECT_TRUE(report->unknown_versions.empty());

  pqxx::connection conn(db_->url());
  pqxx::nontransaction txn(conn);
  pqxx::result rows = txn.exec(
      "SELECT version, file_name, checksum, applied_at IS NOT NULL FROM schema_migrations"
      " ORDER BY version");
  ASSERT_EQ(rows.size(), migrations.size());
  for (size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(rows[i][0].as<int>(), migrations[i].version);
    EXPECT_EQ(rows[i][1].as<std::string>(), migrations[i].file_name);
    // The checksum is the SHA-256 of the file, as PostgreSQL computes it too.
    EXPECT_EQ(rows[i][2].as<std::string>(),
              txn.exec_params1("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')",
                               migrations[i].sql)[0].as<std::string>());
    EXPECT_TRUE(rows[i][3].as<bool>());
  }
  EXPECT_TRUE(TableExists("users"));
  EXPECT_TRUE(TableExists("extra_one"));
  EXPECT_EQ(db_->Scalar("SELECT last_sequence FROM change_log_head"), "0");
}

TEST_F(MigratorTest, SecondRunAppliesNothing) {
  const std::vector<Migration> migrations = Migrations({kExtra});
  ASSERT_TRUE(ApplyMigrations(db_->url(), migrations).ok());
  const std::string recorded = db_->Scalar(
      "SELECT string_agg(version || checksum || applied_at, ',') FROM schema_migrations");

  auto again = ApplyMigrations(db_->url(), migrations);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->applied.empty());
  EXPECT_TRUE(again->unknown_versions.empty());
  EXPECT_EQ(db_->Scalar(
                "SELECT string_agg(version || checksum || applied_at, ',') FROM schema_migrations"),
            recorded);
}

TEST_F(MigratorTest, CheckSchemaCurrentNamesTheFirstMissingMigration) {
  absl::Status empty = CheckSchemaCurrent(db_->url(), Migrations());
  EXPECT_TRUE(absl::IsFailedPrecondition(empty)) << empty;
  EXPECT_NE(empty.message().find("0001_initial.sql"), std::string::npos) << empty;

  ASSERT_TRUE(ApplyMigrations(db_->url(), Migrations()).ok());
  absl::Status current = CheckSchemaCurrent(db_->url(), Migrations());
  EXPECT_TRUE(current.ok()) << current;

  absl::Status behind = CheckSchemaCurrent(db_->url(), Migrations({kExtra}));
  EXPECT_TRUE(absl::IsFailedPrecondition(behind)) << behind;
  EXPECT_NE(behind.message().find("9001_extra.sql"), std::string::npos) << behind;
}

TEST_F(MigratorTest, EditedAppliedMigrationIsRefusedAndNothingElseApplied) {
  ASSERT_TRUE(ApplyMigrations(db_->url(), Migrations({kExtra})).ok());
  db_->Query("UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = 1");

  ExpectRefused(Migrations({kExtra, kMore}), "0001_initial.sql");
  absl::Status check = CheckSchemaCurrent(db_->url(), Migrations({kExtra}));
  EXPECT_TRUE(absl::IsFailedPrecondition(check)) << check;
}

TEST_F(MigratorTest, EditedMigrationFileIsRefused) {
  ASSERT_TRUE(ApplyMigrations(db_->url(), Migrations({kExtra})).ok());
  const MigrationSource edited{"9001_extra.sql", "CREATE TABLE extra_one (x int, y int);"};

  ExpectRefused(Migrations({edited, kMore}), "9001_extra.sql");
  EXPECT_TRUE(absl::IsFailedPrecondition(CheckSchemaCurrent(db_->url(), Migrations({edited}))));
}

TEST_F(MigratorTest, FailingMigrationRollsBackOnlyItself) {
  const MigrationSource broken{"9003_broken.sql",
                               "CREATE TABLE half_done (x int); SELECT no_such_function();"};
  const MigrationSource after{"9004_after.sql", "CREATE TABLE after_broken (x int);"};

  auto failed = ApplyMigrations(db_->url(), Migrations({kExtra, broken, after}));
  EXPECT_TRUE(absl::IsInternal(failed.status())) << failed.status();
  EXPECT_NE(failed.status().message().find("9003_broken.sql"), std::string::npos)
      << failed.status();
  EXPECT_EQ(AppliedVersions(), Versions({9001}));
  EXPECT_TRUE(TableExists("extra_one"));
  EXPECT_FALSE(TableExists("half_done")) << "the failed migration was not rolled back";
  EXPECT_FALSE(TableExists("after_broken")) << "migrations after a failure were applied";

  // Fixed, the next run applies it and what follows.
  const MigrationSource fixed{"9003_broken.sql", "CREATE TABLE half_done (x int);"};
  auto report = ApplyMigrations(db_->url(), Migrations({kExtra, fixed, after}));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->applied, (std::vector<std::string>{"9003_broken.sql", "9004_after.sql"}));
  EXPECT_EQ(AppliedVersions(), Versions({9001, 9003, 9004}));
}

TEST_F(MigratorTest, ConcurrentRunsApplyEachMigrationExactlyOnce) {
  // A slow second migration widens the window in which unlocked runs would collide.
  const MigrationSource slow{"9001_slow.sql", "SELECT pg_sleep(0.2); CREATE TABLE slow (x int);"};
  const std::vector<Migration> migrations = Migrations({slow, kMore});
  constexpr int kRuns = 6;
  std::vector<absl::StatusOr<store::MigrateReport>> reports(kRuns);
  std::latch start(kRuns);
  std::vector<std::thread> runs;
  for (int i = 0; i < kRuns; ++i) {
    runs.emplace_back([&, i] {
      start.arrive_and_wait();
      reports[i] = ApplyMigrations(db_->url(), migrations);
    });
  }
  for (std::thread& t : runs) t.join();

  std::map<std::string, int> applied;
  for (const auto& report : reports) {
    ASSERT_TRUE(report.ok()) << report.status();
    for (const std::string& name : report->applied) ++applied[name];
  }
  for (const Migration& m : migrations) EXPECT_EQ(applied[m.file_name], 1) << m.file_name;
  EXPECT_EQ(applied.size(), migrations.size());
  EXPECT_EQ(AppliedVersions(), Versions({9001, 9002}));
  EXPECT_TRUE(CheckSchemaCurrent(db_->url(), migrations).ok());
}

TEST_F(MigratorTest, NewerDatabaseIsReportedAndStillCurrent) {
  ASSERT_TRUE(ApplyMigrations(db_->url(), Migrations()).ok());
  db_->Query("INSERT INTO schema_migrations (version, file_name, checksum)"
             " VALUES (99999, '99999_future.sql', 'abc')");

  auto report = ApplyMigrations(db_->url(), Migrations());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->applied.empty());
  EXPECT_EQ(report->unknown_versions, std::vector<int>{99999});
  absl::Status current = CheckSchemaCurrent(db_->url(), Migrations());
  EXPECT_TRUE(current.ok()) << current;
}

TEST(MigratorNoServerTest, UnreachableServerIsUnavailable) {
  auto report = ApplyMigrations(kUnreachable, Migrations());
  EXPECT_TRUE(absl::IsUnavailable(report.status())) << report.status();
  absl::Status check = CheckSchemaCurrent(kUnreachable, Migrations());
  EXPECT_TRUE(absl::IsUnavailable(check)) << check;
}

TEST(PrepareMigrationsTest, RejectsBadNamesAndDuplicateVersions) {
  for (const char* bad : {"initial.sql", "0001initial.sql", "0001-initial.sql", "0001_initial.txt",
                          "0001_initial", "_initial.sql", "1234567890_too_long.sql", "",
                          "x0001_initial.sql"}) {
    auto prepared = PrepareMigrations({{"0001_ok.sql", "SELECT 1"}, {bad, "SELECT 2"}});
    EXPECT_TRUE(absl::IsInvalidArgument(prepared.status())) << "'" << bad << "' accepted";
  }
  auto duplicate = PrepareMigrations({{"0001_a.sql", "SELECT 1"}, {"1_b.sql", "SELECT 2"}});
  EXPECT_TRUE(absl::IsInvalidArgument(duplicate.status())) << duplicate.status();
}

TEST(PrepareMigrationsTest, SortsByVersionAndChecksumsTheSql) {
  auto prepared = PrepareMigrations({{"0010_c.sql", "abc"}, {"2_b.sql", ""}, {"0001_a.sql", "x"}});
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  ASSERT_EQ(prepared->size(), 3u);
  EXPECT_EQ(FileNames(*prepared),
            (std::vector<std::string>{"0001_a.sql", "2_b.sql", "0010_c.sql"}));
  EXPECT_EQ((*prepared)[1].version, 2);
  EXPECT_EQ((*prepared)[2].version, 10);
  // FIPS 180-2 test vectors.
  EXPECT_EQ((*prepared)[1].checksum,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ((*prepared)[2].checksum,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// The checksums guard the files, so the embedded copy must be the file byte for byte.
TEST(EmbeddedMigrationsTest, AreTheMigrationFilesByteForByte) {
  std::vector<MigrationSource> sources = store::EmbeddedMigrationSources();
  ASSERT_FALSE(sources.empty());
  EXPECT_EQ(sources[0].file_name, "0001_initial.sql");
  for (const MigrationSource& s : sources) {
    std::ifstream in(std::string(MM_MIGRATIONS_DIR) + "/" + std::string(s.file_name),
                     std::ios::binary);
    ASSERT_TRUE(in) << s.file_name;
    std::string file{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    EXPECT_EQ(s.sql, file) << s.file_name;
  }
}

// Database tests must fail, not skip, when the server is not configured.
TEST(TestDatabaseTest, MissingUrlFailsInsteadOfSkipping) {
  const std::string saved = AdminDatabaseUrl();
  unsetenv("MM_TEST_DATABASE_URL");
  EXPECT_THROW(TestDatabase::Create("nourl"), std::runtime_error);
  setenv("MM_TEST_DATABASE_URL", saved.c_str(), 1);
}

}  // namespace
}  // namespace mm::testing
