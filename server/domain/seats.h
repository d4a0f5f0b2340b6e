#pragma once
// Seat counting (DESIGN §2 rule 6): `members` counts present memberships by role; `billable`
// counts present memberships whose user is neither disabled nor deleted. The PostgreSQL store
// maintains these counts incrementally from before/after deltas; the in-memory store and the
// tests recount from scratch with CountSeats, and both must agree.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "domain/records.h"

namespace mm::domain {

struct SeatTally {
  int64_t members = 0;
  int64_t billable = 0;
  friend bool operator==(const SeatTally&, const SeatTally&) = default;
};

// (account_id, role) -> tally (or delta, when produced by AddSeatContribution with sign -1/+1).
using SeatTable = std::map<std::pair<std::string, std::string>, SeatTally>;

bool IsBillable(const UserRecord& user);

// Adds `sign` times the contribution of membership `m` (whose user is `user`) to `table`.
// A removed membership contributes nothing.
void AddSeatContribution(const MembershipRecord& m, const UserRecord& user, int sign,
                         SeatTable& table);

// Drops rows whose tally is all zero (deltas that cancelled out).
void DropZeroRows(SeatTable& table);

// Recounts from scratch over a whole StateSet.
SeatTable CountSeats(const StateSet& state);

}  // namespace mm::domain

namespace mm::domain {

// The change in seat counts between `before` and `after` over the memberships in `pairs`
// (both StateSets must hold those memberships and their users when they exist).
SeatTable SeatDeltas(const StateSet& before, const StateSet& after,
                     const std::set<MembershipKey>& pairs);

}  // namespace mm::domain
