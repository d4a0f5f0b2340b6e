#include "store/pg_connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"

namespace mm::store {

namespace {

DatabaseTimeouts& Timeouts() {
  static DatabaseTimeouts timeouts;
  return timeouts;
}

std::vector<std::string>& TransactionPooledUrls() {
  static std::vector<std::string> urls;
  return urls;
}

// The PgConnection whose Run is on this thread (for Exec), or nullptr.
thread_local const PgConnection* current_connection = nullptr;

class CurrentConnection {
 public:
  explicit CurrentConnection(const PgConnection* conn) : previous_(current_connection) {
    current_connection = conn;
  }
  ~CurrentConnection() { current_connection = previous_; }
  CurrentConnection(const CurrentConnection&) = delete;
  CurrentConnection& operator=(const CurrentConnection&) = delete;

 private:
  const PgConnection* previous_;
};

// Shuts down the sockets of round trips that outlived their deadline (see DatabaseTimeouts).
// One thread for the process, started on first use and never stopped (it outlives every
// connection; static destruction would race its users).
class Watchdog {
 public:
  static Watchdog& Instance() {
    static Watchdog* watchdog = new Watchdog();
    return *watchdog;
  }
  uint64_t Watch(int fd, std::chrono::steady_clock::time_point deadline) {
    absl::MutexLock lock(&mu_);
    uint64_t id = next_id_++;
    watched_.emplace(id, Entry{fd, deadline});
    return id;
  }
  // After this returns the watchdog no longer touches the socket.
  void Unwatch(uint64_t id) {
    absl::MutexLock lock(&mu_);
    watched_.erase(id);
  }

 private:
  struct Entry {
    int fd;
    std::chrono::steady_clock::time_point deadline;
  };
  Watchdog() {
    std::thread([this] { Loop(); }).detach();
  }
  void Loop() {
    while (true) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      absl::MutexLock lock(&mu_);
      const auto now = std::chrono::steady_clock::now();
      for (auto it = watched_.begin(); it != watched_.end();) {
        if (it->second.deadline > now) {
          ++it;
          continue;
        }
        // Under the lock: the owner cannot have closed (and the fd been reused) meanwhile.
        ::shutdown(it->second.fd, SHUT_RDWR);
        log::Warn("database round trip unanswered past its deadline: connection dropped",
                  {{"fd", std::to_string(it->second.fd)}});
        it = watched_.erase(it);
      }
    }
  }
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, Entry> watched_ ABSL_GUARDED_BY(mu_);
};

// The round trips on socket `fd` while this lives may take the statement timeout plus the
// watchdog's grace plus `expected_wait`; past that the watchdog shuts the socket down.
class Watched {
 public:
  Watched(int fd, std::chrono::milliseconds expected_wait)
      : id_(Watchdog::Instance().Watch(fd, std::chrono::steady_clock::now() + Timeouts().statement +
                                               Timeouts().watchdog_grace + expected_wait)) {}
  ~Watched() { Watchdog::Instance().Unwatch(id_); }
  Watched(const Watched&) = delete;
  Watched& operator=(const Watched&) = delete;

