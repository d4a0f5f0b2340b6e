// The pull sources' decoders (adapters/huudis_pull.h, monocloud_pull.h, fusionauth_pull.h) on
// the reference fixtures and their documented variants: both Huudis page shapes, both audit
// entry shapes, the webhook mapping reused for audit metadata, MonoCloud's X-Pagination,
// FusionAuth's search answer; and what makes a listing incomplete.

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "adapters/adapter_test_support.h"
#include "adapters/fusionauth_pull.h"
#include "adapters/huudis_pull.h"
#include "adapters/monocloud_pull.h"

namespace mm::adapters {
namespace {

using domain::EventKind;
using nlohmann::json;
using testing::ReadFixture;

const TimePoint kNow = *ParseRfc3339("2026-06-10T12:00:00Z");

TimePoint T(const char* text) { return *ParseRfc3339(text); }

// ---- Huudis audit log ----

TEST(HuudisAuditPageTest, DecodesTheFixtureIntoTheWebhooksEvents) {
  auto page = DecodeHuudisAuditPage(ReadFixture("huudis.audit-log.page.json"), "acc_01KHNBH9JCVBRBAVHNB1HYYFDX", kNow);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->next_cursor, "aud_01KS327YAK82YH18K45KKH1ER8");
  ASSERT_EQ(page->entries.size(), 4u);
  EXPECT_EQ(page->skipped, 0u);

  const HuudisAuditEntry& removed = page->entries[0];
  EXPECT_EQ(removed.id, "aud_01KTRNST6YNFTYC4R0V7D7TRDQ");
  EXPECT_EQ(removed.created_at, T("2026-06-10T11:48:36.702Z"));
  ASSERT_TRUE(removed.event.has_value());
  EXPECT_EQ(removed.event->event_id, "aud_01KTRNST6YNFTYC4R0V7D7TRDQ");
  EXPECT_EQ(removed.event->event_type, "account.member_removed");
  EXPECT_EQ(removed.event->provider, domain::Provider::kHuudis);
  EXPECT_EQ(removed.event->received_at, kNow);
  ASSERT_EQ(removed.event->events.size(), 1u);
  const domain::NormalizedEvent& r = removed.event->events[0];
  EXPECT_EQ(r.kind, EventKind::kMemberRemoved);
  EXPECT_EQ(r.account_id, "acc_01KHNBH9JCVBRBAVHNB1HYYFDX");
  EXPECT_EQ(r.user_id, "usr_01KS325EWE6RW751J81QV16TCW");
  EXPECT_EQ(r.role, "admin");
  EXPECT_EQ(r.actor, "usr_01KHNBGW5677S9QXWZK6SRZPG6");  // the audit log's actorUserId
  EXPECT_EQ(r.fact_time, T("2026-06-10T11:48:36.702Z"));  // no removedAt: the entry's time
  // The raw body is the entry itself (provenance).
  EXPECT_EQ(json::parse(removed.event->raw_body)["id"], "aud_01KTRNST6YNFTYC4R0V7D7TRDQ");

