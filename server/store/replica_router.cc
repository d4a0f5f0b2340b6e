#include "store/replica_router.h"

#include <algorithm>
#include <thread>

#include "common/log.h"

namespace mm::store {

const char* ReadTargetName(ReadTarget target) { return target == ReadTarget::kReplica ? "replica" : "primary"; }

const char* FallbackName(Fallback reason) {
  switch (reason) {
    case Fallback::kBehind:
      return "behind";
    case Fallback::kUnavailable:
      return "unavailable";
    case Fallback::kError:
      return "error";
  }
  return "error";
}

ReplicaRouter::ReplicaRouter(ReadStore& primary, std::unique_ptr<ReadStore> replica, ReplicaHealth* health,
                             Options options, Callbacks callbacks)
    : primary_(primary),
      replica_(std::move(replica)),
      health_(health),
      options_(options),
      callbacks_(std::move(callbacks)) {}

void ReplicaRouter::Answered(ReadTarget target) const {
  if (callbacks_.answered) callbacks_.answered(target);
}

template <typename Read>
auto ReplicaRouter::Route(const Read& read) -> decltype(read(std::declval<ReadStore&>())) {
  if (replica_ == nullptr) {
    Answered(ReadTarget::kPrimary);
    return read(primary_);
  }
  std::optional<Fallback> why = ReplicaReady();
  if (!why) {
    auto answer = read(*replica_);
    if (answer.ok() || !(why = ReplicaFailed(answer.status()))) {
      Answered(ReadTarget::kReplica);
      return answer;
    }
  }
  if (callbacks_.fell_back) callbacks_.fell_back(*why);
  Answered(ReadTarget::kPrimary);
  return read(primary_);
}

std::optional<Fallback> ReplicaRouter::ReplicaReady() {
  if (!health_->up()) return Fallback::kUnavailable;
  if (const uint64_t recoveries = health_->recoveries(); recoveries != recoveries_seen_) {
    recoveries_seen_ = recoveries;
    replica_->Reconnect();
  }
  const uint64_t wanted = freshness_.min_sequence;
  if (wanted == 0) return std::nullopt;
  // Never past half of what is left of the call (the primary answers in the other half), nor
  // past max_wait. gRPC deadlines are system_clock; the wait is measured on steady_clock.
  const auto left = freshness_.deadline - std::chrono::system_clock::now();
  const auto wait = std::max(std::chrono::steady_clock::duration::zero(),
                             std::min<std::chrono::steady_clock::duration>(options_.max_wait, left / 2));
  const auto until = std::chrono::steady_clock::now() + wait;
  while (true) {
    absl::StatusOr<uint64_t> head = replica_->ChangeLogHead();
    if (!head.ok()) return ReplicaFailed(head.status()).value_or(Fallback::kError);
    if (*head >= wanted) return std::nullopt;
    if (std::chrono::steady_clock::now() + options_.poll_interval > until) return Fallback::kBehind;
    std::this_thread::sleep_for(options_.poll_interval);
  }
}

std::optional<Fallback> ReplicaRouter::ReplicaFailed(const absl::Status& status) {
  Fallback why;
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      why = Fallback::kUnavailable;
      health_->Mark(false);  // until the monitor reaches it again
      break;
    case absl::StatusCode::kAborted:   // e.g. canceled on conflict with recovery (40001)
    case absl::StatusCode::kInternal:  // e.g. a statement the replica cannot run
      why = Fallback::kError;
      break;
    default:
      return std::nullopt;  // the answer itself: the primary would give it too
  }
  static log::RateLimit limit(5, std::chrono::seconds(60));
  if (uint64_t suppressed = 0; limit.Allow(suppressed)) {
    log::Warn("read replica failed; the primary answers",
              {{"reason", FallbackName(why)},
               {"error", std::string(status.message())},
               {"suppressed", std::to_string(suppressed)}});
  }
  return why;
}

