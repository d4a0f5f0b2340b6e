#include "store/pg_change_rows.h"

namespace mm::store {
namespace {

constexpr char kReadChanges[] = "read_changes";
constexpr char kFollowChanges[] = "follow_changes";

// sequence, committed_at micros, entity, record.
ChangeRow RowFrom(const pqxx::row& r) {
  ChangeRow row;
  row.sequence = static_cast<uint64_t>(r[0].as<long long>());
  row.committed_at = FromUnixMicros(r[1].as<long long>());
  std::string_view entity = r[2].c_str();
  row.entity = entity == "user"      ? EntityKind::kUser
               : entity == "account" ? EntityKind::kAccount
                                     : EntityKind::kMembership;
  row.record_json = r[3].as<std::string>();
  return row;
}

}  // namespace

PgConnection::Statement ReadChangesStatement() {
  return {kReadChanges,
          "SELECT sequence, " MM_SQL_MICROS("committed_at") ", entity,"
          " record::text FROM change_log WHERE sequence > $1 ORDER BY sequence LIMIT $2"};
}

std::vector<ChangeRow> ReadChangeRows(pqxx::transaction_base& txn, uint64_t after, int limit) {
  std::vector<ChangeRow> rows;
  for (const auto& r : Exec(txn, kReadChanges, static_cast<long long>(after), limit)) {
    rows.push_back(RowFrom(r));
  }
  return rows;
}

PgConnection::Statement FollowChangesStatement() {
  // The first row (sequence -1) carries the head and the commit time of the row at $1; the
  // change rows follow it. UNION ALL keeps each branch's order; FollowChanges does not rely
  // on the branches' relative order.
  return {kFollowChanges,
          "SELECT -1::bigint, h.last_sequence,"
          " (SELECT " MM_SQL_MICROS("committed_at") " FROM change_log WHERE sequence = $1)::text,"
          " NULL::text FROM change_log_head h WHERE h.singleton"
          " UNION ALL (SELECT sequence, " MM_SQL_MICROS("committed_at") ", entity, record::text"
          " FROM change_log WHERE sequence > $1 ORDER BY sequence LIMIT $2)"};
}

ChangeRead FollowChanges(pqxx::transaction_base& txn, uint64_t after, int limit) {
  ChangeRead read;
  for (const auto& r : Exec(txn, kFollowChanges, static_cast<long long>(after), limit)) {
    if (r[0].as<long long>() == -1) {
      read.head = static_cast<uint64_t>(r[1].as<long long>());
      if (!r[2].is_null()) read.after_committed_at = FromUnixMicros(r[2].as<long long>());
      continue;
    }
    read.rows.push_back(RowFrom(r));
  }
  return read;
}

}  // namespace mm::store
