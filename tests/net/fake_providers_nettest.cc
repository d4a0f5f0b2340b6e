// The fake provider APIs (tests/support/fake_huudis.h, fake_monocloud.h, fake_fusionauth.h) over
// loopback: their answers have the shapes of the fixtures in tests/fixtures/, paging walks return
// every item exactly once, auth failures and faults come in each provider's error shape, and
// the fake-providers binary serves the sample state and its admin endpoints and stops on
// SIGTERM.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/time.h"
#include "fake_fusionauth.h"
#include "fake_huudis.h"
#include "fake_monocloud.h"
#include "http_post.h"

namespace mm::testing {
namespace {

using nlohmann::json;
using namespace std::chrono;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kWorkspace[] = "acc_01KHNBH9JCVBRBAVHNB1HYYFDX";

// --- A tiny client. ---

struct Reply {
  int status = 0;
  std::string content_type;
  std::string body;
  Headers headers;

  json Json() const {
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded()) throw std::runtime_error("not JSON: " + body);
    return parsed;
  }
  std::string Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
          })) {
        return v;
      }
    }
    return "";
  }
  bool HasHeader(std::string_view name) const { return !Header(name).empty(); }
};

Reply Call(const std::string& method, const std::string& url, const Headers& headers, const std::string& body = "") {
  auto reply = mm::client::HttpRequest(method, url, headers, body, seconds(15));
  if (!reply.ok()) throw std::runtime_error(method + " " + url + ": " + reply.status().ToString());
  return Reply{reply->status, reply->content_type, reply->body, reply->headers};
}

json Fixture(const std::string& name) {
  std::ifstream in(std::string(MM_FIXTURES_DIR) + "/" + name);
  if (!in) throw std::runtime_error("no fixture " + name);
  return json::parse(in);
}

TimePoint T(const char* text) {
  std::optional<TimePoint> t = ParseRfc3339(text);
  if (!t) throw std::invalid_argument(text);
  return *t;
}

std::string Kind(const json& j) {
  if (j.is_number()) return "number";
  return j.type_name();
}

// Same keys; where neither value is null, the same JSON type; nested objects and array elements
// (the i-th against the expected i-th, or the last one when the expected array is shorter) alike.
void ExpectSameShape(const json& actual, const json& expected, const std::string& where = "$") {
  if (actual.is_null() || expected.is_null()) return;
  ASSERT_EQ(Kind(actual), Kind(expected)) << where << ": " << actual.dump() << " vs " << expected.dump();
  if (expected.is_object()) {
    std::set<std::string> actual_keys, expected_keys;
    for (const auto& [k, v] : actual.items()) actual_keys.insert(k);
    for (const auto& [k, v] : expected.items()) expected_keys.insert(k);
    EXPECT_EQ(actual_keys, expected_keys) << where;
    for (const auto& [k, v] : expected.items()) {
      if (actual.contains(k)) ExpectSameShape(actual[k], v, where + "." + k);
    }
  } else if (expected.is_array() && !expected.empty()) {
    for (size_t i = 0; i < actual.size(); ++i) {
      ExpectSameShape(actual[i], expected[std::min(i, expected.size() - 1)], where + "[" + std::to_string(i) + "]");
    }
  }
}

std::set<std::string> Keys(const json& object) {
  std::set<std::string> keys;
  for (const auto& [k, v] : object.items()) keys.insert(k);
  return keys;
}

// --- Huudis. ---

Headers HuudisHeaders(const std::string& token = "hud_test_admin_token", const std::string& workspace = kWorkspace) {
  Headers h{{"Authorization", "Bearer " + token}};
  if (!workspace.empty()) h.emplace_back("X-Huudis-Workspace-Id", workspace);
  return h;
}

HuudisAuditEntry CliEntry(const json& j) {
  HuudisAuditEntry e;
  e.id = j["id"];
  e.event_type = j["eventType"];
  e.outcome = j["outcome"];
  e.created_at = T(j["createdAt"].get<std::string>().c_str());
  e.ip_address = j["ipAddress"];
  e.metadata = j["metadata"];
  return e;
}

HuudisMember MemberFrom(const json& j) {
  HuudisMember m;
  m.id = j["id"];
  m.email = j["email"];
  m.name = j["name"];
  m.email_verified = j["emailVerified"];
  m.role = j["role"];
  m.joined_at = T(j["joinedAt"].get<std::string>().c_str());
  m.last_login_at = T(j["lastLoginAt"].get<std::string>().c_str());
  m.created_at = T(j["createdAt"].get<std::string>().c_str());
  m.is_you = j["isYou"];
  for (const json& g : j["groups"]) m.groups.push_back({g["id"], g["name"]});
  return m;
}

HuudisEndUser EndUserFrom(const json& j) {
  HuudisEndUser u;
  u.id = j["id"];
  u.email = j["email"];
  u.name = j["name"];
  u.email_verified = j["emailVerified"];
  u.disabled = j["disabled"];
  u.created_at = T(j["createdAt"].get<std::string>().c_str());
  u.last_login_at = T(j["lastLoginAt"].get<std::string>().c_str());
  u.first_sign_in_at = T(j["firstSignInAt"].get<std::string>().c_str());
  u.client_count = j["clientCount"];
  return u;
}

// A member or end user "usr_<n>" with a time `minutes` after a fixed instant.
std::string UserId(int n) {
  char id[40];
  std::snprintf(id, sizeof id, "usr_01KS%022d", n);
  return id;
}

TimePoint Minute(int minutes) { return T("2026-05-01T00:00:00Z") + std::chrono::minutes(minutes); }

// Walks a Huudis listing to its end; every page in `shape`; returns the ids in order.
std::vector<std::string> WalkHuudis(const FakeHuudis& huudis, const std::string& path, int limit, HuudisPageShape shape,
                                    const std::string& extra_query = "", int* pages = nullptr) {
  std::vector<std::string> ids;
  std::string cursor;
  for (int page = 0; page < 1000; ++page) {
    std::string url = huudis.base_url() + path + "?limit=" + std::to_string(limit) + extra_query;
    if (!cursor.empty()) url += "&cursor=" + cursor;
    Reply r = Call("GET", url, HuudisHeaders());
    if (r.status != 200) throw std::runtime_error("page " + std::to_string(page) + ": " + r.body);
    json body = r.Json();
    json items, next;
    if (shape == HuudisPageShape::kItems) {
      EXPECT_EQ(Keys(body), (std::set<std::string>{"items", "nextCursor"}));
      items = body["items"];
      next = body["nextCursor"];
    } else {
      EXPECT_EQ(Keys(body), (std::set<std::string>{"data", "error", "meta"}));
      items = body["data"];
      next = body["meta"]["cursor"];
      EXPECT_EQ(body["meta"]["hasMore"].get<bool>(), next.is_string());
    }
    EXPECT_LE(items.size(), static_cast<size_t>(limit));
    for (const json& item : items) ids.push_back(item["id"]);
    if (pages != nullptr) *pages = page + 1;
    if (next.is_null()) return ids;
    cursor = next.get<std::string>();
  }
  throw std::runtime_error("walk does not end");
}

TEST(FakeHuudisTest, AuditPageIsTheFixturePage) {
  FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  json fixture = Fixture("huudis.audit-log.page.json");
  // Added oldest first, so the order of the answer is the fake's, not the insertion order.
  for (auto it = fixture["data"].rbegin(); it != fixture["data"].rend(); ++it) huudis.AddAuditEntry(kWorkspace, CliEntry(*it));

  Reply r = Call("GET", huudis.base_url() + "/v1/account/audit?limit=3", HuudisHeaders());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  json page = r.Json();
  ExpectSameShape(page, fixture);
  json first_three = json::array({fixture["data"][0], fixture["data"][1], fixture["data"][2]});
  EXPECT_EQ(page["data"], first_three);
  EXPECT_TRUE(page["meta"]["hasMore"].get<bool>());
  EXPECT_TRUE(page["meta"]["cursor"].is_string());
  EXPECT_TRUE(std::regex_match(page["meta"]["requestId"].get<std::string>(), std::regex("req_[0-9A-HJKMNP-TV-Z]{26}")));
  EXPECT_TRUE(ParseRfc3339(page["meta"]["timestamp"].get<std::string>()).has_value());

  Reply rest = Call("GET", huudis.base_url() + "/v1/account/audit?limit=3&cursor=" + page["meta"]["cursor"].get<std::string>(),
                    HuudisHeaders());
  ASSERT_EQ(rest.status, 200) << rest.body;
  EXPECT_EQ(rest.Json()["data"], json::array({fixture["data"][3]}));
  EXPECT_FALSE(rest.Json()["meta"]["hasMore"].get<bool>());
  EXPECT_TRUE(rest.Json()["meta"]["cursor"].is_null());
}

