#pragma once
// Storage interfaces. The write side (EventStore) applies batches of provider events; the read
// side (ChangeFeed) is what a replica's state cache follows. PgEventStore / PgChangeFeed are the
// PostgreSQL implementations (the only code that includes libpqxx); InMemoryEventStore is the
// fake used by tests that need a seam but not a database.
//
// Error codes: UNAVAILABLE = database unreachable (the caller answers 503 / retries later);
// ABORTED = serialization failure or deadlock (retry); INTERNAL = a bug or corrupt row;
// FAILED_PRECONDITION = schema missing or not current.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/time.h"
#include "domain/events.h"
#include "domain/records.h"

namespace mm::store {

struct ApplyResult {
  domain::Outcome outcome = domain::Outcome::kApplied;
  // Change-log position at which this event's effect is visible (for duplicate and stale: a
  // position at least as new as the original's).
  uint64_t sequence = 0;
};

// Where a pull source stands (DESIGN §3b), written in the same transaction as the events it
// yielded so that a crash mid-page neither skips nor re-applies anything.
struct SourceCheckpoint {
  std::string source;  // "huudis-audit", "huudis-lists", "monocloud", "fusionauth-users"
  std::string scope;   // a workspace, group or tenant id; "" for a single-scope source
  // The source's own position, as JSON (e.g. an unfinished sweep's cursor); replaces the
  // stored one when set.
  std::optional<std::string> position_json;
  // How far the source is known complete; replaces the stored one when set.
  std::optional<TimePoint> watermark;
  // The page's events are the batch's events [page_begin, page_end) (the writer sets these):
  // the stored count of events yielded grows by those of them that were new, so that what a
  // source reads twice (an overlap, a page read again after a crash) is not counted twice.
  size_t page_begin = 0;
  size_t page_end = 0;
  // The items the last complete listing held (source_items), as a diff.
  std::vector<std::string> items_added;
  std::vector<std::string> items_removed;
};

class EventStore {
 public:
  virtual ~EventStore() = default;
  // Applies a batch in one transaction: dedup on (provider, event_id) — also within the batch —,
  // convergence (domain/convergence.h), seat counts, change log, the checkpoints of pull
  // sources, and a notification to followers. Either every event gets its result and
  // everything is committed, or an error is returned and nothing is. Not thread-safe: one
  // writer thread owns an instance.
  virtual absl::StatusOr<std::vector<ApplyResult>> ApplyBatch(
      std::span<const domain::ProviderEvent* const> batch,
      std::span<const SourceCheckpoint* const> checkpoints) = 0;
  // A batch without checkpoints.
  absl::StatusOr<std::vector<ApplyResult>> ApplyBatch(std::span<const domain::ProviderEvent* const> batch) {
    return ApplyBatch(batch, {});
  }
  // What ApplyBatch(batch) would answer now, found in a transaction that is rolled back:
  // nothing is written and nobody is notified (a dry run of a dead-letter replay); every
  // sequence is 0. Not thread-safe, like ApplyBatch.
  virtual absl::StatusOr<std::vector<ApplyResult>> TryBatch(std::span<const domain::ProviderEvent* const> batch) {
    (void)batch;
    return absl::UnimplementedError("this store has no dry runs");
  }
  // One round trip that writes nothing: whether the database answers (UNAVAILABLE if not).
  // The writer probes with it while unhealthy and idle, so that readiness recovers without
  // waiting for traffic an unready replica is not sent.
  virtual absl::Status Ping() = 0;
};

// What the IsUserActive cache keeps per user.
struct UserStateRow {
  std::string user_id;
  domain::UserState state = domain::UserState::kActive;
  std::optional<TimePoint> state_changed_at;
  std::optional<std::string> disabled_reason;
  std::optional<TimePoint> sessions_valid_after;
};

enum class EntityKind { kUser, kAccount, kMembership };

struct ChangeRow {
  uint64_t sequence = 0;
  TimePoint committed_at{};
  EntityKind entity = EntityKind::kUser;
  std::string record_json;  // the record after the change (domain/records_json.h)
};

// One read of the change log by a follower: the rows, and where the log stands, so that a
// follower can tell that the database's log is no longer the one it followed.
struct ChangeRead {
  std::vector<ChangeRow> rows;  // sequence > after, in order
  uint64_t head = 0;            // the log's last sequence, in the same snapshot as `rows`
  // Commit time of the row at `after`, if the log still holds it (not pruned, after > 0).
  std::optional<TimePoint> after_committed_at;
};

class ChangeFeed {
 public:
  virtual ~ChangeFeed() = default;
  // Calls `row` for every user, then returns the change-log position the rows reflect (one
  // consistent snapshot). Not thread-safe: one follower thread owns an instance.
  virtual absl::StatusOr<uint64_t> LoadUserStates(
      const std::function<void(UserStateRow&&)>& row) = 0;
  // A cheap estimate of how many users LoadUserStates will deliver, to size the cache before
  // loading; 0 when unknown (or on any error). Never exact-critical.
  virtual size_t UserCountHint() { return 0; }
  // Changes with sequence > `after`, in order, at most `limit`, with the log's position (one
  // snapshot). Never skips a committed change.
  virtual absl::StatusOr<ChangeRead> ReadChanges(uint64_t after, int limit) = 0;
  // Blocks up to `timeout` for a change notification; OK also on timeout (the caller polls
  // anyway). UNAVAILABLE if the connection is lost.
  virtual absl::Status WaitForNotification(std::chrono::milliseconds timeout) = 0;
};

// Extracts the cache's view of a user record.
UserStateRow ToUserStateRow(const domain::UserRecord& user);

}  // namespace mm::store
