#include "store/pg_change_rows.h"

namespace mm::store {
namespace {
constexpr char kReadChanges[] = "read_changes";
}  // namespace

PgConnection::Statement ReadChangesStatement() {
  return {kReadChanges,
          "SELECT sequence, " MM_SQL_MICROS("committed_at") ", entity,"
          " record::text FROM change_log WHERE sequence > $1 ORDER BY sequence LIMIT $2"};
}

std::vector<ChangeRow> ReadChangeRows(pqxx::transaction_base& txn, uint64_t after, int limit) {
  std::vector<ChangeRow> rows;
  for (const auto& r : txn.exec_prepared(kReadChanges, static_cast<long long>(after), limit)) {
    ChangeRow row;
    row.sequence = static_cast<uint64_t>(r[0].as<long long>());
    row.committed_at = FromUnixMicros(r[1].as<long long>());
    std::string entity = r[2].as<std::string>();
    row.entity = entity == "user"      ? EntityKind::kUser
                 : entity == "account" ? EntityKind::kAccount
                                       : EntityKind::kMembership;
    row.record_json = r[3].as<std::string>();
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace mm::store
