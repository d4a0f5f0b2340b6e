#pragma once
// Database worker threads for the DB-backed RPCs and operator reads: request threads hand a
// task over and return at once; each worker owns its own ReadStore (its own connection). The
// queue is bounded so that a slow or dead database sheds load instead of piling up requests:
// TrySubmit refuses at once when it is full (the RPC answers RESOURCE_EXHAUSTED).

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "store/read_store.h"

namespace mm::store {

class ReadPool {
 public:
  using Task = std::function<void(ReadStore&)>;
  using Factory = std::function<std::unique_ptr<ReadStore>()>;

  ReadPool(const Factory& factory, int threads, size_t max_queue);
  ~ReadPool();  // Stop()s

  // Queues `task`; false (task dropped, not run) when the queue is full or the pool stopped.
  bool TrySubmit(Task task);
  // Runs what is queued, then joins the workers.
  void Stop();
  size_t queued() const;
  int in_use() const { return in_use_.load(); }  // workers running a task now
  // Tasks that found their call abandoned (cancelled, past its deadline) and did no database
  // work: they say so, for mm_db_pool_skipped_total.
  void NoteSkipped() { skipped_.fetch_add(1); }
  uint64_t skipped() const { return skipped_.load(); }

 private:
  void Run(ReadStore& store);

  const size_t max_queue_;
  mutable absl::Mutex mu_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int> in_use_{0};
  std::atomic<uint64_t> skipped_{0};
  std::vector<std::unique_ptr<ReadStore>> stores_;
  std::vector<std::thread> threads_;
};

}  // namespace mm::store