TEST(FakeHuudisTest, MembersAndEndUsersAreTheFixturePages) {
  FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  json members = Fixture("huudis.iam-users.page.json");
  json end_users = Fixture("huudis.end-users.page.json");
  for (const json& m : members["data"]) huudis.UpsertMember(kWorkspace, MemberFrom(m));
  for (const json& u : end_users["data"]) huudis.UpsertEndUser(kWorkspace, EndUserFrom(u));

  Reply r = Call("GET", huudis.base_url() + "/v1/iam/users", HuudisHeaders());
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectSameShape(r.Json(), members);
  EXPECT_EQ(r.Json()["data"], members["data"]);  // oldest joined first, as in the fixture
  EXPECT_EQ(r.Json()["meta"]["cursor"], nullptr);
  EXPECT_EQ(r.Json()["meta"]["hasMore"], false);

  r = Call("GET", huudis.base_url() + "/v1/ops/end-users", HuudisHeaders());
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectSameShape(r.Json(), end_users);
  EXPECT_EQ(r.Json()["data"], end_users["data"]);
}

TEST(FakeHuudisTest, ErrorsUseTheForjioEnvelope) {
  FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  json fixture = Fixture("huudis.api-error.json");
  auto expect_error = [&](const Reply& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    json body = r.Json();
    ExpectSameShape(body, fixture);
    EXPECT_EQ(body["data"], nullptr);
    EXPECT_EQ(body["error"]["code"], code) << r.body;
    EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
  };
  const std::string members = huudis.base_url() + "/v1/iam/users";
  expect_error(Call("GET", members, {{"X-Huudis-Workspace-Id", kWorkspace}}), 401, "UNAUTHORIZED");
  expect_error(Call("GET", members, HuudisHeaders("wrong")), 401, "UNAUTHORIZED");
  expect_error(Call("GET", members, {{"Authorization", "Basic hud_test_admin_token"}, {"X-Huudis-Workspace-Id", kWorkspace}}),
               401, "UNAUTHORIZED");
  expect_error(Call("GET", members, HuudisHeaders("hud_test_admin_token", "")), 403, "FORBIDDEN");
  expect_error(Call("GET", members, HuudisHeaders("hud_test_admin_token", "acc_01KHNBH9JCVBRBAVHNB1HYYFDZ")), 403,
               "FORBIDDEN");
  expect_error(Call("GET", huudis.base_url() + "/v1/iam/nothing", HuudisHeaders()), 404, "NOT_FOUND");
  expect_error(Call("POST", members, HuudisHeaders()), 404, "NOT_FOUND");
  expect_error(Call("GET", members + "?limit=ten", HuudisHeaders()), 400, "INVALID_REQUEST");
  expect_error(Call("GET", members + "?limit=0", HuudisHeaders()), 400, "INVALID_REQUEST");
  expect_error(Call("GET", members + "?cursor=garbage", HuudisHeaders()), 400, "INVALID_REQUEST");
  // The admin endpoints are off unless asked for.
  expect_error(Call("POST", huudis.base_url().substr(0, huudis.base_url().size() - 4) + "/_fake/huudis/disable", {}, "{}"),
               404, "NOT_FOUND");

  // A cursor belongs to its listing.
  for (int i = 0; i < 3; ++i) huudis.UpsertMember(kWorkspace, {UserId(i), "m@example.net", "M", "member", Minute(i)});
  json page = Call("GET", members + "?limit=1", HuudisHeaders()).Json();
  expect_error(Call("GET", huudis.base_url() + "/v1/ops/end-users?cursor=" + page["meta"]["cursor"].get<std::string>(),
                    HuudisHeaders()),
               400, "INVALID_REQUEST");

  // A rotated token: the old one stops working at once.
  huudis.SetCredential("hud_rotated");
  expect_error(Call("GET", members, HuudisHeaders()), 401, "UNAUTHORIZED");
  EXPECT_EQ(Call("GET", members, HuudisHeaders("hud_rotated")).status, 200);
}

TEST(FakeHuudisTest, WalksReturnEveryItemOnceInBothPageShapes) {
  FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  std::vector<std::pair<TimePoint, std::string>> joined;  // (joinedAt, id), some times shared
  for (int i = 0; i < 57; ++i) {
    TimePoint at = Minute((i * 7) % 40);
    huudis.UpsertMember(kWorkspace, {UserId(i), "m" + std::to_string(i) + "@example.net", "M", "member", at});
    huudis.UpsertEndUser(kWorkspace, {UserId(i), "e" + std::to_string(i) + "@example.net", i % 2 ? "Odd" : "Even", false, at});
    joined.emplace_back(at, UserId(i));
  }
  std::sort(joined.begin(), joined.end());
  std::vector<std::string> oldest_first;
  for (const auto& [at, id] : joined) oldest_first.push_back(id);
  std::vector<std::string> newest_first(oldest_first.rbegin(), oldest_first.rend());

  for (HuudisPageShape shape : {HuudisPageShape::kEnvelope, HuudisPageShape::kItems}) {
    SCOPED_TRACE(shape == HuudisPageShape::kItems ? "items" : "envelope");
    huudis.set_page_shape(shape);
    int pages = 0;
    EXPECT_THAT(WalkHuudis(huudis, "/v1/iam/users", 10, shape, "", &pages), ElementsAreArray(oldest_first));
    EXPECT_EQ(pages, 6);
    EXPECT_THAT(WalkHuudis(huudis, "/v1/ops/end-users", 8, shape), ElementsAreArray(newest_first));
    std::vector<std::string> odd;
    for (const std::string& id : newest_first) {
      if (std::stoi(id.substr(8)) % 2 == 1) odd.push_back(id);
    }
    EXPECT_THAT(WalkHuudis(huudis, "/v1/ops/end-users", 5, shape, "&search=oDD"), ElementsAreArray(odd));
  }
}

TEST(FakeHuudisTest, LimitDefaultsTo25AndIsTakenAs100AboveThat) {
  FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  for (int i = 0; i < 130; ++i) huudis.UpsertEndUser(kWorkspace, {UserId(i), "e@example.net", "E", false, Minute(i)});
  EXPECT_EQ(Call("GET", huudis.base_url() + "/v1/ops/end-users", HuudisHeaders()).Json()["data"].size(), 25u);
  EXPECT_EQ(Call("GET", huudis.base_url() + "/v1/ops/end-users?limit=1000", HuudisHeaders()).Json()["data"].size(), 100u);
  EXPECT_EQ(Call("GET", huudis.base_url() + "/v1/ops/end-users?limit=100", HuudisHeaders()).Json()["data"].size(), 100u);
}

TEST(FakeHuudisTest, CursorsStayValidWhileItemsChangeBetweenPages) {
  FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  for (int i = 0; i < 30; ++i) huudis.UpsertMember(kWorkspace, {UserId(i), "m@example.net", "M", "member", Minute(i)});
  std::vector<std::string> seen;
  json page = Call("GET", huudis.base_url() + "/v1/iam/users?limit=10", HuudisHeaders()).Json();
  for (const json& m : page["data"]) seen.push_back(m["id"]);
  // Between pages: the last member returned and a later one leave, one joins at the end.
  ASSERT_TRUE(huudis.RemoveMember(kWorkspace, UserId(9)));
  ASSERT_TRUE(huudis.RemoveMember(kWorkspace, UserId(20)));
  huudis.UpsertMember(kWorkspace, {UserId(99), "new@example.net", "New", "member", Minute(1000)});
  std::string cursor = page["meta"]["cursor"];
  while (true) {
    page = Call("GET", huudis.base_url() + "/v1/iam/users?limit=10&cursor=" + cursor, HuudisHeaders()).Json();
    for (const json& m : page["data"]) seen.push_back(m["id"]);
    if (!page["meta"]["hasMore"].get<bool>()) break;
    cursor = page["meta"]["cursor"];
  }
  std::vector<std::string> expected;
  for (int i = 0; i < 30; ++i) {
    if (i != 20) expected.push_back(UserId(i));
  }
  expected.push_back(UserId(99));
  EXPECT_THAT(seen, ElementsAreArray(expected));

  // The audit log: entries newer than the walk's start are not mixed into it.
  for (int i = 0; i < 9; ++i) {
    HuudisAuditEntry e = HuudisSignupEntry(UserId(i), "s@example.net", "S", Minute(i));
    huudis.AddAuditEntry(kWorkspace, e);
  }
  json audit = Call("GET", huudis.base_url() + "/v1/account/audit?limit=4", HuudisHeaders()).Json();
  std::vector<std::string> audit_ids;
  for (const json& e : audit["data"]) audit_ids.push_back(e["id"]);
  huudis.AddAuditEntry(kWorkspace, HuudisSignupEntry(UserId(50), "s@example.net", "S", Minute(500)));
  cursor = audit["meta"]["cursor"];
  while (true) {
    audit = Call("GET", huudis.base_url() + "/v1/account/audit?limit=4&cursor=" + cursor, HuudisHeaders()).Json();
    for (const json& e : audit["data"]) audit_ids.push_back(e["id"]);
    if (!audit["meta"]["hasMore"].get<bool>()) break;
    cursor = audit["meta"]["cursor"];
  }
  std::vector<HuudisAuditEntry> log = huudis.AuditLog(kWorkspace);  // newest first, with the late one
  ASSERT_EQ(log.size(), 10u);
  std::vector<std::string> expected_audit;
  for (size_t i = 1; i < log.size(); ++i) expected_audit.push_back(log[i].id);
  EXPECT_THAT(audit_ids, ElementsAreArray(expected_audit));
}

