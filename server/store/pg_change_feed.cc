#include "store/pg_change_feed.h"

#include "domain/records_json.h"
#include "store/pg_change_rows.h"
#include "store/pg_connection.h"
#include "store/pg_event_store.h"

namespace mm::store {
namespace {

constexpr char kReadHead[] = "read_head";
constexpr char kLoadUserStatesPage[] = "load_user_states_page";
constexpr int kSnapshotPageSize = 50000;

std::optional<TimePoint> MicrosField(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return FromUnixMicros(f.as<long long>());
}

}  // namespace

class PgChangeFeed::Receiver final : public pqxx::notification_receiver {
 public:
  explicit Receiver(pqxx::connection& conn) : pqxx::notification_receiver(conn, kChangesChannel) {}
  void operator()(const std::string& /*payload*/, int /*backend_pid*/) override {}
};

PgChangeFeed::PgChangeFeed(std::string database_url) {
  conn_ = std::make_unique<PgConnection>(
      std::move(database_url),
      std::vector<PgConnection::Statement>{
          {kReadHead, "SELECT last_sequence FROM change_log_head WHERE singleton"},
          {kLoadUserStatesPage,
           "SELECT user_id, state, " MM_SQL_MICROS("state_changed_at") ", disabled_reason, "
           MM_SQL_MICROS("sessions_valid_after") " FROM users WHERE user_id > $1"
           " ORDER BY user_id LIMIT $2"},
          ReadChangesStatement(),
      },
      [this](pqxx::connection& c) { receiver_ = std::make_unique<Receiver>(c); },
      [this] { receiver_.reset(); });
}

PgChangeFeed::~PgChangeFeed() { conn_.reset(); }

template <typename Fn>
absl::Status PgChangeFeed::Run(Fn&& fn) {
  absl::Status status = CatchAll(std::forward<Fn>(fn));
  if (absl::IsUnavailable(status)) conn_->Reset();
  return status;
}

absl::StatusOr<uint64_t> PgChangeFeed::LoadUserStates(
    const std::function<void(UserStateRow&&)>& sink) {
  uint64_t head = 0;
  absl::Status status = Run([&] {
    // One REPEATABLE READ snapshot: the head and every page agree with each other.
    pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::readwrite_policy::read_only> txn(
        conn_->Get());
    head = static_cast<uint64_t>(txn.exec_prepared1(kReadHead)[0].as<long long>());
    std::string last_id;
    while (true) {
      pqxx::result page = txn.exec_prepared(kLoadUserStatesPage, last_id, kSnapshotPageSize);
      for (const auto& r : page) {
        UserStateRow row;
        row.user_id = r[0].as<std::string>();
        auto state = domain::ParseUserState(r[1].c_str());
        if (!state) throw std::runtime_error("bad user state in users table");
        row.state = *state;
        row.state_changed_at = MicrosField(r[2]);
        if (!r[3].is_null()) row.disabled_reason = r[3].as<std::string>();
        row.sessions_valid_after = MicrosField(r[4]);
        last_id = row.user_id;
        sink(std::move(row));
      }
      if (page.size() < static_cast<size_t>(kSnapshotPageSize)) break;
    }
    txn.commit();
  });
  if (!status.ok()) return status;
  return head;
}

absl::StatusOr<std::vector<ChangeRow>> PgChangeFeed::ReadChanges(uint64_t after, int limit) {
  std::vector<ChangeRow> rows;
  absl::Status status = Run([&] {
    pqxx::read_transaction txn(conn_->Get());
    rows = ReadChangeRows(txn, after, limit);
    txn.commit();
  });
  if (!status.ok()) return status;
  return rows;
}

absl::Status PgChangeFeed::WaitForNotification(std::chrono::milliseconds timeout) {
  return Run([&] {
    pqxx::connection& c = conn_->Get();
    // Notifications that arrived while we were reading are already queued: take them first.
    if (c.get_notifs() > 0) return;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
    c.await_notification(static_cast<long>(us / 1000000), static_cast<long>(us % 1000000));
  });
}

}  // namespace mm::store