 private:
  uint64_t id_;
};

// Whether `url` already sets libpq parameter `name`.
bool HasParameter(const std::string& url, const std::string& name) {
  for (char sep : {'?', '&', ' '}) {
    if (url.find(std::string(1, sep) + name + "=") != std::string::npos) return true;
  }
  return url.rfind(name + "=", 0) == 0;
}

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

void SetDatabaseTimeouts(const DatabaseTimeouts& timeouts) { Timeouts() = timeouts; }

void SetTransactionPooledUrls(std::vector<std::string> urls) { TransactionPooledUrls() = std::move(urls); }
bool IsTransactionPooled(const std::string& url) {
  const auto& urls = TransactionPooledUrls();
  return std::find(urls.begin(), urls.end(), url) != urls.end();
}

namespace internal {
const std::string* UnnamedSql(const char* name) {
  const PgConnection* conn = current_connection;
  if (conn == nullptr || !conn->transaction_pooled_) return nullptr;
  for (const PgConnection::Statement& s : conn->statements_) {
    if (s.name == name) return &s.sql;
  }
  throw std::logic_error(std::string("statement not given to its connection: ") + name);
}
}  // namespace internal
const DatabaseTimeouts& CurrentDatabaseTimeouts() { return Timeouts(); }

std::string WithConnectionDefaults(const std::string& url) {
  const DatabaseTimeouts& t = Timeouts();
  const std::pair<std::string, std::string> defaults[] = {
      {"connect_timeout", std::to_string(t.connect.count())},
      {"keepalives", "1"},
      {"keepalives_idle", std::to_string(t.keepalive_idle.count())},
      {"keepalives_interval", std::to_string(t.keepalive_interval.count())},
      {"keepalives_count", std::to_string(t.keepalive_count)},
      {"tcp_user_timeout",
       std::to_string((t.keepalive_idle + t.keepalive_interval * t.keepalive_count).count() * 1000)},
  };
  const bool uri = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  std::string out = url;
  for (const auto& [name, value] : defaults) {
    if (HasParameter(out, name)) continue;
    if (uri) {
      out += (out.find('?') == std::string::npos ? "?" : "&") + name + "=" + value;
    } else {
      out += (out.empty() ? "" : " ") + name + "=" + value;
    }
  }
  return out;
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
    : transaction_pooled_(IsTransactionPooled(url)),
      require_writable_(url.find("target_session_attrs=read-write") != std::string::npos ||
                        url.find("target_session_attrs=primary") != std::string::npos),
      url_(WithConnectionDefaults(url)),
      statements_(std::move(statements)),
      on_connect_(std::move(on_connect)),
      on_reset_(std::move(on_reset)) {}

PgConnection::~PgConnection() { Reset(); }

pqxx::connection& PgConnection::Get() {
  if (conn_ && !conn_->is_open()) Reset();
  if (!conn_) {
    // Connecting is bounded by connect_timeout (WithConnectionDefaults), the set-up's round
    // trips by the watchdog. The socket is unwatched before the connection can close.
    auto conn = std::make_unique<pqxx::connection>(url_);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    // Deprecated in 6.4 but the only way to stop a silent reconnect that would drop LISTEN.
    conn->inhibit_reactivation(true);
#pragma GCC diagnostic pop
    {
      const Watched watched(conn->sock(), std::chrono::milliseconds(0));
      // Through a transaction pooler the next transaction may run on another server session:
      // neither a SET nor a prepared statement would follow it (see SetTransactionPooledUrls).
      if (!transaction_pooled_) {
        // A slow statement is the server's to end; a silent server the watchdog's.
        pqxx::nontransaction txn(*conn);
        txn.exec("SET statement_timeout = " + std::to_string(Timeouts().statement.count()));
      }
      // prepare() is lazy; prepare_now() sends it, so bad SQL fails here, at start-up.
      for (const Statement& s : transaction_pooled_ ? std::vector<Statement>{} : statements_) {
        conn->prepare(s.name, s.sql);
        conn->prepare_now(s.name);
      }
    }
    conn_ = std::move(conn);
    writable_checked_ = std::chrono::steady_clock::now();  // libpq has just checked
    if (on_connect_) {
      try {
        const Watched watched(conn_->sock(), std::chrono::milliseconds(0));
        on_connect_(*conn_);
      } catch (...) {
        Reset();
        throw;
      }
    }
  }
  return *conn_;
}

absl::Status PgConnection::Run(const std::function<void(pqxx::connection&)>& fn,
                               std::chrono::milliseconds expected_wait) {
  absl::Status status = CatchAll([&] {
    pqxx::connection* conn = &Get();
    if (require_writable_ && !StillWritable(*conn)) {
      log::Warn("the database server is no longer writable (a standby now, or fenced read-only): "
                "connecting again, to the writable host (target_session_attrs)");
      Reset();
      conn = &Get();
    }
    const Watched watched(conn->sock(), expected_wait);
    const CurrentConnection current(this);
    fn(*conn);
  });
  if (absl::IsUnavailable(status)) Reset();
  return status;
}

bool PgConnection::StillWritable(pqxx::connection& conn) {
  const auto now = std::chrono::steady_clock::now();
  if (now - writable_checked_ < kWritableCheckInterval) return true;
  const Watched watched(conn.sock(), std::chrono::milliseconds(0));
  pqxx::nontransaction txn(conn);
  if (txn.exec1("SELECT pg_is_in_recovery() OR current_setting('default_transaction_read_only')::bool")[0].as<bool>()) {
    return false;
  }
  writable_checked_ = now;
  return true;
}

void PgConnection::Reset() {
  if (!conn_) return;
  if (on_reset_) on_reset_();
  conn_.reset();
}

}  // namespace mm::store