TEST(FakeHuudisTest, AuditIsNewestFirstAndFiltered) {
  FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  auto add = [&](std::string id, const char* type, const char* at, const char* outcome = "success") {
    HuudisAuditEntry e;
    e.id = std::move(id);
    e.event_type = type;
    e.created_at = T(at);
    e.outcome = outcome;
    huudis.AddAuditEntry(kWorkspace, e);
  };
  add("aud_01KT0000000000000000000001", "auth.signup", "2026-06-01T10:00:00.000Z");
  add("aud_01KT0000000000000000000002", "ops.end_user.disabled", "2026-06-02T10:00:00.000Z");
  add("aud_01KT0000000000000000000004", "ops.end_user.enabled", "2026-06-03T10:00:00.000Z");
  add("aud_01KT0000000000000000000003", "account.member_added", "2026-06-03T10:00:00.000Z");  // same time
  add("aud_01KT0000000000000000000005", "ops.end_user.disabled", "2026-06-04T10:00:00.000Z", "failure");
  add("aud_01KT0000000000000000000006", "account.member_removed", "2026-06-05T10:00:00.000Z");
  auto ids = [&](const std::string& query) {
    Reply r = Call("GET", huudis.base_url() + "/v1/account/audit?" + query, HuudisHeaders());
    std::vector<std::string> out;
    if (r.status != 200) {
      out.push_back(std::to_string(r.status) + " " + r.Json()["error"]["code"].get<std::string>());
      return out;
    }
    json body = r.Json();
    for (const json& e : body["data"]) out.push_back(e["id"].get<std::string>().substr(28));
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids(""), (V{"06", "05", "04", "03", "02", "01"}));
  EXPECT_EQ(ids("since=2026-06-03T10:00:00.000Z"), (V{"06", "05", "04", "03"}));  // inclusive
  EXPECT_EQ(ids("since=2026-06-03T12:00:00%2B02:00"), (V{"06", "05", "04", "03"}));
  EXPECT_EQ(ids("since=2026-06-03T10:00:00.001Z"), (V{"06", "05"}));
  EXPECT_EQ(ids("since=2026-06-02T00:00:00Z&until=2026-06-04T10:00:00Z"), (V{"04", "03", "02"}));  // until exclusive
  EXPECT_EQ(ids("event=ops.end_user.disabled"), (V{"05", "02"}));
  EXPECT_EQ(ids("event=ops.end_user.disabled&outcome=success"), (V{"02"}));
  EXPECT_EQ(ids("outcome=failure"), (V{"05"}));
  EXPECT_EQ(ids("outcome=denied"), V{});
  EXPECT_EQ(ids("outcome=maybe"), (V{"400 INVALID_REQUEST"}));
  EXPECT_EQ(ids("since=yesterday"), (V{"400 INVALID_REQUEST"}));
  EXPECT_EQ(ids("until=2026-13-01T00:00:00Z"), (V{"400 INVALID_REQUEST"}));
  EXPECT_THROW(add("aud_01KT0000000000000000000006", "auth.signup", "2026-06-05T10:00:00Z"), std::invalid_argument);
}

TEST(FakeHuudisTest, HappeningsWriteTheEntriesHuudisWritesAndApplyThem) {
  FakeHuudis huudis;
  const std::string other = "acc_01KJ0000000000000000000000";
  huudis.AddWorkspace(kWorkspace, "Lumen Analytics");
  huudis.AddWorkspace(other);
  const std::string dana = "usr_01KS325EWE6RW751J81QV16TCW";
  const std::string operator_id = "usr_01KBMF8Q60H0WWZ4KGT675KR39";
  huudis.UpsertEndUser(kWorkspace, {dana, "dana.okafor@example.net", "Dana Okafor", false, T("2026-05-20T16:06:10.477Z")});
  huudis.UpsertEndUser(other, {dana, "dana.okafor@example.net", "Dana Okafor", false, T("2026-05-21T16:06:10.477Z")});
  huudis.UpsertMember(kWorkspace, {dana, "dana.okafor@example.net", "Dana Okafor", "member", T("2026-05-20T16:07:03.251Z")});

  // Metadata keys of each fixture row, by action.
  std::map<std::string, std::set<std::string>> fixture_keys;
  json fixture = Fixture("huudis.audit-log.page.json");
  for (const json& e : fixture["data"]) fixture_keys[e["eventType"].get<std::string>()] = Keys(e["metadata"]);
  const std::regex audit_id("aud_[0-9A-HJKMNP-TV-Z]{26}");

  FakeHuudis::Happening at;
  at.at = T("2026-06-03T09:15:27.402Z");
  at.by = operator_id;
  HuudisAuditEntry disabled = huudis.RecordEndUserDisabled(kWorkspace, dana, "account_compromise", at);
  EXPECT_TRUE(std::regex_match(disabled.id, audit_id)) << disabled.id;
  EXPECT_EQ(disabled.event_type, "ops.end_user.disabled");
  EXPECT_EQ(Keys(disabled.metadata), fixture_keys["ops.end_user.disabled"]);
  EXPECT_EQ(disabled.metadata["email"], "dana.okafor@example.net");
  EXPECT_EQ(disabled.metadata["disabledAt"], "2026-06-03T09:15:27.402Z");
  EXPECT_EQ(disabled.metadata["disabledBy"], operator_id);
  EXPECT_TRUE(huudis.EndUser(kWorkspace, dana)->disabled);
  EXPECT_TRUE(huudis.EndUser(other, dana)->disabled);  // a Huudis disable is global
  EXPECT_EQ(Keys(HuudisEndUserDisabledEntry(dana, "d@example.net", Minute(0), operator_id, "").metadata),
            (std::set<std::string>{"id", "email", "disabledAt", "disabledBy"}));  // no reason: left out

  at.at = T("2026-06-04T14:02:11.850Z");
  HuudisAuditEntry enabled = huudis.RecordEndUserEnabled(kWorkspace, dana, at);
  EXPECT_EQ(Keys(enabled.metadata), fixture_keys["ops.end_user.enabled"]);
  EXPECT_FALSE(huudis.EndUser(other, dana)->disabled);

  at.at = T("2026-06-05T08:00:00Z");
  HuudisAuditEntry role = huudis.RecordMemberRoleChanged(kWorkspace, dana, "admin", at);
  EXPECT_EQ(role.event_type, "account.member_role_changed");
  EXPECT_EQ(role.metadata, (json{{"accountId", kWorkspace}, {"userId", dana}, {"previousRole", "member"}, {"role", "admin"},
                                 {"changedByUserId", operator_id}}));
  EXPECT_EQ(huudis.Member(kWorkspace, dana)->role, "admin");

  at.at = T("2026-06-10T11:48:36.702Z");
  at.by = "usr_01KHNBGW5677S9QXWZK6SRZPG6";
  HuudisAuditEntry removed = huudis.RecordMemberRemoved(kWorkspace, dana, at);
  EXPECT_EQ(Keys(removed.metadata), fixture_keys["account.member_removed"]);
  EXPECT_EQ(removed.metadata["role"], "admin");
  EXPECT_FALSE(huudis.Member(kWorkspace, dana).has_value());

  at.at = T("2026-06-11T09:00:00Z");
  HuudisMember ivo{"usr_01KHNBGW5677S9QXWZK6SRZPG6", "ivo.marsh@lumen-analytics.example", "Ivo Marsh", "owner", {}};
  HuudisAuditEntry added = huudis.RecordMemberAdded(kWorkspace, ivo, "invite_accept", at);
  EXPECT_EQ(Keys(added.metadata), fixture_keys["account.member_added"]);
  EXPECT_EQ(added.metadata["addedVia"], "invite_accept");
  ASSERT_TRUE(huudis.Member(kWorkspace, ivo.id).has_value());
  EXPECT_EQ(huudis.Member(kWorkspace, ivo.id)->joined_at, T("2026-06-11T09:00:00Z"));

  // Recorded without applying: the lists stay as they are.
  FakeHuudis::Happening log_only;
  log_only.apply = false;
  log_only.at = T("2026-06-11T10:00:00Z");
  huudis.RecordMemberRemoved(kWorkspace, ivo.id, log_only);
  EXPECT_TRUE(huudis.Member(kWorkspace, ivo.id).has_value());

  EXPECT_EQ(huudis.RecordSignup(kWorkspace, UserId(7), "new@example.net", "New Person", log_only).metadata,
            (json{{"id", UserId(7)}, {"email", "new@example.net"}, {"name", "New Person"}}));
  const std::string created = "acc_01KK0000000000000000000000";
  HuudisAuditEntry workspace = huudis.RecordWorkspaceCreated(created, "Fresh", log_only);
  EXPECT_EQ(workspace.metadata, (json{{"id", created}, {"name", "Fresh"}}));
  EXPECT_EQ(huudis.AuditLog(created).size(), 1u);
  HuudisAuditEntry failed = huudis.RecordFailure(kWorkspace, "account.member_added", {{"userId", UserId(8)}}, log_only);
  EXPECT_EQ(failed.outcome, "failure");

  // Through the API, the Go SDK's shape of an entry.
  FakeHuudis::Happening go;
  go.shape = HuudisAuditShape::kGo;
  go.by = operator_id;
  go.at = T("2026-06-12T00:00:00Z");
  go.audit_id = "aud_01KTZZZZZZZZZZZZZZZZZZZZZZ";
  huudis.RecordEndUserDisabled(kWorkspace, dana, "", go);
  json newest = Call("GET", huudis.base_url() + "/v1/account/audit?limit=1", HuudisHeaders()).Json()["data"][0];
  EXPECT_EQ(newest, (json{{"id", "aud_01KTZZZZZZZZZZZZZZZZZZZZZZ"},
                          {"accountId", kWorkspace},
                          {"actor", operator_id},
                          {"action", "ops.end_user.disabled"},
                          {"resource", dana},
                          {"outcome", "success"},
                          {"details",
                           {{"id", dana}, {"email", "dana.okafor@example.net"}, {"disabledAt", "2026-06-12T00:00:00.000Z"},
                            {"disabledBy", operator_id}}},
                          {"timestamp", "2026-06-12T00:00:00.000Z"}}));
  json failures = Call("GET", huudis.base_url() + "/v1/account/audit?outcome=failure", HuudisHeaders()).Json()["data"];
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0]["eventType"], "account.member_added");
  EXPECT_THROW(huudis.RecordEndUserEnabled("acc_unknown", dana, log_only), std::invalid_argument);
}

