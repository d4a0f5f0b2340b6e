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
  // Change-log rows with sequence > `after`, in order, at most `limit` (the same contract as
  // ChangeFeed::ReadChanges: sequences commit in order, so no committed row is ever skipped).
  virtual absl::StatusOr<std::vector<ChangeRow>> ReadChanges(uint64_t after, int limit) = 0;
  // Every pull source's status by source and scope (AdminService.ListSources).
  virtual absl::StatusOr<std::vector<SourceStatus>> ListSources() = 0;
};

}  // namespace mm::store