  const domain::NormalizedEvent& enabled = page->entries[1].event->events.at(0);
  EXPECT_EQ(enabled.kind, EventKind::kUserEnabled);
  EXPECT_EQ(enabled.actor, "usr_01KBMF8Q60H0WWZ4KGT675KR39");
  const domain::NormalizedEvent& disabled = page->entries[2].event->events.at(0);
  EXPECT_EQ(disabled.kind, EventKind::kUserDisabled);
  EXPECT_EQ(disabled.reason, "account_compromise");
  EXPECT_EQ(disabled.fact_time, T("2026-06-03T09:15:27.402Z"));  // metadata.disabledAt
  const domain::NormalizedEvent& added = page->entries[3].event->events.at(0);
  EXPECT_EQ(added.kind, EventKind::kMemberAdded);
  EXPECT_EQ(added.added_via, "invite_accept");
  EXPECT_EQ(added.role, "member");
}

json Entry(const std::string& type, json metadata, const std::string& outcome = "success") {
  return {{"id", "aud_01KTRNST6YNFTYC4R0V7D7TRD1"},
          {"eventType", type},
          {"outcome", outcome},
          {"createdAt", "2026-06-10T11:00:00.000Z"},
          {"metadata", std::move(metadata)}};
}

std::string Page(const json& entries, json meta = {{"cursor", nullptr}, {"hasMore", false}}) {
  return json{{"data", entries}, {"error", nullptr}, {"meta", std::move(meta)}}.dump();
}

TEST(HuudisAuditPageTest, OnlySuccessfulFactsTheMirrorUsesBecomeEvents) {
  json entries = json::array({
      Entry("ops.end_user.disabled", {{"id", "usr_a"}}, "failure"),
      Entry("auth.login", {{"id", "usr_a"}}),
      Entry("iam.policy_attached", {{"policy", "p"}}),
      Entry("auth.signup", {{"id", "usr_new"}, {"email", "n@example.net"}, {"name", "New"}}),
      Entry("account.workspace_created", {{"id", "acc_new"}, {"name", "New Co"}}),
      Entry("account.member_role_changed", {{"userId", "usr_a"}, {"role", "owner"}, {"previousRole", "admin"}}),
  });
  auto page = DecodeHuudisAuditPage(Page(entries), "acc_ws", kNow);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->entries.size(), 6u);
  EXPECT_FALSE(page->entries[0].event.has_value());  // failure
  EXPECT_FALSE(page->entries[1].event.has_value());  // a login
  EXPECT_FALSE(page->entries[2].event.has_value());
  // Entries without events still carry their time: they move the watermark.
  EXPECT_EQ(page->entries[1].created_at, T("2026-06-10T11:00:00Z"));
  EXPECT_EQ(page->entries[3].event->events.at(0).kind, EventKind::kUserCreated);
  EXPECT_EQ(page->entries[3].event->events.at(0).email, "n@example.net");
  EXPECT_EQ(page->entries[4].event->events.at(0).kind, EventKind::kAccountCreated);
  EXPECT_EQ(page->entries[4].event->events.at(0).account_name, "New Co");
  // A workspace's own log may leave its id out of member metadata.
  const domain::NormalizedEvent& role = page->entries[5].event->events.at(0);
  EXPECT_EQ(role.kind, EventKind::kMemberRoleChanged);
  EXPECT_EQ(role.account_id, "acc_ws");
  EXPECT_EQ(role.role, "owner");
}

TEST(HuudisAuditPageTest, TheOlderGoShapeAndTheItemsPageShapeDecodeAlike) {
  json old_entry = {{"id", "aud_old"},
                    {"accountId", "acc_ws"},
                    {"actor", {{"id", "usr_op"}}},
                    {"action", "ops.end_user.disabled"},
                    {"resource", "usr_a"},
                    {"outcome", "success"},
                    {"details", {{"id", "usr_a"}, {"reason", "fraud"}}},
                    {"timestamp", "2026-06-09T10:00:00Z"}};
  std::string body = json{{"items", json::array({old_entry})}, {"nextCursor", "c2"}}.dump();
  auto page = DecodeHuudisAuditPage(body, "acc_ws", kNow);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->next_cursor, "c2");
  ASSERT_EQ(page->entries.size(), 1u);
  EXPECT_EQ(page->entries[0].created_at, T("2026-06-09T10:00:00Z"));
  const domain::NormalizedEvent& e = page->entries[0].event->events.at(0);
  EXPECT_EQ(e.kind, EventKind::kUserDisabled);
  EXPECT_EQ(e.user_id, "usr_a");
  EXPECT_EQ(e.reason, "fraud");
  EXPECT_EQ(e.fact_time, T("2026-06-09T10:00:00Z"));
  // The last page of the items shape: no cursor, or null, or empty.
  for (const json& end : {json(nullptr), json("")}) {
    auto last = DecodeHuudisAuditPage(json{{"items", json::array()}, {"nextCursor", end}}.dump(), "acc_ws", kNow);
    ASSERT_TRUE(last.ok());
    EXPECT_FALSE(last->next_cursor.has_value());
  }
}

