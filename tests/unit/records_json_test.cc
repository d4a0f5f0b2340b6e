// The record serializer: exact round trips, tolerance of missing and unknown keys, and
// InvalidArgument for anything malformed.

#include "domain/records_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "event_builders.h"

namespace mm::domain {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using testutil::At;

// A time with microseconds, so that a round trip through text must keep all six digits.
TimePoint Micros(int64_t seconds, int64_t micros) {
  return At(seconds) + std::chrono::microseconds(micros);
}

UserRecord FullUser() {
  UserRecord u;
  u.user_id = "usr_01H\xc3\xa9";  // unicode survives
  u.state = UserState::kDisabled;
  u.state_version = Version{Micros(5, 123456), "evt_\"quoted\"\\"};
  u.state_event_type = "huudis.user.disabled.v1";
  u.state_provider = Provider::kFusionAuth;
  u.disabled_at = Micros(5, 123456);
  u.enabled_at = Micros(4, 1);
  u.deleted_at = Micros(3, 999999);
  u.disabled_reason = "fraud \xe2\x9c\x93";
  u.disabled_by = "admin-1";
  u.sessions_valid_after = Micros(6, 7);
  u.email.value = "ada@example.com";
  u.email.version = Version{Micros(1, 2), "e1"};
  u.name.value = "Ada";
  u.name.version = Version{Micros(2, 3), "e2"};
  return u;
}

MembershipRecord FullMembership() {
  MembershipRecord m;
  m.account_id = "acc_1";
  m.user_id = "usr_1";
  m.present = true;
  m.role = "admin";
  m.version = Version{Micros(9, 1), "e9"};
  m.last_event_type = "huudis.member.role_changed.v1";
  m.last_provider = Provider::kOperator;
  m.removed_at = Micros(8, 2);
  m.removed_by = "usr_boss";
  m.join_version = Version{Micros(7, 3), "e7"};
  m.joined_at = Micros(7, 3);
  m.added_via = "invite";
  m.added_by = "usr_inviter";
  return m;
}

// Serializes `record` and parses it back with `parse`; expects the very same record.
template <typename Record>
void ExpectRoundTrip(const Record& record, absl::StatusOr<Record> (*parse)(std::string_view)) {
  std::string text = ToJson(record);
  absl::StatusOr<Record> back = parse(text);
  ASSERT_TRUE(back.ok()) << back.status() << " parsing " << text;
  EXPECT_EQ(*back, record) << text;
}

TEST(RecordsJsonTest, FullUserRoundTrips) { ExpectRoundTrip(FullUser(), UserFromJson); }

TEST(RecordsJsonTest, EveryUserStateRoundTrips) {
  for (UserState s : {UserState::kActive, UserState::kDisabled, UserState::kDeleted}) {
    UserRecord u;
    u.user_id = "u1";
    u.state = s;
    ExpectRoundTrip(u, UserFromJson);
  }
}

TEST(RecordsJsonTest, MinimalUserRoundTripsAndLeavesAbsentValuesOut) {
  UserRecord u;
  u.user_id = "u1";
  std::string text = ToJson(u);
  EXPECT_EQ(json::parse(text), json::parse(R"({"user_id":"u1","state":"active"})"));
  ExpectRoundTrip(u, UserFromJson);
}

TEST(RecordsJsonTest, TimesAreRfc3339WithMicroseconds) {
  UserRecord u;
  u.user_id = "u1";
  u.sessions_valid_after = Micros(0, 1);
  json j = json::parse(ToJson(u));
  EXPECT_EQ(j["sessions_valid_after"], "2026-05-28T20:26:40.000001Z");
}

TEST(RecordsJsonTest, FullAndMinimalAccountRoundTrip) {
  AccountRecord full;
  full.account_id = "acc_1";
  full.name.value = "Acme, \"Inc\" {}";
  full.name.version = Version{Micros(1, 5), "e1"};
  AccountRecord minimal;
  minimal.account_id = "acc_2";
  ExpectRoundTrip(full, AccountFromJson);
  ExpectRoundTrip(minimal, AccountFromJson);
}

TEST(RecordsJsonTest, FullAndMinimalMembershipRoundTrip) {
  MembershipRecord minimal;
  minimal.account_id = "acc_1";
  minimal.user_id = "usr_1";
  MembershipRecord tombstone = FullMembership();
  tombstone.present = false;
  tombstone.role = "";
  ExpectRoundTrip(FullMembership(), MembershipFromJson);
  ExpectRoundTrip(minimal, MembershipFromJson);
  ExpectRoundTrip(tombstone, MembershipFromJson);
}

TEST(RecordsJsonTest, RecordsFromConvergenceRoundTrip) {
  StateSet state;
  ProviderEvent add = testutil::MemberAdded("e1", "a1", "u1", At(1), "admin");
  add.events[0].email = "a@x";
  add.events[0].account_name = "Acme";
  add.events[0].added_via = "sso";
  testutil::Apply(state, add);
  testutil::Apply(state, testutil::UserDisabled("e2", "u1", At(2), "fraud", "ops"));
  testutil::Apply(state, testutil::MemberRemoved("e3", "a1", "u1", At(3), "ops"));
  ExpectRoundTrip(state.users.at("u1"), UserFromJson);
  ExpectRoundTrip(state.accounts.at("a1"), AccountFromJson);
  ExpectRoundTrip(state.memberships.at({"a1", "u1"}), MembershipFromJson);
}

TEST(RecordsJsonTest, UnknownKeysAreIgnored) {
  absl::StatusOr<UserRecord> u =
      UserFromJson(R"({"user_id":"u1","state":"disabled","added_in_v9":{"x":[1,2]},"flag":true})");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->user_id, "u1");
  EXPECT_EQ(u->state, UserState::kDisabled);

