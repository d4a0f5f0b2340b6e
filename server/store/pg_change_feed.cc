#include "store/pg_change_feed.h"

#include <cctype>
#include <charconv>
#include <stdexcept>
#include <string_view>

#include "domain/records_json.h"
#include "store/pg_change_rows.h"
#include "store/pg_connection.h"
#include "store/pg_event_store.h"

namespace mm::store {
namespace {

constexpr char kReadHead[] = "read_head";
constexpr char kUserCountHint[] = "user_count_hint";

// Every user's cached fields, streamed with COPY: no ORDER BY (the cache does not need one; a
// sequential scan is several times cheaper than walking the primary key), no pages, no
// per-row result objects.
constexpr char kCopyUserStates[] =
    "(SELECT user_id, state, " MM_SQL_MICROS("state_changed_at") ", disabled_reason, "
    MM_SQL_MICROS("sessions_valid_after") " FROM users)";

// Splits the next tab-separated field of a COPY text line off `line`. False: no field left.
bool NextField(std::string_view& line, std::string_view& field) {
  if (line.data() == nullptr) return false;
  size_t tab = line.find('\t');
  field = line.substr(0, tab);
  line = tab == std::string_view::npos ? std::string_view() : line.substr(tab + 1);
  return true;
}

bool IsNull(std::string_view field) { return field == "\\N"; }

// A COPY text field's value (backslash escapes undone) into `out`.
void Unescape(std::string_view field, std::string& out) {
  out.clear();
  if (field.find('\\') == std::string_view::npos) {
    out.assign(field);
    return;
  }
  for (size_t i = 0; i < field.size(); ++i) {
    char c = field[i];
    if (c != '\\' || i + 1 == field.size()) {
      out += c;
      continue;
    }
    char e = field[++i];
    switch (e) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': {  // \xh or \xhh
        int value = 0, digits = 0;
        while (digits < 2 && i + 1 < field.size() && std::isxdigit(static_cast<unsigned char>(field[i + 1]))) {
          char h = field[++i];
          value = value * 16 + (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
          ++digits;
        }
        if (digits == 0) out += 'x';
        else out += static_cast<char>(value);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {  // \o, \oo or \ooo
          int value = e - '0';
          for (int digits = 1; digits < 3 && i + 1 < field.size() && field[i + 1] >= '0' && field[i + 1] <= '7'; ++digits) {
            value = value * 8 + (field[++i] - '0');
          }
          out += static_cast<char>(value);
        } else {
          out += e;  // \\ and any other character stand for themselves
        }
    }
  }
}

std::optional<TimePoint> MicrosField(std::string_view field) {
  if (IsNull(field)) return std::nullopt;
  long long micros = 0;
  auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), micros);
  if (error != std::errc() || end != field.data() + field.size()) {
    throw std::runtime_error("bad time in users snapshot");
  }
  return FromUnixMicros(micros);
}

}  // namespace

void ParseUserStateCopyLine(std::string_view line, UserStateRow& row) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  std::string_view id, state, changed_at, reason, valid_after;
  if (!NextField(line, id) || !NextField(line, state) || !NextField(line, changed_at) ||
      !NextField(line, reason) || !NextField(line, valid_after) || line.data() != nullptr) {
    throw std::runtime_error("malformed users snapshot line");
  }
  Unescape(id, row.user_id);
  auto parsed = domain::ParseUserState(state);
  if (!parsed) throw std::runtime_error("bad user state in users table");
  row.state = *parsed;
  row.state_changed_at = MicrosField(changed_at);
  if (IsNull(reason)) {
    row.disabled_reason.reset();
  } else {
    if (!row.disabled_reason) row.disabled_reason.emplace();
    Unescape(reason, *row.disabled_reason);
  }
  row.sessions_valid_after = MicrosField(valid_after);
}

class PgChangeFeed::Receiver final : public pqxx::notification_receiver {
 public:
  explicit Receiver(pqxx::connection& conn) : pqxx::notification_receiver(conn, kChangesChannel) {}
  void operator()(const std::string& /*payload*/, int /*backend_pid*/) override {}
};

