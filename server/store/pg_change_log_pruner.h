#pragma once
// Change-log retention (DESIGN §5, default 30 days): a thread that, every `interval`, deletes
// the change-log rows older than `retention`. It deletes a prefix by sequence (up to the newest
// row committed before the cut-off), never a row in the middle, so a reader that finds the
// first sequence it asks for missing knows those changes were pruned (WatchChanges answers
// OUT_OF_RANGE). Every replica may run one: the deletes are idempotent. Errors are logged and
// retried at the next interval.

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/status/statusor.h"

namespace mm::store {

class PgConnection;

class PgChangeLogPruner {
 public:
  PgChangeLogPruner(std::string database_url, std::chrono::seconds retention,
                    std::chrono::milliseconds interval);
  ~PgChangeLogPruner();  // Stop()s

  void Start();
  void Stop();
  // One pass now; returns the number of rows deleted. Not thread-safe with the running thread.
  absl::StatusOr<int64_t> PruneOnce();

 private:
  void Run();

  std::unique_ptr<PgConnection> conn_;
  const std::chrono::seconds retention_;
  const std::chrono::milliseconds interval_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mm::store
