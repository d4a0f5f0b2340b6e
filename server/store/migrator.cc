#include "store/migrator.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/log.h"
#include "store/pg_connection.h"

namespace mm::store {
namespace {

// Arbitrary but fixed: "membership-mirror migrations" as a 63-bit advisory lock key.
constexpr long long kMigrationLockKey = 0x6d6d5f6d69677261LL;

constexpr char kCreateVersionTable[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " file_name text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

struct Applied {
  std::string file_name;
  std::string checksum;
};

std::map<int, Applied> ReadApplied(pqxx::transaction_base& txn) {
  std::map<int, Applied> applied;
  auto exists = txn.exec1("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists[0].as<bool>()) return applied;
  for (const auto& row : txn.exec("SELECT version, file_name, checksum FROM schema_migrations")) {
    applied[row[0].as<int>()] = {row[1].as<std::string>(), row[2].as<std::string>()};
  }
  return applied;
}

// The first applied migration whose checksum differs from this binary's copy, if any.
absl::Status CheckChecksums(const std::map<int, Applied>& applied,
                            const std::vector<Migration>& migrations) {
  for (const Migration& m : migrations) {
    auto it = applied.find(m.version);
    if (it != applied.end() && it->second.checksum != m.checksum) {
      return absl::FailedPreconditionError(absl::StrCat(
          "migration ", m.file_name, " was edited after it was applied (applied checksum ",
          it->second.checksum, ", file checksum ", m.checksum,
          "); add a new migration instead of changing an applied one"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Migration>> PrepareMigrations(
    const std::vector<MigrationSource>& sources) {
  std::vector<Migration> out;
  std::set<int> versions;
  for (const MigrationSource& s : sources) {
    std::string_view name = s.file_name;
    size_t digits = 0;
    while (digits < name.size() && name[digits] >= '0' && name[digits] <= '9') ++digits;
    if (digits == 0 || digits > 9 || digits >= name.size() || name[digits] != '_' ||
        !name.ends_with(".sql")) {
      return absl::InvalidArgumentError(
          absl::StrCat("migration file name must look like 0001_name.sql: ", std::string(name)));
    }
    Migration m;
    m.version = std::stoi(std::string(name.substr(0, digits)));
    m.file_name = std::string(name);
    m.sql = std::string(s.sql);
    m.checksum = HexEncode(Sha256(m.sql));
    if (!versions.insert(m.version).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate migration version in ", std::string(name)));
    }
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  return out;
}

absl::StatusOr<MigrateReport> ApplyMigrations(const std::string& database_url,
                                              const std::vector<Migration>& migrations) {
  MigrateReport report;
  absl::Status failure;
  absl::Status status = CatchAll([&] {
    pqxx::connection conn(WithConnectionDefaults(database_url));
    std::set<int> known;
    for (const Migration& m : migrations) known.insert(m.version);
    // One transaction per migration, each under a transaction-scoped advisory lock taken
    // first, so that replicas migrating at once apply each migration exactly once. No session
    // state: this works through a transaction pooler (PgBouncer pool_mode=transaction) too,
    // where a session lock could be taken on one server connection and released on another.
    for (bool first = true;; first = false) {
      pqxx::work txn(conn);
      txn.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLockKey) + ")");
      txn.exec(kCreateVersionTable);
      // Read after the lock: a migration another process committed meanwhile is seen here.
      const std::map<int, Applied> applied = ReadApplied(txn);
      failure = CheckChecksums(applied, migrations);
      if (!failure.ok()) return;
      if (first) {
        for (const auto& [version, row] : applied) {
          if (!known.contains(version)) report.unknown_versions.push_back(version);
        }
      }
      const auto next = std::find_if(migrations.begin(), migrations.end(),
                                     [&](const Migration& m) { return !applied.contains(m.version); });
      if (next == migrations.end()) {
        txn.commit();
        return;
      }
      try {
        txn.exec(next->sql);
        txn.exec_params(
            "INSERT INTO schema_migrations (version, file_name, checksum) VALUES ($1, $2, $3)",
            next->version, next->file_name, next->checksum);
        txn.commit();
      } catch (const pqxx::broken_connection&) {
        throw;
      } catch (const std::exception& e) {
        failure = absl::InternalError(absl::StrCat("migration ", next->file_name, " failed: ", e.what()));
        return;
      }
      log::Info("migration applied", {{"file", next->file_name}, {"checksum", next->checksum}});
      report.applied.push_back(next->file_name);
    }
  });
  if (!status.ok()) return status;
  if (!failure.ok()) return failure;
  return report;
}

absl::Status CheckSchemaCurrent(const std::string& database_url,
                                const std::vector<Migration>& migrations) {
  absl::Status result;
  absl::Status status = CatchAll([&] {
    pqxx::connection conn(WithConnectionDefaults(database_url));
    pqxx::read_transaction txn(conn);
    std::map<int, Applied> applied = ReadApplied(txn);
    result = CheckChecksums(applied, migrations);
    if (!result.ok()) return;
    for (const Migration& m : migrations) {
      if (!applied.contains(m.version)) {
        result = absl::FailedPreconditionError(absl::StrCat(
            "schema is not current: migration ", m.file_name,
            " is not applied; run `membership-mirror migrate`"));
        return;
      }
    }
  });
  return status.ok() ? result : status;
}

}  // namespace mm::store