TEST(FakeHuudisTest, FailNextCountsDownBeforeAuthAndSetsRetryAfter) {
  FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  const std::string audit = huudis.base_url() + "/v1/account/audit";
  huudis.FailNext("/api/v1/account/audit", 2, 429, 7);
  Reply r = Call("GET", audit, {});  // no credential: the fault comes first
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Header("Retry-After"), "7");
  EXPECT_EQ(r.Json()["error"]["code"], "RATE_LIMITED");
  EXPECT_EQ(Call("GET", huudis.base_url() + "/v1/iam/users", HuudisHeaders()).status, 200);  // another path
  EXPECT_EQ(Call("GET", audit, HuudisHeaders()).status, 429);
  EXPECT_EQ(Call("GET", audit, HuudisHeaders()).status, 200);

  huudis.FailNext("", 1, 500);
  r = Call("GET", huudis.base_url() + "/v1/iam/users", HuudisHeaders());
  EXPECT_EQ(r.status, 500);
  EXPECT_FALSE(r.HasHeader("Retry-After"));
  EXPECT_EQ(r.Json()["error"]["code"], "INTERNAL");
  huudis.FailNext("/api/v1/ops", 1, 503, 0);
  r = Call("GET", huudis.base_url() + "/v1/ops/end-users", HuudisHeaders());
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.Header("Retry-After"), "0");
  EXPECT_EQ(Call("GET", huudis.base_url() + "/v1/ops/end-users", HuudisHeaders()).status, 200);

  huudis.FailNext("/api", 5, 500);
  huudis.ClearFaults();
  EXPECT_EQ(Call("GET", audit, HuudisHeaders()).status, 200);
  EXPECT_EQ(huudis.RequestCount("/api/v1/account/audit"), 4u);
  EXPECT_EQ(huudis.RequestCount("/api/v1/"), 8u);
  EXPECT_EQ(huudis.Requests().back().headers.at("x-huudis-workspace-id"), kWorkspace);
}

TEST(FakeHuudisTest, FailPageStaysArmedUntilClearedOrForItsCount) {
  FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  for (int i = 0; i < 30; ++i) huudis.UpsertMember(kWorkspace, {UserId(i), "m@example.net", "M", "member", Minute(i)});
  const std::string members = huudis.base_url() + "/v1/iam/users?limit=10";
  huudis.FailPage("/api/v1/iam/users", 1, 503);
  Reply first = Call("GET", members, HuudisHeaders());
  ASSERT_EQ(first.status, 200);
  std::string cursor1 = first.Json()["meta"]["cursor"];
  for (int attempt = 0; attempt < 3; ++attempt) {
    Reply r = Call("GET", members + "&cursor=" + cursor1, HuudisHeaders());
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.Json()["error"]["code"], "INTERNAL");
  }
  EXPECT_EQ(Call("GET", members, HuudisHeaders()).status, 200);  // page 0 is fine
  huudis.ClearFaults();
  Reply second = Call("GET", members + "&cursor=" + cursor1, HuudisHeaders());
  ASSERT_EQ(second.status, 200);
  std::string cursor2 = second.Json()["meta"]["cursor"];

  huudis.FailPage("/api/v1/iam/users", 2, 500, 1);
  EXPECT_EQ(Call("GET", members + "&cursor=" + cursor2, HuudisHeaders()).status, 500);
  EXPECT_EQ(Call("GET", members + "&cursor=" + cursor2, HuudisHeaders()).status, 200);
  // Page indexes count within a walk with any limit: the first page of a walk is never page 1.
  huudis.FailPage("/api/v1/iam/users", 1, 500);
  EXPECT_EQ(Call("GET", huudis.base_url() + "/v1/iam/users?limit=3", HuudisHeaders()).status, 200);
}

TEST(FakeHuudisTest, DelayNextSlowsTheNextRequests) {
  FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  huudis.DelayNext("/api/v1/account/audit", 1, milliseconds(400));
  auto start = steady_clock::now();
  EXPECT_EQ(Call("GET", huudis.base_url() + "/v1/account/audit", HuudisHeaders()).status, 200);
  EXPECT_GE(steady_clock::now() - start, milliseconds(400));
  // Counted down: a second request is not delayed (loose bound for a loaded machine).
  huudis.DelayNext("/api/v1/account/audit", 1, seconds(5));
  huudis.ClearFaults();
  start = steady_clock::now();
  EXPECT_EQ(Call("GET", huudis.base_url() + "/v1/account/audit", HuudisHeaders()).status, 200);
  EXPECT_LT(steady_clock::now() - start, seconds(4));
}

TEST(FakeHuudisTest, ScriptingWhileServingIsSafe) {
  FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  for (int i = 0; i < 50; ++i) huudis.UpsertMember(kWorkspace, {UserId(i), "m@example.net", "M", "member", Minute(i)});
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int n = 0; !stop.load(); ++n) {
      int i = 50 + n % 50;
      huudis.UpsertMember(kWorkspace, {UserId(i), "m@example.net", "M", "member", Minute(i)});
      huudis.SetMemberRole(kWorkspace, UserId(n % 50), n % 2 ? "admin" : "member");
      huudis.RemoveMember(kWorkspace, UserId(50 + (n + 25) % 50));
      huudis.AddAuditEntry(kWorkspace, HuudisSignupEntry(UserId(n), "s@example.net", "S", Minute(n)));
      huudis.FailNext("/api/v1/ops", 1, 500);
      huudis.ClearFaults();
    }
  });
  for (int walk = 0; walk < 5; ++walk) {
    // Members 0..49 are present throughout: each walk sees each of them exactly once.
    std::vector<std::string> ids = WalkHuudis(huudis, "/v1/iam/users", 7, HuudisPageShape::kEnvelope);
    std::map<std::string, int> counts;
    for (const std::string& id : ids) ++counts[id];
    for (int i = 0; i < 50; ++i) EXPECT_EQ(counts[UserId(i)], 1) << UserId(i);
    EXPECT_EQ(Call("GET", huudis.base_url() + "/v1/account/audit?limit=100", HuudisHeaders()).status, 200);
  }
  stop.store(true);
  writer.join();
}

