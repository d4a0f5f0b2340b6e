#pragma once
// Reading the change log, shared by the cache's follower (PgChangeFeed) and WatchChanges
// backfill (PgReadStore): one row decoder for both statements.

#include <cstdint>
#include <vector>

#include <pqxx/pqxx>

#include "store/event_store.h"
#include "store/pg_connection.h"

namespace mm::store {

// The prepared statement: rows with sequence > $1, in order, at most $2.
PgConnection::Statement ReadChangesStatement();

// Runs it inside `txn` (a connection that prepared ReadChangesStatement()).
std::vector<ChangeRow> ReadChangeRows(pqxx::transaction_base& txn, uint64_t after, int limit);

// A follower's read: the same rows with the log's head and the commit time of the row at $1,
// in one statement (one snapshot, one round trip).
PgConnection::Statement FollowChangesStatement();
ChangeRead FollowChanges(pqxx::transaction_base& txn, uint64_t after, int limit);

}  // namespace mm::store
