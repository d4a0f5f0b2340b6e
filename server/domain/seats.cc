#include "domain/seats.h"

namespace mm::domain {

bool IsBillable(const UserRecord& user) { return user.state == UserState::kActive; }

void AddSeatContribution(const MembershipRecord& m, const UserRecord& user, int sign,
                         SeatTable& table) {
  if (!m.present) return;
  SeatTally& tally = table[{m.account_id, m.role}];
  tally.members += sign;
  if (IsBillable(user)) tally.billable += sign;
}

void DropZeroRows(SeatTable& table) {
  std::erase_if(table, [](const auto& row) { return row.second == SeatTally{}; });
}

SeatTable CountSeats(const StateSet& state) {
  SeatTable table;
  for (const auto& [key, m] : state.memberships) {
    auto user = state.users.find(m.user_id);
    // Every membership event makes its user known, so a missing user is a broken invariant;
    // count it as active rather than crash a billing read.
    AddSeatContribution(m, user != state.users.end() ? user->second : UserRecord{}, +1, table);
  }
  DropZeroRows(table);
  return table;
}

}  // namespace mm::domain

namespace mm::domain {
namespace {
void AddFrom(const StateSet& state, const MembershipKey& key, int sign, SeatTable& table) {
  auto m = state.memberships.find(key);
  if (m == state.memberships.end()) return;
  auto user = state.users.find(key.second);
  AddSeatContribution(m->second, user != state.users.end() ? user->second : UserRecord{}, sign,
                      table);
}
}  // namespace

SeatTable SeatDeltas(const StateSet& before, const StateSet& after,
                     const std::set<MembershipKey>& pairs) {
  SeatTable deltas;
  for (const MembershipKey& key : pairs) {
    AddFrom(before, key, -1, deltas);
    AddFrom(after, key, +1, deltas);
  }
  DropZeroRows(deltas);
  return deltas;
}

}  // namespace mm::domain
