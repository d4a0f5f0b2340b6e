// Reconciling a complete listing with the mirror (domain/reconcile.h): which corrections, at
// which fact times, and what is never corrected; and that applying them converges: a second
// run over the same listing finds no drift.

#include "domain/reconcile.h"

#include <gtest/gtest.h>

#include "domain/convergence.h"
#include "event_builders.h"

namespace mm::domain {
namespace {

using testutil::At;

std::vector<std::string> Keys(const std::vector<Correction>& corrections) {
  std::vector<std::string> keys;
  for (const Correction& c : corrections) keys.push_back(c.key);
  return keys;
}

TEST(DiffMembersTest, AddsChangesAndRemovesAtTheListingTime) {
  std::vector<ListedMember> listing = {
      {.user_id = "u1", .role = "owner", .email = "u1@example.net", .name = "U One", .joined_at = At(-100)},
      {.user_id = "u2", .role = "admin", .email = std::nullopt, .name = std::nullopt, .joined_at = std::nullopt},
      {.user_id = "u3", .role = "member", .email = std::nullopt, .name = std::nullopt, .joined_at = std::nullopt},
      {.user_id = "u1", .role = "member", .email = std::nullopt, .name = std::nullopt, .joined_at = std::nullopt},
  };
  std::map<std::string, std::string> present = {{"u2", "member"}, {"u3", "member"}, {"u4", "admin"}, {"u5", "member"}};
  std::vector<Correction> c = DiffMembers("acc", listing, {"u5"}, present, At(10));
  EXPECT_EQ(Keys(c), (std::vector<std::string>{"member_added:acc:u1", "role_changed:acc:u2", "member_removed:acc:u4"}));
  EXPECT_EQ(c[0].event.kind, EventKind::kMemberAdded);
  EXPECT_EQ(c[0].event.role, "owner");  // the first listing of u1
  EXPECT_EQ(c[0].event.email, "u1@example.net");
  EXPECT_EQ(c[0].event.joined_at, At(-100));
  EXPECT_EQ(c[0].event.added_via, "reconcile");
  EXPECT_EQ(c[1].event.kind, EventKind::kMemberRoleChanged);
  EXPECT_EQ(c[1].event.role, "admin");
  EXPECT_EQ(c[2].event.kind, EventKind::kMemberRemoved);
  EXPECT_EQ(c[2].event.role, "admin");
  for (const Correction& x : c) {
    EXPECT_EQ(x.event.fact_time, At(10));
    EXPECT_EQ(x.event.account_id, "acc");
  }
  // u5 was named but unusable: not removed.
}

TEST(DiffMembersTest, ANewerFactInTheMirrorWinsOverTheCorrection) {
  // The mirror saw u1 removed after the listing started: the listing's "u1 is a member" loses.
  StateSet state;
  testutil::Apply(state, testutil::MemberAdded("e1", "acc", "u1", At(0)));
  testutil::Apply(state, testutil::MemberRemoved("e2", "acc", "u1", At(20)));
  std::vector<Correction> c = DiffMembers("acc", {{.user_id = "u1", .role = "member", .email = std::nullopt,
                                                   .name = std::nullopt, .joined_at = std::nullopt}},
                                          {}, {}, At(10));
  ASSERT_EQ(c.size(), 1u);
  ProviderEvent pe = testutil::Wrap("reconcile:1", c[0].event);
  EXPECT_EQ(testutil::Apply(state, pe), Outcome::kStale);
  EXPECT_FALSE(state.memberships.at({"acc", "u1"}).present);
}

TEST(DiffUsersTest, CorrectsFlagsAndMakesUnknownUsersKnown) {
  std::vector<ListedUser> listing = {
      {.user_id = "known_active", .disabled = true, .email = std::nullopt, .name = std::nullopt, .changed_at = std::nullopt},
      {.user_id = "known_disabled", .disabled = false, .email = std::nullopt, .name = std::nullopt, .changed_at = std::nullopt},
      {.user_id = "same", .disabled = true, .email = std::nullopt, .name = std::nullopt, .changed_at = std::nullopt},
      {.user_id = "deleted", .disabled = false, .email = std::nullopt, .name = std::nullopt, .changed_at = std::nullopt},
      {.user_id = "new", .disabled = false, .email = "n@example.net", .name = "N", .changed_at = std::nullopt},
      {.user_id = "new_disabled", .disabled = true, .email = std::nullopt, .name = std::nullopt, .changed_at = std::nullopt},
  };
  std::map<std::string, MirrorUser> mirror = {
      {"known_active", {.state = UserState::kActive, .state_provider = std::nullopt, .state_changed_at = std::nullopt}},
      {"known_disabled", {.state = UserState::kDisabled, .state_provider = Provider::kHuudis, .state_changed_at = At(1)}},
      {"same", {.state = UserState::kDisabled, .state_provider = Provider::kHuudis, .state_changed_at = At(1)}},
      {"deleted", {.state = UserState::kDeleted, .state_provider = Provider::kHuudis, .state_changed_at = At(1)}},
  };
  std::vector<Correction> c = DiffUsers(listing, mirror, {.listed_at = At(10), .use_changed_at = false});
  EXPECT_EQ(Keys(c), (std::vector<std::string>{"user_disabled:known_active", "user_enabled:known_disabled",
                                               "user_enabled:deleted", "user_added:new", "user_disabled:new_disabled"}));
  EXPECT_EQ(c[0].event.kind, EventKind::kUserDisabled);
  EXPECT_EQ(c[0].event.reason, "reconcile");
  EXPECT_EQ(c[3].event.kind, EventKind::kUserCreated);
  EXPECT_EQ(c[3].event.email, "n@example.net");
  EXPECT_EQ(c[4].event.kind, EventKind::kUserDisabled);
  for (const Correction& x : c) EXPECT_EQ(x.event.fact_time, At(10));
}

// An incident override by an operator is not undone by the next listing, which cannot say
// whether the provider's state changed after it.
TEST(DiffUsersTest, AnOperatorsOverrideIsNotUndoneByAListingWithoutTimes) {
  std::map<std::string, MirrorUser> mirror = {
      {"u1", {.state = UserState::kDisabled, .state_provider = Provider::kOperator, .state_changed_at = At(5)}}};
  std::vector<ListedUser> listing = {
      {.user_id = "u1", .disabled = false, .email = std::nullopt, .name = std::nullopt, .changed_at = std::nullopt}};
  EXPECT_TRUE(DiffUsers(listing, mirror, {.listed_at = At(100), .use_changed_at = false}).empty());
  // A listing that says when the provider changed the user: newer than the override wins.
  listing[0].changed_at = At(50);
  std::vector<Correction> c = DiffUsers(listing, mirror, {.listed_at = At(100), .use_changed_at = true});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].event.fact_time, At(50));
  listing[0].changed_at = At(4);  // older than the override: nothing to do
  EXPECT_TRUE(DiffUsers(listing, mirror, {.listed_at = At(100), .use_changed_at = true}).empty());
}

