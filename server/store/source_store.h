#pragma once
// Storage behind the pull sources (DESIGN §3b): what a source reads back of its own position,
// what a reconcile run compares a provider's listing with, and the run reports behind
// AdminService.ListSources. The events a source yields and its checkpoint are written through
// the EventStore (one transaction); everything here is read-only except RecordRun.
//
// Not thread-safe: each source's thread owns an instance (one connection).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/time.h"
#include "domain/events.h"
#include "domain/records.h"
#include "domain/reconcile.h"

namespace mm::store {

using domain::MirrorUser;  // a user as the mirror holds it, for a reconcile run's comparison

// One source and scope as the last run left it (source_state), for ListSources.
struct SourceStatus {
  std::string source;
  std::string scope;
  std::string status;  // "never_run" | "ok" | "error" | "stopped"
  std::optional<TimePoint> last_attempt_at;
  std::optional<TimePoint> last_success_at;
  std::optional<TimePoint> watermark;
  std::optional<std::string> last_error;
  std::optional<TimePoint> last_error_at;
  int64_t events_yielded = 0;
  int64_t last_run_drift = 0;
  std::optional<std::string> puller;
};

// What a run of one source and scope reports, written after it.
struct SourceRun {
  std::string source;
  std::string scope;
  TimePoint attempted_at{};
  std::string status;                // "ok" | "error" | "stopped"
  std::optional<std::string> error;  // why, unless ok
  int64_t drift = 0;                 // corrections the run found (applied, or not in a dry run)
  std::string puller;                // which replica ran it
};

class SourceStore {
 public:
  virtual ~SourceStore() = default;
  // The position the last checkpoint stored (JSON), or nullopt if none.
  virtual absl::StatusOr<std::optional<std::string>> LoadPosition(const std::string& source,
                                                                  const std::string& scope) = 0;
  // The items the last complete listing held.
  virtual absl::StatusOr<std::vector<std::string>> LoadItems(const std::string& source,
                                                             const std::string& scope) = 0;
  // Present members of `account_id`: user id -> role.
  virtual absl::StatusOr<std::map<std::string, std::string>> PresentMembers(const std::string& account_id) = 0;
  // The users among `user_ids` the mirror knows.
  virtual absl::StatusOr<std::map<std::string, MirrorUser>> Users(const std::vector<std::string>& user_ids) = 0;
  // The last run of (source, scope), if any (for a replica that takes over: when is it due).
  virtual absl::StatusOr<std::optional<SourceStatus>> LoadStatus(const std::string& source,
                                                                 const std::string& scope) = 0;
  // Records a run (status, times, error, drift); keeps the position, watermark and counts.
  virtual absl::Status RecordRun(const SourceRun& run) = 0;
};

// Leadership of one pull source among the replicas (DESIGN §3b: exactly one replica pulls):
// held while this replica holds a lock that only one session of the database can hold.
class SourceLease {
 public:
  virtual ~SourceLease() = default;
  // Takes the lease if free, or checks that it is still held. True while this replica holds
  // it. A lost connection loses it (and the database frees it for another replica).
  virtual bool Hold() = 0;
  virtual void Release() = 0;
};

}  // namespace mm::store
