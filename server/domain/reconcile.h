#pragma once
// Reconciling a provider's complete listing with the mirror (DESIGN §3b): the corrections that
// bring the mirror to what the provider lists, as normalized events for the usual writer and
// convergence rules. Pure functions; the pull sources read the listings and the mirror.
//
// A listing says what is true when it was taken but not since when, so a correction's fact
// time is the listing's start (`listed_at`): anything newer the mirror already has wins by the
// convergence rules. Where the provider does say when a user last changed (MonoCloud's
// `last_updated`), that time is the fact time instead, and a correction is made only when it
// is newer than what the mirror holds.
//
// A state an operator set by hand (provider "operator") is not corrected by a listing that
// carries no change time: the provider's list cannot tell whether its state changed after the
// operator acted, and an incident override must not be undone by the next reconcile run. A
// provider's own later event (webhook, audit log, a listing with a newer change time) still
// wins over it by the convergence rules.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.h"
#include "domain/events.h"
#include "domain/records.h"

namespace mm::domain {

enum class DriftKind {
  kMemberAdded,    // listed, not a present member in the mirror
  kMemberRemoved,  // a present member in the mirror, not listed
  kRoleChanged,    // listed with another role
  kUserAdded,      // listed (not disabled), unknown to the mirror: it becomes known
  kUserDisabled,   // listed as disabled, not disabled in the mirror (or unknown to it)
  kUserEnabled,    // listed as not disabled, disabled (or deleted) in the mirror
  kUserDeleted,    // listed by the previous complete listing, not by this one
};
// "member_added", "member_removed", "role_changed", "user_added", "user_disabled",
// "user_enabled", "user_deleted" (metric labels and event types).
std::string_view DriftKindName(DriftKind kind);
std::optional<DriftKind> ParseDriftKind(std::string_view name);
// The fact a correction of `kind` makes (member_added: kMemberAdded with added_via "reconcile";
// user_added: kUserCreated; user_disabled: kUserDisabled with reason "reconcile"; the others
// their namesake), before the listing's details (role, email, name, join time) are added.
NormalizedEvent CorrectionFact(DriftKind kind, const std::string& account_id, const std::string& user_id,
                               TimePoint fact_time);

// A member as a provider lists them in one account.
struct ListedMember {
  std::string user_id;
  std::string role;
  std::optional<std::string> email;
  std::optional<std::string> name;
  std::optional<TimePoint> joined_at;
};

// A user as a provider lists them.
struct ListedUser {
  std::string user_id;
  bool disabled = false;
  std::optional<std::string> email;
  std::optional<std::string> name;
  // When the provider says the user last changed (a listing that has it); see the top.
  std::optional<TimePoint> changed_at;
};

// A user as the mirror holds them.
struct MirrorUser {
  UserState state = UserState::kActive;
  std::optional<Provider> state_provider;  // who set the state; none if never set
  std::optional<TimePoint> state_changed_at;
};

// One correction: the normalized event that applies it, and a key unique within a run
// ("<kind>:<account>:<user>", without the account for user corrections).
struct Correction {
  DriftKind kind = DriftKind::kMemberAdded;
  NormalizedEvent event;
  std::string key;
};

// `listing`: every member of `account_id` (a complete listing); `present`: the mirror's
// present members of it, user id -> role. A listed member missing or with another role is
// added or changed (with the listing's email, name and join time), a present member not listed
// is removed. Listed user ids that repeat count once (the first). `listed_unusable`: members
// the listing named but whose entry could not be used (say, no role): neither corrected nor
// removed.
std::vector<Correction> DiffMembers(const std::string& account_id, const std::vector<ListedMember>& listing,
                                    const std::set<std::string>& listed_unusable,
                                    const std::map<std::string, std::string>& present, TimePoint listed_at);

struct UserDiffOptions {
  TimePoint listed_at{};
  // Use each listed user's changed_at as the fact time (see the top); users without one fall
  // back to listed_at.
  bool use_changed_at = false;
};

// `listing`: users as the provider lists them; `mirror`: those of them the mirror knows. An
// unknown user becomes known (UserCreated, or UserDisabled if listed as disabled); a known
// user whose disabled flag differs is disabled or enabled (a deleted user listed as enabled is
// enabled again).
std::vector<Correction> DiffUsers(const std::vector<ListedUser>& listing, const std::map<std::string, MirrorUser>& mirror,
                                  const UserDiffOptions& options);

// Users the previous complete listing held (`previously_listed`) that this one (`listed_now`)
// does not: deleted at `listed_at`, unless the mirror does not know them or has them deleted.
std::vector<Correction> DiffDeletedUsers(const std::vector<std::string>& previously_listed,
                                         const std::set<std::string>& listed_now,
                                         const std::map<std::string, MirrorUser>& mirror, TimePoint listed_at);

}  // namespace mm::domain