TEST(HuudisAuditPageTest, UnusableEntriesAreSkippedOrDeadLettered) {
  json entries = json::array({
      json{{"eventType", "ops.end_user.disabled"}, {"outcome", "success"}},      // no id: skipped
      json{{"id", std::string(300, 'x')}, {"eventType", "auth.login"}},          // id too long
      Entry("ops.end_user.disabled", {{"email", "x@example.net"}}),             // no user id
      Entry("ops.end_user.disabled", {{"id", "usr_a"}, {"disabledAt", "soon"}}),  // bad time
      json("not an object"),
  });
  auto page = DecodeHuudisAuditPage(Page(entries), "acc_ws", kNow);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->skipped, 3u);
  ASSERT_EQ(page->entries.size(), 2u);
  EXPECT_EQ(page->entries[0].event->dead_letter_reason, "metadata.id missing");
  EXPECT_EQ(page->entries[1].event->dead_letter_reason, "metadata.disabledAt is not an RFC 3339 time in 1970..9999");
  EXPECT_TRUE(page->entries[1].event->events.empty());
}

TEST(HuudisPageShapeTest, WhatMakesAListingIncomplete) {
  EXPECT_FALSE(DecodeHuudisAuditPage("not json", "acc", kNow).ok());
  EXPECT_FALSE(DecodeHuudisAuditPage("[]", "acc", kNow).ok());
  EXPECT_FALSE(DecodeHuudisAuditPage(ReadFixture("huudis.api-error.json"), "acc", kNow).ok());
  // "more" without a way to get it.
  EXPECT_FALSE(DecodeHuudisAuditPage(Page(json::array(), {{"cursor", nullptr}, {"hasMore", true}}), "acc", kNow).ok());
  // hasMore false ends the listing even if a cursor is named.
  auto ended = DecodeHuudisAuditPage(Page(json::array(), {{"cursor", "c"}, {"hasMore", false}}), "acc", kNow);
  ASSERT_TRUE(ended.ok());
  EXPECT_FALSE(ended->next_cursor.has_value());
  // A member without an id could be anyone: nothing may be concluded from this listing.
  EXPECT_FALSE(DecodeHuudisMembersPage(Page(json::array({{{"role", "admin"}}}))).ok());
  EXPECT_FALSE(DecodeHuudisEndUsersPage(Page(json::array({{{"id", ""}, {"disabled", true}}}))).ok());
}

// ---- Huudis lists ----

TEST(HuudisListsTest, DecodesTheMembersAndEndUsersFixtures) {
  auto members = DecodeHuudisMembersPage(ReadFixture("huudis.iam-users.page.json"));
  ASSERT_TRUE(members.ok()) << members.status();
  EXPECT_FALSE(members->next_cursor.has_value());
  ASSERT_EQ(members->members.size(), 2u);
  EXPECT_EQ(members->members[0].user_id, "usr_01KHNBGW5677S9QXWZK6SRZPG6");
  EXPECT_EQ(members->members[0].role, "owner");
  EXPECT_EQ(members->members[0].name, "Ivo Marsh");
  EXPECT_EQ(members->members[1].role, "admin");
  EXPECT_EQ(members->members[1].joined_at, T("2026-05-20T16:07:03.251Z"));
  EXPECT_EQ(members->members[1].email, "dana.okafor@example.net");

  auto users = DecodeHuudisEndUsersPage(ReadFixture("huudis.end-users.page.json"));
  ASSERT_TRUE(users.ok()) << users.status();
  ASSERT_EQ(users->users.size(), 1u);
  EXPECT_EQ(users->users[0].user_id, "usr_01KS325EWE6RW751J81QV16TCW");
  EXPECT_TRUE(users->users[0].disabled);
  EXPECT_FALSE(users->users[0].changed_at.has_value());  // the list says not since when
}

TEST(HuudisListsTest, AnItemWithoutARoleOrFlagIsListedButNotUsed) {
  auto members = DecodeHuudisMembersPage(Page(json::array(
      {{{"id", "usr_a"}, {"role", "member"}}, {{"id", "usr_b"}}, {{"id", "usr_c"}, {"role", std::string(300, 'r')}}})));
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->members.size(), 1u);
  EXPECT_EQ(members->unusable, (std::vector<std::string>{"usr_b", "usr_c"}));
  auto users = DecodeHuudisEndUsersPage(Page(json::array({{{"id", "usr_a"}, {"disabled", "yes"}}})));
  ASSERT_TRUE(users.ok());
  EXPECT_TRUE(users->users.empty());
  EXPECT_EQ(users->unusable, std::vector<std::string>{"usr_a"});
}

// ---- MonoCloud ----

