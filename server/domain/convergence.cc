#include "domain/convergence.h"

#include <algorithm>
#include <cassert>

namespace mm::domain {
namespace {

bool IsUserKind(EventKind kind) {
  switch (kind) {
    case EventKind::kUserCreated:
    case EventKind::kUserUpdated:
    case EventKind::kUserDisabled:
    case EventKind::kUserEnabled:
    case EventKind::kUserDeleted:
      return true;
    default:
      return false;
  }
}

bool IsMemberKind(EventKind kind) {
  return kind == EventKind::kMemberAdded || kind == EventKind::kMemberRoleChanged ||
         kind == EventKind::kMemberRemoved;
}

// Gets or creates a user; any event that names a user makes it known (DESIGN §2).
// Returns true if the record was created.
bool EnsureUser(StateSet& state, const std::string& user_id, UserRecord*& out) {
  auto [it, inserted] = state.users.try_emplace(user_id);
  if (inserted) it->second.user_id = user_id;
  out = &it->second;
  return inserted;
}

bool EnsureAccount(StateSet& state, const std::string& account_id, AccountRecord*& out) {
  auto [it, inserted] = state.accounts.try_emplace(account_id);
  if (inserted) it->second.account_id = account_id;
  out = &it->second;
  return inserted;
}

// Offers the profile fields an event carries. Returns true if any was accepted.
bool OfferProfile(UserRecord& user, const NormalizedEvent& e, const Version& v) {
  bool accepted = false;
  if (e.email) accepted |= user.email.Offer(*e.email, v);
  if (e.name) accepted |= user.name.Offer(*e.name, v);
  return accepted;
}

// Applies a disable/enable/delete. Returns true if it won the state comparison.
bool ApplyUserState(UserRecord& user, const ProviderEvent& pe, const NormalizedEvent& e,
                    const Version& v) {
  if (e.kind == EventKind::kUserDisabled) {
    // Sessions stay revoked: the latest disable ever seen, even a stale one, raises the bar.
    if (!user.sessions_valid_after || e.fact_time > *user.sessions_valid_after) {
      user.sessions_valid_after = e.fact_time;
    }
  }
  if (!IsNewer(v, user.state_version)) return false;
  user.state_version = v;
  user.state_event_type = pe.event_type;
  user.state_provider = pe.provider;
  user.disabled_at.reset();
  user.enabled_at.reset();
  user.deleted_at.reset();
  user.disabled_reason.reset();
  user.disabled_by.reset();
  switch (e.kind) {
    case EventKind::kUserDisabled:
      user.state = UserState::kDisabled;
      user.disabled_at = e.fact_time;
      user.disabled_reason = e.reason;
      user.disabled_by = e.actor;
      break;
    case EventKind::kUserEnabled:
      user.state = UserState::kActive;
      user.enabled_at = e.fact_time;
      break;
    case EventKind::kUserDeleted:
      user.state = UserState::kDeleted;
      user.deleted_at = e.fact_time;
      break;
    default:
      assert(false && "not a user state event");
  }
  return true;
}

bool ApplyMembership(MembershipRecord& m, const ProviderEvent& pe, const NormalizedEvent& e,
                     const Version& v) {
  if (e.kind == EventKind::kMemberAdded && IsNewer(v, m.join_version)) {
    // Join details are their own fact (the newest add), independent of presence.
    m.join_version = v;
    m.joined_at = e.joined_at.value_or(e.fact_time);
    m.added_via = e.added_via;
    m.added_by = e.actor;
  }
  if (!IsNewer(v, m.version)) return false;
  m.version = v;
  m.last_event_type = pe.event_type;
  m.last_provider = pe.provider;
  switch (e.kind) {
    case EventKind::kMemberAdded:
    case EventKind::kMemberRoleChanged:  // a role change implies presence
      m.present = true;
      m.role = e.role.value_or("member");
      m.removed_at.reset();
      m.removed_by.reset();
      break;
    case EventKind::kMemberRemoved:
      // Everything on a tombstone comes from the removal itself, never from what came before,
      // so the record does not depend on arrival order.
      m.present = false;
      m.role = e.role.value_or("");
      m.removed_at = e.fact_time;
      m.removed_by = e.actor;
      break;
    default:
      assert(false && "not a membership event");
  }
  return true;
}

// The tombstone a member list at `v` (made by an event of `event_type` from `provider`) leaves
// on a membership it did not name. Like a removal's, everything on it comes from the list.
void RemoveByList(MembershipRecord& m, const Version& v, const std::string& event_type,
                  std::optional<Provider> provider) {
  m.present = false;
  m.role.clear();
  m.version = v;
  m.last_event_type = event_type;
  m.last_provider = provider;
  m.removed_at = v.fact_time;
  m.removed_by.reset();
}

// Applies a whole member list to `account`: every membership of it older than `v` is removed.
// Returns true if it changed anything (the list is newer than the account's, or removed one).
bool ApplyMemberList(StateSet& state, AccountRecord& account, const ProviderEvent& pe, const Version& v,
                     TouchedKeys& changed) {
  bool won = false;
  if (IsNewer(v, account.member_list_version)) {
    account.member_list_version = v;
    account.member_list_event_type = pe.event_type;
    account.member_list_provider = pe.provider;
    won = true;
  }
  for (auto it = state.memberships.lower_bound({account.account_id, std::string()});
       it != state.memberships.end() && it->first.first == account.account_id; ++it) {
    MembershipRecord& m = it->second;
    if (!IsNewer(v, m.version)) continue;
    RemoveByList(m, v, pe.event_type, pe.provider);
    changed.memberships.insert(it->first);
    won = true;
  }
  return won;
}

// The fact `e` (at version `v`) adds to seat history, if it is one (seat_history.h).
void AddSeatFact(const NormalizedEvent& e, const Version& v, int ordinal, std::vector<SeatFact>& out) {
  SeatFact f;
  f.version = v;
  f.ordinal = ordinal;
  switch (e.kind) {
    case EventKind::kUserDisabled:
    case EventKind::kUserEnabled:
    case EventKind::kUserDeleted:
      if (e.user_id.empty()) return;  // applies nothing (ApplyProviderEvent)
      f.kind = SeatFactKind::kUserState;
      f.user_id = e.user_id;
      f.on = e.kind == EventKind::kUserEnabled;
      break;
    case EventKind::kMemberAdded:
    case EventKind::kMemberRoleChanged:
      f.account_id = e.account_id;
      f.user_id = e.user_id;
      f.on = true;
      f.role = e.role.value_or("member");  // as ApplyMembership
      break;
    case EventKind::kMemberRemoved:
      f.account_id = e.account_id;
      f.user_id = e.user_id;
      break;
    case EventKind::kMembersReplaced:
      f.kind = SeatFactKind::kMemberList;
      f.account_id = e.account_id;
      break;
    default:
      return;
  }
  out.push_back(std::move(f));
}

}  // namespace

std::optional<TimePoint> LiftedOperatorFactTime(const ProviderEvent& pe, const NormalizedEvent& e,
                                                const UserRecord* current) {
  if (pe.provider != Provider::kOperator || (e.kind != EventKind::kUserDisabled && e.kind != EventKind::kUserEnabled)) {
    return std::nullopt;
  }
  if (current == nullptr || !current->state_version || current->state_version->fact_time < e.fact_time) {
    return std::nullopt;
  }
  return current->state_version->fact_time + std::chrono::microseconds(1);
}

void TouchedKeys::Merge(const TouchedKeys& other) {
  users.insert(other.users.begin(), other.users.end());
  accounts.insert(other.accounts.begin(), other.accounts.end());
  memberships.insert(other.memberships.begin(), other.memberships.end());
  member_lists.insert(other.member_lists.begin(), other.member_lists.end());
}

TouchedKeys KeysOf(const ProviderEvent& event) {
  TouchedKeys keys;
  for (const NormalizedEvent& e : event.events) {
    if (!e.user_id.empty()) keys.users.insert(e.user_id);
    if (!e.account_id.empty()) keys.accounts.insert(e.account_id);
    if (IsMemberKind(e.kind)) keys.memberships.emplace(e.account_id, e.user_id);
    if (e.kind == EventKind::kMembersReplaced) keys.member_lists.insert(e.account_id);
  }
  return keys;
}

Outcome ApplyProviderEvent(const ProviderEvent& pe, StateSet& state, TouchedKeys& changed,
                           std::vector<SeatFact>* seat_facts) {
  bool won_any = false;
  for (size_t ordinal = 0; ordinal < pe.events.size(); ++ordinal) {
    const NormalizedEvent& given = pe.events[ordinal];
    auto found = given.user_id.empty() ? state.users.end() : state.users.find(given.user_id);
    const UserRecord* current = found != state.users.end() ? &found->second : nullptr;
    std::optional<NormalizedEvent> lifted;  // a copy only for the rare operator action it changes
    if (std::optional<TimePoint> t = LiftedOperatorFactTime(pe, given, current)) {
      lifted = given;
      lifted->fact_time = *t;
    }
    const NormalizedEvent& e = lifted ? *lifted : given;
    const Version ev{.fact_time = e.fact_time, .event_id = pe.event_id};
    if (seat_facts != nullptr) AddSeatFact(e, ev, static_cast<int>(ordinal), *seat_facts);

    UserRecord* user = nullptr;
    UserRecord user_before;
    if (!e.user_id.empty()) {
      if (current != nullptr) user_before = *current;
      bool created = EnsureUser(state, e.user_id, user);
      bool profile_won = OfferProfile(*user, e, ev);
      if (e.kind == EventKind::kUserCreated || e.kind == EventKind::kUserUpdated) {
        won_any |= created || profile_won;
      } else if (IsUserKind(e.kind)) {
        won_any |= ApplyUserState(*user, pe, e, ev);
      }
      if (created || *user != user_before) changed.users.insert(e.user_id);
    }

    AccountRecord* account = nullptr;
    if (!e.account_id.empty()) {
      auto it = state.accounts.find(e.account_id);
      AccountRecord account_before = it != state.accounts.end() ? it->second : AccountRecord{};
      bool created = EnsureAccount(state, e.account_id, account);
      bool name_won = e.account_name && account->name.Offer(*e.account_name, ev);
      if (e.kind == EventKind::kAccountCreated) won_any |= created || name_won;
      if (e.kind == EventKind::kMembersReplaced) won_any |= ApplyMemberList(state, *account, pe, ev, changed);
      if (created || *account != account_before) changed.accounts.insert(e.account_id);
    }

    if (IsMemberKind(e.kind)) {
      MembershipKey key{e.account_id, e.user_id};
      auto [it, inserted] = state.memberships.try_emplace(key);
      MembershipRecord& m = it->second;
      if (inserted) {
        m.account_id = e.account_id;
        m.user_id = e.user_id;
      }
      MembershipRecord before = m;
      // A member list newer than this membership's state did not name it (convergence.h).
      if (account != nullptr && account->member_list_version && IsNewer(*account->member_list_version, m.version)) {
        RemoveByList(m, *account->member_list_version, account->member_list_event_type,
                     account->member_list_provider);
      }
      won_any |= ApplyMembership(m, pe, e, ev);
      if (inserted || m != before) changed.memberships.insert(key);
    }
  }
  return won_any ? Outcome::kApplied : Outcome::kStale;
}

Outcome Decide(const ProviderEvent& pe, bool duplicate, StateSet& state, TouchedKeys& changed,
               std::vector<SeatFact>* seat_facts) {
  if (duplicate) return Outcome::kDuplicate;
  if (pe.dead_letter_reason) return Outcome::kDeadLettered;
  if (pe.ignored) return Outcome::kIgnored;
  return ApplyProviderEvent(pe, state, changed, seat_facts);
}

}  // namespace mm::domain