  absl::StatusOr<MembershipRecord> m =
      MembershipFromJson(R"({"account_id":"a","user_id":"u","present":true,"extra":1})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(m->present);

  absl::StatusOr<AccountRecord> a = AccountFromJson(R"({"account_id":"a","extra":null})");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->account_id, "a");
}

TEST(RecordsJsonTest, MissingKeysAndNullsReadAsDefaults) {
  absl::StatusOr<UserRecord> u = UserFromJson(R"({"user_id":"u1","email":null,"state":null})");
  ASSERT_TRUE(u.ok()) << u.status();
  UserRecord expected;
  expected.user_id = "u1";
  EXPECT_EQ(*u, expected);

  absl::StatusOr<MembershipRecord> m = MembershipFromJson("{}");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(*m, MembershipRecord{});
}

TEST(RecordsJsonTest, MalformedInputIsInvalidArgument) {
  const char* const kBadUsers[] = {
      "",
      "not json",
      R"({"user_id":"u1")",  // truncated
      "[1,2]",
      R"("a string")",
      R"({"user_id":5})",
      R"({"state":"frozen"})",
      R"({"state":7})",
      R"({"disabled_at":"yesterday"})",
      R"({"disabled_at":"2026-02-30T00:00:00Z"})",
      R"({"sessions_valid_after":123})",
      R"({"state_provider":"okta"})",
      R"({"state_version":{"event_id":"e1"}})",
      R"({"state_version":{"at":"2026-05-28T20:26:40Z"}})",
      R"({"state_version":"e1"})",
      R"({"email_version":{"at":"bad","event_id":"e1"}})",
  };
  for (const char* text : kBadUsers) {
    SCOPED_TRACE(text);
    absl::StatusOr<UserRecord> u = UserFromJson(text);
    EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(MembershipFromJson(R"({"present":"yes"})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MembershipFromJson(R"({"last_provider":"nobody"})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AccountFromJson(R"({"name":["Acme"]})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AccountFromJson("null").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RecordsJsonTest, ErrorNamesTheProblem) {
  absl::StatusOr<UserRecord> u = UserFromJson(R"({"disabled_at":"yesterday"})");
  EXPECT_THAT(std::string(u.status().message()), HasSubstr("disabled_at"));
}

}  // namespace
}  // namespace mm::domain