PgChangeFeed::PgChangeFeed(std::string database_url) : listen_(!IsTransactionPooled(database_url)) {
  std::function<void(pqxx::connection&)> on_connect;
  std::function<void()> on_reset;
  if (listen_) {
    on_connect = [this](pqxx::connection& c) { receiver_ = std::make_unique<Receiver>(c); };
    on_reset = [this] { receiver_.reset(); };
  }
  conn_ = std::make_unique<PgConnection>(
      std::move(database_url),
      std::vector<PgConnection::Statement>{
          {kReadHead, "SELECT last_sequence FROM change_log_head WHERE singleton"},
          // -1 until the table is first analyzed.
          {kUserCountHint, "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'users'::regclass"},
          FollowChangesStatement(),
      },
      std::move(on_connect), std::move(on_reset));
}

PgChangeFeed::~PgChangeFeed() { conn_.reset(); }


absl::StatusOr<uint64_t> PgChangeFeed::LoadUserStates(
    const std::function<void(UserStateRow&&)>& sink) {
  uint64_t head = 0;
  absl::Status status = conn_->Run([&](pqxx::connection& conn) {
    // One REPEATABLE READ snapshot: the head and every page agree with each other.
    pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::readwrite_policy::read_only> txn(conn);
    head = static_cast<uint64_t>(Exec1(txn, kReadHead)[0].as<long long>());
    // libpqxx 6 puts the "table" into COPY ... TO STDOUT as given: a parenthesized query works.
    pqxx::stream_from copy(txn, kCopyUserStates);
    std::string line;
    UserStateRow row;  // reused: the sink gets it by rvalue but its buffers are recycled
    while (copy.get_raw_line(line)) {
      ParseUserStateCopyLine(line, row);
      sink(std::move(row));
    }
    copy.complete();
    txn.commit();
  });
  if (!status.ok()) return status;
  return head;
}

size_t PgChangeFeed::UserCountHint() {
  long long estimate = 0;
  absl::Status status = conn_->Run([&](pqxx::connection& conn) {
    pqxx::nontransaction txn(conn);
    estimate = Exec1(txn, kUserCountHint)[0].as<long long>();
  });
  return status.ok() && estimate > 0 ? static_cast<size_t>(estimate) : 0;
}

absl::StatusOr<ChangeRead> PgChangeFeed::ReadChanges(uint64_t after, int limit) {
  ChangeRead rows;
  absl::Status status = conn_->Run([&](pqxx::connection& conn) {
    // One statement, so no transaction: one round trip instead of three (BEGIN, SELECT,
    // COMMIT) between a notification and the change reaching the cache. A single SELECT
    // sees one snapshot; writers commit in sequence order, so it sees a prefix of the log.
    pqxx::nontransaction txn(conn);
    rows = FollowChanges(txn, after, limit);
  });
  if (!status.ok()) return status;
  return rows;
}

void PgChangeFeed::Nudge() {
  if (listen_) return;  // the NOTIFY of the commit wakes the LISTEN
  absl::MutexLock lock(&nudge_mu_);
  nudged_ = true;
}

absl::Status PgChangeFeed::WaitForNotification(std::chrono::milliseconds timeout) {
  if (!listen_) {
    // LISTEN does not pass a transaction pooler: the follower polls every `timeout`, or at
    // once after a local commit (Nudge).
    absl::MutexLock lock(&nudge_mu_);
    nudge_mu_.AwaitWithTimeout(absl::Condition(&nudged_), absl::FromChrono(timeout));
    nudged_ = false;
    return absl::OkStatus();
  }
  return conn_->Run([&](pqxx::connection& c) {
    // Notifications that arrived while we were reading are already queued: take them first.
    if (c.get_notifs() > 0) return;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
    c.await_notification(static_cast<long>(us / 1000000), static_cast<long>(us % 1000000));
  }, timeout);
}

}  // namespace mm::store