absl::StatusOr<std::optional<UserView>> ReplicaRouter::GetUser(const std::string& user_id) {
  return Route([&](ReadStore& s) { return s.GetUser(user_id); });
}

absl::StatusOr<std::optional<MembershipView>> ReplicaRouter::GetMembership(const std::string& account_id,
                                                                           const std::string& user_id) {
  return Route([&](ReadStore& s) { return s.GetMembership(account_id, user_id); });
}

absl::StatusOr<Page<MembershipView>> ReplicaRouter::ListMembers(const std::string& account_id,
                                                                const std::string& role,
                                                                const std::string& after_user_id, int limit) {
  return Route([&](ReadStore& s) { return s.ListMembers(account_id, role, after_user_id, limit); });
}

absl::StatusOr<Page<MembershipView>> ReplicaRouter::ListUserMemberships(const std::string& user_id,
                                                                        const std::string& after_account_id,
                                                                        int limit) {
  return Route([&](ReadStore& s) { return s.ListUserMemberships(user_id, after_account_id, limit); });
}

absl::StatusOr<SeatCountView> ReplicaRouter::GetSeatCount(const std::string& account_id) {
  return Route([&](ReadStore& s) { return s.GetSeatCount(account_id); });
}

absl::StatusOr<Page<SeatCountView>> ReplicaRouter::ListSeatCounts(const std::string& after_account_id, int limit) {
  return Route([&](ReadStore& s) { return s.ListSeatCounts(after_account_id, limit); });
}

absl::StatusOr<SeatCountView> ReplicaRouter::GetSeatCountAt(const std::string& account_id, TimePoint as_of) {
  return Route([&](ReadStore& s) { return s.GetSeatCountAt(account_id, as_of); });
}

absl::StatusOr<Page<SeatChangeView>> ReplicaRouter::ListSeatChanges(const std::string& account_id, TimePoint start,
                                                                    TimePoint end,
                                                                    const std::optional<SeatChangePosition>& after,
                                                                    int limit, bool include_non_billable,
                                                                    uint64_t& sequence) {
  return Route([&](ReadStore& s) {
    return s.ListSeatChanges(account_id, start, end, after, limit, include_non_billable, sequence);
  });
}

absl::StatusOr<SeatUsageView> ReplicaRouter::GetSeatUsage(const std::string& account_id, TimePoint start,
                                                          TimePoint end) {
  return Route([&](ReadStore& s) { return s.GetSeatUsage(account_id, start, end); });
}

absl::StatusOr<uint64_t> ReplicaRouter::ChangeLogHead() {
  return Route([](ReadStore& s) { return s.ChangeLogHead(); });
}

absl::StatusOr<std::vector<ChangeRow>> ReplicaRouter::ReadChanges(uint64_t after, int limit) {
  return primary_.ReadChanges(after, limit);
}

absl::StatusOr<std::vector<SourceStatus>> ReplicaRouter::ListSources() {
  return Route([](ReadStore& s) { return s.ListSources(); });
}

absl::StatusOr<Page<DeadLetterView>> ReplicaRouter::ListDeadLetters(const DeadLetterFilter& filter,
                                                                    const std::optional<EventPosition>& after,
                                                                    int limit, bool with_bodies) {
  return Route([&](ReadStore& s) { return s.ListDeadLetters(filter, after, limit, with_bodies); });
}

absl::StatusOr<std::vector<DeadLetterView>> ReplicaRouter::GetDeadLetters(const std::string& provider,
                                                                          const std::vector<std::string>& event_ids) {
  return primary_.GetDeadLetters(provider, event_ids);
}

absl::StatusOr<Page<UserEventView>> ReplicaRouter::ListUserEvents(const std::string& user_id,
                                                                  const std::optional<EventPosition>& after,
                                                                  int limit) {
  return Route([&](ReadStore& s) { return s.ListUserEvents(user_id, after, limit); });
}

}  // namespace mm::store
