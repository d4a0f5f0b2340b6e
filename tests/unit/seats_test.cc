// Seat counting (DESIGN §2 rule 6): by role over present memberships, billable excluding
// disabled and deleted users; deltas agree with recounts.

#include "domain/seats.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "event_builders.h"

namespace mm::domain {
namespace {

using ::testing::IsEmpty;
using testutil::Apply;
using testutil::At;
using testutil::MemberAdded;
using testutil::MemberRemoved;
using testutil::MemberRoleChanged;
using testutil::UserDeleted;
using testutil::UserDisabled;
using testutil::UserEnabled;

SeatTally Tally(int64_t members, int64_t billable) {
  SeatTally t;
  t.members = members;
  t.billable = billable;
  return t;
}

StateSet ThreeMembers() {
  StateSet state;
  Apply(state, MemberAdded("e1", "a1", "u1", At(1), "admin"));
  Apply(state, MemberAdded("e2", "a1", "u2", At(1), "member"));
  Apply(state, MemberAdded("e3", "a1", "u3", At(1), "member"));
  Apply(state, MemberAdded("e4", "a2", "u1", At(1), "owner"));
  return state;
}

TEST(SeatsTest, CountsPresentMembershipsByRole) {
  SeatTable expected = {{{"a1", "admin"}, Tally(1, 1)},
                        {{"a1", "member"}, Tally(2, 2)},
                        {{"a2", "owner"}, Tally(1, 1)}};
  EXPECT_EQ(CountSeats(ThreeMembers()), expected);
}

TEST(SeatsTest, DisabledAndDeletedUsersAreMembersButNotBillable) {
  StateSet state = ThreeMembers();
  Apply(state, UserDisabled("e5", "u1", At(2)));
  Apply(state, UserDeleted("e6", "u2", At(2)));
  SeatTable expected = {{{"a1", "admin"}, Tally(1, 0)},
                        {{"a1", "member"}, Tally(2, 1)},
                        {{"a2", "owner"}, Tally(1, 0)}};
  EXPECT_EQ(CountSeats(state), expected);

  Apply(state, UserEnabled("e7", "u1", At(3)));
  EXPECT_EQ(CountSeats(state).at({"a1", "admin"}), Tally(1, 1));
}

TEST(SeatsTest, RemovedMembershipsCountNothingAndEmptyRowsDisappear) {
  StateSet state = ThreeMembers();
  Apply(state, MemberRemoved("e5", "a2", "u1", At(2)));
  Apply(state, MemberRemoved("e6", "a1", "u2", At(2)));
  SeatTable expected = {{{"a1", "admin"}, Tally(1, 1)}, {{"a1", "member"}, Tally(1, 1)}};
  EXPECT_EQ(CountSeats(state), expected);
}

TEST(SeatsTest, EmptyStateHasNoRows) { EXPECT_THAT(CountSeats(StateSet{}), IsEmpty()); }

TEST(SeatsTest, IsBillableOnlyWhenActive) {
  UserRecord u;
  EXPECT_TRUE(IsBillable(u));
  u.state = UserState::kDisabled;
  EXPECT_FALSE(IsBillable(u));
  u.state = UserState::kDeleted;
  EXPECT_FALSE(IsBillable(u));
}

TEST(SeatsTest, AddSeatContributionHonoursSign) {
  MembershipRecord m;
  m.account_id = "a1";
  m.user_id = "u1";
  m.present = true;
  m.role = "admin";
  UserRecord disabled;
  disabled.state = UserState::kDisabled;
  SeatTable table;
  AddSeatContribution(m, UserRecord{}, +1, table);
  AddSeatContribution(m, disabled, +1, table);
  EXPECT_EQ(table.at({"a1", "admin"}), Tally(2, 1));
  AddSeatContribution(m, UserRecord{}, -1, table);
  AddSeatContribution(m, disabled, -1, table);
  EXPECT_EQ(table.at({"a1", "admin"}), Tally(0, 0));
  DropZeroRows(table);
  EXPECT_THAT(table, IsEmpty());

  m.present = false;
  AddSeatContribution(m, UserRecord{}, +1, table);
  EXPECT_THAT(table, IsEmpty());
}

TEST(SeatDeltasTest, RoleChangeMovesASeatBetweenRoles) {
  StateSet before = ThreeMembers();
  StateSet after = before;
  TouchedKeys changed;
  ApplyProviderEvent(MemberRoleChanged("e9", "a1", "u2", At(2), "admin"), after, changed);
  SeatTable expected = {{{"a1", "admin"}, Tally(1, 1)}, {{"a1", "member"}, Tally(-1, -1)}};
  EXPECT_EQ(SeatDeltas(before, after, changed.memberships), expected);
}

TEST(SeatDeltasTest, DisableFlipsBillableOfEveryMembershipOfTheUser) {
  StateSet before = ThreeMembers();
  StateSet after = before;
  Apply(after, UserDisabled("e9", "u1", At(2)));
  SeatTable expected = {{{"a1", "admin"}, Tally(0, -1)}, {{"a2", "owner"}, Tally(0, -1)}};
  EXPECT_EQ(SeatDeltas(before, after, {{"a1", "u1"}, {"a2", "u1"}, {"a1", "u2"}}), expected);
}

TEST(SeatDeltasTest, NewMembershipAndNewUserCountFromZero) {
  StateSet before = ThreeMembers();
  StateSet after = before;
  Apply(after, MemberAdded("e9", "a3", "u9", At(2), "member"));
  SeatTable expected = {{{"a3", "member"}, Tally(1, 1)}};
  EXPECT_EQ(SeatDeltas(before, after, {{"a3", "u9"}}), expected);
}

TEST(SeatDeltasTest, UnchangedPairsCancelOut) {
  StateSet state = ThreeMembers();
  EXPECT_THAT(SeatDeltas(state, state, {{"a1", "u1"}, {"a1", "u2"}, {"zz", "none"}}), IsEmpty());
}

}  // namespace
}  // namespace mm::domain
