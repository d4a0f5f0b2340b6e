#pragma once
// PostgreSQL implementation of ChangeFeed: a snapshot of user states, the change log tail, and
// LISTEN on the writers' notification channel (or polling, through a transaction pooler). One
// instance per follower thread.

#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "store/event_store.h"

namespace mm::store {

class PgConnection;

class PgChangeFeed final : public ChangeFeed {
 public:
  explicit PgChangeFeed(std::string database_url);
  ~PgChangeFeed() override;

  absl::StatusOr<uint64_t> LoadUserStates(const std::function<void(UserStateRow&&)>& row) override;
  // The planner's row estimate for `users` (pg_class.reltuples, kept by ANALYZE/autovacuum).
  size_t UserCountHint() override;
  absl::StatusOr<ChangeRead> ReadChanges(uint64_t after, int limit) override;
  absl::Status WaitForNotification(std::chrono::milliseconds timeout) override;
  // A batch was committed on this process: a polling feed (no LISTEN) ends its wait now, so
  // this replica's own writes reach its cache at once; other replicas' within a poll interval.
  // Any thread.
  void Nudge();

 private:
  class Receiver;

  // False when the URL is transaction-pooled (IsTransactionPooled): no LISTEN, the follower polls.
  const bool listen_;
  absl::Mutex nudge_mu_;
  bool nudged_ ABSL_GUARDED_BY(nudge_mu_) = false;
  std::unique_ptr<Receiver> receiver_;
  std::unique_ptr<PgConnection> conn_;
};

// Parses one line of the users snapshot (COPY text format: user_id, state, state_changed_at
// and sessions_valid_after as unix microseconds, disabled_reason; tab-separated, \N for
// NULL, backslash escapes) into `row`, reusing its buffers. Throws std::runtime_error on a
// malformed line. Exposed for tests.
void ParseUserStateCopyLine(std::string_view line, UserStateRow& row);

}  // namespace mm::store
