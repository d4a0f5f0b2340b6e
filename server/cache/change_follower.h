#pragma once
// Keeps a UserStateCache current (DESIGN §5): loads a snapshot at start (readiness waits for
// it), then applies the change log in order, woken by LISTEN/NOTIFY and polling every
// `poll_interval` as a fallback. On database errors it keeps the cache as it is, retries with
// back-off and catches up from its last applied sequence when the database is back.
// With a ChangeHub it also publishes every row it reads (users, accounts and memberships), in
// order, after applying it, and begins the hub at the snapshot's head.
//
// It never stalls on one row and never serves a log that is not the database's (DESIGN §5a):
// - A user row it cannot decode (a bug or corruption: the ingest checks make the pipeline
//   unable to write one) is reported — error log, the observer's `undecodable`, not ready
//   while it recovers — and the cache reloads its snapshot from the users table, which holds
//   that user's state in plain columns. Rows up to the snapshot's head are then published to
//   the hub (a watcher meeting the bad row ends with DATA_LOSS) but not applied again.
// - If the database's log no longer is the one followed — its head is behind this replica's
//   position, or the row at that position was committed at another time (a restore, or a
//   failover to a standby that lost commits) — the cache reloads its snapshot, the hub is
//   Reset (watchers end) and following resumes from the new head; the observer's `reloaded`
//   and a warning say so.

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string_view>
#include <thread>

#include "cache/change_hub.h"
#include "cache/sequence_waiters.h"
#include "cache/user_state_cache.h"
#include "store/event_store.h"

namespace mm::cache {

struct ChangeFollowerObserver {
  // The cache reloaded its snapshot: "undecodable_row" or "changelog_behind".
  std::function<void(std::string_view reason)> reloaded;
  // A change-log row at `sequence` could not be decoded.
  std::function<void(uint64_t sequence)> undecodable;
};

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
                 ChangeFollowerOptions options = {}, ChangeHub* hub = nullptr,
                 ChangeFollowerObserver observer = {});
  ~ChangeFollower();  // Stop()s

  void Start();
  void Stop();
  // False while the last database round trip failed (readiness and metrics).
  bool healthy() const { return healthy_.load(); }
  // True while the snapshot is being reloaded after an undecodable row or a replaced log
  // (readiness: the cache is not ready meanwhile).
  bool reloading() const { return reloading_.load(); }

 private:
  enum class Reload { kInitial, kUndecodableRow, kLogReplaced };
  void Run();
  bool LoadSnapshot(Reload why);
  bool CatchUp();  // returns false on error

  store::ChangeFeed& feed_;
  UserStateCache& cache_;
  SequenceWaiters& waiters_;
  const ChangeFollowerOptions options_;
  ChangeHub* const hub_;
  const ChangeFollowerObserver observer_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> healthy_{false};
  std::atomic<bool> reloading_{false};
  // Follower thread only. The last row read and published: the cache's sequence, except after
  // a reload for an undecodable row, when the cache is ahead until the rows up to its snapshot
  // have been published.
  uint64_t position_ = 0;
  std::optional<TimePoint> position_committed_at_;  // commit time of the row at position_
  std::thread thread_;
};

}  // namespace mm::cache