TEST(FakeHuudisTest, AdminEndpointsAndAnEmptyPrefix) {
  FakeHuudis::Options options;
  options.path_prefix = "";
  options.admin_endpoints = true;
  FakeHuudis huudis(options);
  EXPECT_EQ(huudis.base_url(), "http://127.0.0.1:" + std::to_string(huudis.port()));
  huudis.AddWorkspace(kWorkspace);
  huudis.UpsertEndUser(kWorkspace, {UserId(1), "e@example.net", "E", false, Minute(1)});
  Reply r = Call("POST", huudis.base_url() + "/_fake/huudis/disable", {},
                 json{{"workspace", kWorkspace}, {"user", UserId(1)}, {"reason", "incident-42"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["audit"]["metadata"]["reason"], "incident-42");
  EXPECT_TRUE(huudis.EndUser(kWorkspace, UserId(1))->disabled);
  json audit = Call("GET", huudis.base_url() + "/v1/account/audit", HuudisHeaders()).Json()["data"];
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0]["eventType"], "ops.end_user.disabled");
  EXPECT_EQ(Call("POST", huudis.base_url() + "/_fake/huudis/disable", {}, "{\"workspace\": \"acc_x\", \"user\": \"u\"}").status,
            404);
  EXPECT_EQ(Call("POST", huudis.base_url() + "/_fake/huudis/remove-member", {},
                 json{{"workspace", kWorkspace}, {"user", UserId(1)}}.dump())
                .status,
            404);  // not a member
  EXPECT_EQ(Call("POST", huudis.base_url() + "/_fake/huudis/disable", {}, "not json").status, 400);
}

// --- MonoCloud. ---

Headers MonoCloudHeaders(const std::string& key = "mc_test_api_key") { return {{"X-API-KEY", key}}; }

MonoCloudUser McUser(int n, int64_t creation_time, int64_t last_updated, bool disabled = false) {
  char id[40];
  std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", n);
  return {id, "user" + std::to_string(n) + "@example.net", "User " + std::to_string(n), disabled, creation_time,
          last_updated};
}

// Walks a MonoCloud listing page by page with X-Pagination; returns the user ids in order.
std::vector<std::string> WalkMonoCloud(const FakeMonoCloud& monocloud, const std::string& path_and_query, int size,
                                       int* pages = nullptr) {
  std::vector<std::string> ids;
  for (int page = 1; page < 1000; ++page) {
    std::string url = monocloud.base_url() + path_and_query + (path_and_query.find('?') == std::string::npos ? "?" : "&") +
                      "size=" + std::to_string(size) + "&page=" + std::to_string(page);
    Reply r = Call("GET", url, MonoCloudHeaders());
    if (r.status != 200) throw std::runtime_error(url + ": " + r.body);
    json items = r.Json();
    EXPECT_TRUE(items.is_array());
    json pagination = json::parse(r.Header("X-Pagination"));
    EXPECT_EQ(Keys(pagination),
              (std::set<std::string>{"page_size", "current_page", "total_count", "has_previous", "has_next"}));
    EXPECT_EQ(pagination["current_page"], page);
    EXPECT_EQ(pagination["has_previous"], page > 1);
    for (const json& u : items) ids.push_back(u["user_id"]);
    if (pages != nullptr) *pages = page;
    if (!pagination["has_next"].get<bool>()) return ids;
  }
  throw std::runtime_error("walk does not end");
}

TEST(FakeMonoCloudTest, UserAndSummaryHaveTheFixtureShape) {
  FakeMonoCloud monocloud;
  json fixture = Fixture("monocloud.user.json");
  MonoCloudUser user{fixture["user_id"], fixture["emails"][0]["email"], fixture["claims"]["name"], fixture["disabled"],
                     fixture["creation_time"], fixture["last_updated"]};
  monocloud.UpsertUser(user);

  Reply r = Call("GET", monocloud.base_url() + "/api/users/" + user.user_id, MonoCloudHeaders());
  ASSERT_EQ(r.status, 200) << r.body;
  json got = r.Json();
  // public_data and private_data are the tenant's own free-form objects: only their type matters.
  json fixture_shape = fixture;
  fixture_shape["public_data"] = json::object();
  fixture_shape["private_data"] = json::object();
  ExpectSameShape(got, fixture_shape);
  for (const char* field : {"user_id", "disabled", "creation_time", "last_updated"}) EXPECT_EQ(got[field], fixture[field]);
  EXPECT_EQ(got["claims"], fixture["claims"]);  // name, given_name, family_name
  EXPECT_EQ(got["emails"][0]["email"], fixture["emails"][0]["email"]);
  EXPECT_EQ(got["emails"][0]["primary"], true);

  r = Call("GET", monocloud.base_url() + "/api/users", MonoCloudHeaders());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.Json().size(), 1u);
  json summary = r.Json()[0];
  std::set<std::string> expected = Keys(fixture);
  expected.erase("public_data");
  expected.erase("private_data");
  expected.insert("connections");
  EXPECT_EQ(Keys(summary), expected);
  EXPECT_EQ(summary["connections"], json::array());
  EXPECT_EQ(summary["emails"], got["emails"]);  // the email id is stable
}

TEST(FakeMonoCloudTest, PagesCarryXPaginationAndWalkEveryUserOnce) {
  FakeMonoCloud monocloud;
  std::vector<std::string> by_creation, by_update_desc;
  std::vector<std::pair<int64_t, std::string>> updates;
  for (int i = 0; i < 23; ++i) {
    MonoCloudUser u = McUser(i, 1'747'000'000 + i, 1'780'000'000 + (i * 37) % 11, i % 3 == 0);
    monocloud.UpsertUser(u);
    by_creation.push_back(u.user_id);
    updates.emplace_back(-u.last_updated, u.user_id);
  }
  std::sort(updates.begin(), updates.end());
  for (const auto& [t, id] : updates) by_update_desc.push_back(id);

  Reply r = Call("GET", monocloud.base_url() + "/api/users?page=2&size=10", MonoCloudHeaders());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.Header("X-Pagination")),
            (json{{"page_size", 10}, {"current_page", 2}, {"total_count", 23}, {"has_previous", true}, {"has_next", true}}));
  r = Call("GET", monocloud.base_url() + "/api/users?page=3&size=10", MonoCloudHeaders());
  EXPECT_EQ(r.Json().size(), 3u);
  EXPECT_EQ(json::parse(r.Header("X-Pagination"))["has_next"], false);
  r = Call("GET", monocloud.base_url() + "/api/users?page=9&size=10", MonoCloudHeaders());
  EXPECT_EQ(r.Json(), json::array());
  r = Call("GET", monocloud.base_url() + "/api/users", MonoCloudHeaders());  // defaults: page 1, size 10
  EXPECT_EQ(r.Json().size(), 10u);
  EXPECT_EQ(json::parse(r.Header("X-Pagination"))["page_size"], 10);
  r = Call("GET", monocloud.base_url() + "/api/users?size=500", MonoCloudHeaders());
  EXPECT_EQ(r.Json().size(), 23u);
  EXPECT_EQ(json::parse(r.Header("X-Pagination"))["page_size"], 100);

  int pages = 0;
  EXPECT_THAT(WalkMonoCloud(monocloud, "/api/users", 10, &pages), ElementsAreArray(by_creation));
  EXPECT_EQ(pages, 3);
  std::vector<std::string> by_creation_desc(by_creation.rbegin(), by_creation.rend());
  EXPECT_THAT(WalkMonoCloud(monocloud, "/api/users?sort=creation_time:-1", 7), ElementsAreArray(by_creation_desc));
  EXPECT_THAT(WalkMonoCloud(monocloud, "/api/users?sort=last_updated:-1", 4), ElementsAreArray(by_update_desc));
  std::vector<std::string> by_update_asc(by_update_desc.size());
  {
    std::vector<std::pair<int64_t, std::string>> asc;
    for (const auto& [t, id] : updates) asc.emplace_back(-t, id);
    std::sort(asc.begin(), asc.end());
    for (size_t i = 0; i < asc.size(); ++i) by_update_asc[i] = asc[i].second;
  }
  EXPECT_THAT(WalkMonoCloud(monocloud, "/api/users?sort=last_updated:1", 5), ElementsAreArray(by_update_asc));
  std::vector<std::string> disabled;
  for (int i = 0; i < 23; i += 3) disabled.push_back(McUser(i, 0, 0).user_id);
  EXPECT_THAT(WalkMonoCloud(monocloud, "/api/users?filter=disabled:true", 3), ElementsAreArray(disabled));

  for (const char* bad : {"sort=name:1", "sort=last_updated", "page=0", "page=x", "size=0", "size=-1", "filter=email:x"}) {
    r = Call("GET", monocloud.base_url() + "/api/users?" + bad, MonoCloudHeaders());
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.content_type, "application/problem+json") << bad;
    EXPECT_EQ(r.Json()["status"], 400) << bad;
  }
}

