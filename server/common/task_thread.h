#pragma once
// One thread that runs posted tasks in order. For work that must not run on the thread that
// produces it (the change follower hands WatchChanges streams their rows this way, so that
// decoding a watcher's backlog never delays the cache's freshness). Post never blocks on the
// tasks. The destructor runs what is queued, then joins. Thread-safe.

#include <deque>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mm {

class TaskThread {
 public:
  TaskThread();
  ~TaskThread();
  TaskThread(const TaskThread&) = delete;
  TaskThread& operator=(const TaskThread&) = delete;

  void Post(std::function<void()> task);

 private:
  void Run();

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mm
