#include "domain/reconcile.h"

#include <array>

namespace mm::domain {
namespace {

constexpr std::array<std::string_view, 7> kDriftNames = {"member_added", "member_removed", "role_changed",
                                                          "user_added",   "user_disabled",  "user_enabled",
                                                          "user_deleted"};

Correction Make(DriftKind kind, const std::string& account_id, const std::string& user_id, TimePoint fact_time) {
  Correction c;
  c.kind = kind;
  c.event = CorrectionFact(kind, account_id, user_id, fact_time);
  c.key = std::string(DriftKindName(kind)).append(":");
  if (!account_id.empty()) c.key.append(account_id).append(":");
  c.key.append(user_id);
  return c;
}

}  // namespace

std::string_view DriftKindName(DriftKind kind) { return kDriftNames[static_cast<size_t>(kind)]; }

std::optional<DriftKind> ParseDriftKind(std::string_view name) {
  for (size_t i = 0; i < kDriftNames.size(); ++i) {
    if (kDriftNames[i] == name) return static_cast<DriftKind>(i);
  }
  return std::nullopt;
}

NormalizedEvent CorrectionFact(DriftKind kind, const std::string& account_id, const std::string& user_id,
                               TimePoint fact_time) {
  static constexpr std::array<EventKind, 7> kKinds = {
      EventKind::kMemberAdded,  EventKind::kMemberRemoved, EventKind::kMemberRoleChanged, EventKind::kUserCreated,
      EventKind::kUserDisabled, EventKind::kUserEnabled,   EventKind::kUserDeleted};
  NormalizedEvent n;
  n.kind = kKinds[static_cast<size_t>(kind)];
  n.user_id = user_id;
  n.account_id = account_id;
  n.fact_time = fact_time;
  if (kind == DriftKind::kMemberAdded) n.added_via = "reconcile";
  if (kind == DriftKind::kUserDisabled) n.reason = "reconcile";
  return n;
}

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
    Correction c = Make(missing ? DriftKind::kMemberAdded : DriftKind::kRoleChanged, account_id, m.user_id, listed_at);
    c.event.role = m.role;
    c.event.email = m.email;
    c.event.name = m.name;
    if (missing) c.event.joined_at = m.joined_at;
    out.push_back(std::move(c));
  }
  for (const auto& [user_id, role] : present) {
    if (listed.contains(user_id) || listed_unusable.contains(user_id)) continue;
    Correction c = Make(DriftKind::kMemberRemoved, account_id, user_id, listed_at);
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
      c = Make(u.disabled ? DriftKind::kUserDisabled : DriftKind::kUserAdded, "", u.user_id, fact_time);
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
      c = Make(u.disabled ? DriftKind::kUserDisabled : DriftKind::kUserEnabled, "", u.user_id, fact_time);
    }
    c->event.email = u.email;
    c->event.name = u.name;
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
    out.push_back(Make(DriftKind::kUserDeleted, "", user_id, listed_at));
  }
  return out;
}

}  // namespace mm::domain
