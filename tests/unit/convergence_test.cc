// The convergence rules of DESIGN §2, one test per rule and "precise point", then an
// order-independence property test over random histories.

#include "domain/convergence.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "domain/seats.h"
#include "event_builders.h"
#include "history_generator.h"

namespace mm::domain {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using testutil::AccountCreated;
using testutil::Apply;
using testutil::At;
using testutil::MemberAdded;
using testutil::MemberList;
using testutil::MemberRemoved;
using testutil::MemberRoleChanged;
using testutil::UserCreated;
using testutil::UserDeleted;
using testutil::UserDisabled;
using testutil::UserEnabled;
using testutil::UserUpdated;

const MembershipKey kA1U1{"a1", "u1"};

// Applies `events` in the order given by `order` (indexes into events) to a fresh state.
StateSet ApplyInOrder(const std::vector<ProviderEvent>& events, const std::vector<size_t>& order) {
  StateSet state;
  for (size_t i : order) Apply(state, events[i]);
  return state;
}

// Expects `u`'s state to be `state`, set by event `event_id` (of kind `kind`) at `t`, with
// exactly the matching one of disabled_at / enabled_at / deleted_at set (for a state set by
// an event; a user that was only ever created has no state_version and no enabled_at).
void ExpectStateSetBy(const UserRecord& u, UserState state, TimePoint t,
                      const std::string& event_id, std::string_view kind) {
  EXPECT_EQ(u.state, state);
  EXPECT_EQ(u.state_version, (Version{t, event_id}));
  EXPECT_EQ(u.state_event_type, "test." + std::string(kind));
  auto at_if = [&](bool set) { return set ? std::optional(t) : std::nullopt; };
  EXPECT_EQ(u.disabled_at, at_if(state == UserState::kDisabled));
  EXPECT_EQ(u.enabled_at, at_if(state == UserState::kActive));
  EXPECT_EQ(u.deleted_at, at_if(state == UserState::kDeleted));
}

// Applies `events`, in the order given, to a fresh state.
StateSet ApplyAll(const std::vector<ProviderEvent>& events) {
  StateSet state;
  for (const ProviderEvent& e : events) Apply(state, e);
  return state;
}

// Applies `events` in every order; expects every order to end in the same StateSet, and
// returns it.
StateSet ApplyInEveryOrder(const std::vector<ProviderEvent>& events) {
  std::vector<size_t> order(events.size());
  std::iota(order.begin(), order.end(), 0);
  const StateSet first = ApplyInOrder(events, order);
  while (std::next_permutation(order.begin(), order.end())) {
    EXPECT_EQ(ApplyInOrder(events, order), first) << "order differs from the sorted one";
  }
  return first;
}

// --- Rule 2: newer wins, per fact -------------------------------------------------------------

TEST(NewerWinsTest, NewerDisableBeatsOlderEnableWhateverTheOrder) {
  StateSet in_order;
  EXPECT_EQ(Apply(in_order, UserEnabled("e1", "u1", At(1))), Outcome::kApplied);
  EXPECT_EQ(Apply(in_order, UserDisabled("e2", "u1", At(2), "fraud")), Outcome::kApplied);

  StateSet reversed;
  EXPECT_EQ(Apply(reversed, UserDisabled("e2", "u1", At(2), "fraud")), Outcome::kApplied);
  EXPECT_EQ(Apply(reversed, UserEnabled("e1", "u1", At(1))), Outcome::kStale);

  EXPECT_EQ(in_order.users.at("u1").state, UserState::kDisabled);
  EXPECT_EQ(in_order, reversed);
}

TEST(NewerWinsTest, NewerEnableBeatsOlderDisableWhateverTheOrder) {
  StateSet state =
      ApplyInEveryOrder({UserDisabled("e1", "u1", At(1), "fraud"), UserEnabled("e2", "u1", At(2))});
  const UserRecord& u = state.users.at("u1");
  EXPECT_EQ(u.state, UserState::kActive);
  EXPECT_EQ(u.state_version, (Version{At(2), "e2"}));
}

TEST(NewerWinsTest, EqualFactTimeGreaterEventIdWins) {
  // Same fact time: "evt-b" > "evt-a", so the disable wins in both orders...
  StateSet state =
      ApplyInEveryOrder({UserEnabled("evt-a", "u1", At(5)), UserDisabled("evt-b", "u1", At(5))});
  EXPECT_EQ(state.users.at("u1").state, UserState::kDisabled);
  EXPECT_EQ(state.users.at("u1").state_version, (Version{At(5), "evt-b"}));

  // ...and with the ids swapped the enable wins.
  state =
      ApplyInEveryOrder({UserEnabled("evt-b", "u1", At(5)), UserDisabled("evt-a", "u1", At(5))});
  EXPECT_EQ(state.users.at("u1").state, UserState::kActive);
}

TEST(NewerWinsTest, EventIdTieBreakIsByteOrderNotNumericOrCaseInsensitive) {
  // Byte order: "evt-9" > "evt-10" ('9' > '1'), "evt-a" > "evt-B" ('a' 0x61 > 'B' 0x42), and a
  // UTF-8 lead byte (0xC3) sorts after every ASCII byte (compared unsigned).
  struct Case {
    std::string loser, winner;
  };
  for (const Case& c :
       {Case{"evt-10", "evt-9"}, Case{"evt-B", "evt-a"}, Case{"evt-z", "evt-\xc3\xa9"}}) {
    SCOPED_TRACE(c.winner + " should beat " + c.loser);
    StateSet state =
        ApplyInEveryOrder({UserEnabled(c.loser, "u1", At(5)), UserDisabled(c.winner, "u1", At(5))});
    EXPECT_EQ(state.users.at("u1").state, UserState::kDisabled);
  }
}

TEST(NewerWinsTest, FactTimeBeatsEventId) {
  StateSet state =
      ApplyInEveryOrder({UserDisabled("zzz", "u1", At(1)), UserEnabled("aaa", "u1", At(2))});
  EXPECT_EQ(state.users.at("u1").state, UserState::kActive);
}

TEST(NewerWinsTest, MembershipPresenceAndRoleAreOneFact) {
  StateSet state = ApplyInEveryOrder({MemberAdded("e1", "a1", "u1", At(1), "member"),
                                      MemberRoleChanged("e2", "a1", "u1", At(2), "admin"),
                                      MemberRoleChanged("e3", "a1", "u1", At(3), "owner")});
  const MembershipRecord& m = state.memberships.at(kA1U1);
  EXPECT_TRUE(m.present);
  EXPECT_EQ(m.role, "owner");
  EXPECT_EQ(m.version, (Version{At(3), "e3"}));
  EXPECT_EQ(m.last_event_type, "test.MemberRoleChanged");
}

TEST(NewerWinsTest, FactsOfDifferentUsersAndMembershipsAreIndependent) {
  StateSet state;
  Apply(state, UserDisabled("e9", "u1", At(9)));
  // Older events about other users and memberships are not stale because of u1.
  EXPECT_EQ(Apply(state, UserDisabled("e1", "u2", At(1))), Outcome::kApplied);
  EXPECT_EQ(Apply(state, MemberAdded("e2", "a1", "u1", At(2))), Outcome::kApplied);
  EXPECT_EQ(Apply(state, MemberAdded("e3", "a2", "u1", At(1))), Outcome::kApplied);
  EXPECT_EQ(state.users.at("u2").state, UserState::kDisabled);
  EXPECT_TRUE(state.memberships.at({"a2", "u1"}).present);
}

// --- Stale events ----------------------------------------------------------------------------

TEST(StaleTest, StaleEventChangesNoStateOfRecord) {
  StateSet state = ApplyAll({UserDisabled("e5", "u1", At(5), "fraud", "admin-1"),
                             MemberAdded("e6", "a1", "u1", At(6), "admin")});
  const StateSet before = state;

  TouchedKeys changed;
  EXPECT_EQ(ApplyProviderEvent(UserEnabled("e3", "u1", At(3), "admin-2"), state, changed),
            Outcome::kStale);
  EXPECT_EQ(ApplyProviderEvent(UserDeleted("e4", "u1", At(4)), state, changed), Outcome::kStale);
  EXPECT_EQ(ApplyProviderEvent(MemberRemoved("e2", "a1", "u1", At(2), "x"), state, changed),
            Outcome::kStale);
  EXPECT_EQ(ApplyProviderEvent(MemberRoleChanged("e1", "a1", "u1", At(1), "owner"), state, changed),
            Outcome::kStale);

  EXPECT_EQ(state, before);
  EXPECT_THAT(changed.users, IsEmpty());
  EXPECT_THAT(changed.memberships, IsEmpty());
}

TEST(StaleTest, StaleEventDoesNotTouchProvenance) {
  StateSet state;
  ProviderEvent disable = UserDisabled("e5", "u1", At(5), "fraud", "admin-1");
  disable.provider = Provider::kFusionAuth;
  Apply(state, disable);
  ProviderEvent enable = UserEnabled("e3", "u1", At(3));
  enable.provider = Provider::kMonoCloud;
  EXPECT_EQ(Apply(state, enable), Outcome::kStale);

  const UserRecord& u = state.users.at("u1");
  ExpectStateSetBy(u, UserState::kDisabled, At(5), "e5", "UserDisabled");
  EXPECT_EQ(u.state_provider, Provider::kFusionAuth);
  EXPECT_EQ(u.disabled_reason, "fraud");
  EXPECT_EQ(u.disabled_by, "admin-1");
}

// --- Operator actions always take effect (DESIGN §5a) ---------------------------------------

ProviderEvent ByOperator(ProviderEvent pe) {
  pe.provider = Provider::kOperator;
  return pe;
}

TEST(OperatorActionTest, AnEnableDatedBeforeTheProviderDisableStillTakesEffectJustAfterIt) {
  StateSet state;
  // The provider's clock is ahead: its disable is dated after the operator's "now".
  Apply(state, UserDisabled("huudis-1", "u1", At(60), "fraud"));
  EXPECT_EQ(Apply(state, ByOperator(UserEnabled("op_1", "u1", At(10), "oncall"))), Outcome::kApplied);
  const UserRecord& u = state.users.at("u1");
  ExpectStateSetBy(u, UserState::kActive, At(60) + std::chrono::microseconds(1), "op_1", "UserEnabled");
  EXPECT_EQ(u.state_provider, Provider::kOperator);
  EXPECT_EQ(u.sessions_valid_after, At(60)) << "the provider's disable still revoked older sessions";
}

TEST(OperatorActionTest, ADisableOverAStateSetAtTheSameTimeTakesEffect) {
  StateSet state;
  Apply(state, UserEnabled("zzz-later-id", "u1", At(10)));
  EXPECT_EQ(Apply(state, ByOperator(UserDisabled("op_1", "u1", At(10), "incident"))), Outcome::kApplied);
  const UserRecord& u = state.users.at("u1");
  ExpectStateSetBy(u, UserState::kDisabled, At(10) + std::chrono::microseconds(1), "op_1", "UserDisabled");
  EXPECT_EQ(u.disabled_reason, "incident");
  EXPECT_EQ(u.sessions_valid_after, At(10) + std::chrono::microseconds(1));
}

TEST(OperatorActionTest, AnActionAfterTheCurrentStateKeepsItsOwnTime) {
  StateSet state;
  Apply(state, UserDisabled("huudis-1", "u1", At(5)));
  Apply(state, ByOperator(UserEnabled("op_1", "u1", At(10))));
  ExpectStateSetBy(state.users.at("u1"), UserState::kActive, At(10), "op_1", "UserEnabled");
}

TEST(OperatorActionTest, ReplacesAnotherOperatorsLaterDatedAction) {
  // Two replicas with skewed clocks: the second action is dated before the first one.
  StateSet state;
  Apply(state, ByOperator(UserDisabled("op_a", "u1", At(30))));
  EXPECT_EQ(Apply(state, ByOperator(UserEnabled("op_b", "u1", At(20)))), Outcome::kApplied);
  EXPECT_EQ(state.users.at("u1").state, UserState::kActive);
}

TEST(OperatorActionTest, ANewerProviderEventStillWinsOverIt) {
  StateSet state;
  Apply(state, UserDisabled("huudis-1", "u1", At(60)));
  Apply(state, ByOperator(UserEnabled("op_1", "u1", At(10))));
  EXPECT_EQ(Apply(state, UserDisabled("huudis-2", "u1", At(61))), Outcome::kApplied);
  EXPECT_EQ(state.users.at("u1").state, UserState::kDisabled);
  // An older one does not.
  EXPECT_EQ(Apply(state, ByOperator(UserEnabled("op_2", "u1", At(62)))), Outcome::kApplied);
  EXPECT_EQ(Apply(state, UserDisabled("huudis-3", "u1", At(61) + std::chrono::milliseconds(500))), Outcome::kStale);
}

TEST(OperatorActionTest, ProviderEventsAreNeverLifted) {
  StateSet state;
  Apply(state, UserDisabled("huudis-1", "u1", At(60)));
  EXPECT_EQ(Apply(state, UserEnabled("huudis-0", "u1", At(10))), Outcome::kStale);
  EXPECT_EQ(state.users.at("u1").state, UserState::kDisabled);
}

// --- Rule 4: sessions stay revoked -----------------------------------------------------------

TEST(SessionsValidAfterTest, StaleDisableStillRaisesSessionsValidAfter) {
  StateSet state;
  Apply(state, UserEnabled("e10", "u1", At(10)));
  const UserRecord before = state.users.at("u1");

  TouchedKeys changed;
  EXPECT_EQ(ApplyProviderEvent(UserDisabled("e5", "u1", At(5), "fraud"), state, changed),
            Outcome::kStale);
  UserRecord u = state.users.at("u1");
  EXPECT_EQ(u.sessions_valid_after, At(5));
  // It is still a change of the record (followers must see it)...
  EXPECT_THAT(changed.users, ElementsAre("u1"));
  // ...but nothing else moved: state, reason and provenance are the enable's.
  u.sessions_valid_after = before.sessions_valid_after;
  EXPECT_EQ(u, before);
}

TEST(SessionsValidAfterTest, IsTheMaximumOfAllDisablesWhateverTheOrder) {
  StateSet state =
      ApplyInEveryOrder({UserDisabled("e1", "u1", At(1)), UserDisabled("e3", "u1", At(3)),
                         UserEnabled("e4", "u1", At(4)), UserDisabled("e2", "u1", At(2))});
  EXPECT_EQ(state.users.at("u1").state, UserState::kActive);
  EXPECT_EQ(state.users.at("u1").sessions_valid_after, At(3));
}

TEST(SessionsValidAfterTest, OlderStaleDisableDoesNotLowerIt) {
  StateSet state = ApplyAll({UserDisabled("e8", "u1", At(8)), UserEnabled("e9", "u1", At(9))});
  TouchedKeys changed;
  EXPECT_EQ(ApplyProviderEvent(UserDisabled("e2", "u1", At(2)), state, changed), Outcome::kStale);
  EXPECT_EQ(state.users.at("u1").sessions_valid_after, At(8));
  EXPECT_THAT(changed.users, IsEmpty());
}

TEST(SessionsValidAfterTest, ReenableDoesNotLowerIt) {
  StateSet state;
  Apply(state, UserDisabled("e5", "u1", At(5)));
  EXPECT_EQ(state.users.at("u1").sessions_valid_after, At(5));
  EXPECT_EQ(Apply(state, UserEnabled("e6", "u1", At(6))), Outcome::kApplied);
  EXPECT_EQ(state.users.at("u1").state, UserState::kActive);
  EXPECT_EQ(state.users.at("u1").sessions_valid_after, At(5));
}

TEST(SessionsValidAfterTest, StaleDisableAfterDeletionRaisesIt) {
  StateSet state;
  Apply(state, UserDeleted("e9", "u1", At(9)));
  EXPECT_EQ(Apply(state, UserDisabled("e4", "u1", At(4))), Outcome::kStale);
  EXPECT_EQ(state.users.at("u1").state, UserState::kDeleted);
  EXPECT_EQ(state.users.at("u1").sessions_valid_after, At(4));
}

TEST(SessionsValidAfterTest, NeverSetWithoutADisable) {
  StateSet state = ApplyAll({UserCreated("e1", "u1", At(1)), UserEnabled("e2", "u1", At(2)),
                             UserDeleted("e3", "u1", At(3))});
  EXPECT_EQ(state.users.at("u1").sessions_valid_after, std::nullopt);
}

// --- State details: disabled_reason, provenance ----------------------------------------------

TEST(UserStateTest, DisableRecordsReasonActorTimeAndProvenance) {
  StateSet state;
  ProviderEvent disable = UserDisabled("e1", "u1", At(1), "chargeback", "admin-7");
  disable.provider = Provider::kOperator;
  Apply(state, disable);
  const UserRecord& u = state.users.at("u1");
  ExpectStateSetBy(u, UserState::kDisabled, At(1), "e1", "UserDisabled");
  EXPECT_EQ(u.disabled_reason, "chargeback");
  EXPECT_EQ(u.disabled_by, "admin-7");
  EXPECT_EQ(u.state_provider, Provider::kOperator);
}

TEST(UserStateTest, EnablingClearsDisabledReason) {
  StateSet state = ApplyAll({UserDisabled("e1", "u1", At(1), "chargeback", "admin-7"),
                             UserEnabled("e2", "u1", At(2), "admin-8")});
  const UserRecord& u = state.users.at("u1");
  ExpectStateSetBy(u, UserState::kActive, At(2), "e2", "UserEnabled");
  EXPECT_EQ(u.disabled_reason, std::nullopt);
  EXPECT_EQ(u.disabled_by, std::nullopt);
}

TEST(UserStateTest, NewerDisableReplacesTheReason) {
  StateSet state = ApplyInEveryOrder(
      {UserDisabled("e1", "u1", At(1), "first", "a"), UserDisabled("e2", "u1", At(2), "second")});
  const UserRecord& u = state.users.at("u1");
  EXPECT_EQ(u.disabled_reason, "second");
  // The actor is the winning event's too, not a leftover of the older one.
  EXPECT_EQ(u.disabled_by, std::nullopt);
  EXPECT_EQ(u.disabled_at, At(2));
}

// --- Rule 3: tombstones; deleted users -------------------------------------------------------

TEST(TombstoneTest, LateOlderAddAfterRemovalDoesNotResurrect) {
  StateSet state;
  EXPECT_EQ(Apply(state, MemberRemoved("e5", "a1", "u1", At(5), "boss")), Outcome::kApplied);
  EXPECT_EQ(Apply(state, MemberAdded("e3", "a1", "u1", At(3), "admin")), Outcome::kStale);
  const MembershipRecord& m = state.memberships.at(kA1U1);
  EXPECT_FALSE(m.present);
  EXPECT_EQ(m.removed_at, At(5));
  EXPECT_EQ(m.removed_by, "boss");
  EXPECT_EQ(m.version, (Version{At(5), "e5"}));
  EXPECT_EQ(m.last_event_type, "test.MemberRemoved");
}

TEST(TombstoneTest, RemovalConvergesWhateverTheOrder) {
  StateSet state = ApplyInEveryOrder({MemberAdded("e1", "a1", "u1", At(1)),
                                      MemberRoleChanged("e2", "a1", "u1", At(2), "admin"),
                                      MemberRemoved("e3", "a1", "u1", At(3))});
  EXPECT_FALSE(state.memberships.at(kA1U1).present);
  EXPECT_EQ(state.memberships.at(kA1U1).removed_at, At(3));
}

TEST(TombstoneTest, NewerAddResurrects) {
  StateSet state = ApplyAll({MemberAdded("e1", "a1", "u1", At(1), "member"),
                             MemberRemoved("e2", "a1", "u1", At(2), "boss")});
  EXPECT_EQ(Apply(state, MemberAdded("e3", "a1", "u1", At(3), "admin")), Outcome::kApplied);
  const MembershipRecord& m = state.memberships.at(kA1U1);
  EXPECT_TRUE(m.present);
  EXPECT_EQ(m.role, "admin");
  EXPECT_EQ(m.removed_at, std::nullopt);
  EXPECT_EQ(m.removed_by, std::nullopt);
  EXPECT_EQ(m.joined_at, At(3));
}

TEST(TombstoneTest, DeletedUserIsNotBroughtBackByOlderEvents) {
  StateSet state;
  EXPECT_EQ(Apply(state, UserDeleted("e5", "u1", At(5))), Outcome::kApplied);
  EXPECT_EQ(Apply(state, UserEnabled("e3", "u1", At(3))), Outcome::kStale);
  EXPECT_EQ(Apply(state, UserDisabled("e2", "u1", At(2))), Outcome::kStale);
  ExpectStateSetBy(state.users.at("u1"), UserState::kDeleted, At(5), "e5", "UserDeleted");
}

TEST(TombstoneTest, DeletionConvergesWhateverTheOrder) {
  StateSet state = ApplyInEveryOrder(
      {UserCreated("e1", "u1", At(1), "a@x"), UserDisabled("e2", "u1", At(2), "r"),
       UserDeleted("e4", "u1", At(4)), UserEnabled("e3", "u1", At(3))});
  const UserRecord& u = state.users.at("u1");
  EXPECT_EQ(u.state, UserState::kDeleted);
  EXPECT_EQ(u.disabled_reason, std::nullopt);
  EXPECT_EQ(u.enabled_at, std::nullopt);
  EXPECT_EQ(u.email.value, "a@x");
}

TEST(TombstoneTest, MembershipEventsDoNotChangeADeletedUsersState) {
  StateSet state;
  Apply(state, UserDeleted("e1", "u1", At(1)));
  EXPECT_EQ(Apply(state, MemberAdded("e2", "a1", "u1", At(2))), Outcome::kApplied);
  EXPECT_EQ(state.users.at("u1").state, UserState::kDeleted);
}

// --- Role change before its add --------------------------------------------------------------

TEST(RoleChangeBeforeAddTest, AppliesAndImpliesPresence) {
  StateSet state;
  EXPECT_EQ(Apply(state, MemberRoleChanged("e5", "a1", "u1", At(5), "admin")), Outcome::kApplied);
  const MembershipRecord& m = state.memberships.at(kA1U1);
  EXPECT_TRUE(m.present);
  EXPECT_EQ(m.role, "admin");
  EXPECT_EQ(m.joined_at, std::nullopt);  // the add has not arrived yet
  EXPECT_EQ(m.join_version, std::nullopt);
}

TEST(RoleChangeBeforeAddTest, LateOlderAddOnlyContributesJoinDetails) {
  ProviderEvent role_change = MemberRoleChanged("e5", "a1", "u1", At(5), "admin");
  ProviderEvent add = MemberAdded("e3", "a1", "u1", At(3), "member");
  add.events[0].added_via = "invite";
  add.events[0].actor = "u-boss";

  StateSet state;
  Apply(state, role_change);
  EXPECT_EQ(Apply(state, add), Outcome::kStale);
  const MembershipRecord& m = state.memberships.at(kA1U1);
  EXPECT_TRUE(m.present);
  EXPECT_EQ(m.role, "admin");  // not the add's "member"
  EXPECT_EQ(m.version, (Version{At(5), "e5"}));
  EXPECT_EQ(m.last_event_type, "test.MemberRoleChanged");
  EXPECT_EQ(m.joined_at, At(3));
  EXPECT_EQ(m.added_via, "invite");
  EXPECT_EQ(m.added_by, "u-boss");
  EXPECT_EQ(m.join_version, (Version{At(3), "e3"}));

  // Exactly the record the natural order produces.
  StateSet natural;
  Apply(natural, add);
  Apply(natural, role_change);
  EXPECT_EQ(natural, state);
}

TEST(RoleChangeBeforeAddTest, JoinDetailsComeFromTheNewestAddWhateverTheOrder) {
  ProviderEvent first_add = MemberAdded("e1", "a1", "u1", At(1), "member");
  first_add.events[0].added_via = "invite";
  first_add.events[0].actor = "u-first";
  ProviderEvent second_add = MemberAdded("e4", "a1", "u1", At(4), "member");
  second_add.events[0].added_via = "sso";
  // second_add carries no actor: added_by must not keep the first add's.
  StateSet state = ApplyInEveryOrder({first_add, MemberRemoved("e2", "a1", "u1", At(2)), second_add,
                                      MemberRoleChanged("e6", "a1", "u1", At(6), "owner")});
  const MembershipRecord& m = state.memberships.at(kA1U1);
  EXPECT_TRUE(m.present);
  EXPECT_EQ(m.role, "owner");
  EXPECT_EQ(m.joined_at, At(4));
  EXPECT_EQ(m.added_via, "sso");
  EXPECT_EQ(m.added_by, std::nullopt);
}

TEST(RoleChangeBeforeAddTest, RemovalBeforeItsAddStillApplies) {
  StateSet state;
  EXPECT_EQ(Apply(state, MemberRemoved("e5", "a1", "u1", At(5))), Outcome::kApplied);
  EXPECT_FALSE(state.memberships.at(kA1U1).present);
  EXPECT_EQ(Apply(state, MemberAdded("e1", "a1", "u1", At(1))), Outcome::kStale);
  EXPECT_FALSE(state.memberships.at(kA1U1).present);
}

// --- Rule 5: unknown users become known ------------------------------------------------------

TEST(UnknownUsersTest, MemberAddedCreatesUserAndAccountWithTheirDetails) {
  ProviderEvent add = MemberAdded("e1", "a1", "u1", At(1), "admin");
  add.events[0].email = "ada@example.com";
  add.events[0].name = "Ada";
  add.events[0].account_name = "Acme";
  StateSet state;
  TouchedKeys changed;
  EXPECT_EQ(ApplyProviderEvent(add, state, changed), Outcome::kApplied);

  ASSERT_TRUE(state.users.contains("u1"));
  const UserRecord& u = state.users.at("u1");
  EXPECT_EQ(u.user_id, "u1");
  EXPECT_EQ(u.state, UserState::kActive);
  EXPECT_EQ(u.state_version, std::nullopt);
  EXPECT_EQ(u.email.value, "ada@example.com");
  EXPECT_EQ(u.name.value, "Ada");
  ASSERT_TRUE(state.accounts.contains("a1"));
  EXPECT_EQ(state.accounts.at("a1").account_id, "a1");
  EXPECT_EQ(state.accounts.at("a1").name.value, "Acme");
  const MembershipRecord& m = state.memberships.at(kA1U1);
  EXPECT_EQ(m.account_id, "a1");
  EXPECT_EQ(m.user_id, "u1");
  EXPECT_TRUE(m.present);
  EXPECT_EQ(m.role, "admin");

  EXPECT_THAT(changed.users, ElementsAre("u1"));
  EXPECT_THAT(changed.accounts, ElementsAre("a1"));
  EXPECT_THAT(changed.memberships, ElementsAre(kA1U1));
}

TEST(UnknownUsersTest, RoleChangeAndRemovalCreateUserAndAccountToo) {
  StateSet state = ApplyAll({MemberRoleChanged("e1", "a1", "u1", At(1), "admin"),
                             MemberRemoved("e2", "a2", "u2", At(1))});
  EXPECT_TRUE(state.users.contains("u1"));
  EXPECT_TRUE(state.users.contains("u2"));
  EXPECT_TRUE(state.accounts.contains("a1"));
  EXPECT_TRUE(state.accounts.contains("a2"));
  EXPECT_EQ(state.users.at("u2").state, UserState::kActive);
}

TEST(UnknownUsersTest, DisableOfAnUnknownUserCreatesItDisabled) {
  StateSet state;
  EXPECT_EQ(Apply(state, UserDisabled("e1", "u1", At(1), "fraud")), Outcome::kApplied);
  EXPECT_EQ(state.users.at("u1").user_id, "u1");
  EXPECT_EQ(state.users.at("u1").state, UserState::kDisabled);
}

TEST(UnknownUsersTest, CreatingAUserWithoutFieldsIsApplied) {
  StateSet state;
  TouchedKeys changed;
  EXPECT_EQ(ApplyProviderEvent(UserCreated("e1", "u1", At(1)), state, changed), Outcome::kApplied);
  EXPECT_EQ(state.users.at("u1").state, UserState::kActive);
  EXPECT_THAT(changed.users, ElementsAre("u1"));
}

TEST(UnknownUsersTest, AccountCreatedCreatesOnlyTheAccount) {
  StateSet state;
  EXPECT_EQ(Apply(state, AccountCreated("e1", "a1", At(1), "Acme")), Outcome::kApplied);
  EXPECT_EQ(state.accounts.at("a1").name.value, "Acme");
  EXPECT_THAT(state.users, IsEmpty());
  EXPECT_THAT(state.memberships, IsEmpty());
}

// --- Profile fields --------------------------------------------------------------------------

TEST(ProfileTest, EachFieldConvergesByItsNewestVersion) {
  StateSet state = ApplyInEveryOrder({UserCreated("e1", "u1", At(1), "old@x", "Old"),
                                      UserUpdated("e3", "u1", At(3), "new@x", std::nullopt),
                                      UserUpdated("e2", "u1", At(2), std::nullopt, "Newer")});
  const UserRecord& u = state.users.at("u1");
  EXPECT_EQ(u.email.value, "new@x");
  EXPECT_EQ(u.email.version, (Version{At(3), "e3"}));
  EXPECT_EQ(u.name.value, "Newer");
  EXPECT_EQ(u.name.version, (Version{At(2), "e2"}));
}

TEST(ProfileTest, AnAbsentFieldNeverOverwrites) {
  StateSet state;
  Apply(state, UserCreated("e1", "u1", At(1), "a@x", "Ada"));
  EXPECT_EQ(Apply(state, UserUpdated("e2", "u1", At(2), "b@x", std::nullopt)), Outcome::kApplied);
  EXPECT_EQ(state.users.at("u1").name.value, "Ada");
  EXPECT_EQ(state.users.at("u1").name.version, (Version{At(1), "e1"}));
  Apply(state, UserDisabled("e3", "u1", At(3)));  // carries no email
  EXPECT_EQ(state.users.at("u1").email.value, "b@x");
}

TEST(ProfileTest, EmailFromStateAndMemberEventsCounts) {
  ProviderEvent disable = UserDisabled("e2", "u1", At(2));
  disable.events[0].email = "from-disable@x";
  ProviderEvent add = MemberAdded("e3", "a1", "u1", At(3));
  add.events[0].name = "From Add";
  StateSet state = ApplyInEveryOrder({UserCreated("e1", "u1", At(1), "a@x", "Ada"), disable, add});
  EXPECT_EQ(state.users.at("u1").email.value, "from-disable@x");
  EXPECT_EQ(state.users.at("u1").name.value, "From Add");
}

TEST(ProfileTest, ProfileConvergesIndependentlyOfTheStateFact) {
  // The enable loses the state comparison but its email is the newest email seen.
  StateSet state =
      ApplyAll({UserCreated("e0", "u1", At(0), "old@x"), UserDisabled("e5", "u1", At(5), "fraud")});
  ProviderEvent enable = UserEnabled("e3", "u1", At(3));
  enable.events[0].email = "new@x";
  EXPECT_EQ(Apply(state, enable), Outcome::kStale);
  EXPECT_EQ(state.users.at("u1").state, UserState::kDisabled);
  EXPECT_EQ(state.users.at("u1").email.value, "new@x");
}

TEST(ProfileTest, AccountNameConvergesByNewestVersion) {
  ProviderEvent add = MemberAdded("e3", "a1", "u1", At(3));
  add.events[0].account_name = "Acme Inc";
  StateSet state = ApplyInEveryOrder({AccountCreated("e1", "a1", At(1), "Acme"), add,
                                      AccountCreated("e2", "a1", At(2), "Acme Ltd"),
                                      MemberAdded("e4", "a1", "u2", At(4))});  // no name
  EXPECT_EQ(state.accounts.at("a1").name.value, "Acme Inc");
  EXPECT_EQ(state.accounts.at("a1").name.version, (Version{At(3), "e3"}));
}

TEST(ProfileTest, EqualVersionTieBreaksOnEventId) {
  StateSet state = ApplyInEveryOrder(
      {UserUpdated("e-a", "u1", At(1), "a@x"), UserUpdated("e-b", "u1", At(1), "b@x")});
  EXPECT_EQ(state.users.at("u1").email.value, "b@x");
}

// --- Outcome ---------------------------------------------------------------------------------

TEST(OutcomeTest, ProfileEventsAreAppliedOnlyWhenTheyChangeSomething) {
  StateSet state;
  EXPECT_EQ(Apply(state, UserCreated("e1", "u1", At(1), "a@x")), Outcome::kApplied);
  EXPECT_EQ(Apply(state, UserUpdated("e2", "u1", At(2), "b@x")), Outcome::kApplied);
  EXPECT_EQ(Apply(state, UserUpdated("e0", "u1", At(0), "c@x")), Outcome::kStale);
  EXPECT_EQ(Apply(state, UserUpdated("e3", "u1", At(3))), Outcome::kStale);  // nothing carried
  EXPECT_EQ(Apply(state, AccountCreated("e4", "a1", At(4), "Acme")), Outcome::kApplied);
  EXPECT_EQ(Apply(state, AccountCreated("e5", "a1", At(1), "Old")), Outcome::kStale);
}

TEST(OutcomeTest, NoNormalizedEventsIsStale) {
  StateSet state;
  ProviderEvent empty = UserCreated("e1", "u1", At(1));
  empty.events.clear();
  TouchedKeys changed;
  EXPECT_EQ(ApplyProviderEvent(empty, state, changed), Outcome::kStale);
  EXPECT_EQ(state, StateSet{});
}

TEST(OutcomeTest, AppliedWhenAnyNormalizedEventWins) {
  StateSet state;
  Apply(state, UserDisabled("e9", "u1", At(9)));
  ProviderEvent both = UserEnabled("e5", "u1", At(5));              // loses
  both.events.push_back(UserDisabled("x", "u2", At(5)).events[0]);  // wins
  EXPECT_EQ(Apply(state, both), Outcome::kApplied);
  EXPECT_EQ(state.users.at("u1").state, UserState::kDisabled);
  EXPECT_EQ(state.users.at("u2").state, UserState::kDisabled);
  EXPECT_EQ(state.users.at("u2").state_version, (Version{At(5), "e5"}));  // the provider id
}

TEST(KeysOfTest, NamesEveryRecordAnEventCanTouch) {
  ProviderEvent pe = MemberAdded("e1", "a1", "u1", At(1));
  pe.events.push_back(UserDisabled("x", "u2", At(1)).events[0]);
  pe.events.push_back(AccountCreated("x", "a3", At(1)).events[0]);
  TouchedKeys keys = KeysOf(pe);
  EXPECT_THAT(keys.users, ElementsAre("u1", "u2"));
  EXPECT_THAT(keys.accounts, ElementsAre("a1", "a3"));
  EXPECT_THAT(keys.memberships, ElementsAre(kA1U1));

  TouchedKeys more;
  more.users = {"u3"};
  keys.Merge(more);
  EXPECT_THAT(keys.users, ElementsAre("u1", "u2", "u3"));
}

// --- Whole member lists (FusionAuth group.member.update) ---------------------------------------

TEST(MemberListTest, RemovesEveryOlderMemberItDoesNotNameAndKeepsNewerOnes) {
  StateSet state;
  Apply(state, MemberAdded("e1", "g", "u1", At(1)));
  Apply(state, MemberAdded("e2", "g", "u2", At(2)));
  Apply(state, MemberAdded("e3", "g", "u3", At(9)));  // newer than the list
  Apply(state, MemberAdded("e4", "other", "u2", At(1)));
  EXPECT_EQ(Apply(state, MemberList("list", "g", {"u1"}, At(5))), Outcome::kApplied);
  EXPECT_TRUE(state.memberships.at({"g", "u1"}).present);
  const MembershipRecord& u2 = state.memberships.at({"g", "u2"});
  EXPECT_FALSE(u2.present);
  EXPECT_EQ(u2.removed_at, At(5));
  EXPECT_EQ(u2.last_event_type, "group.member.update");
  EXPECT_EQ(u2.version, (Version{At(5), "list"}));
  EXPECT_TRUE(state.memberships.at({"g", "u3"}).present);
  EXPECT_TRUE(state.memberships.at({"other", "u2"}).present);
  EXPECT_EQ(state.accounts.at("g").member_list_version, (Version{At(5), "list"}));
}

TEST(MemberListTest, ALateOlderAddOfAMemberItDidNotNameStaysRemoved) {
  StateSet state;
  Apply(state, MemberList("list", "g", {"u1"}, At(5)));
  EXPECT_EQ(Apply(state, MemberAdded("late", "g", "u2", At(3))), Outcome::kStale);
  const MembershipRecord& u2 = state.memberships.at({"g", "u2"});
  EXPECT_FALSE(u2.present);
  EXPECT_EQ(u2.version, (Version{At(5), "list"}));
  // The join details of the add are kept, as they would be had it come first.
  EXPECT_EQ(u2.joined_at, At(3));
  // A newer add does bring the member back.
  EXPECT_EQ(Apply(state, MemberAdded("later", "g", "u2", At(6))), Outcome::kApplied);
  EXPECT_TRUE(state.memberships.at({"g", "u2"}).present);
}

TEST(MemberListTest, AnEmptyListRemovesEveryoneAndAnOlderListChangesNothing) {
  StateSet state;
  Apply(state, MemberAdded("e1", "g", "u1", At(1)));
  Apply(state, MemberAdded("e2", "g", "u2", At(1)));
  EXPECT_EQ(Apply(state, MemberList("empty", "g", {}, At(4))), Outcome::kApplied);
  EXPECT_FALSE(state.memberships.at({"g", "u1"}).present);
  EXPECT_FALSE(state.memberships.at({"g", "u2"}).present);
  const StateSet before = state;
  EXPECT_EQ(Apply(state, MemberList("older", "g", {"u1", "u3"}, At(2))), Outcome::kStale);
  EXPECT_FALSE(state.memberships.at({"g", "u1"}).present);
  EXPECT_FALSE(state.memberships.at({"g", "u3"}).present);
  EXPECT_EQ(state.accounts.at("g").member_list_version, (Version{At(4), "empty"}));
  EXPECT_EQ(state.memberships.at({"g", "u3"}).version, (Version{At(4), "empty"}));
}

TEST(MemberListTest, SeatsFollowTheList) {
  StateSet state;
  Apply(state, MemberAdded("e1", "g", "u1", At(1)));
  Apply(state, MemberAdded("e2", "g", "u2", At(1), "admin"));
  Apply(state, MemberList("list", "g", {"u3"}, At(4)));
  SeatTable seats = CountSeats(state);
  EXPECT_EQ(seats.size(), 1u);
  EXPECT_EQ((seats[{"g", "member"}].members), 1);
}

TEST(MemberListTest, KeysOfAListNameItsAccountsMembers) {
  TouchedKeys keys = KeysOf(MemberList("list", "g", {"u1"}, At(1)));
  EXPECT_EQ(keys.member_lists, std::set<std::string>{"g"});
  EXPECT_EQ(keys.accounts, std::set<std::string>{"g"});
  EXPECT_TRUE(keys.memberships.contains({"g", "u1"}));
}

// --- Order independence (the guarantee of convergence.h) -------------------------------------

constexpr int kSeeds = 200;
constexpr int kEventsPerHistory = 60;
constexpr int kPermutations = 4;

// Random histories over 5 users and 3 accounts with fact times drawn from 6 values, so that
// fact-time ties (decided by event id) are common. Event ids are unique but unrelated to time.
using testutil::HistoryGenerator;

// Adds `deltas` into `running` (both seat tables).
void AddInto(SeatTable& running, const SeatTable& deltas) {
  for (const auto& [key, d] : deltas) {
    running[key].members += d.members;
    running[key].billable += d.billable;
  }
  DropZeroRows(running);
}

// Applies events one by one, keeping seat counts incrementally as the PostgreSQL store does
// (deltas over the memberships that changed and every membership of a user that changed), and
// checks them against a full recount after every event.
StateSet ApplyCountingSeats(const std::vector<ProviderEvent>& events,
                            const std::vector<size_t>& order) {
  StateSet state;
  SeatTable running;
  for (size_t i : order) {
    const StateSet before = state;
    TouchedKeys changed;
    ApplyProviderEvent(events[i], state, changed);
    std::set<MembershipKey> pairs = changed.memberships;
    for (const auto& [key, m] : state.memberships) {
      if (changed.users.contains(key.second)) pairs.insert(key);
    }
    AddInto(running, SeatDeltas(before, state, pairs));
    EXPECT_EQ(running, CountSeats(state)) << "after event " << events[i].event_id;
  }
  return state;
}

TEST(OrderIndependenceTest, EveryPermutationConvergesToTheSortedResult) {
  for (uint32_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    HistoryGenerator gen(seed);
    const std::vector<ProviderEvent> events = gen.History(kEventsPerHistory);

    // Reference: applied in (fact time, event id) order, the order a perfect provider sends.
    std::vector<size_t> sorted(events.size());
    std::iota(sorted.begin(), sorted.end(), 0);
    std::sort(sorted.begin(), sorted.end(), [&](size_t a, size_t b) {
      return Version{events[a].fact_time, events[a].event_id} <
             Version{events[b].fact_time, events[b].event_id};
    });
    const StateSet expected = ApplyInOrder(events, sorted);
    ASSERT_FALSE(expected.users.empty());

    for (int p = 0; p < kPermutations; ++p) {
      std::vector<size_t> order = sorted;
      std::shuffle(order.begin(), order.end(), gen.rng());
      ASSERT_EQ(ApplyInOrder(events, order), expected) << "permutation " << p;
    }
    // Seats kept by deltas agree with a recount, in arrival order and in a shuffled one.
    std::vector<size_t> arrival(events.size());
    std::iota(arrival.begin(), arrival.end(), 0);
    ASSERT_EQ(ApplyCountingSeats(events, arrival), expected);
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(OrderIndependenceTest, GeneratedHistoriesExerciseTiesAndStaleEvents) {
  // Guards the property test itself: its histories must contain what makes it meaningful.
  int ties = 0, stale = 0, removed = 0, disabled_or_deleted = 0, removed_by_list = 0;
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    HistoryGenerator gen(seed);
    std::vector<ProviderEvent> events = gen.History(kEventsPerHistory);
    std::set<TimePoint> times;
    StateSet state;
    for (const ProviderEvent& e : events) {
      if (!times.insert(e.fact_time).second) ++ties;
      if (Apply(state, e) == Outcome::kStale) ++stale;
    }
    for (const auto& [key, m] : state.memberships) {
      removed += m.present ? 0 : 1;
      removed_by_list += !m.present && m.last_event_type.starts_with("group.member.update");
    }
    for (const auto& [id, u] : state.users) disabled_or_deleted += u.state != UserState::kActive;
  }
  EXPECT_GT(ties, 100);
  EXPECT_GT(stale, 100);
  EXPECT_GT(removed, 5);
  EXPECT_GT(disabled_or_deleted, 5);
  EXPECT_GT(removed_by_list, 5);
}

}  // namespace
}  // namespace mm::domain
