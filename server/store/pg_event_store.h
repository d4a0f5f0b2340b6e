#pragma once
// PostgreSQL implementation of EventStore (see event_store.h for the contract).
//
// A batch is one transaction of four round trips, whatever its size:
//   1. lock change_log_head (serializes writers across replicas: sequences commit in order);
//   2. one read: which of the batch's (provider, event_id) are already stored, the users/
//      accounts/memberships its events name, and the present memberships of users named by
//      state events (their seat counts move when billability flips);
//   3. apply the convergence rules in memory (domain/convergence.h — the one implementation);
//   4. one write (data-modifying CTEs over `unnest` arrays): changed records, seat-count deltas,
//      change-log rows, provider events and dead letters; advance the head; NOTIFY followers;
//   5. with pull-source checkpoints, one more statement per checkpoint (source_state,
//      source_items);
//   6. commit.

#include <memory>
#include <string>
#include <utility>

#include "store/event_store.h"

namespace mm::store {

class PgConnection;

class PgEventStore final : public EventStore {
 public:
  struct Options {
    // The seat ledger (docs/design.md §4b) is written with every batch. Off only to measure
    // what it costs (tests/bench/seat_history_bench.cc): the service always writes it.
    bool seat_ledger = true;
  };
  explicit PgEventStore(std::string database_url) : PgEventStore(std::move(database_url), Options{}) {}
  PgEventStore(std::string database_url, Options options);
  ~PgEventStore() override;

  // Connects and prepares every statement now (tests use it to fail early on bad SQL). `serve`
  // does not call it: statements are prepared on the first batch, and the readiness schema
  // check is what holds a replica back until the schema is current.
  absl::Status Connect();

  using EventStore::ApplyBatch;
  absl::StatusOr<std::vector<ApplyResult>> ApplyBatch(
      std::span<const domain::ProviderEvent* const> batch,
      std::span<const SourceCheckpoint* const> checkpoints) override;
  absl::StatusOr<std::vector<ApplyResult>> TryBatch(std::span<const domain::ProviderEvent* const> batch) override;
  absl::Status Ping() override;

 private:
  absl::StatusOr<std::vector<ApplyResult>> Apply(std::span<const domain::ProviderEvent* const> batch,
                                                 std::span<const SourceCheckpoint* const> checkpoints, bool commit);

  std::unique_ptr<PgConnection> conn_;
  const Options options_;
};

// The row lock every batch takes first (it serializes writers). Anything that must not
// interleave with a batch's writes takes it too (PgPruner's seat-ledger folds).
inline constexpr const char* kLockChangeLogHeadSql =
    "SELECT last_sequence FROM change_log_head WHERE singleton FOR UPDATE";

// Channel the writer NOTIFYs after each commit that appended changes.
inline constexpr const char* kChangesChannel = "mm_changes";

}  // namespace mm::store
