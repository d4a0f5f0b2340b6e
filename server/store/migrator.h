#pragma once
// Schema migrations (DESIGN §6): plain SQL files `migrations/NNNN_name.sql`, embedded into the
// binary at build time, applied in version order by `membership-mirror migrate`:
// - a `schema_migrations` table records version, name, SHA-256 checksum and time;
// - each migration runs in its own transaction together with its bookkeeping row;
// - a session advisory lock makes concurrent `migrate` runs (replicas, hook retries) wait for
//   each other instead of racing;
// - an applied migration whose file has since been edited (checksum differs) is refused.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mm::store {

struct MigrationSource {
  std::string_view file_name;  // e.g. "0001_initial.sql"
  std::string_view sql;
};

// Generated at build time from migrations/*.sql (embedded_migrations.cc).
std::vector<MigrationSource> EmbeddedMigrationSources();

struct Migration {
  int version = 0;
  std::string file_name;
  std::string sql;
  std::string checksum;  // lowercase hex SHA-256 of `sql`
};

// Validates names (NNNN_name.sql, unique versions) and sorts by version.
absl::StatusOr<std::vector<Migration>> PrepareMigrations(
    const std::vector<MigrationSource>& sources);

struct MigrateReport {
  std::vector<std::string> applied;          // file names applied by this run
  std::vector<int> unknown_versions;         // in the database but not in this binary (newer)
};

// Applies every migration not yet applied. FAILED_PRECONDITION if an applied migration was
// edited; UNAVAILABLE if the database cannot be reached; INTERNAL if a migration fails (its
// transaction is rolled back, earlier ones stay applied).
absl::StatusOr<MigrateReport> ApplyMigrations(const std::string& database_url,
                                              const std::vector<Migration>& migrations);

// OK when every migration of this binary is applied with a matching checksum (a database that
// is newer is fine: migrations are additive, so old replicas keep serving during a rollout).
// FAILED_PRECONDITION otherwise, naming the first missing or edited migration.
absl::Status CheckSchemaCurrent(const std::string& database_url,
                                const std::vector<Migration>& migrations);

}  // namespace mm::store
