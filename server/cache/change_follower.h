#pragma once
// Keeps a UserStateCache current (DESIGN §5): loads a snapshot at start (readiness waits for
// it), then applies the change log in order, woken by LISTEN/NOTIFY and polling every
// `poll_interval` as a fallback. On database errors it keeps the cache as it is, retries with
// back-off and catches up from its last applied sequence when the database is back.
// With a ChangeHub it also publishes every row it reads (users, accounts and memberships), in
// order, after applying it, and begins the hub at the snapshot's head.

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "cache/change_hub.h"
#include "cache/sequence_waiters.h"
#include "cache/user_state_cache.h"
#include "store/event_store.h"

namespace mm::cache {

struct ChangeFollowerOptions {
  std::chrono::milliseconds poll_interval{250};
  std::chrono::milliseconds error_backoff{500};
  int read_limit = 2000;
};

class ChangeFollower {
 public:
  // `feed` is owned by the caller and used only by the follower thread. `hub` (optional) must
  // outlive the follower.
  ChangeFollower(store::ChangeFeed& feed, UserStateCache& cache, SequenceWaiters& waiters,
                 ChangeFollowerOptions options = {}, ChangeHub* hub = nullptr);
  ~ChangeFollower();  // Stop()s

  void Start();
  void Stop();
  // False while the last database round trip failed (readiness and metrics).
  bool healthy() const { return healthy_.load(); }

 private:
  void Run();
  bool LoadSnapshot();
  bool CatchUp();  // returns false on error

  store::ChangeFeed& feed_;
  UserStateCache& cache_;
  SequenceWaiters& waiters_;
  const ChangeFollowerOptions options_;
  ChangeHub* const hub_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> healthy_{false};
  std::thread thread_;
};

}  // namespace mm::cache
