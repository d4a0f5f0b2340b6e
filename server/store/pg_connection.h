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

namespace mm::store {

// Maps a libpqxx/libpq exception to a Status, in one place (STYLE.md "Errors"), by cause:
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
  // Forgets the connection (after an error); the next Get() reconnects.
  void Reset();
  bool IsOpen() const { return conn_ != nullptr; }

 private:
  std::string url_;
  std::vector<Statement> statements_;
  std::function<void(pqxx::connection&)> on_connect_;
  std::function<void()> on_reset_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace mm::store
