#pragma once
// The seat ledger's rules (DESIGN §4a, docs/design.md §4b): seat history keyed by fact time.
//
// A member holds a billable seat of account A at instant t when, among the facts with fact
// time <= t, the newest membership fact of (A, user) — an add, role change or removal, or a
// whole member list of A that did not name the user — says present, and the newest state fact
// of the user (disable, enable, delete) says active (a user never disabled is active). That is
// the state the convergence rules reach from the events up to t in any order, so the history
// of one (account, user) pair is a function of the set of its facts alone: a late event
// inserts a fact in the past and the pair's history is recomputed (SeatHistory), never patched.
//
// Facts are collected as ApplyProviderEvent applies them, won or stale (a stale fact is still
// true of the past), with the fact time it was applied at (an operator's action lifted over
// the state it replaces, convergence.h). Among facts of one pair and dimension with equal
// versions, the first in its provider event wins, as in convergence.cc.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/time.h"
#include "domain/records.h"
#include "domain/seats.h"

namespace mm::domain {

enum class SeatFactKind : char { kMembership = 'm', kUserState = 'u', kMemberList = 'l' };

struct SeatFact {
  SeatFactKind kind = SeatFactKind::kMembership;
  std::string account_id;  // kMembership, kMemberList ("" for kUserState)
  std::string user_id;     // kMembership, kUserState ("" for kMemberList)
  Version version;
  int ordinal = 0;  // index of its normalized event within the provider event
  // kMembership: present after it; kUserState: active after it; kMemberList: false.
  bool on = false;
  std::string role;  // kMembership when present

  friend bool operator==(const SeatFact&, const SeatFact&) = default;
};

// One row of the ledger: the change of one member's seat in one role at one instant, caused by
// one event. Both deltas are -1, 0 or +1 per fact; rows of one key are summed.
struct SeatChange {
  std::string account_id;
  std::string user_id;
  std::string role;
  TimePoint at{};
  std::string event_id;
  int64_t members = 0;   // present memberships in the role
  int64_t billable = 0;  // billable seats in the role

  // The ledger's key: (account, user, at, event, role).
  friend bool SameKey(const SeatChange& a, const SeatChange& b) {
    return a.account_id == b.account_id && a.user_id == b.user_id && a.at == b.at &&
           a.event_id == b.event_id && a.role == b.role;
  }
  friend bool operator==(const SeatChange&, const SeatChange&) = default;
};

// Where one pair's seat stands after some prefix of its history (the state of its newest
// facts), the start of a sweep.
struct PairSeat {
  bool present = false;
  std::string role;
  std::optional<Version> membership_version;  // newest membership or member-list fact
  bool active = true;
  std::optional<Version> user_version;  // newest user state fact
};

// The pair's state as a StateSet holds it: its membership record (else the account's member
// list, else absent) and its user's state.
PairSeat PairSeatOf(const StateSet& state, const MembershipKey& pair);

// The newest version that decided the pair's seat (nullopt: no fact yet).
std::optional<Version> HeadOf(const PairSeat& seat);

// The ledger rows of `pair` from `start` over `facts` (those of the pair, of its account's
// member lists and of its user's state, any order, others ignored), merged by key, zero rows
// dropped, in key order. From PairSeat{} with every fact: the pair's whole history.
std::vector<SeatChange> SeatHistory(const MembershipKey& pair, PairSeat start, std::vector<SeatFact> facts);

// True when every fact in `facts` that concerns `pair` is newer than `start`'s head: then the
// rows of the new facts are SeatHistory(pair, start, facts) and the rows already written stay.
bool AllNewer(const MembershipKey& pair, const PairSeat& start, const std::vector<SeatFact>& facts);

// How the ledger rows of a pair move from `before` to `after` (both in key order): rows to
// write (new keys, or keys whose deltas changed) and keys to delete.
struct SeatLedgerDiff {
  std::vector<SeatChange> upserts;
  std::vector<SeatChange> deletes;
};
SeatLedgerDiff DiffSeatHistory(const std::vector<SeatChange>& before, const std::vector<SeatChange>& after);

// The counts of `account` (members, billable per role) at instant `t` from ledger rows: the
// sum of the rows with at <= t.
std::map<std::string, std::pair<int64_t, int64_t>> SumSeatChanges(const std::vector<SeatChange>& rows,
                                                                  const std::string& account, TimePoint t);

// What one batch writes to the ledger, planned in two steps because only the second needs
// stored facts: pairs whose new facts all come after their head get the rows of those facts
// appended; any other pair (a fact landed in its past) is recomputed from its stored facts and
// the batch's, and only the difference written. Rows dated before `horizon` (the oldest
// instant the ledger keeps, nullopt: no limit) are summed into per-(account, role) base counts
// instead of being kept.
//
// The ledger also keeps, per (account, UTC day, role), the sum of its rows of that day
// (seat_ledger_days), so that a count at t sums whole days before t's day and only the rows of
// t's own day: `days` is how those sums move (the rows kept, after minus before).
using SeatDayKey = std::tuple<std::string, TimePoint, std::string>;  // (account, day, role)
using SeatDayTable = std::map<SeatDayKey, SeatTally>;

// Midnight UTC of t's day: the day a ledger row at t is summed into.
TimePoint DayOf(TimePoint t);

struct SeatLedgerWrites {
  std::vector<SeatChange> upserts;
  std::vector<SeatChange> deletes;
  SeatTable base;    // (account, role) -> change of the base counts
  SeatDayTable days;  // (account, day, role) -> change of the day's sums
};

class SeatLedgerPlan {
 public:
  // `before`/`after`: the batch's records before and after it (holding every membership of the
  // pairs, users and accounts its facts name); `facts`: what ApplyProviderEvent collected.
  SeatLedgerPlan(const StateSet& before, const StateSet& after, std::vector<SeatFact> facts,
                 std::optional<TimePoint> horizon);

  const std::vector<SeatFact>& facts() const { return facts_; }
  // The pairs to recompute, and the users and accounts whose stored facts they need.
  const std::set<MembershipKey>& recompute() const { return recompute_; }
  std::set<std::string> RecomputeUsers() const;
  std::set<std::string> RecomputeAccounts() const;
  // True when `f` is one of the stored facts Finish needs: a membership fact of a pair to
  // recompute, a state fact of its user, a member list of its account.
  bool Needs(const SeatFact& f) const;

  // `stored`: the stored facts of recompute()'s pairs, users and accounts (others ignored).
  SeatLedgerWrites Finish(const std::vector<SeatFact>& stored) const;

 private:
  std::vector<SeatFact> facts_;
  std::optional<TimePoint> horizon_;
  std::vector<SeatChange> appended_;
  std::set<MembershipKey> recompute_;
};

}  // namespace mm::domain
