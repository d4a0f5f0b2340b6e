#pragma once
// Where a DB-backed read RPC is answered when a read replica (a streaming standby,
// MM_DATABASE_READ_URL) is configured (docs/design.md §5). A ReplicaRouter is the ReadStore the
// ReadPool hands those RPCs' tasks (ReadPool::TrySubmitRead), on the worker's own thread:
// - min_sequence 0: the replica answers. It may be behind the primary: a read that names no
//   sequence accepts any committed state.
// - min_sequence N: the replica answers if its change_log_head, read just before the answer,
//   is at least N (the answer's snapshot is later, so it reflects at least as much). If it is
//   behind, the worker reads the head again every `poll_interval`, for at most `max_wait` and
//   at most half of what is left of the call's deadline (the primary must still have time to
//   answer); then the primary answers. The caller (api/rpc_support.h) queues the read only once
//   this replica's cache has applied N, so the primary has it.
// - A replica that fails — unreachable, a statement cancelled by a recovery conflict, any
//   error that is not the answer itself — is replaced by the primary for that read. An
//   unreachable one is marked down in the shared ReplicaHealth: every worker's reads then go
//   to the primary at once, without waiting for a connect timeout each, until the replica
//   monitor (store/pg_replica_monitor.h) reaches it again; each worker then opens a new
//   connection to it rather than fail a read on the old one.
// - ReadChanges (the change log, WatchChanges) and GetDeadLetters (replays, which write) always
//   go to the primary. Without a replica every read goes to the primary.
// Not thread-safe: each worker owns one, like the stores it routes between.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/read_store.h"

namespace mm::store {

// What a read RPC asks of its answer.
struct Freshness {
  uint64_t min_sequence = 0;  // 0: any committed state
  std::chrono::system_clock::time_point deadline = std::chrono::system_clock::time_point::max();  // the call's
};

enum class ReadTarget { kReplica, kPrimary };
// Why the primary answered a read the replica was asked first.
enum class Fallback {
  kBehind,       // the replica had not replayed min_sequence within the wait
  kUnavailable,  // the replica is unreachable (now, or marked down)
  kError,        // another failure on the replica (a recovery conflict, say)
};
const char* ReadTargetName(ReadTarget target);  // "replica", "primary"
const char* FallbackName(Fallback reason);      // "behind", "unavailable", "error"

// Whether the read replica answers, shared by every worker's router (which marks it down when
// it finds it unreachable) and the replica monitor (which marks it up or down on every probe).
// Thread-safe.
class ReplicaHealth {
 public:
  bool up() const { return up_.load(std::memory_order_relaxed); }
  void Mark(bool up) {
    if (!up_.exchange(up, std::memory_order_relaxed) && up) recoveries_.fetch_add(1, std::memory_order_relaxed);
  }
  // How often it was marked up again after down: a router whose replica connection predates a
  // recovery drops it (it is likely dead: the replica restarted) instead of failing a read on it.
  uint64_t recoveries() const { return recoveries_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> up_{true};
  std::atomic<uint64_t> recoveries_{0};
};

class ReplicaRouter final : public ReadStore {
 public:
  struct Options {
    std::chrono::milliseconds max_wait{1000};  // MM_DATABASE_READ_MAX_WAIT_MS
    std::chrono::milliseconds poll_interval{10};
  };
  // Called on the worker's thread for every routed read.
  struct Callbacks {
    std::function<void(ReadTarget)> answered;  // by whom the read was answered
    std::function<void(Fallback)> fell_back;   // the primary answered instead of the replica
  };

  // `replica` null: no read replica, `health` unused (may be null).
  ReplicaRouter(ReadStore& primary, std::unique_ptr<ReadStore> replica, ReplicaHealth* health, Options options,
                Callbacks callbacks);

  // What the reads of the next task must meet (set by the pool before each task).
  void Expect(const Freshness& freshness) { freshness_ = freshness; }

  absl::StatusOr<std::optional<UserView>> GetUser(const std::string& user_id) override;
  absl::StatusOr<std::optional<MembershipView>> GetMembership(const std::string& account_id,
                                                              const std::string& user_id) override;
  absl::StatusOr<Page<MembershipView>> ListMembers(const std::string& account_id, const std::string& role,
                                                   const std::string& after_user_id, int limit) override;
  absl::StatusOr<Page<MembershipView>> ListUserMemberships(const std::string& user_id,
                                                           const std::string& after_account_id, int limit) override;
  absl::StatusOr<SeatCountView> GetSeatCount(const std::string& account_id) override;
  absl::StatusOr<Page<SeatCountView>> ListSeatCounts(const std::string& after_account_id, int limit) override;
  absl::StatusOr<SeatCountView> GetSeatCountAt(const std::string& account_id, TimePoint as_of) override;
  absl::StatusOr<Page<SeatChangeView>> ListSeatChanges(const std::string& account_id, TimePoint start, TimePoint end,
                                                       const std::optional<SeatChangePosition>& after, int limit,
                                                       bool include_non_billable, uint64_t& sequence) override;
  absl::StatusOr<SeatUsageView> GetSeatUsage(const std::string& account_id, TimePoint start, TimePoint end) override;
  absl::StatusOr<uint64_t> ChangeLogHead() override;
  absl::StatusOr<std::vector<ChangeRow>> ReadChanges(uint64_t after, int limit) override;
  absl::StatusOr<std::vector<SourceStatus>> ListSources() override;
  absl::StatusOr<Page<DeadLetterView>> ListDeadLetters(const DeadLetterFilter& filter,
                                                       const std::optional<EventPosition>& after, int limit,
                                                       bool with_bodies) override;
  absl::StatusOr<std::vector<DeadLetterView>> GetDeadLetters(const std::string& provider,
                                                             const std::vector<std::string>& event_ids) override;
  absl::StatusOr<Page<UserEventView>> ListUserEvents(const std::string& user_id,
                                                     const std::optional<EventPosition>& after, int limit) override;

 private:
  // Runs `read` (a call on a ReadStore) on the replica when it may answer, else on the primary.
  template <typename Read>
  auto Route(const Read& read) -> decltype(read(std::declval<ReadStore&>()));
  // nullopt when the replica may answer the next read (waiting for its replay if need be);
  // otherwise why the primary answers instead.
  std::optional<Fallback> ReplicaReady();
  // Why a replica's failure sends the read to the primary; nullopt when `status` is the answer
  // itself (OUT_OF_RANGE before the seat ledger's horizon, say), which the primary would give too.
  std::optional<Fallback> ReplicaFailed(const absl::Status& status);
  void Answered(ReadTarget target) const;

  ReadStore& primary_;
  std::unique_ptr<ReadStore> replica_;
  ReplicaHealth* health_;
  const Options options_;
  const Callbacks callbacks_;
  Freshness freshness_;
  uint64_t recoveries_seen_ = 0;  // ReplicaHealth::recoveries() when the replica was last used
};

}  // namespace mm::store
