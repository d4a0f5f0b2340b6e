#include "domain/reconcile.h"

#include <array>

namespace mm::domain {
namespace {

constexpr std::array<std::string_view, 7> kDriftNames = {"member_added", "member_removed", "role_changed",
                                                          "user_added",   "user_disabled",  "user_enabled",
                                                          "user_deleted"};

Correction Make(DriftKind kind, EventKind event_kind, const std::string& account_id, const std::string& user_id,
                TimePoint fact_time) {
  Correction c;
  c.kind = kind;
  c.event.kind = event_kind;
  c.event.user_id = user_id;
  c.event.account_id = account_id;
  c.event.fact_time = fact_time;
  c.key = std::string(DriftKindName(kind)).append(":");
  if (!account_id.empty()) c.key.append(account_id).append(":");
  c.key.append(user_id);
  return c;
}

}  // namespace

std::string_view DriftKindName(DriftKind kind) { return kDriftNames[static_cast<size_t>(kind)]; }

std::vector<Correction> DiffMembers(const std::string& account_id, const std::vector<ListedMember>& listing,
                                    const std::set<std::string>& listed_unusable,
                                    const std::map<std::string, std::string>& present, TimePoint listed_at) {
  std::vector<Correction> out;
  std::set<std::string> listed;
  for (const ListedMember& m : listing) {
    if (!listed.insert(m.user_id).second) continue;
    auto it = present.find(m.user_id);
    if (it != present.end() && it->second == m.role) continue;
    const bool missing = it == present.end();
    Correction c = Make(missing ? DriftKind::kMemberAdded : DriftKind::kRoleChanged,
                        missing ? EventKind::kMemberAdded : EventKind::kMemberRoleChanged, account_id, m.user_id,
                        listed_at);
    c.event.role = m.role;
    c.event.email = m.email;
    c.event.name = m.name;
    if (missing) {
      c.event.joined_at = m.joined_at;
      c.event.added_via = "reconcile";
    }
    out.push_back(std::move(c));
  }
  for (const auto& [user_id, role] : present) {
    if (listed.contains(user_id) || listed_unusable.contains(user_id)) continue;
    Correction c = Make(DriftKind::kMemberRemoved, EventKind::kMemberRemoved, account_id, user_id, listed_at);
    c.event.role = role;
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<Correction> DiffUsers(const std::vector<ListedUser>& listing, const std::map<std::string, MirrorUser>& mirror,
                                  const UserDiffOptions& options) {
  std::vector<Correction> out;
  std::set<std::string> seen;
  for (const ListedUser& u : listing) {
    if (!seen.insert(u.user_id).second) continue;
    const bool timed = options.use_changed_at && u.changed_at.has_value();
    const TimePoint fact_time = timed ? *u.changed_at : options.listed_at;
    auto it = mirror.find(u.user_id);
    std::optional<Correction> c;
    if (it == mirror.end()) {
      c = u.disabled ? Make(DriftKind::kUserDisabled, EventKind::kUserDisabled, "", u.user_id, fact_time)
                     : Make(DriftKind::kUserAdded, EventKind::kUserCreated, "", u.user_id, fact_time);
    } else {
      const MirrorUser& m = it->second;
      const bool mirror_disabled = m.state != UserState::kActive;
      if (u.disabled == (m.state == UserState::kDisabled) && (u.disabled || !mirror_disabled)) continue;
      if (timed) {
        // The provider says when: correct only what is newer than the mirror's state.
        if (m.state_changed_at && *m.state_changed_at >= fact_time) continue;
      } else if (m.state_provider == Provider::kOperator) {
        continue;  // an operator's override is not undone by a list that cannot say when
      }
      c = u.disabled ? Make(DriftKind::kUserDisabled, EventKind::kUserDisabled, "", u.user_id, fact_time)
                     : Make(DriftKind::kUserEnabled, EventKind::kUserEnabled, "", u.user_id, fact_time);
    }
    c->event.email = u.email;
    c->event.name = u.name;
    if (c->event.kind == EventKind::kUserDisabled) c->event.reason = "reconcile";
    out.push_back(std::move(*c));
  }
  return out;
}

std::vector<Correction> DiffDeletedUsers(const std::vector<std::string>& previously_listed,
                                         const std::set<std::string>& listed_now,
                                         const std::map<std::string, MirrorUser>& mirror, TimePoint listed_at) {
  std::vector<Correction> out;
  for (const std::string& user_id : previously_listed) {
    if (listed_now.contains(user_id)) continue;
    auto it = mirror.find(user_id);
    if (it == mirror.end() || it->second.state == UserState::kDeleted) continue;
    out.push_back(Make(DriftKind::kUserDeleted, EventKind::kUserDeleted, "", user_id, listed_at));
  }
  return out;
}

}  // namespace mm::domain
