#pragma once
// PostgreSQL implementation of ReadStore: one connection, prepared statements, one statement
// (so one snapshot) per call. Owned by one database worker thread.

#include <memory>
#include <string>

#include "store/read_store.h"

namespace mm::store {

class PgConnection;

class PgReadStore final : public ReadStore {
 public:
  explicit PgReadStore(std::string database_url);
  ~PgReadStore() override;

  absl::StatusOr<std::optional<UserView>> GetUser(const std::string& user_id) override;
  absl::StatusOr<std::optional<MembershipView>> GetMembership(const std::string& account_id,
                                                              const std::string& user_id) override;
  absl::StatusOr<Page<MembershipView>> ListMembers(const std::string& account_id,
                                                   const std::string& role,
                                                   const std::string& after_user_id, int limit) override;
  absl::StatusOr<Page<MembershipView>> ListUserMemberships(const std::string& user_id,
                                                           const std::string& after_account_id,
                                                           int limit) override;
  absl::StatusOr<SeatCountView> GetSeatCount(const std::string& account_id) override;
  absl::StatusOr<Page<SeatCountView>> ListSeatCounts(const std::string& after_account_id,
                                                     int limit) override;
  absl::StatusOr<SeatCountView> GetSeatCountAt(const std::string& account_id, TimePoint as_of) override;
  absl::StatusOr<Page<SeatChangeView>> ListSeatChanges(const std::string& account_id, TimePoint start, TimePoint end,
                                                       const std::optional<SeatChangePosition>& after, int limit,
                                                       bool include_non_billable, uint64_t& sequence) override;
  absl::StatusOr<SeatUsageView> GetSeatUsage(const std::string& account_id, TimePoint start, TimePoint end) override;
  void Reconnect() override;
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
  template <typename Fn>
  absl::Status Run(Fn&& fn);
  std::unique_ptr<PgConnection> conn_;
};

}  // namespace mm::store
