#pragma once
// The mirror's state of record: users, accounts and memberships, each fact remembering the
// (fact time, event id) that set it so that newer-wins can be decided for any later event.
//
// Every field of a record is a function of the events that *won* for that fact, never of the
// order they arrived in; that is what makes the mirror converge (see convergence.h).

#include <compare>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "common/time.h"
#include "domain/events.h"

namespace mm::domain {

// Identifies the event that set a fact. Ordered by fact time, then event id (byte order).
struct Version {
  TimePoint fact_time{};
  std::string event_id;

  friend bool operator==(const Version&, const Version&) = default;
  friend std::strong_ordering operator<=>(const Version& a, const Version& b) {
    if (auto c = a.fact_time <=> b.fact_time; c != 0) return c;
    return a.event_id.compare(b.event_id) <=> 0;
  }
};

// True when `candidate` should replace the fact set by `current` (absent = never set).
inline bool IsNewer(const Version& candidate, const std::optional<Version>& current) {
  return !current.has_value() || candidate > *current;
}

// A single attribute that converges on its own: the value from the newest event carrying it.
template <typename T>
struct Versioned {
  std::optional<T> value;
  std::optional<Version> version;

  friend bool operator==(const Versioned&, const Versioned&) = default;
  // Offers a value from an event; keeps it if that event is newer. Returns true if accepted.
  bool Offer(const T& v, const Version& at) {
    if (!IsNewer(at, version)) return false;
    value = v;
    version = at;
    return true;
  }
};

enum class UserState { kActive, kDisabled, kDeleted };
std::string_view UserStateName(UserState state);  // "active" | "disabled" | "deleted"
std::optional<UserState> ParseUserState(std::string_view name);

struct UserRecord {
  std::string user_id;
  UserState state = UserState::kActive;
  // The event that set `state`, with its type and provider (provenance). Absent until the first
  // disable/enable/delete: a user only ever created or named is active by default.
  std::optional<Version> state_version;
  std::string state_event_type;
  std::optional<Provider> state_provider;
  std::optional<TimePoint> disabled_at;  // set while disabled: the winning disable's fact time
  std::optional<TimePoint> enabled_at;   // set while enabled by an enable event
  std::optional<TimePoint> deleted_at;   // set while deleted
  std::optional<std::string> disabled_reason;
  std::optional<std::string> disabled_by;
  // The latest disable time ever applied, stale or not. Never lowered (DESIGN §2 rule 4).
  std::optional<TimePoint> sessions_valid_after;

  Versioned<std::string> email;
  Versioned<std::string> name;

  friend bool operator==(const UserRecord&, const UserRecord&) = default;
};

struct AccountRecord {
  std::string account_id;
  Versioned<std::string> name;
  // The newest whole member list applied (kMembersReplaced), with its event's type and provider:
  // a membership older than it that the list did not name is removed, even one whose events
  // arrive after the list (convergence.cc).
  std::optional<Version> member_list_version;
  std::string member_list_event_type;
  std::optional<Provider> member_list_provider;

  friend bool operator==(const AccountRecord&, const AccountRecord&) = default;
};

struct MembershipRecord {
  std::string account_id;
  std::string user_id;
  // Presence and role form one fact, set by the newest add / role change / removal.
  bool present = false;
  std::string role;
  std::optional<Version> version;
  std::string last_event_type;
  std::optional<Provider> last_provider;
  std::optional<TimePoint> removed_at;  // set while removed (a tombstone)
  std::optional<std::string> removed_by;
  // How the member joined, from the newest MemberAdded: its own fact, so that a role change
  // arriving before the add still ends with the add's join details.
  std::optional<Version> join_version;
  std::optional<TimePoint> joined_at;
  std::optional<std::string> added_via;
  std::optional<std::string> added_by;

  friend bool operator==(const MembershipRecord&, const MembershipRecord&) = default;
};

using MembershipKey = std::pair<std::string, std::string>;  // (account_id, user_id)

// A set of records: the whole mirror (in-memory store, reference model) or the slice of it a
// batch touches (PostgreSQL store). Ordered maps so iteration and comparison are deterministic.
struct StateSet {
  std::map<std::string, UserRecord> users;
  std::map<std::string, AccountRecord> accounts;
  std::map<MembershipKey, MembershipRecord> memberships;

  friend bool operator==(const StateSet&, const StateSet&) = default;
};

}  // namespace mm::domain
