#pragma once
// The convergence rules of DESIGN §2, as pure functions over a StateSet. This is the single
// implementation of the rules: the PostgreSQL store loads the rows a batch touches, applies
// events here and writes back what changed; the in-memory store and the property test's
// reference model apply them to a whole StateSet.
//
// Guarantee: applying any set of provider events, in any order, each any number of times
// (duplicates are filtered by the caller on (provider, event_id)), ends in the same StateSet.
// The one exception is deliberate: an operator's disable or enable always takes effect (DESIGN
// §5a), so its fact time is the later of the time it was asked and just after the fact time of
// the state it replaces (LiftedOperatorFactTime); what it replaces depends on what came first.
//
// A whole member list (kMembersReplaced, version L) is a fact about every membership of its
// account: "present if listed, else removed, as of L". Applied, it tombstones every membership
// of the account older than L (the listed ones were just added at L, so they are not older),
// and the account remembers the newest L. A membership event that arrives later, older than L,
// for a member the list did not name (its record is absent or older than L), first gets the
// tombstone it would have got had it arrived before the list, and is then compared with it as
// usual (so it is stale): the same records in any order.

#include <optional>
#include <set>
#include <string>

#include "domain/events.h"
#include "domain/records.h"
#include "domain/seat_history.h"

namespace mm::domain {

// Keys whose records a provider event reads or writes; a caller that holds only part of the
// state (the PostgreSQL store) loads at least these before calling ApplyProviderEvent.
struct TouchedKeys {
  std::set<std::string> users;
  std::set<std::string> accounts;
  std::set<MembershipKey> memberships;
  // Accounts whose every membership the event reads (kMembersReplaced).
  std::set<std::string> member_lists;

  void Merge(const TouchedKeys& other);
};

TouchedKeys KeysOf(const ProviderEvent& event);

// For an operator's disable or enable of a user whose current state was set at or after
// `e.fact_time` (a provider clock ahead, another replica's clock, a provider event dated
// later): the fact time it is applied at, 1 µs after that state's. Otherwise nullopt (`e` is
// applied as it is). `current` is the user's record before `e` (nullptr: never seen).
std::optional<TimePoint> LiftedOperatorFactTime(const ProviderEvent& pe, const NormalizedEvent& e,
                                                const UserRecord* current);

// Applies the normalized events of one (non-duplicate, non-ignored, non-dead-lettered) provider
// event to `state`. Records missing from `state` are treated as never seen and created.
// Adds the keys of every record that actually changed to `changed`.
// Returns kApplied if at least one normalized event won its newer-wins comparison, else kStale.
// An event with no normalized events is kStale (the caller decides kIgnored before this).
// If `seat_facts` is given, appends the facts that decide seats (seat_history.h), won or stale.
Outcome ApplyProviderEvent(const ProviderEvent& event, StateSet& state, TouchedKeys& changed,
                           std::vector<SeatFact>* seat_facts = nullptr);

// The outcome of one delivery, in the order DESIGN §3 answers it: a second delivery of a stored
// event is kDuplicate; a dead-lettered one kDeadLettered; an unknown type kIgnored; otherwise
// its normalized events are applied (kApplied or kStale). Only the last case touches `state`.
Outcome Decide(const ProviderEvent& event, bool duplicate, StateSet& state, TouchedKeys& changed,
               std::vector<SeatFact>* seat_facts = nullptr);

}  // namespace mm::domain