TEST(FakeMonoCloudTest, OffsetPagingIsComputedOnTheCurrentState) {
  FakeMonoCloud monocloud;
  for (int i = 0; i < 20; ++i) monocloud.UpsertUser(McUser(i, 1'747'000'000 + i, 0));
  json page1 = Call("GET", monocloud.base_url() + "/api/users?size=10&page=1", MonoCloudHeaders()).Json();
  ASSERT_TRUE(monocloud.DeleteUser(McUser(3, 0, 0).user_id));  // a user already returned leaves
  json page2 = Call("GET", monocloud.base_url() + "/api/users?size=10&page=2", MonoCloudHeaders()).Json();
  // Everything after it moved up one place: user 10 now sits on page 1, and this walk misses it.
  ASSERT_EQ(page2.size(), 9u);
  EXPECT_EQ(page2[0]["user_id"], McUser(11, 0, 0).user_id);
  EXPECT_EQ(page1[9]["user_id"], McUser(9, 0, 0).user_id);
}

TEST(FakeMonoCloudTest, GroupMembersArePagedAndFollowChanges) {
  FakeMonoCloud monocloud;
  const std::string group = "8d4c2e1a-6b3f-4a9d-b2e7-1f0c5a3d7e92";
  monocloud.AddGroup(group, "analysts");
  monocloud.AddGroup("empty", "nobody");
  std::vector<std::string> members;
  for (int i = 0; i < 12; ++i) {
    monocloud.UpsertUser(McUser(i, 1'747'000'000 + i, 0));
    int n = (i * 5) % 12;  // assigned in an order of their own
    members.push_back(McUser(n, 0, 0).user_id);
  }
  for (const std::string& id : members) ASSERT_TRUE(monocloud.AssignToGroup(group, id));
  EXPECT_FALSE(monocloud.AssignToGroup(group, members[0]));   // already in it
  EXPECT_FALSE(monocloud.AssignToGroup(group, "nobody"));     // no such user
  int pages = 0;
  EXPECT_THAT(WalkMonoCloud(monocloud, "/api/users/groups/" + group + "/assigned", 5, &pages), ElementsAreArray(members));
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(Call("GET", monocloud.base_url() + "/api/users/groups/empty/assigned", MonoCloudHeaders()).Json(), json::array());

  ASSERT_TRUE(monocloud.DeleteUser(members[4]));
  ASSERT_TRUE(monocloud.RemoveFromGroup(group, members[7]));
  EXPECT_FALSE(monocloud.RemoveFromGroup(group, members[7]));
  std::vector<std::string> remaining = members;
  std::erase(remaining, members[4]);
  std::erase(remaining, members[7]);
  EXPECT_THAT(WalkMonoCloud(monocloud, "/api/users/groups/" + group + "/assigned", 100), ElementsAreArray(remaining));

  Reply r = Call("GET", monocloud.base_url() + "/api/users/groups/unknown/assigned", MonoCloudHeaders());
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/problem+json");
  ExpectSameShape(r.Json(), Fixture("monocloud.problem.404.json"));
}

TEST(FakeMonoCloudTest, ErrorsAreProblemDetails) {
  FakeMonoCloud monocloud;
  monocloud.UpsertUser(McUser(1, 1'747'000'000, 0));
  json fixture = Fixture("monocloud.problem.404.json");
  const std::string missing = "/api/users/d34d2c77-d762-486e-811d-ad7da1a5aefc";
  Reply r = Call("GET", monocloud.base_url() + missing, MonoCloudHeaders());
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/problem+json");
  EXPECT_EQ(r.Json(), fixture);  // same type, title, detail and instance as the fixture

  for (const Headers& headers : {Headers{}, MonoCloudHeaders("wrong"), Headers{{"Authorization", "Bearer mc_test_api_key"}}}) {
    r = Call("GET", monocloud.base_url() + "/api/users", headers);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.content_type, "application/problem+json");
    ExpectSameShape(r.Json(), fixture);
    EXPECT_EQ(r.Json()["type"], "https://httpstatuses.io/401");
    EXPECT_EQ(r.Json()["instance"], "/api/users");
  }
  EXPECT_EQ(Call("GET", monocloud.base_url() + "/api/users", {{"x-api-key", "mc_test_api_key"}}).status, 200);
  EXPECT_EQ(Call("GET", monocloud.base_url() + "/api/users", {{"X-Api-Key", "mc_test_api_key"}}).status, 200);
  monocloud.SetCredential("mc_rotated");
  EXPECT_EQ(Call("GET", monocloud.base_url() + "/api/users", MonoCloudHeaders()).status, 401);
  EXPECT_EQ(Call("GET", monocloud.base_url() + "/api/users", MonoCloudHeaders("mc_rotated")).status, 200);

  r = Call("DELETE", monocloud.base_url() + "/api/users/" + McUser(1, 0, 0).user_id, MonoCloudHeaders("mc_rotated"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("Allow"), "GET");
  EXPECT_EQ(Call("GET", monocloud.base_url() + "/api/clients", MonoCloudHeaders("mc_rotated")).status, 404);
}

TEST(FakeMonoCloudTest, FaultsAnswerProblemDetails) {
  FakeMonoCloud monocloud;
  for (int i = 0; i < 25; ++i) monocloud.UpsertUser(McUser(i, 1'747'000'000 + i, 0));
  monocloud.FailPage("/api/users", 1, 503);
  EXPECT_EQ(Call("GET", monocloud.base_url() + "/api/users?page=1", MonoCloudHeaders()).status, 200);
  Reply r = Call("GET", monocloud.base_url() + "/api/users?page=2", MonoCloudHeaders());
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.content_type, "application/problem+json");
  EXPECT_EQ(r.Json()["status"], 503);
  EXPECT_EQ(Call("GET", monocloud.base_url() + "/api/users?page=2", MonoCloudHeaders()).status, 503);
  EXPECT_EQ(Call("GET", monocloud.base_url() + "/api/users?page=3", MonoCloudHeaders()).status, 200);
  monocloud.ClearFaults();
  EXPECT_EQ(Call("GET", monocloud.base_url() + "/api/users?page=2", MonoCloudHeaders()).status, 200);

  monocloud.FailNext("/api/users", 1, 429, 3);
  r = Call("GET", monocloud.base_url() + "/api/users/" + McUser(1, 0, 0).user_id, MonoCloudHeaders());
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Header("Retry-After"), "3");
  EXPECT_EQ(r.Json()["title"], "Too Many Requests");
  EXPECT_EQ(Call("GET", monocloud.base_url() + "/api/users/" + McUser(1, 0, 0).user_id, MonoCloudHeaders()).status, 200);
  EXPECT_EQ(monocloud.RequestCount("/api/users/"), 2u);
}

// --- FusionAuth. ---

constexpr char kTenant[] = "29b8006d-fbbc-45b7-86e8-90d91b0e7131";

Headers FusionAuthHeaders(const std::string& tenant = "", const std::string& key = "fa_test_api_key") {
  Headers h{{"Authorization", key}, {"Content-Type", "application/json"}};
  if (!tenant.empty()) h.emplace_back("X-FusionAuth-TenantId", tenant);
  return h;
}

std::string FaId(int n) {
  char id[40];
  std::snprintf(id, sizeof id, "dd03f8bc-a5e3-49d4-8b7b-%012d", n);
  return id;
}

Reply FaSearch(const FakeFusionAuth& fa, const json& search, const std::string& tenant = "") {
  return Call("POST", fa.base_url() + "/api/user/search", FusionAuthHeaders(tenant), json{{"search", search}}.dump());
}

// Walks the user search with startRow (or nextResults); returns the ids in order.
std::vector<std::string> WalkFusionAuth(const FakeFusionAuth& fa, json search, int per_page, bool next_results,
                                        int* pages = nullptr, const std::string& tenant = "") {
  std::vector<std::string> ids;
  search["queryString"] = "*";
  search["numberOfResults"] = per_page;
  std::string next;
  for (int page = 0; page < 1000; ++page) {
    json request = search;
    if (next_results && !next.empty()) {
      request = {{"nextResults", next}};
    } else if (!next_results) {
      request["startRow"] = page * per_page;
    }
    Reply r = FaSearch(fa, request, tenant);
    if (r.status != 200) throw std::runtime_error("page " + std::to_string(page) + ": " + std::to_string(r.status) + r.body);
    json body = r.Json();
    for (const json& u : body["users"]) ids.push_back(u["id"]);
    if (pages != nullptr) *pages = page + 1;
    bool more = static_cast<int64_t>(ids.size()) < body["total"].get<int64_t>();
    EXPECT_EQ(body.contains("nextResults"), more) << body.dump();
    if (!body.contains("nextResults")) return ids;
    next = body["nextResults"];
  }
  throw std::runtime_error("walk does not end");
}

TEST(FakeFusionAuthTest, UserHasTheFixtureShape) {
  FakeFusionAuth fa;
  json fixture = Fixture("fusionauth.user.deactivate.json")["event"]["user"];
  FusionAuthUser user;
  user.id = fixture["id"];
  user.tenant_id = fixture["tenantId"];
  user.email = fixture["email"];
  user.full_name = fixture["fullName"];
  user.active = fixture["active"];
  user.insert_instant = fixture["insertInstant"];
  user.last_update_instant = fixture["lastUpdateInstant"];
  user.registrations = fixture["registrations"];
  fa.UpsertUser(user);

  Reply r = Call("GET", fa.base_url() + "/api/user/" + user.id, FusionAuthHeaders());
  ASSERT_EQ(r.status, 200) << r.body;
  json body = r.Json();
  ASSERT_EQ(Keys(body), (std::set<std::string>{"user"}));
  json got = body["user"];
  for (const char* field : {"id", "tenantId", "email", "firstName", "lastName", "fullName", "active", "verified",
                            "insertInstant", "lastUpdateInstant", "registrations", "usernameStatus", "twoFactor",
                            "passwordChangeRequired", "data"}) {
    ASSERT_TRUE(got.contains(field)) << field;
    EXPECT_EQ(Kind(got[field]), Kind(fixture[field])) << field;
  }
  for (const char* field : {"id", "tenantId", "email", "firstName", "lastName", "fullName", "active", "insertInstant",
                            "lastUpdateInstant", "registrations"}) {
    EXPECT_EQ(got[field], fixture[field]) << field;
  }
  EXPECT_EQ(got["memberships"], json::array());

  r = Call("GET", fa.base_url() + "/api/user/00000000-0000-4000-8000-000000000000", FusionAuthHeaders());
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "");
}

TEST(FakeFusionAuthTest, AuthFailuresAreAnEmpty401) {
  FakeFusionAuth fa;
  for (const Headers& headers : {Headers{}, FusionAuthHeaders("", "wrong"), Headers{{"Authorization", "Bearer fa_test_api_key"}}}) {
    Reply r = Call("POST", fa.base_url() + "/api/user/search", headers, R"({"search":{"queryString":"*"}})");
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body, "");
  }
  fa.SetCredential("fa_rotated");
  EXPECT_EQ(FaSearch(fa, {{"queryString", "*"}}).status, 401);
  EXPECT_EQ(Call("POST", fa.base_url() + "/api/user/search", FusionAuthHeaders("", "fa_rotated"),
                 R"({"search":{"queryString":"*"}})")
                .status,
            200);
}

TEST(FakeFusionAuthTest, SearchWalksWithStartRowAndWithNextResults) {
  FakeFusionAuth fa;
  std::vector<std::tuple<int64_t, std::string>> by_insert;
  std::vector<std::tuple<int64_t, std::string>> by_update;
  for (int i = 0; i < 37; ++i) {
    FusionAuthUser u;
    u.id = FaId(i);
    u.email = "user" + std::to_string(i) + "@example.net";
    u.full_name = "User " + std::to_string(i);
    u.insert_instant = 1'773'062'525'000 + (i * 13) % 20;  // ties, broken by id
    u.last_update_instant = 1'780'000'000'000 + (i * 7) % 9;
    fa.UpsertUser(u);
    by_insert.emplace_back(u.insert_instant, u.id);
    by_update.emplace_back(-u.last_update_instant, u.id);
  }
  std::sort(by_insert.begin(), by_insert.end());
  std::sort(by_update.begin(), by_update.end());
  std::vector<std::string> insert_order, update_desc_order;
  for (const auto& [t, id] : by_insert) insert_order.push_back(id);
  for (const auto& [t, id] : by_update) update_desc_order.push_back(id);

  Reply first = FaSearch(fa, {{"queryString", "*"}, {"numberOfResults", 10}});
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.Json()["total"], 37);
  EXPECT_EQ(first.Json()["users"].size(), 10u);
  EXPECT_TRUE(first.Json()["nextResults"].is_string());
  EXPECT_EQ(FaSearch(fa, {{"queryString", "*"}}).Json()["users"].size(), 25u);  // default numberOfResults

  for (bool next_results : {false, true}) {
    SCOPED_TRACE(next_results ? "nextResults" : "startRow");
    int pages = 0;
    EXPECT_THAT(WalkFusionAuth(fa, json::object(), 10, next_results, &pages), ElementsAreArray(insert_order));
    EXPECT_EQ(pages, 4);
    json sort = {{"sortFields", json::array({{{"name", "lastUpdateInstant"}, {"order", "desc"}}})}};
    EXPECT_THAT(WalkFusionAuth(fa, sort, 6, next_results), ElementsAreArray(update_desc_order));
  }

  Reply r = FaSearch(fa, {{"queryString", "email:user1@example.net"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.Json().contains("fieldErrors")) << r.body;
  EXPECT_EQ(FaSearch(fa, {{"queryString", "*"}, {"numberOfResults", 0}}).status, 400);
  EXPECT_EQ(FaSearch(fa, {{"queryString", "*"}, {"sortFields", json::array({{{"name", "birthDate"}}})}}).status, 400);
  EXPECT_EQ(FaSearch(fa, {{"nextResults", "not-a-token"}}).status, 400);
  EXPECT_EQ(FaSearch(fa, json::object()).status, 400);
  EXPECT_EQ(Call("POST", fa.base_url() + "/api/user/search", FusionAuthHeaders(), "{").status, 400);
  r = FaSearch(fa, {{"queryString", "*"}, {"startRow", 40}});
  EXPECT_EQ(r.Json()["users"], json::array());
  EXPECT_FALSE(r.Json().contains("nextResults"));
}

TEST(FakeFusionAuthTest, NextResultsSurvivesChangesBetweenPages) {
  FakeFusionAuth fa;
  for (int i = 0; i < 20; ++i) {
    FusionAuthUser u;
    u.id = FaId(i);
    u.email = "u@example.net";
    u.insert_instant = 1'773'000'000'000 + i;
    fa.UpsertUser(u);
  }
  Reply r = FaSearch(fa, {{"queryString", "*"}, {"numberOfResults", 8}});
  std::vector<std::string> ids;
  json body = r.Json();
  for (const json& u : body["users"]) ids.push_back(u["id"]);
  // Between pages: one user sorting before the cursor arrives, the last one returned leaves.
  FusionAuthUser early;
  early.id = FaId(100);
  early.insert_instant = 1'773'000'000'000 - 5;
  fa.UpsertUser(early);
  ASSERT_TRUE(fa.DeleteUser(FaId(7)));
  std::string next = r.Json()["nextResults"];
  while (true) {
    r = FaSearch(fa, {{"nextResults", next}});
    ASSERT_EQ(r.status, 200) << r.body;
    body = r.Json();
    for (const json& u : body["users"]) ids.push_back(u["id"]);
    if (!r.Json().contains("nextResults")) break;
    next = r.Json()["nextResults"];
  }
  std::vector<std::string> expected;
  for (int i = 0; i < 20; ++i) expected.push_back(FaId(i));
  EXPECT_THAT(ids, ElementsAreArray(expected));
}

TEST(FakeFusionAuthTest, RequestsAreScopedToATenant) {
  FakeFusionAuth fa;
  const std::string other = "5c1f6a2b-3d4e-4f50-8a61-7b8c9d0e1f23";
  FusionAuthUser a;
  a.id = FaId(1);
  a.email = "a@example.net";
  fa.UpsertUser(a);  // the default tenant
  EXPECT_EQ(fa.User(FaId(1))->tenant_id, kTenant);

  // One tenant: the header is optional, but must name it when sent.
  EXPECT_EQ(FaSearch(fa, {{"queryString", "*"}}).Json()["total"], 1);
  EXPECT_EQ(FaSearch(fa, {{"queryString", "*"}}, kTenant).Json()["total"], 1);
  Reply r = FaSearch(fa, {{"queryString", "*"}}, other);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["generalErrors"][0]["code"], "[TenantIdRequired]");

  fa.AddTenant(other);
  FusionAuthUser b;
  b.id = FaId(2);
  b.tenant_id = other;
  b.email = "b@example.net";
  fa.UpsertUser(b);
  FusionAuthUser b2 = b;
  b2.id = FaId(3);
  fa.UpsertUser(b2);
  FusionAuthUser stray;
  stray.tenant_id = "no-such-tenant";
  EXPECT_THROW(fa.UpsertUser(stray), std::invalid_argument);

  json fixture = Fixture("fusionauth.api-error.504-webhook-transaction.json");
  for (const std::string& tenant : {std::string(), std::string("no-such-tenant")}) {
    r = FaSearch(fa, {{"queryString", "*"}}, tenant);
    EXPECT_EQ(r.status, 400) << tenant;
    ExpectSameShape(r.Json(), fixture);
    EXPECT_EQ(r.Json()["generalErrors"][0]["code"], "[TenantIdRequired]");
    EXPECT_EQ(Call("GET", fa.base_url() + "/api/user/" + FaId(1), FusionAuthHeaders(tenant)).status, 400);
  }
  EXPECT_THAT(WalkFusionAuth(fa, json::object(), 1, true, nullptr, other), ElementsAreArray({FaId(2), FaId(3)}));
  EXPECT_THAT(WalkFusionAuth(fa, json::object(), 1, false, nullptr, kTenant), ElementsAreArray({FaId(1)}));
  EXPECT_EQ(Call("GET", fa.base_url() + "/api/user/" + FaId(2), FusionAuthHeaders(kTenant)).status, 404);
  r = Call("GET", fa.base_url() + "/api/user/" + FaId(2), FusionAuthHeaders(other));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Json()["user"]["tenantId"], other);
}

TEST(FakeFusionAuthTest, ScriptedChangesAndFaults) {
  FakeFusionAuth fa;
  for (int i = 0; i < 25; ++i) {
    FusionAuthUser u;
    u.id = FaId(i);
    u.email = "u@example.net";
    u.insert_instant = 1'773'000'000'000 + i;
    fa.UpsertUser(u);
  }
  ASSERT_TRUE(fa.SetActive(FaId(3), false, 1'780'478'127'500));
  json user = Call("GET", fa.base_url() + "/api/user/" + FaId(3), FusionAuthHeaders()).Json()["user"];
  EXPECT_EQ(user["active"], false);
  EXPECT_EQ(user["lastUpdateInstant"], 1'780'478'127'500);
  EXPECT_FALSE(fa.SetActive("nobody", true, 0));

  fa.FailNext("/api/user/search", 1, 504);
  Reply r = FaSearch(fa, {{"queryString", "*"}});
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(r.Json(), Fixture("fusionauth.api-error.504-webhook-transaction.json"));
  fa.FailNext("/api/user/", 1, 429, 2);
  r = Call("GET", fa.base_url() + "/api/user/" + FaId(3), FusionAuthHeaders());
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Header("Retry-After"), "2");
  EXPECT_EQ(r.Json()["generalErrors"][0]["code"], "[TooManyRequests]");

  fa.FailPage("/api/user/search", 1, 500);
  json page0 = FaSearch(fa, {{"queryString", "*"}, {"numberOfResults", 10}}).Json();
  EXPECT_EQ(FaSearch(fa, {{"queryString", "*"}, {"numberOfResults", 10}, {"startRow", 10}}).status, 500);
  EXPECT_EQ(FaSearch(fa, {{"nextResults", page0["nextResults"]}}).status, 500);
  EXPECT_EQ(FaSearch(fa, {{"queryString", "*"}, {"numberOfResults", 10}, {"startRow", 20}}).status, 200);
  fa.ClearFaults();
  EXPECT_EQ(FaSearch(fa, {{"nextResults", page0["nextResults"]}}).status, 200);
  EXPECT_EQ(fa.RequestCount("/api/user/search"), 6u);
}

// --- The fake-providers binary. ---

// fake-providers as a child process: its stdout is read line by line.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
  }
  ~ChildProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_);
  }

  // The next stdout line, or "" at end of file or after `timeout`.
  std::string ReadLine(milliseconds timeout) {
    auto deadline = steady_clock::now() + timeout;
    while (true) {
      if (size_t nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
      if (left <= 0) return "";
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char chunk[4096];
      ssize_t n = read(out_, chunk, sizeof chunk);
      if (n <= 0) return "";
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  void Signal(int sig) { kill(pid_, sig); }

  // The exit code, or -1 if it did not exit normally within `timeout`.
  int Wait(milliseconds timeout) {
    auto deadline = steady_clock::now() + timeout;
    while (steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  bool exited_ = false;
  std::string buffer_;
};

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("bind");
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST(FakeProvidersBinaryTest, ServesTheSampleStateAndStopsOnSigterm) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("fake-providers-" + std::to_string(getpid()) + "-" +
                               std::to_string(steady_clock::now().time_since_epoch().count()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "huudis.token") << "hud_from_token_dir\n";
  json sample = json::parse(std::ifstream(MM_FAKE_PROVIDERS_SAMPLE_STATE));
  int monocloud_port = FreePort();  // a fixed port (the relay), the others port 0

  ChildProcess child({MM_FAKE_PROVIDERS_BINARY, "--state", MM_FAKE_PROVIDERS_SAMPLE_STATE, "--huudis-port", "0",
                      "--monocloud-port", std::to_string(monocloud_port), "--token-dir", dir.string()});
  std::map<std::string, std::string> base_urls;
  for (int i = 0; i < 3; ++i) {
    std::string line = child.ReadLine(seconds(20));
    ASSERT_FALSE(line.empty()) << "no base-URL line " << i;
    json j = json::parse(line);
    base_urls[j["provider"]] = j["base_url"];
  }
  ASSERT_EQ(base_urls.size(), 3u);
  EXPECT_THAT(base_urls["huudis"], ::testing::MatchesRegex("http://127\\.0\\.0\\.1:[0-9]+/api"));
  EXPECT_EQ(base_urls["monocloud"], "http://127.0.0.1:" + std::to_string(monocloud_port));

  // Huudis: the token from --token-dir replaced the file's.
  const std::string members = base_urls["huudis"] + "/v1/iam/users";
  EXPECT_EQ(Call("GET", members, HuudisHeaders(sample["huudis"]["token"], kWorkspace)).status, 401);
  Reply r = Call("GET", members, HuudisHeaders("hud_from_token_dir"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["data"].size(), 2u);

  // MonoCloud through the fixed port; FusionAuth with the file's key.
  r = Call("GET", base_urls["monocloud"] + "/api/users", MonoCloudHeaders(sample["monocloud"]["api_key"]));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json().size(), 2u);
  EXPECT_EQ(json::parse(r.Header("X-Pagination"))["total_count"], 2);
  r = Call("POST", base_urls["fusionauth"] + "/api/user/search", FusionAuthHeaders("", sample["fusionauth"]["api_key"]),
           R"({"search":{"queryString":"*"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["total"], 2);
  // Nothing is generated for a provider whose credential the file has.
  EXPECT_FALSE(std::filesystem::exists(dir / "monocloud.api-key"));  // the file had one

  // Admin: disable an end user; the audit log and the list show it.
  const std::string huudis_root = base_urls["huudis"].substr(0, base_urls["huudis"].size() - 4);
  const std::string dana = "usr_01KS325EWE6RW751J81QV16TCW";
  r = Call("POST", huudis_root + "/_fake/huudis/disable", {{"Content-Type", "application/json"}},
           json{{"workspace", kWorkspace}, {"user", dana}, {"reason", "incident-42"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  json newest = Call("GET", base_urls["huudis"] + "/v1/account/audit?limit=1", HuudisHeaders("hud_from_token_dir")).Json();
  EXPECT_EQ(newest["data"][0]["eventType"], "ops.end_user.disabled");
  EXPECT_EQ(newest["data"][0]["metadata"]["reason"], "incident-42");
  json end_users = Call("GET", base_urls["huudis"] + "/v1/ops/end-users", HuudisHeaders("hud_from_token_dir")).Json();
  bool found = false;
  for (const json& u : end_users["data"]) {
    if (u["id"] == dana) {
      found = true;
      EXPECT_TRUE(u["disabled"].get<bool>());
    }
  }
  EXPECT_TRUE(found);
  r = Call("POST", base_urls["monocloud"] + "/_fake/monocloud/disable", {},
           R"({"user": "cee97006-d6e2-42b9-ae93-3be485069b25"})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = Call("GET", base_urls["monocloud"] + "/api/users/cee97006-d6e2-42b9-ae93-3be485069b25",
           MonoCloudHeaders(sample["monocloud"]["api_key"]));
  EXPECT_TRUE(r.Json()["disabled"].get<bool>());

  child.Signal(SIGTERM);
  EXPECT_EQ(child.Wait(seconds(20)), 0);
  std::filesystem::remove_all(dir);
}

TEST(FakeProvidersBinaryTest, GeneratesMissingCredentialsAndRefusesABadStateFile) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("fake-providers-gen-" + std::to_string(getpid()) + "-" +
                               std::to_string(steady_clock::now().time_since_epoch().count()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "state.json") << R"({"huudis": {"workspaces": [{"id": "acc_1"}]}})";
  {
    ChildProcess child({MM_FAKE_PROVIDERS_BINARY, "--state", (dir / "state.json").string(), "--token-dir", dir.string()});
    json huudis = json::parse(child.ReadLine(seconds(20)));
    child.ReadLine(seconds(5));
    child.ReadLine(seconds(5));
    std::ifstream in(dir / "huudis.token");
    std::string token;
    std::getline(in, token);
    ASSERT_THAT(token, ::testing::StartsWith("hud_"));
    EXPECT_TRUE(std::filesystem::exists(dir / "fusionauth.api-key"));
    EXPECT_EQ(Call("GET", huudis["base_url"].get<std::string>() + "/v1/iam/users", HuudisHeaders(token, "acc_1")).status, 200);
    child.Signal(SIGINT);
    EXPECT_EQ(child.Wait(seconds(20)), 0);
  }
  std::ofstream(dir / "bad.json") << R"({"huudis": {"workspaces": [{"id": "acc_1", "members": [{"id": "u", "joinedAt": "soon"}]}]}})";
  ChildProcess bad({MM_FAKE_PROVIDERS_BINARY, "--state", (dir / "bad.json").string(), "--token-dir", dir.string()});
  EXPECT_EQ(bad.Wait(seconds(20)), 2);
  ChildProcess usage({MM_FAKE_PROVIDERS_BINARY, "--port", "1"});
  EXPECT_EQ(usage.Wait(seconds(20)), 2);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mm::testing
