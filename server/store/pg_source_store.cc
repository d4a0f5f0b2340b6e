#include "store/pg_source_store.h"

#include "store/pg_array.h"
#include "store/pg_connection.h"
#include "store/pg_source_rows.h"

namespace mm::store {
namespace {

constexpr char kLoadPosition[] = "load_position";
constexpr char kLoadItems[] = "load_items";
constexpr char kPresentMembers[] = "present_members";
constexpr char kUsers[] = "mirror_users";
constexpr char kLoadStatus[] = "load_source_status";
constexpr char kRecordRun[] = "record_source_run";

std::vector<PgConnection::Statement> Statements() {
  return {
      {kLoadPosition, "SELECT position::text FROM source_state WHERE source = $1 AND scope = $2"},
      {kLoadItems, "SELECT item_id FROM source_items WHERE source = $1 AND scope = $2"},
      {kPresentMembers, "SELECT user_id, role FROM memberships WHERE account_id = $1 AND present"},
      {kUsers,
       "SELECT user_id, state, record->>'state_provider', " MM_SQL_MICROS("state_changed_at")
       " FROM users WHERE user_id = ANY($1::text[])"},
      {kLoadStatus, "SELECT " MM_SOURCE_STATUS_COLUMNS " FROM source_state WHERE source = $1 AND scope = $2"},
      // A run report leaves the position, watermark and counts, which only checkpoints write.
      {kRecordRun,
       "INSERT INTO source_state (source, scope, status, last_attempt_at, last_success_at, last_error,"
       " last_error_at, last_run_drift, puller)"
       " VALUES ($1, $2, $3, $4::timestamptz, CASE WHEN $3 = 'ok' THEN $4::timestamptz END,"
       " $5, CASE WHEN $3 <> 'ok' THEN $4::timestamptz END, $6, $7)"
       " ON CONFLICT (source, scope) DO UPDATE SET status = excluded.status,"
       " last_attempt_at = excluded.last_attempt_at,"
       " last_success_at = coalesce(excluded.last_success_at, source_state.last_success_at),"
       " last_error = CASE WHEN excluded.status = 'ok' THEN NULL ELSE excluded.last_error END,"
       " last_error_at = coalesce(excluded.last_error_at, source_state.last_error_at),"
       " last_run_drift = excluded.last_run_drift, puller = excluded.puller, updated_at = now()"},
  };
}

}  // namespace

PgSourceStore::PgSourceStore(std::string database_url)
    : conn_(std::make_unique<PgConnection>(std::move(database_url), Statements())) {}

PgSourceStore::~PgSourceStore() = default;

template <typename Fn>
absl::Status PgSourceStore::Run(Fn&& fn) {
  return conn_->Run([&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    fn(txn);
    txn.commit();
  });
}

absl::StatusOr<std::optional<std::string>> PgSourceStore::LoadPosition(const std::string& source,
                                                                        const std::string& scope) {
  std::optional<std::string> out;
  absl::Status s = Run([&](pqxx::work& txn) {
    pqxx::result r = Exec(txn, kLoadPosition, source, scope);
    if (!r.empty()) out = r[0][0].as<std::string>();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<std::string>> PgSourceStore::LoadItems(const std::string& source,
                                                                  const std::string& scope) {
  std::vector<std::string> out;
  absl::Status s = Run([&](pqxx::work& txn) {
    for (const auto& r : Exec(txn, kLoadItems, source, scope)) out.push_back(r[0].as<std::string>());
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> PgSourceStore::PresentMembers(const std::string& account_id) {
  std::map<std::string, std::string> out;
  absl::Status s = Run([&](pqxx::work& txn) {
    for (const auto& r : Exec(txn, kPresentMembers, account_id)) {
      out.emplace(r[0].as<std::string>(), r[1].as<std::string>());
    }
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::map<std::string, MirrorUser>> PgSourceStore::Users(const std::vector<std::string>& user_ids) {
  std::map<std::string, MirrorUser> out;
  // In slices, so that one statement's array stays a reasonable size for any listing.
  constexpr size_t kSlice = 5000;
  for (size_t from = 0; from < user_ids.size(); from += kSlice) {
    std::vector<std::string> slice(user_ids.begin() + static_cast<std::ptrdiff_t>(from),
                                   user_ids.begin() + static_cast<std::ptrdiff_t>(std::min(user_ids.size(), from + kSlice)));
    absl::Status s = Run([&](pqxx::work& txn) {
      for (const auto& r : Exec(txn, kUsers, ToPgArray(slice))) {
        MirrorUser user;
        auto state = domain::ParseUserState(r[1].c_str());
        if (!state) throw std::runtime_error("bad user state in users table");
        user.state = *state;
        if (!r[2].is_null()) user.state_provider = domain::ParseProvider(r[2].c_str());
        if (!r[3].is_null()) user.state_changed_at = FromUnixMicros(r[3].as<long long>());
        out.emplace(r[0].as<std::string>(), user);
      }
    });
    if (!s.ok()) return s;
  }
  return out;
}

absl::StatusOr<std::optional<SourceStatus>> PgSourceStore::LoadStatus(const std::string& source,
                                                                      const std::string& scope) {
  std::optional<SourceStatus> out;
  absl::Status s = Run([&](pqxx::work& txn) {
    pqxx::result r = Exec(txn, kLoadStatus, source, scope);
    if (!r.empty()) out = SourceStatusFrom(r[0]);
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status PgSourceStore::RecordRun(const SourceRun& run) {
  return Run([&](pqxx::work& txn) {
    Exec(txn, kRecordRun, run.source, run.scope, run.status, FormatRfc3339(run.attempted_at), run.error,
                      static_cast<long long>(run.drift), run.puller);
  });
}

PgSourceLease::PgSourceLease(std::string database_url, std::string name)
    : name_(std::move(name)),
      conn_(std::make_unique<PgConnection>(
          std::move(database_url),
          std::vector<PgConnection::Statement>{
              {"try_lock", "SELECT pg_try_advisory_lock($1, hashtext($2))"},
              {"unlock", "SELECT pg_advisory_unlock($1, hashtext($2))"},
              {"ping", "SELECT 1"}},
          [](pqxx::connection& c) {
            // Server-side keepalives for this session: the lock is freed when the server
            // notices the connection is dead, so it must notice soon.
            pqxx::nontransaction txn(c);
            txn.exec("SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3");
          })) {}

PgSourceLease::~PgSourceLease() { Release(); }

bool PgSourceLease::Hold() {
  absl::Status s = conn_->Run([&](pqxx::connection& conn) {
    pqxx::nontransaction txn(conn);
    if (held_) {
      Exec(txn, "ping");  // the lock lives as long as this session
    } else {
      held_ = Exec1(txn, "try_lock", kSourceLockClass, name_)[0].as<bool>();
    }
  });
  if (!s.ok()) {
    held_ = false;
    conn_->Reset();  // a new session holds nothing; the server frees the old one's lock
  }
  return held_;
}

void PgSourceLease::Release() {
  if (!held_) return;
  absl::Status s = conn_->Run([&](pqxx::connection& conn) {
    pqxx::nontransaction txn(conn);
    Exec(txn, "unlock", kSourceLockClass, name_);
  });
  if (!s.ok()) conn_->Reset();
  held_ = false;
}

}  // namespace mm::store