TEST(DiffDeletedUsersTest, OnlyUsersTheMirrorStillHasAreDeleted) {
  std::map<std::string, MirrorUser> mirror = {
      {"gone", {.state = UserState::kActive, .state_provider = std::nullopt, .state_changed_at = std::nullopt}},
      {"already", {.state = UserState::kDeleted, .state_provider = std::nullopt, .state_changed_at = std::nullopt}},
      {"stays", {.state = UserState::kActive, .state_provider = std::nullopt, .state_changed_at = std::nullopt}}};
  std::vector<Correction> c =
      DiffDeletedUsers({"gone", "already", "stays", "never_known"}, {"stays"}, mirror, At(7));
  EXPECT_EQ(Keys(c), std::vector<std::string>{"user_deleted:gone"});
  EXPECT_EQ(c[0].event.kind, EventKind::kUserDeleted);
  EXPECT_EQ(c[0].event.fact_time, At(7));
}

// Applying a run's corrections brings the mirror to the listing: the next run finds nothing.
TEST(ReconcileTest, ASecondRunOverTheSameListingFindsNoDrift) {
  StateSet state;
  testutil::Apply(state, testutil::MemberAdded("e1", "acc", "u1", At(0), "member"));
  testutil::Apply(state, testutil::MemberAdded("e2", "acc", "stale", At(0), "member"));
  std::vector<ListedMember> listing = {
      {.user_id = "u1", .role = "admin", .email = std::nullopt, .name = std::nullopt, .joined_at = std::nullopt},
      {.user_id = "u2", .role = "member", .email = std::nullopt, .name = std::nullopt, .joined_at = At(-5)}};
  auto present_of = [&] {
    std::map<std::string, std::string> present;
    for (const auto& [key, m] : state.memberships) {
      if (m.present) present[key.second] = m.role;
    }
    return present;
  };
  std::vector<Correction> first = DiffMembers("acc", listing, {}, present_of(), At(10));
  EXPECT_EQ(first.size(), 3u);
  int n = 0;
  for (const Correction& c : first) {
    EXPECT_EQ(testutil::Apply(state, testutil::Wrap("r" + std::to_string(n++), c.event)), Outcome::kApplied);
  }
  EXPECT_EQ(state.memberships.at({"acc", "u2"}).joined_at, At(-5));  // the listed join time
  EXPECT_TRUE(DiffMembers("acc", listing, {}, present_of(), At(20)).empty());
}

}  // namespace
}  // namespace mm::domain
