#include "store/pg_change_log_pruner.h"

#include "common/log.h"
#include "store/pg_connection.h"

namespace mm::store {
namespace {
constexpr char kPrune[] = "prune_change_log";
}  // namespace

PgChangeLogPruner::PgChangeLogPruner(std::string database_url, std::chrono::seconds retention,
                                     std::chrono::milliseconds interval)
    : conn_(std::make_unique<PgConnection>(
          std::move(database_url),
          std::vector<PgConnection::Statement>{
              {kPrune,
               // committed_at is the writer's transaction start, so it is not strictly ordered
               // by sequence; cutting at the newest old row's sequence keeps the deletion a prefix.
               "DELETE FROM change_log WHERE sequence <= (SELECT max(sequence) FROM change_log"
               " WHERE committed_at < now() - make_interval(secs => $1))"}})),
      retention_(retention),
      interval_(interval) {}

PgChangeLogPruner::~PgChangeLogPruner() { Stop(); }

void PgChangeLogPruner::Start() { thread_ = std::thread([this] { Run(); }); }

void PgChangeLogPruner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<int64_t> PgChangeLogPruner::PruneOnce() {
  int64_t deleted = 0;
  absl::Status status = conn_->Run([&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    deleted = static_cast<int64_t>(
        txn.exec_prepared(kPrune, static_cast<double>(retention_.count())).affected_rows());
    txn.commit();
  });
  if (!status.ok()) return status;
  return deleted;
}

void PgChangeLogPruner::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    absl::StatusOr<int64_t> deleted = PruneOnce();
    if (!deleted.ok()) {
      log::Warn("change-log pruning failed; retrying later", {{"error", std::string(deleted.status().message())}});
    } else if (*deleted > 0) {
      log::Info("change log pruned", {{"rows", std::to_string(*deleted)},
                                      {"retention_seconds", std::to_string(retention_.count())}});
    }
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(interval_))) return;
  }
}

}  // namespace mm::store
