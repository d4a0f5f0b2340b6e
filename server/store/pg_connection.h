#pragma once
// One PostgreSQL connection owned by one thread, (re)opened on demand, with its prepared
// statements. After any connection error it is dropped and reopened on next use rather than
// relying on libpqxx's silent reactivation, which loses session state (LISTEN, prepared
// statements) behind our back.

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/status.h"

// SQL for a timestamptz column as exact integer microseconds since the epoch: independent of
// the session's TimeZone and DateStyle (which we must not rely on) and cheap to convert.
#define MM_SQL_MICROS(col) "(extract(epoch FROM " col ") * 1000000)::bigint"
// Midnight UTC of a time's day (seat_ledger_days.day; domain::DayOf in C++).
#define MM_DAY_OF(time) "date_trunc('day', " time "::timestamptz, 'UTC')"

namespace mm::store {

// Maps a libpqxx/libpq exception to a Status, in one place, by cause:
// - UNAVAILABLE, transient: broken connection, connection-class SQLSTATE, server shutting
//   down, statement timeout, insufficient resources, I/O errors, commit outcome unknown, a
//   read-only transaction (a demoted primary);
// - ABORTED: serialization failure or deadlock (retry the transaction);
// - INVALID_ARGUMENT: the database refused a value that was written (data exception,
//   constraint violation, a program limit such as an index row too large) — content, not
//   environment: retrying cannot help;
// - INTERNAL: anything else (a bug: bad SQL, a corrupt row).
// Messages carry PostgreSQL's first line only, never its DETAIL (which may quote row data).
absl::Status StatusFromException(const std::exception& e);

// Runs `fn`, turning any exception into a Status via StatusFromException.
absl::Status CatchAll(const std::function<void()>& fn);

// Timeouts of every database connection (DESIGN §5a), so that a database that silently stops
// answering is noticed within seconds instead of hanging the writer, the follower and the
// read pool. Set once at start (membership-mirror serve), before any connection is made.
struct DatabaseTimeouts {
  std::chrono::seconds connect{5};           // libpq connect_timeout
  std::chrono::milliseconds statement{30000};  // SET statement_timeout, on each connection
  // libpq TCP keepalives (idle, interval, count) and tcp_user_timeout: a peer that vanishes
  // without closing is noticed in about idle + interval * count.
  std::chrono::seconds keepalive_idle{5};
  std::chrono::seconds keepalive_interval{2};
  int keepalive_count = 3;
  // A round trip the server has not answered after statement + this (a peer that accepts
  // bytes and never answers, which keepalives cannot tell from a slow one) has its socket
  // shut down by a watchdog: the call fails UNAVAILABLE and the connection is made again.
  std::chrono::milliseconds watchdog_grace{5000};
};
void SetDatabaseTimeouts(const DatabaseTimeouts& timeouts);
const DatabaseTimeouts& CurrentDatabaseTimeouts();

// Whether connections to `url` (as configured) go through a transaction pooler
// (MM_DATABASE_POOL_MODE=transaction: PgBouncer's pool_mode=transaction). Set once at start,
// like the timeouts. Between transactions such a connection's server session is not ours, so
// on it no session state is relied on: statements are sent unnamed (Exec below) instead of
// prepared, statement_timeout is not SET (it is the role's or the pooler's), and the change
// feed polls instead of LISTENing; what needs a session (LISTEN, the pull-source leader lock)
// uses MM_DATABASE_LISTEN_URL.
void SetTransactionPooledUrls(std::vector<std::string> urls);
bool IsTransactionPooled(const std::string& url);

// `url` (a libpq URI or key=value string) with the connect timeout and keepalive parameters of
// CurrentDatabaseTimeouts() added, except those the URL already sets.
std::string WithConnectionDefaults(const std::string& url);

class PgConnection;
namespace internal {
// The SQL of statement `name` when the connection running on this thread (PgConnection::Run)
// is transaction-pooled; nullptr when the statement is to be run prepared.
const std::string* UnnamedSql(const char* name);
}  // namespace internal

// Runs statement `name` (one given to the PgConnection whose Run is on this thread) in `txn`
// with `args`: prepared, or as an unnamed statement on a transaction-pooled connection (its
// parse, bind and execute go in one round trip, within the transaction). Use these instead of
// exec_prepared.
template <typename... Args>
pqxx::result Exec(pqxx::transaction_base& txn, const char* name, Args&&... args) {
  if (const std::string* sql = internal::UnnamedSql(name)) return txn.exec_params(*sql, std::forward<Args>(args)...);
  return txn.exec_prepared(name, std::forward<Args>(args)...);
}
// Exec for a statement that returns exactly one row (else pqxx::unexpected_rows).
template <typename... Args>
pqxx::row Exec1(pqxx::transaction_base& txn, const char* name, Args&&... args) {
  pqxx::result r = Exec(txn, name, std::forward<Args>(args)...);
  if (r.size() != 1) {
    throw pqxx::unexpected_rows(std::string("expected 1 row from ") + name + ", got " + std::to_string(r.size()));
  }
  return r[0];
}

class PgConnection {
 public:
  struct Statement {
    std::string name;
    std::string sql;
  };

  // `on_connect` runs after each (re)connect (e.g. to LISTEN); `on_reset` just before a
  // connection is dropped (to release what on_connect tied to it).
  PgConnection(std::string url, std::vector<Statement> statements,
               std::function<void(pqxx::connection&)> on_connect = nullptr,
               std::function<void()> on_reset = nullptr);
  ~PgConnection();

  // Returns the open connection, connecting and preparing every statement first if needed.
  // Throws on failure (callers are inside CatchAll).
  pqxx::connection& Get();
  // Runs `fn` on the connection (made first if needed) under the watchdog: the round trips it
  // makes may take CurrentDatabaseTimeouts().statement + watchdog_grace + `expected_wait`
  // (for a call that waits on purpose, such as a LISTEN). Exceptions become a Status
  // (StatusFromException); after UNAVAILABLE the connection is dropped (Reset).
  absl::Status Run(const std::function<void(pqxx::connection&)>& fn,
                   std::chrono::milliseconds expected_wait = std::chrono::milliseconds(0));
  // Forgets the connection (after an error); the next Get() reconnects.
  void Reset();
  bool IsOpen() const { return conn_ != nullptr; }
  // Whether this connection's URL is transaction-pooled (SetTransactionPooledUrls).
  bool transaction_pooled() const { return transaction_pooled_; }

  // With target_session_attrs=read-write (or =primary) in the URL, libpq connects only to a
  // writable server. A server that stops being one while we are connected (an old primary
  // fenced read-only or demoted after a failover; reads on it would go on succeeding, stale) is
  // left as well: at most this often, Run first asks the server, and if it is read-only or in
  // recovery, drops the connection and runs the call on a new one (to the writable host, or
  // UNAVAILABLE if none answers).
  static constexpr std::chrono::seconds kWritableCheckInterval{1};

 private:
  friend const std::string* internal::UnnamedSql(const char* name);
  // False if the server is read-only now (checked at most every kWritableCheckInterval).
  bool StillWritable(pqxx::connection& conn);

  bool transaction_pooled_;
  bool require_writable_;
  std::chrono::steady_clock::time_point writable_checked_;
  std::string url_;
  std::vector<Statement> statements_;
  std::function<void(pqxx::connection&)> on_connect_;
  std::function<void()> on_reset_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace mm::store
