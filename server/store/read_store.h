#pragma once
// Read queries behind the DB-backed RPCs (GetUser, memberships, seat counts, the change-log
// backfill of WatchChanges). Lists use keyset
// pagination on a unique, stable sort key (user_id within an account, account_id within a
// user), so a listing walked page by page returns every member present throughout exactly
// once, whatever is added or removed between pages. Not thread-safe: each database worker
// thread owns one instance (see ReadPool).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/time.h"
#include "domain/records.h"
#include "store/event_store.h"
#include "store/source_store.h"

namespace mm::store {

struct UserView {
  domain::UserRecord record;
  TimePoint updated_at{};
};

struct MembershipView {
  domain::MembershipRecord record;
  std::optional<std::string> account_name;
  std::optional<std::string> user_email;
  std::optional<std::string> user_name;
  TimePoint updated_at{};
};

struct SeatCountView {
  std::string account_id;
  int64_t total = 0;
  int64_t billable = 0;
  std::map<std::string, int64_t> by_role;
  uint64_t sequence = 0;  // change-log position the counts reflect
};

// A dead letter (AdminService.ListDeadLetters, ReplayDeadLetters) with its stored event.
struct DeadLetterView {
  std::string provider;
  std::string event_id;
  std::string event_type;
  std::string reason;  // why it was dead-lettered first
  TimePoint fact_time{};
  TimePoint received_at{};
  TimePoint created_at{};  // when the letter was written (the list's order)
  std::optional<TimePoint> replayed_at;
  std::optional<std::string> replay_outcome;  // the last replay's: applied, stale, ignored, dead_lettered
  std::optional<std::string> replay_reason;   // the last replay's reason, if it dead-lettered again
  int replay_attempts = 0;
  std::string source;  // the pull source and scope that yielded it; "" for webhooks, operators
  std::string scope;
  std::string outcome;   // the event's outcome now: dead_lettered until a replay applies it
  std::string raw_body;  // only when asked for (replays)
};

struct DeadLetterFilter {
  std::string provider;       // "" = every provider
  std::string reason;         // "" = any; otherwise a part of the first reason
  bool pending_only = false;  // only letters whose event is still dead-lettered
};

// Where a keyset listing of events stands: its time (a letter's creation, an event's fact
// time), then provider and event id.
struct EventPosition {
  TimePoint at{};
  std::string provider;
  std::string event_id;
};

// A stored event that named a user (AdminService.ListUserEvents).
struct UserEventView {
  std::string provider;
  std::string event_id;
  std::string event_type;
  TimePoint fact_time{};
  TimePoint received_at{};
  std::string outcome;
  uint64_t sequence = 0;
  std::optional<std::string> dead_letter_reason;  // for an event dead-lettered (now or before a replay)
};

// One row of the seat ledger (SeatService.ListSeatChanges): a change of one member's seat in
// one role, at the fact time of the event that caused it.
struct SeatChangeView {
  TimePoint at{};
  std::string user_id;
  std::string event_id;
  std::string role;
  int members = 0;   // change of present memberships: -1, 0, +1
  int billable = 0;  // change of billable seats: -1, 0, +1
};

// Where a listing of seat changes stands: the ledger's key after the account.
struct SeatChangePosition {
  TimePoint at{};
  std::string user_id;
  std::string event_id;
  std::string role;
};

// Billable seats of an account over [start, end) (SeatService.GetSeatUsage).
struct SeatUsageView {
  double billable_seat_seconds = 0;  // the integral, exact to the microsecond before conversion
  int64_t min_billable = 0;
  int64_t max_billable = 0;
  int64_t start_billable = 0;  // at start
  int64_t end_billable = 0;    // just before end
  uint64_t sequence = 0;
};

template <typename T>
struct Page {
  std::vector<T> items;
  bool more = false;  // another page follows (after the last item's key)
};

class ReadStore {
 public:
  virtual ~ReadStore() = default;
  // nullopt: never seen.
  virtual absl::StatusOr<std::optional<UserView>> GetUser(const std::string& user_id) = 0;
  // nullopt: not a present member.
  virtual absl::StatusOr<std::optional<MembershipView>> GetMembership(const std::string& account_id,
                                                                      const std::string& user_id) = 0;
  // Present members of `account_id` with user_id > `after_user_id`, by user_id; `role` empty =
  // every role.
  virtual absl::StatusOr<Page<MembershipView>> ListMembers(const std::string& account_id,
                                                           const std::string& role,
                                                           const std::string& after_user_id,
                                                           int limit) = 0;
  // Present memberships of `user_id` with account_id > `after_account_id`, by account_id.
  virtual absl::StatusOr<Page<MembershipView>> ListUserMemberships(const std::string& user_id,
                                                                   const std::string& after_account_id,
                                                                   int limit) = 0;
  // Zeros for an unknown account.
  virtual absl::StatusOr<SeatCountView> GetSeatCount(const std::string& account_id) = 0;
  // Every account (zero counts included), by account_id, after `after_account_id`.
  virtual absl::StatusOr<Page<SeatCountView>> ListSeatCounts(const std::string& after_account_id,
                                                             int limit) = 0;
  // The counts of `account_id` as they were at `as_of`: every seat fact with fact time <= as_of
  // (seat ledger, docs/design.md §4b). OUT_OF_RANGE, naming the oldest time kept, for an
  // instant before the ledger's horizon.
  virtual absl::StatusOr<SeatCountView> GetSeatCountAt(const std::string& account_id, TimePoint as_of) {
    (void)account_id, (void)as_of;
    return absl::UnimplementedError("no seat ledger in this store");
  }
  // Seat-ledger rows of `account_id` with start <= at < end, after `after`, by key; only rows
  // that change a billable seat unless `include_non_billable`. `sequence` is set to the
  // change-log position the page reflects. OUT_OF_RANGE for a start before the horizon.
  virtual absl::StatusOr<Page<SeatChangeView>> ListSeatChanges(const std::string& account_id, TimePoint start,
                                                               TimePoint end,
                                                               const std::optional<SeatChangePosition>& after,
                                                               int limit, bool include_non_billable,
                                                               uint64_t& sequence) {
    (void)account_id, (void)start, (void)end, (void)after, (void)limit, (void)include_non_billable, (void)sequence;
    return absl::UnimplementedError("no seat ledger in this store");
  }
  // Billable seats of `account_id` over [start, end), start < end. OUT_OF_RANGE for a start
  // before the horizon.
  virtual absl::StatusOr<SeatUsageView> GetSeatUsage(const std::string& account_id, TimePoint start,
                                                     TimePoint end) {
    (void)account_id, (void)start, (void)end;
    return absl::UnimplementedError("no seat ledger in this store");
  }
  // Drops the store's connection, which may be stale (its server restarted): the next call
  // opens a new one. (Default: nothing to drop.)
  virtual void Reconnect() {}
  // The change log's head (change_log_head.last_sequence): every read started after this
  // returns reflects at least it. On a read replica, whether it has replayed a caller's
  // min_sequence (store/replica_router.h). (Default: UNIMPLEMENTED, for fakes.)
  virtual absl::StatusOr<uint64_t> ChangeLogHead() { return absl::UnimplementedError("no change log head in this store"); }
  // Change-log rows with sequence > `after`, in order, at most `limit` (the same contract as
  // ChangeFeed::ReadChanges: sequences commit in order, so no committed row is ever skipped).
  virtual absl::StatusOr<std::vector<ChangeRow>> ReadChanges(uint64_t after, int limit) = 0;
  // Every pull source's status by source and scope (AdminService.ListSources).
  virtual absl::StatusOr<std::vector<SourceStatus>> ListSources() = 0;
  // Dead letters matching `filter` after `after` (nullopt: from the first), oldest letter first,
  // with their raw bodies if `with_bodies`. (Defaults: UNIMPLEMENTED, for fakes that serve
  // other calls.)
  virtual absl::StatusOr<Page<DeadLetterView>> ListDeadLetters(const DeadLetterFilter& filter,
                                                               const std::optional<EventPosition>& after, int limit,
                                                               bool with_bodies) {
    (void)filter, (void)after, (void)limit, (void)with_bodies;
    return absl::UnimplementedError("no dead letters in this store");
  }
  // The dead letters of these event ids (of `provider`, or of any if ""), with raw bodies, in
  // list order; ids without a letter are left out.
  virtual absl::StatusOr<std::vector<DeadLetterView>> GetDeadLetters(const std::string& provider,
                                                                     const std::vector<std::string>& event_ids) {
    (void)provider, (void)event_ids;
    return absl::UnimplementedError("no dead letters in this store");
  }
  // Stored events that named `user_id`, by fact time (then provider, event id), after `after`.
  virtual absl::StatusOr<Page<UserEventView>> ListUserEvents(const std::string& user_id,
                                                             const std::optional<EventPosition>& after, int limit) {
    (void)user_id, (void)after, (void)limit;
    return absl::UnimplementedError("no event history in this store");
  }
};

}  // namespace mm::store
