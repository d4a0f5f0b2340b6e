#pragma once
// Builders for normalized provider events, shared by the unit tests. Each builder returns a
// ProviderEvent holding one NormalizedEvent; tests tweak `events[0]` for anything unusual.
// Times are seconds after a fixed base (At(3) is 3 s after it), so tests read as timelines.

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include "common/time.h"
#include "domain/convergence.h"
#include "domain/events.h"
#include "domain/records.h"
#include "domain/records_json.h"

namespace mm::testutil {

using domain::EventKind;
using domain::NormalizedEvent;
using domain::Provider;
using domain::ProviderEvent;

inline constexpr int64_t kBaseUnixSeconds = 1780000000;  // 2026-05-28T20:26:40Z

inline TimePoint At(int64_t seconds) { return FromUnixSeconds(kBaseUnixSeconds + seconds); }

// Wraps one normalized event into a provider event with id `event_id`.
inline ProviderEvent Wrap(std::string event_id, NormalizedEvent e,
                          Provider provider = Provider::kHuudis) {
  ProviderEvent pe;
  pe.provider = provider;
  pe.event_id = std::move(event_id);
  pe.event_type = "test." + std::string(domain::EventKindName(e.kind));
  pe.fact_time = e.fact_time;
  pe.received_at = e.fact_time;
  pe.raw_body = "{}";
  pe.events.push_back(std::move(e));
  return pe;
}

inline NormalizedEvent UserFact(EventKind kind, std::string user_id, TimePoint t) {
  NormalizedEvent e;
  e.kind = kind;
  e.user_id = std::move(user_id);
  e.fact_time = t;
  return e;
}

inline NormalizedEvent MemberFact(EventKind kind, std::string account_id, std::string user_id,
                                  TimePoint t) {
  NormalizedEvent e = UserFact(kind, std::move(user_id), t);
  e.account_id = std::move(account_id);
  return e;
}

inline ProviderEvent UserCreated(std::string id, std::string user, TimePoint t,
                                 std::optional<std::string> email = std::nullopt,
                                 std::optional<std::string> name = std::nullopt) {
  NormalizedEvent e = UserFact(EventKind::kUserCreated, std::move(user), t);
  e.email = std::move(email);
  e.name = std::move(name);
  return Wrap(std::move(id), std::move(e));
}

inline ProviderEvent UserUpdated(std::string id, std::string user, TimePoint t,
                                 std::optional<std::string> email = std::nullopt,
                                 std::optional<std::string> name = std::nullopt) {
  ProviderEvent pe =
      UserCreated(std::move(id), std::move(user), t, std::move(email), std::move(name));
  pe.events[0].kind = EventKind::kUserUpdated;
  pe.event_type = "test.UserUpdated";
  return pe;
}

inline ProviderEvent UserDisabled(std::string id, std::string user, TimePoint t,
                                  std::optional<std::string> reason = std::nullopt,
                                  std::optional<std::string> by = std::nullopt) {
  NormalizedEvent e = UserFact(EventKind::kUserDisabled, std::move(user), t);
  e.reason = std::move(reason);
  e.actor = std::move(by);
  return Wrap(std::move(id), std::move(e));
}

inline ProviderEvent UserEnabled(std::string id, std::string user, TimePoint t,
                                 std::optional<std::string> by = std::nullopt) {
  NormalizedEvent e = UserFact(EventKind::kUserEnabled, std::move(user), t);
  e.actor = std::move(by);
  return Wrap(std::move(id), std::move(e));
}

inline ProviderEvent UserDeleted(std::string id, std::string user, TimePoint t) {
  return Wrap(std::move(id), UserFact(EventKind::kUserDeleted, std::move(user), t));
}

inline ProviderEvent AccountCreated(std::string id, std::string account, TimePoint t,
                                    std::optional<std::string> name = std::nullopt) {
  NormalizedEvent e;
  e.kind = EventKind::kAccountCreated;
  e.account_id = std::move(account);
  e.fact_time = t;
  e.account_name = std::move(name);
  return Wrap(std::move(id), std::move(e));
}

inline ProviderEvent MemberAdded(std::string id, std::string account, std::string user, TimePoint t,
                                 std::optional<std::string> role = "member") {
  NormalizedEvent e = MemberFact(EventKind::kMemberAdded, std::move(account), std::move(user), t);
  e.role = std::move(role);
  return Wrap(std::move(id), std::move(e));
}

inline ProviderEvent MemberRoleChanged(std::string id, std::string account, std::string user,
                                       TimePoint t, std::string role) {
  NormalizedEvent e =
      MemberFact(EventKind::kMemberRoleChanged, std::move(account), std::move(user), t);
  e.role = std::move(role);
  return Wrap(std::move(id), std::move(e));
}

inline ProviderEvent MemberRemoved(std::string id, std::string account, std::string user,
                                   TimePoint t, std::optional<std::string> by = std::nullopt) {
  NormalizedEvent e = MemberFact(EventKind::kMemberRemoved, std::move(account), std::move(user), t);
  e.actor = std::move(by);
  return Wrap(std::move(id), std::move(e));
}

// A whole member list of `account` at `t` naming `users` (as FusionAuth's group.member.update
// maps): an add of each, then the list.
inline ProviderEvent MemberList(std::string id, std::string account, std::initializer_list<std::string> users,
                                TimePoint t) {
  ProviderEvent pe = Wrap(std::move(id), MemberFact(EventKind::kMembersReplaced, account, "", t),
                          Provider::kFusionAuth);
  pe.event_type = "group.member.update";
  for (const std::string& user : users) {
    NormalizedEvent add = MemberFact(EventKind::kMemberAdded, account, user, t);
    add.role = "member";
    pe.events.insert(pe.events.end() - 1, std::move(add));
  }
  return pe;
}

// Applies one provider event to `state` (the caller has already deduplicated).
inline domain::Outcome Apply(domain::StateSet& state, const ProviderEvent& pe) {
  domain::TouchedKeys changed;
  return domain::ApplyProviderEvent(pe, state, changed);
}

}  // namespace mm::testutil

// Readable failure output for records: gtest finds these through ADL.
namespace mm::domain {
inline void PrintTo(const UserRecord& r, std::ostream* os) { *os << ToJson(r); }
inline void PrintTo(const AccountRecord& r, std::ostream* os) { *os << ToJson(r); }
inline void PrintTo(const MembershipRecord& r, std::ostream* os) { *os << ToJson(r); }
inline void PrintTo(const StateSet& s, std::ostream* os) {
  for (const auto& [id, u] : s.users) *os << "\n  " << ToJson(u);
  for (const auto& [id, a] : s.accounts) *os << "\n  " << ToJson(a);
  for (const auto& [key, m] : s.memberships) *os << "\n  " << ToJson(m);
}
}  // namespace mm::domain
