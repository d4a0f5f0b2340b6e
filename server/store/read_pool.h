#pragma once
// Database worker threads for the DB-backed RPCs and operator reads: request threads hand a
// task over and return at once; each worker owns its own ReadStore (its own connection). The
// queue is bounded so that a slow or dead database sheds load instead of piling up requests:
// TrySubmit refuses at once when it is full (the RPC answers RESOURCE_EXHAUSTED).
// The read RPCs' tasks (TrySubmitRead) get the worker's ReplicaRouter, which answers from the
// read replica when one is configured and fresh enough (store/replica_router.h); every other
// task (TrySubmit: the change-log backfill, operator reads, replays) gets the primary's store.

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "store/read_store.h"
#include "store/replica_router.h"

namespace mm::store {

// A read replica (MM_DATABASE_READ_URL) for a ReadPool: each worker also owns a store it makes.
struct ReadPoolReplica {
  std::function<std::unique_ptr<ReadStore>()> replica;  // null: no read replica, every read goes to the primary
  ReplicaHealth* health = nullptr;                      // required with `replica`
  ReplicaRouter::Options options;
  ReplicaRouter::Callbacks callbacks;  // for every read of TrySubmitRead
};

class ReadPool {
 public:
  using Task = std::function<void(ReadStore&)>;
  using Factory = std::function<std::unique_ptr<ReadStore>()>;

  // `factory` makes each worker's store of the primary database.
  ReadPool(const Factory& factory, int threads, size_t max_queue, ReadPoolReplica replica = {});
  ~ReadPool();  // Stop()s

  // Queues `task`, run on the primary's store; false (task dropped, not run) when the queue
  // is full or the pool stopped.
  bool TrySubmit(Task task);
  // Queues a read RPC's `task`, run on the worker's ReplicaRouter expecting `freshness`.
  bool TrySubmitRead(const Freshness& freshness, Task task);
  // Runs what is queued, then joins the workers.
  void Stop();
  size_t queued() const;
  int in_use() const { return in_use_.load(); }  // workers running a task now
  // Tasks that found their call abandoned (cancelled, past its deadline) and did no database
  // work: they say so, for mm_db_pool_skipped_total.
  void NoteSkipped() { skipped_.fetch_add(1); }
  uint64_t skipped() const { return skipped_.load(); }

 private:
  struct Worker {
    std::unique_ptr<ReadStore> primary;
    std::unique_ptr<ReplicaRouter> router;
  };
  struct Queued {
    Task task;
    std::optional<Freshness> read;  // set: a read RPC's, run on the router
  };
  bool Enqueue(Queued item);
  void Run(Worker& worker);

  const size_t max_queue_;
  mutable absl::Mutex mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int> in_use_{0};
  std::atomic<uint64_t> skipped_{0};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
};

}  // namespace mm::store
