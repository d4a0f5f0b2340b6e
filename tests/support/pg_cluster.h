#pragma once
// Throwaway PostgreSQL servers (and PgBouncer) for topology tests: failover to a standby, a
// fenced old primary, a standby that lost commits, a pooler in front. Each server is a real
// PostgreSQL 15 on 127.0.0.1 in its own temporary directory (data, unix socket, log), on a free
// port, with trust authentication for user `postgres`. Nothing is shared with the PostgreSQL of
// scripts/test. Destructors stop what is still running (immediate) and delete the directory.
//
// When the test runs as root, every PostgreSQL program (and pgbouncer) runs as the `postgres`
// user, which owns the temporary directories (as scripts/lib/common.sh mm_pg_start does).
// Binaries: MM_PG_BIN (default /usr/lib/postgresql/15/bin) and MM_PGBOUNCER (default
// /usr/sbin/pgbouncer).
//
// Errors (a program failing, a wait running out) throw std::runtime_error carrying the
// program's output or the server log's tail, which fails the test with the reason.
// Not thread-safe: drive each object from one thread (Query/Scalar open their own connection
// and may be called from any thread).

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

#include <pqxx/pqxx>

namespace mm::testing {

class PgServer {
 public:
  struct Options {
    // The database created (and migrated) on a primary for the service.
    std::string database = "mm";
    bool migrate = true;  // apply the embedded migrations (store::ApplyMigrations)
    // Set (ALTER SYSTEM) once the database is ready, so that creating it does not wait for a
    // standby that does not exist yet. Empty: asynchronous replication.
    std::string synchronous_standby_names;
    int max_connections = 100;
  };
  struct StandbyOptions {
    // The primary waits for this standby's flush on commit: StartStandby adds the standby to
    // the primary's synchronous_standby_names (if that is empty) and waits until the primary
    // reports it `sync`.
    bool synchronous = false;
    std::string application_name = "standby";
  };
  enum class StopMode { kFast, kImmediate };

  // initdb, then start: wal_level=replica, max_wal_senders, hot_standby, fsync on; creates
  // `options.database` and applies the migrations.
  static std::unique_ptr<PgServer> StartPrimary(Options options);
  static std::unique_ptr<PgServer> StartPrimary() { return StartPrimary(Options{}); }
  // pg_basebackup -R of `primary` (which must be running), streaming, then start as a hot
  // standby; returns once the primary reports it streaming (or `sync`). Its own
  // synchronous_standby_names is empty: promoted, it commits without waiting for anyone.
  // `primary` is not referenced afterwards.
  static std::unique_ptr<PgServer> StartStandby(PgServer& primary, StandbyOptions options);

  ~PgServer();  // pg_ctl stop -m immediate if running; removes the directory
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  const std::string& database() const { return database_; }
  const std::string& dir() const { return dir_; }
  bool running() const { return running_; }
  // postgresql://postgres@127.0.0.1:<port>/<dbname> (default: the service database).
  std::string url(const std::string& dbname = "") const;

  // SQL on a fresh connection to `dbname` (default: the service database). Query runs
  // outside a transaction block (ALTER SYSTEM works).
  pqxx::result Query(const std::string& sql, const std::string& dbname = "") const;
  std::string Scalar(const std::string& sql, const std::string& dbname = "") const;  // "" if NULL

  bool InRecovery() const;  // pg_is_in_recovery()
  // On a standby: waits until it has replayed everything its upstream had written (its
  // pg_current_wal_lsn) when called. The upstream must be running.
  void WaitCaughtUp(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // pg_ctl promote, then waits until pg_is_in_recovery() is false.
  void Promote(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void Stop(StopMode mode);
  void Start();  // same port and settings as before; waits until it accepts connections
  // A demoted old primary following `primary`: stops cleanly if running, adds standby.signal and
  // primary_conninfo, starts. Works for a node stopped cleanly before `primary` was promoted
  // (its WAL is then a prefix of the new timeline); a node with WAL the new primary lacks
  // would need pg_rewind, which this does not do.
  void RestartAsStandbyOf(const PgServer& primary, StandbyOptions options);
  // ALTER SYSTEM SET default_transaction_read_only + pg_reload_conf(): how an operator fences
  // an old primary that stays up. Open sessions take it at their next statement; libpq's
  // target_session_attrs=read-write then refuses the node for new connections.
  void SetDefaultReadOnly(bool read_only);

  std::string Log() const;  // the server log (pg_ctl -l)

 private:
  PgServer() = default;
  void InitDirectory();
  void AppendConfig(const std::string& text) const;  // to postgresql.auto.conf
  void WaitSyncStandby(const std::string& application_name, std::chrono::milliseconds timeout) const;

  std::string dir_;       // owned by the server's user
  std::string data_dir_;  // dir_/data
  std::string database_;
  int port_ = 0;
  bool running_ = false;
  // Where a standby streams from, for WaitCaughtUp.
  std::string upstream_host_;
  int upstream_port_ = 0;
};

// PgBouncer in front of one PostgreSQL server, as a child process in the foreground (not -d)
// so the destructor can kill it. auth_type=trust (users `postgres` and any given), listening on
// a free 127.0.0.1 port, its unix socket, log and pid file in its own temporary directory.
class PgBouncerProcess {
 public:
  struct Options {
    std::string target_host = "127.0.0.1";
    int target_port = 0;
    std::string dbname = "mm";  // the pooled database, the same name on the server
    std::string pool_mode = "transaction";
    int default_pool_size = 5;
    int max_client_conn = 200;
  };
  static std::unique_ptr<PgBouncerProcess> Start(Options options);
  ~PgBouncerProcess();  // SIGTERM, then SIGKILL after 5 s; removes the directory
  PgBouncerProcess(const PgBouncerProcess&) = delete;
  PgBouncerProcess& operator=(const PgBouncerProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // postgresql://postgres@127.0.0.1:<port>/<dbname> (default: the pooled database).
  std::string url(const std::string& dbname = "") const;
  // Admin console commands (user postgres on database `pgbouncer`), through psql: libpqxx
  // refuses the console, whose server_version is PgBouncer's own.
  void Pause();   // PAUSE: waits until every server connection is released
  void Resume();  // RESUME
  // Points the pooled database at another server: rewrites the ini and RELOADs.
  void Retarget(const std::string& host, int port);
  // psql -At output: one line per row, columns separated by '|'.
  std::string Admin(const std::string& command) const;
  std::string Log() const;

 private:
  PgBouncerProcess() = default;
  void WriteConfig() const;

  Options options_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace mm::testing
