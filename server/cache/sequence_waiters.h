#pragma once
// Read-your-writes without blocking request threads: a request that needs the replica to have
// applied `sequence` registers a callback that fires with true once the follower advances past
// it, or with false at its deadline. Callbacks run on the follower or the timer thread and must
// not block. Thread-safe.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mm::cache {

class SequenceWaiters {
 public:
  using Callback = std::function<void(bool reached)>;

  // At most `max_pending` callbacks wait at once (each holds a gRPC call open).
  explicit SequenceWaiters(size_t max_pending = 10000);
  ~SequenceWaiters();  // fires every pending callback with false

  // Fires `done(true)` at once if `sequence` is already applied, else when it is, or
  // `done(false)` at `deadline`. Returns false, without calling `done`, when `max_pending`
  // callbacks are waiting already (the caller answers RESOURCE_EXHAUSTED).
  bool Wait(uint64_t sequence, std::chrono::steady_clock::time_point deadline, Callback done);
  void Advance(uint64_t applied);
  // The change log was replaced below what was applied (a restored database): from now on
  // `applied` is the position, and waits for sequences above it wait again.
  void Rewind(uint64_t applied);
  size_t pending() const;
  // The last sequence Advance (or Rewind) set: what the replica has applied.
  uint64_t applied() const;

 private:
  struct Waiter {
    uint64_t sequence;
    std::chrono::steady_clock::time_point deadline;
    Callback done;
  };
  void TimerLoop();

  const size_t max_pending_;
  mutable absl::Mutex mu_;
  absl::CondVar wake_;  // a waiter was added, or stopping
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<uint64_t, Waiter> waiters_ ABSL_GUARDED_BY(mu_);  // by id
  std::thread timer_;
};

}  // namespace mm::cache
