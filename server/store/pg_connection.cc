#include "store/pg_connection.h"

#include <string_view>

namespace mm::store {

namespace {

// PostgreSQL's message without its DETAIL and CONTEXT lines, which may quote row contents
// (emails, names): what is logged and stored as a reason is the error, not the data.
std::string FirstLine(std::string_view message) {
  if (message.starts_with("ERROR:")) message.remove_prefix(6);
  while (!message.empty() && message.front() == ' ') message.remove_prefix(1);
  return std::string(message.substr(0, message.find('\n')));
}

}  // namespace

absl::Status StatusFromException(const std::exception& e) {
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    // The commit may or may not have happened; the provider will retry and dedup settles it.
    return absl::UnavailableError(std::string("commit outcome unknown: ") + e.what());
  }
  // libpqxx 6.4 throws these for SQLSTATE 40001 / 40P01; they derive from
  // transaction_rollback, not from sql_error, so the sqlstate check below never sees them.
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr ||
      dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr) {
    return absl::AbortedError(std::string("transaction conflict: ") + e.what());
  }
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) {
    return absl::UnavailableError(std::string("statement outcome unknown: ") + FirstLine(e.what()));
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return absl::UnavailableError(std::string("database connection: ") + e.what());
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e); sql != nullptr) {
    const std::string state = sql->sqlstate();
    if (state == "40001" || state == "40P01") {
      return absl::AbortedError(std::string("transaction conflict: ") + e.what());
    }
    // Transient, answered 503 for the sender to retry: class 08 connection exceptions;
    // 57P01-03 admin/crash shutdown, cannot connect now; 57014 statement timeout or cancel;
    // 53 insufficient resources (disk full, out of memory, too many connections); 58 system
    // (I/O) errors; 40003 statement completion unknown; 25006 a read-only transaction (a
    // primary demoted to standby: reconnecting finds the new one).
    if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03" ||
        state == "57014" || state.rfind("53", 0) == 0 || state.rfind("58", 0) == 0 ||
        state == "40003" || state == "25006") {
      return absl::UnavailableError(std::string("database unavailable: ") + FirstLine(e.what()));
    }
    // The content of what was written: 22 data exceptions (a value out of range, malformed
    // text), 23 integrity constraint violations (check, not-null, foreign key, unique), 54
    // program limits (an index row too large). Retrying cannot help; the one event that
    // carries the value is dead-lettered (DESIGN §5a).
    if (state.rfind("22", 0) == 0 || state.rfind("23", 0) == 0 || state.rfind("54", 0) == 0) {
      return absl::InvalidArgumentError(std::string("database refused a value (SQLSTATE ") + state +
                                        "): " + FirstLine(e.what()));
    }
    return absl::InternalError(std::string("database error ") + state + ": " + FirstLine(e.what()));
  }
  return absl::InternalError(std::string("database error: ") + e.what());
}

absl::Status CatchAll(const std::function<void()>& fn) {
  try {
    fn();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

PgConnection::PgConnection(std::string url, std::vector<Statement> statements,
                           std::function<void(pqxx::connection&)> on_connect,
                           std::function<void()> on_reset)
    : url_(std::move(url)),
      statements_(std::move(statements)),
      on_connect_(std::move(on_connect)),
      on_reset_(std::move(on_reset)) {}

PgConnection::~PgConnection() { Reset(); }

pqxx::connection& PgConnection::Get() {
  if (conn_ && !conn_->is_open()) Reset();
  if (!conn_) {
    auto conn = std::make_unique<pqxx::connection>(url_);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    // Deprecated in 6.4 but the only way to stop a silent reconnect that would drop LISTEN.
    conn->inhibit_reactivation(true);
#pragma GCC diagnostic pop
    // prepare() is lazy; prepare_now() sends it, so bad SQL fails here, at start-up.
    for (const Statement& s : statements_) {
      conn->prepare(s.name, s.sql);
      conn->prepare_now(s.name);
    }
    conn_ = std::move(conn);
    if (on_connect_) {
      try {
        on_connect_(*conn_);
      } catch (...) {
        Reset();
        throw;
      }
    }
  }
  return *conn_;
}

void PgConnection::Reset() {
  if (!conn_) return;
  if (on_reset_) on_reset_();
  conn_.reset();
}

}  // namespace mm::store