TEST(MonoCloudUsersPageTest, DecodesTheFixtureAndThePagingHeader) {
  std::string body = "[" + ReadFixture("monocloud.user.json") + "," + ReadFixture("monocloud.user.disabled.json") + "]";
  auto page = DecodeMonoCloudUsersPage(
      body, R"({"page_size":2,"current_page":1,"total_count":3,"has_previous":false,"has_next":true})", 2);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->has_next);
  ASSERT_EQ(page->users.size(), 2u);
  EXPECT_EQ(page->users[0].user_id, "cee97006-d6e2-42b9-ae93-3be485069b25");
  EXPECT_FALSE(page->users[0].disabled);
  EXPECT_EQ(page->users[0].email, "dana.okafor@example.net");  // the primary entry
  EXPECT_EQ(page->users[0].name, "Dana Okafor");                // claims.name
  EXPECT_EQ(page->users[0].changed_at, FromUnixSeconds(1780581731));  // last_updated, seconds
  EXPECT_TRUE(page->users[1].disabled);

  auto last = DecodeMonoCloudUsersPage("[]", R"({"has_next":false})", 2);
  ASSERT_TRUE(last.ok());
  EXPECT_FALSE(last->has_next);
  // Without a usable header a full page is taken to have a next one; a short page ends it.
  EXPECT_TRUE(DecodeMonoCloudUsersPage(body, std::nullopt, 2)->has_next);
  EXPECT_FALSE(DecodeMonoCloudUsersPage(body, "garbage", 10)->has_next);
}

TEST(MonoCloudUsersPageTest, NameAndEmailFallBackAndBadItemsAreHandled) {
  json user = {{"user_id", "u1"},
               {"disabled", false},
               {"claims", {{"given_name", "Ada"}, {"family_name", "Lovelace"}}},
               {"emails", json::array({{{"email", "second@example.net"}, {"primary", false}}})},
               {"last_updated", "not a number"}};
  auto page = DecodeMonoCloudUsersPage(json::array({user}).dump(), std::nullopt, 10);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->users.at(0).name, "Ada Lovelace");
  EXPECT_EQ(page->users.at(0).email, "second@example.net");  // no primary: the first
  EXPECT_FALSE(page->users.at(0).changed_at.has_value());
  EXPECT_FALSE(DecodeMonoCloudUsersPage(R"([{"id":"u1","disabled":false}])", std::nullopt, 10).ok())
      << "the id field is user_id";
  EXPECT_FALSE(DecodeMonoCloudUsersPage(ReadFixture("monocloud.problem.404.json"), std::nullopt, 10).ok());
  auto no_flag = DecodeMonoCloudUsersPage(R"([{"user_id":"u1"}])", std::nullopt, 10);
  ASSERT_TRUE(no_flag.ok());
  EXPECT_EQ(no_flag->unusable, std::vector<std::string>{"u1"});
}

// ---- FusionAuth ----

TEST(FusionAuthDecodersTest, SearchAnswerAndUserAnswer) {
  json deactivated = json::parse(ReadFixture("fusionauth.user.deactivate.json"))["event"]["user"];
  json created = json::parse(ReadFixture("fusionauth.user.create.json"))["event"]["user"];
  auto page = DecodeFusionAuthSearchPage(
      json{{"total", 2}, {"users", json::array({deactivated, created})}, {"nextResults", "tok"}}.dump());
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total, 2);
  EXPECT_EQ(page->next_results, "tok");
  ASSERT_EQ(page->users.size(), 2u);
  EXPECT_EQ(page->users[0].user_id, "dd03f8bc-a5e3-49d4-8b7b-9ebabd24ee00");
  EXPECT_TRUE(page->users[0].disabled);  // active: false
  EXPECT_EQ(page->users[0].name, "Dana Okafor");
  EXPECT_EQ(page->users[0].changed_at, FromUnixMillis(1780478127500));
  auto empty = DecodeFusionAuthSearchPage(R"({"total":0})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->users.empty());

  auto user = DecodeFusionAuthUser(json{{"user", deactivated}}.dump());
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_TRUE(user->disabled);
  EXPECT_FALSE(DecodeFusionAuthUser(R"({"user":{"id":"x"}})").ok());  // no active flag
  EXPECT_FALSE(DecodeFusionAuthSearchPage(R"({"users":[{"active":true}]})").ok());  // no id
}

}  // namespace
}  // namespace mm::adapters
