#pragma once
// Reading the change log, shared by the cache's follower (PgChangeFeed) and WatchChanges
// backfill (PgReadStore): one statement and one row decoder.

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

}  // namespace mm::store
