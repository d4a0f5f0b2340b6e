#pragma once
// PostgreSQL implementation of EventStore (see event_store.h for the contract).
//
// A batch is one transaction:
//   1. lock change_log_head (serializes writers across replicas: sequences commit in order);
//   2. find duplicates among the batch's (provider, event_id);
//   3. load the users/accounts/memberships the new events touch;
//   4. apply the convergence rules in memory (domain/convergence.h — the one implementation);
//   5. write back changed records, seat-count deltas, change-log rows, provider events and dead
//      letters with bulk `unnest` statements; advance the head; NOTIFY followers.
// A constant number of statements per batch, whatever its size.

#include <memory>
#include <string>

#include "store/event_store.h"

namespace mm::store {

class PgConnection;

class PgEventStore final : public EventStore {
 public:
  explicit PgEventStore(std::string database_url);
  ~PgEventStore() override;

  // Connects and prepares every statement, so bad SQL or a missing schema fails at start-up.
  absl::Status Connect();

  absl::StatusOr<std::vector<ApplyResult>> ApplyBatch(
      std::span<const domain::ProviderEvent* const> batch) override;

 private:
  std::unique_ptr<PgConnection> conn_;
};

// Channel the writer NOTIFYs after each commit that appended changes.
inline constexpr const char* kChangesChannel = "mm_changes";

}  // namespace mm::store
