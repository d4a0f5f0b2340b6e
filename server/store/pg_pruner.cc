#include "store/pg_pruner.h"

#include "common/log.h"
#include "store/pg_connection.h"
#include "store/pg_event_store.h"

namespace mm::store {
namespace {

constexpr char kPruneChangeLog[] = "prune_change_log";
constexpr char kLockHead[] = "prune_lock_head";
constexpr char kFoldSeatLedger[] = "fold_seat_ledger";
constexpr char kDropFoldedDays[] = "drop_folded_days";
constexpr char kCompactSeatFacts[] = "compact_seat_facts";

std::vector<PgConnection::Statement> Statements() {
  return {
      // committed_at is the writer's transaction start, so it is not strictly ordered by
      // sequence; cutting at the newest old row's sequence keeps the deletion a prefix.
      {kPruneChangeLog,
       "DELETE FROM change_log WHERE sequence <= (SELECT max(sequence) FROM change_log"
       " WHERE committed_at < now() - make_interval(secs => $1))"},
      // The lock every batch takes first: the fold and the writes of the seat ledger never
      // interleave.
      {kLockHead, kLockChangeLogHeadSql},
      // One chunk: the new horizon is the cut-off $1, or sooner the time of the ($2 + 1)-th
      // oldest row before it (at least one instant past the oldest row, so that a chunk always
      // folds something); never earlier than the horizon already is. Rows before it go into
      // the base; answers the rows folded, the horizon, and whether it reached the cut-off.
      {kFoldSeatLedger,
       "WITH nth AS (SELECT at FROM seat_ledger WHERE at < $1::timestamptz ORDER BY at OFFSET $2 LIMIT 1),"
       " target AS (SELECT greatest((SELECT oldest FROM seat_ledger_horizon), least($1::timestamptz,"
       "  greatest(coalesce((SELECT at FROM nth), $1::timestamptz),"
       "           (SELECT min(at) FROM seat_ledger) + interval '1 microsecond'))) AS t),"
       " folded AS (DELETE FROM seat_ledger WHERE at < (SELECT t FROM target)"
       "  RETURNING account_id, at, role, members, billable),"
       " days AS (INSERT INTO seat_ledger_days (account_id, day, role, members, billable)"
       "  SELECT account_id, " MM_DAY_OF("at") ", role, -sum(members), -sum(billable) FROM folded"
       "  GROUP BY 1, 2, 3"
       "  ON CONFLICT (account_id, day, role) DO UPDATE SET members = seat_ledger_days.members + excluded.members,"
       "  billable = seat_ledger_days.billable + excluded.billable),"
       " base AS (INSERT INTO seat_ledger_base (account_id, role, members, billable)"
       "  SELECT account_id, role, sum(members), sum(billable) FROM folded GROUP BY account_id, role"
       "  ON CONFLICT (account_id, role) DO UPDATE SET members = seat_ledger_base.members + excluded.members,"
       "  billable = seat_ledger_base.billable + excluded.billable),"
       " moved AS (UPDATE seat_ledger_horizon SET oldest = (SELECT t FROM target)"
       "  WHERE oldest < (SELECT t FROM target) RETURNING oldest)"
       " SELECT (SELECT count(*) FROM folded), " MM_SQL_MICROS("(SELECT t FROM target)") ","
       " (SELECT t FROM target) >= $1::timestamptz"},
      // The day sums of the days before the horizon's, emptied by the folds.
      {kDropFoldedDays,
       "DELETE FROM seat_ledger_days WHERE members = 0 AND billable = 0"
       " AND day < (SELECT " MM_DAY_OF("oldest") " FROM seat_ledger_horizon)"},
      // Facts before the horizon superseded by a strictly newer fact of the same key, also
      // before it: the state at the horizon, and so every count at or after it, does not
      // depend on them (docs/design.md §4b, Retention).
      {kCompactSeatFacts,
       "DELETE FROM seat_facts f USING seat_ledger_horizon h WHERE f.fact_time < h.oldest AND EXISTS ("
       " SELECT 1 FROM seat_facts g WHERE g.kind = f.kind AND g.account_id = f.account_id"
       " AND g.user_id = f.user_id AND g.fact_time > f.fact_time AND g.fact_time < h.oldest)"},
  };
}

}  // namespace

PgPruner::PgPruner(std::string database_url, Retention retention, std::chrono::milliseconds interval,
                   const Clock& clock)
    : conn_(std::make_unique<PgConnection>(std::move(database_url), Statements())),
      retention_(retention),
      interval_(interval),
      clock_(clock) {}

PgPruner::~PgPruner() { Stop(); }

void PgPruner::Start() { thread_ = std::thread([this] { Run(); }); }

void PgPruner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool PgPruner::Stopping() {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

absl::Status PgPruner::PruneSeatLedger(PruneCounts& counts) {
  const std::string cut = FormatRfc3339(clock_.Now() - *retention_.seat_ledger);
  bool reached = false;
  while (!reached && !Stopping()) {
    absl::Status status = conn_->Run([&](pqxx::connection& conn) {
      pqxx::work txn(conn);
      Exec(txn, kLockHead);
      const pqxx::row r = Exec1(txn, kFoldSeatLedger, cut, retention_.seat_ledger_chunk);
      txn.commit();
      counts.seat_ledger_rows += r[0].as<int64_t>();
      counts.seat_horizon = FromUnixMicros(r[1].as<int64_t>());
      reached = r[2].as<bool>();
    });
    if (!status.ok()) return status;
  }
  return conn_->Run([&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    Exec(txn, kDropFoldedDays);
    counts.seat_facts = static_cast<int64_t>(Exec(txn, kCompactSeatFacts).affected_rows());
    txn.commit();
  });
}

absl::StatusOr<PruneCounts> PgPruner::PruneOnce() {
  PruneCounts counts;
  absl::Status status = conn_->Run([&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    counts.change_log_rows = static_cast<int64_t>(
        Exec(txn, kPruneChangeLog, static_cast<double>(retention_.change_log.count())).affected_rows());
    txn.commit();
  });
  if (status.ok() && retention_.seat_ledger) status = PruneSeatLedger(counts);
  if (!status.ok()) return status;
  return counts;
}

void PgPruner::Run() {
  while (true) {
    if (Stopping()) return;
    absl::StatusOr<PruneCounts> pruned = PruneOnce();
    if (!pruned.ok()) {
      log::Warn("pruning failed; retrying later", {{"error", std::string(pruned.status().message())}});
    } else {
      if (pruned->change_log_rows > 0) {
        log::Info("change log pruned", {{"rows", std::to_string(pruned->change_log_rows)},
                                        {"retention_seconds", std::to_string(retention_.change_log.count())}});
      }
      if (pruned->seat_ledger_rows > 0 || pruned->seat_facts > 0) {
        log::Info("seat ledger pruned",
                  {{"rows_folded", std::to_string(pruned->seat_ledger_rows)},
                   {"facts_deleted", std::to_string(pruned->seat_facts)},
                   {"oldest_kept", pruned->seat_horizon ? FormatRfc3339(*pruned->seat_horizon) : "-infinity"}});
      }
    }
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(interval_))) return;
  }
}

}  // namespace mm::store
