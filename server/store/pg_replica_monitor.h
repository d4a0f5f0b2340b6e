#pragma once
// Watches the read replica (MM_DATABASE_READ_URL, store/replica_router.h) from a thread of its
// own, on a connection of its own, every `interval`: its change_log_head, how long ago the last
// transaction it replayed committed (pg_last_xact_replay_timestamp()), and whether it answers
// at all. Each probe marks the shared ReplicaHealth up or down, so that reads go back to the
// replica once it answers again. The main loop turns the last probe into the lag gauges
// (ReplicaLagOf). A change between up and down is logged once.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "store/replica_router.h"

namespace mm::store {

class PgConnection;

struct ReplicaProbe {
  bool probed = false;  // a probe has finished (with or without an answer)
  bool up = false;      // the last probe was answered
  uint64_t head = 0;    // change_log_head.last_sequence at the last answered probe
  // now() − pg_last_xact_replay_timestamp() at the last answered probe, on the replica's clock;
  // nullopt when it has replayed nothing since it started (or is not a standby).
  std::optional<double> replay_age_seconds;
};

// How far the replica is behind `primary_sequence` (this replica's cache position, which
// follows the primary): in sequences, and in seconds (the age of the last replayed commit
// while it is behind, 0 once it has caught up or when it replayed nothing yet).
struct ReplicaLag {
  uint64_t sequences = 0;
  double seconds = 0;
};
ReplicaLag ReplicaLagOf(const ReplicaProbe& probe, uint64_t primary_sequence);

class PgReplicaMonitor {
 public:
  PgReplicaMonitor(std::string replica_url, ReplicaHealth& health,
                   std::chrono::milliseconds interval = std::chrono::milliseconds(500));
  ~PgReplicaMonitor();  // Stop()s

  void Start();
  void Stop();
  // One probe now (also what the thread runs). Not thread-safe with the running thread.
  absl::Status ProbeOnce();
  ReplicaProbe last() const;

 private:
  void Run();

  std::unique_ptr<PgConnection> conn_;
  ReplicaHealth& health_;
  const std::chrono::milliseconds interval_;
  mutable absl::Mutex mu_;
  ReplicaProbe last_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mm::store
