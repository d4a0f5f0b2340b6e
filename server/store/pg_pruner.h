#pragma once
// Retention (docs/design.md §6, "Retention"): a thread that, every `interval`, prunes
//  - the change log (default 30 days): the rows older than `change_log`. It deletes a prefix by
//    sequence (up to the newest row committed before the cut-off), never a row in the middle,
//    so a reader that finds the first sequence it asks for missing knows those changes were
//    pruned (WatchChanges answers OUT_OF_RANGE);
//  - the seat ledger (default 400 days, docs/design.md §4b): its rows dated before now −
//    `seat_ledger` are folded into seat_ledger_base (and out of their day sums) and its
//    horizon moves there, in chunks of `seat_ledger_chunk` rows, each a transaction that holds the change-log head's lock (so no
//    batch writes the ledger meanwhile, and the next one reads the new horizon); then the seat
//    facts before the horizon that a newer fact of the same key, also before it, supersedes
//    are deleted (they cannot change a count at or after the horizon).
// Every replica may run one: each step is idempotent. Errors are logged and retried at the next
// interval.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/time.h"

namespace mm::store {

class PgConnection;

struct Retention {
  std::chrono::seconds change_log{30 * 24 * 3600};
  std::optional<std::chrono::seconds> seat_ledger;  // nullopt: the ledger keeps everything
  int seat_ledger_chunk = 5000;                     // ledger rows folded per transaction
};

struct PruneCounts {
  int64_t change_log_rows = 0;
  int64_t seat_ledger_rows = 0;  // folded into the base
  int64_t seat_facts = 0;        // superseded facts deleted
  std::optional<TimePoint> seat_horizon;  // after the pass (nullopt: unlimited)
};

class PgPruner {
 public:
  // `clock` says when "now" is for the seat ledger's cut-off (the change log's cut-off is the
  // database's now(), like the committed_at it compares with).
  PgPruner(std::string database_url, Retention retention, std::chrono::milliseconds interval,
           const Clock& clock = SystemClock::Instance());
  ~PgPruner();  // Stop()s

  void Start();
  void Stop();
  // One pass now. Not thread-safe with the running thread.
  absl::StatusOr<PruneCounts> PruneOnce();

 private:
  void Run();
  bool Stopping();
  absl::Status PruneSeatLedger(PruneCounts& counts);

  std::unique_ptr<PgConnection> conn_;
  const Retention retention_;
  const std::chrono::milliseconds interval_;
  const Clock& clock_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mm::store
