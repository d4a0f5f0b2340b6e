// End-to-end tests of the whole API (gRPC and the operator HTTP API) on the real binary.

#include <utility>  // before asio: its awaitable.hpp uses std::exchange without including it

#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_split.h"

#include "e2e_helpers.h"
#include "service_process.h"
#include "tcp_proxy.h"
#include "test_database.h"

namespace mm::testing {
namespace {

namespace v1 = membership::v1;
using nlohmann::json;

// One token per scope, plus one with none.
const std::map<std::string, std::string>& ScopeTokens() {
  static const std::map<std::string, std::string> tokens = {
      {"users:check", "tok-check"},   {"users:read", "tok-uread"},   {"users:write", "tok-uwrite"},
      {"members:read", "tok-mread"},  {"seats:read", "tok-sread"},   {"changes:watch", "tok-watch"},
      {"admin", "tok-admin"},         {"", "tok-none"}};
  return tokens;
}

std::string WriteScopedCallers(const std::string& dir) {
  std::vector<TestCaller> callers;
  for (const auto& [scope, token] : ScopeTokens()) {
    callers.push_back({"caller-" + token, token, scope.empty() ? std::vector<std::string>{} : std::vector{scope}});
  }
  return WriteCallersFile(dir, callers);
}

// member_added and member_removed webhooks at `at`.
std::string MemberAddedAt(const std::string& account, const std::string& user, const std::string& role,
                          const std::string& at, const std::string& id) {
  return json{{"id", id}, {"type", "huudis.account.member_added.v1"}, {"createdAt", at},
              {"data", {{"accountId", account}, {"accountName", "Name of " + account}, {"userId", user},
                        {"userEmail", user + "@example.net"}, {"userName", "User " + user}, {"role", role},
                        {"joinedAt", at}, {"addedVia", "direct_add"}, {"addedByUserId", "usr_owner"}}}}
      .dump();
}
std::string MemberRemovedAt(const std::string& account, const std::string& user, const std::string& at,
                            const std::string& id) {
  return json{{"id", id}, {"type", "huudis.account.member_removed.v1"}, {"createdAt", at},
              {"data", {{"accountId", account}, {"userId", user}, {"removedAt", at}, {"removedByUserId", "usr_owner"}}}}
      .dump();
}

// `minute` past 10:00 on `day`.
std::string Minute(const char* day, int minute) {
  char at[40];
  std::snprintf(at, sizeof at, "%sT%02d:%02d:00.000Z", day, 10 + minute / 60, minute % 60);
  return at;
}

// Adds on 2026-05-20, removals on 2026-05-21, at `minute` past 10:00.
std::string MemberAdded(const std::string& account, const std::string& user, const std::string& role,
                        int minute, const std::string& id) {
  return MemberAddedAt(account, user, role, Minute("2026-05-20", minute), id);
}

std::string MemberRemoved(const std::string& account, const std::string& user, int minute, const std::string& id) {
  return MemberRemovedAt(account, user, Minute("2026-05-21", minute), id);
}

class ApiE2ETest : public SharedServiceTest {
 protected:
  static void SetUpTestSuite() {
    GuardSuiteSetUp([] {
      db_ = TestDatabase::Create("api").release();
      dir_ = new std::string(TempDir());
      service_ = ServiceProcess::Start({.binary = MM_SERVER_BINARY,
                                        .env = {{"MM_DATABASE_URL", db_->url()},
                                                {"MM_HUUDIS_SECRETS", kSecret},
                                                {"MM_CALLERS_FILE", WriteScopedCallers(*dir_)}}})
                     .release();
      // acc_api: u1 owner, u2 admin, u3 member, u4 member (disabled), u5 removed; u1 also in acc_two.
      const std::vector<std::tuple<std::string, std::string, std::string>> members = {
          {"acc_api", "usr_api_1", "owner"},  {"acc_api", "usr_api_2", "admin"},
          {"acc_api", "usr_api_3", "member"}, {"acc_api", "usr_api_4", "member"},
          {"acc_api", "usr_api_5", "member"}, {"acc_two", "usr_api_1", "member"}};
      int n = 0;
      for (const auto& [account, user, role] : members) {
        Post(MemberAdded(account, user, role, n, "evt_api_add_" + std::to_string(n)));
        ++n;
      }
      Post(MemberRemoved("acc_api", "usr_api_5", 0, "evt_api_rm_5"));
      std::string disable = ReplaceAll(FixtureFor("huudis.user.disabled.v1.json", "api"),
                                       "usr_01KS325EWE6RW751J81QV16TCW_api", "usr_api_4");
      last_sequence_ = Post(disable);
    });
  }
  static void TearDownTestSuite() {
    delete service_;
    delete db_;
    delete dir_;
  }

  // Posts a signed webhook, expects 200, returns its sequence.
  static uint64_t Post(const std::string& body) {
    auto reply = PostSigned(service_->http_url(), body);
    EXPECT_TRUE(reply.ok() && reply->status == 200) << (reply.ok() ? reply->body : "no reply");
    return reply.ok() ? json::parse(reply->body).value("sequence", uint64_t{0}) : 0;
  }

  static std::shared_ptr<grpc::Channel> Channel() {
    static std::shared_ptr<grpc::Channel> channel =
        grpc::CreateChannel(service_->grpc_target(), grpc::InsecureChannelCredentials());
    return channel;
  }

  static grpc::ClientContext* Context(grpc::ClientContext& ctx, const std::string& token) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    return &ctx;
  }

  static std::string Tok(const std::string& scope) { return ScopeTokens().at(scope); }

  static TestDatabase* db_;
  static std::string* dir_;
  static ServiceProcess* service_;
  static uint64_t last_sequence_;
};
TestDatabase* ApiE2ETest::db_ = nullptr;
std::string* ApiE2ETest::dir_ = nullptr;
ServiceProcess* ApiE2ETest::service_ = nullptr;
uint64_t ApiE2ETest::last_sequence_ = 0;

// Pages through ListMembers of `account` (page size `page_size`) to the end, calling
// `between_pages` after each page; returns the user ids in the order received.
std::vector<std::string> ListAllMembers(v1::MembershipService::Stub& stub, const std::string& account,
                                        int page_size, const std::function<void()>& between_pages) {
  std::vector<std::string> seen;
  std::string token;
  for (int page = 0; page < 1000; ++page) {
    v1::ListMembersRequest req;
    req.set_account_id(account);
    req.set_page_size(page_size);
    req.set_page_token(token);
    v1::ListMembersResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ctx.AddMetadata("authorization", "Bearer " + ScopeTokens().at("members:read"));
    grpc::Status status = stub.ListMembers(&ctx, req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    for (const auto& m : resp.members()) seen.push_back(m.user_id());
    between_pages();
    token = resp.next_page_token();
    if (!status.ok() || token.empty()) break;
  }
  return seen;
}

TEST_F(ApiE2ETest, GetUserExplainsTheStateWithProvenance) {
  auto users = v1::UserService::NewStub(Channel());
  v1::GetUserRequest req;
  v1::User user;
  req.set_user_id("usr_api_4");
  grpc::ClientContext ctx;
  ASSERT_TRUE(users->GetUser(Context(ctx, Tok("users:read")), req, &user).ok());
  EXPECT_EQ(user.state(), v1::USER_STATE_DISABLED);
  EXPECT_EQ(user.disabled_reason(), "account_compromise");
  EXPECT_EQ(user.disabled_by(), "usr_01KBMF8Q60H0WWZ4KGT675KR39");
  EXPECT_EQ(user.last_event_id(), "evt_01KT6C8BBSXFRYZ5FQKXXR0EDF_api");
  EXPECT_EQ(user.last_event_type(), "huudis.user.disabled.v1");
  EXPECT_EQ(user.provider(), "huudis");
  EXPECT_EQ(user.email(), "dana.okafor@example.net") << "the newest email wins";
  EXPECT_TRUE(user.has_sessions_valid_after());
  EXPECT_TRUE(user.has_updated_at());

  grpc::ClientContext ctx2;
  req.set_user_id("usr_never_seen");
  EXPECT_EQ(users->GetUser(Context(ctx2, Tok("users:read")), req, &user).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext ctx3;
  req.set_user_id("");
  EXPECT_EQ(users->GetUser(Context(ctx3, Tok("users:read")), req, &user).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ApiE2ETest, GetMembershipAnswersPresentMembersOnly) {
  auto stub = v1::MembershipService::NewStub(Channel());
  v1::GetMembershipRequest req;
  v1::Membership m;
  req.set_account_id("acc_api");
  req.set_user_id("usr_api_2");
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->GetMembership(Context(ctx, Tok("members:read")), req, &m).ok());
  EXPECT_EQ(m.role(), "admin");
  EXPECT_EQ(m.account_name(), "Name of acc_api");
  EXPECT_EQ(m.user_email(), "usr_api_2@example.net");
  EXPECT_EQ(m.user_name(), "User usr_api_2");
  EXPECT_EQ(m.added_via(), "direct_add");
  EXPECT_EQ(m.added_by_user_id(), "usr_owner");
  EXPECT_TRUE(m.has_joined_at());
  EXPECT_FALSE(m.removed());
  for (const char* user : {"usr_api_5", "usr_nobody"}) {  // removed (tombstone) / never a member
    grpc::ClientContext c;
    req.set_user_id(user);
    EXPECT_EQ(stub->GetMembership(Context(c, Tok("members:read")), req, &m).error_code(), grpc::StatusCode::NOT_FOUND)
        << user;
  }
}

TEST_F(ApiE2ETest, ListMembersPagesInStableOrderWithRoleFilterAndValidation) {
  auto stub = v1::MembershipService::NewStub(Channel());
  int pages = 0;
  std::vector<std::string> seen = ListAllMembers(*stub, "acc_api", 2, [&] { ++pages; });
  EXPECT_EQ(seen, (std::vector<std::string>{"usr_api_1", "usr_api_2", "usr_api_3", "usr_api_4"}));
  EXPECT_EQ(pages, 2);

  v1::ListMembersRequest req;
  req.set_account_id("acc_api");
  req.set_role("member");
  v1::ListMembersResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->ListMembers(Context(ctx, Tok("members:read")), req, &resp).ok());
  ASSERT_EQ(resp.members_size(), 2);
  EXPECT_EQ(resp.members(0).user_id(), "usr_api_3");
  EXPECT_EQ(resp.members(1).user_id(), "usr_api_4");
  EXPECT_TRUE(resp.next_page_token().empty());

  auto expect_invalid = [&](v1::ListMembersRequest r, const char* what) {
    v1::ListMembersResponse out;
    grpc::ClientContext c;
    EXPECT_EQ(stub->ListMembers(Context(c, Tok("members:read")), r, &out).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << what;
  };
  v1::ListMembersRequest bad = req;
  bad.set_page_size(-1);
  expect_invalid(bad, "negative page size");
  bad.set_page_size(1001);
  expect_invalid(bad, "page size over 1000");
  bad = req;
  bad.set_page_token("garbage!!");
  expect_invalid(bad, "bad page token");
  // A token from another query (another account) is refused, not silently misapplied.
  v1::ListMembersRequest first;
  first.set_account_id("acc_api");
  first.set_page_size(1);
  grpc::ClientContext c1;
  ASSERT_TRUE(stub->ListMembers(Context(c1, Tok("members:read")), first, &resp).ok());
  bad = first;
  bad.set_account_id("acc_two");
  bad.set_page_token(resp.next_page_token());
  expect_invalid(bad, "token of another account");
  bad = first;
  bad.set_account_id("");
  expect_invalid(bad, "empty account");

  v1::ListMembersRequest unknown;
  unknown.set_account_id("acc_unknown");
  grpc::ClientContext c2;
  ASSERT_TRUE(stub->ListMembers(Context(c2, Tok("members:read")), unknown, &resp).ok());
  EXPECT_EQ(resp.members_size(), 0);
}

TEST_F(ApiE2ETest, ListUserMembershipsAndSeatCounts) {
  auto members = v1::MembershipService::NewStub(Channel());
  v1::ListUserMembershipsRequest req;
  req.set_user_id("usr_api_1");
  v1::ListUserMembershipsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(members->ListUserMemberships(Context(ctx, Tok("members:read")), req, &resp).ok());
  ASSERT_EQ(resp.memberships_size(), 2);
  EXPECT_EQ(resp.memberships(0).account_id(), "acc_api");
  EXPECT_EQ(resp.memberships(0).role(), "owner");
  EXPECT_EQ(resp.memberships(1).account_id(), "acc_two");

  auto seats = v1::SeatService::NewStub(Channel());
  v1::GetSeatCountRequest sreq;
  sreq.set_account_id("acc_api");
  v1::SeatCount count;
  grpc::ClientContext c2;
  ASSERT_TRUE(seats->GetSeatCount(Context(c2, Tok("seats:read")), sreq, &count).ok());
  EXPECT_EQ(count.total(), 4);
  EXPECT_EQ(count.billable(), 3) << "usr_api_4 is disabled";
  EXPECT_EQ(count.by_role().at("owner"), 1);
  EXPECT_EQ(count.by_role().at("admin"), 1);
  EXPECT_EQ(count.by_role().at("member"), 2);
  EXPECT_GE(count.sequence(), last_sequence_);

  sreq.set_account_id("acc_unknown");
  grpc::ClientContext c3;
  ASSERT_TRUE(seats->GetSeatCount(Context(c3, Tok("seats:read")), sreq, &count).ok());
  EXPECT_EQ(count.total(), 0);
  EXPECT_EQ(count.billable(), 0);
  EXPECT_TRUE(count.by_role().empty());

  std::map<std::string, int64_t> totals;
  std::string token;
  do {
    v1::ListSeatCountsRequest lreq;
    lreq.set_page_size(1);
    lreq.set_page_token(token);
    v1::ListSeatCountsResponse lresp;
    grpc::ClientContext c;
    ASSERT_TRUE(seats->ListSeatCounts(Context(c, Tok("seats:read")), lreq, &lresp).ok());
    ASSERT_LE(lresp.seat_counts_size(), 1);
    for (const auto& s : lresp.seat_counts()) totals[s.account_id()] = s.total();
    token = lresp.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(totals, (std::map<std::string, int64_t>{{"acc_api", 4}, {"acc_two", 1}}));
}

google::protobuf::Timestamp Ts(const std::string& rfc3339) {
  const std::optional<TimePoint> t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  const int64_t micros = t ? ToUnixMicros(*t) : 0;
  google::protobuf::Timestamp ts;
  ts.set_seconds(micros / 1000000);
  ts.set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  return ts;
}

// Seat counts at past instants, the seat changes between two, and seat-seconds over an
// interval, from a workspace whose history the test writes: four joins on 2026-05-20 (10:00,
// 10:10, 10:20, 10:30), the second member leaving on 2026-05-21 10:00, and the fourth (usr_api_4)
// disabled on 2026-06-03 09:15:27.402 by the suite's set-up, which was delivered before these.
TEST_F(ApiE2ETest, SeatHistoryAtPastInstantsChangesAndUsage) {
  const std::vector<std::pair<std::string, std::string>> joins = {
      {"usr_hist_1", "owner"}, {"usr_hist_2", "member"}, {"usr_hist_3", "member"}, {"usr_api_4", "member"}};
  for (int i = 0; i < 4; ++i) Post(MemberAdded("acc_hist", joins[i].first, joins[i].second, 10 * i, "evt_hist_add_" + std::to_string(i)));
  const uint64_t written = Post(MemberRemoved("acc_hist", "usr_hist_2", 0, "evt_hist_rm_2"));
  auto seats = v1::SeatService::NewStub(Channel());

  auto count_at = [&](const std::string& at) {
    v1::GetSeatCountRequest req;
    req.set_account_id("acc_hist");
    if (!at.empty()) *req.mutable_as_of() = Ts(at);
    v1::SeatCount count;
    grpc::ClientContext ctx;
    grpc::Status s = seats->GetSeatCount(Context(ctx, Tok("seats:read")), req, &count);
    EXPECT_TRUE(s.ok()) << at << ": " << s.error_message();
    EXPECT_GE(count.sequence(), written);
    return std::tuple{count.total(), count.billable(), std::map<std::string, int64_t>(count.by_role().begin(), count.by_role().end())};
  };
  using Roles = std::map<std::string, int64_t>;
  EXPECT_EQ(count_at("2026-05-20T09:59:59.999999Z"), std::tuple(0, 0, Roles{}));
  EXPECT_EQ(count_at("2026-05-20T10:10:00Z"), std::tuple(2, 2, Roles{{"owner", 1}, {"member", 1}})) << "inclusive";
  EXPECT_EQ(count_at("2026-05-22T00:00:00Z"), std::tuple(3, 3, Roles{{"owner", 1}, {"member", 2}}));
  EXPECT_EQ(count_at("2026-06-03T09:15:27.401999Z"), std::tuple(3, 3, Roles{{"owner", 1}, {"member", 2}}));
  EXPECT_EQ(count_at("2026-06-03T09:15:27.402Z"), std::tuple(3, 2, Roles{{"owner", 1}, {"member", 2}}))
      << "usr_api_4 disabled";
  EXPECT_EQ(count_at(""), count_at("9999-12-31T23:59:59Z")) << "now is the end of the history";

  // The changes of [2026-05-20, 2026-07-01), two a page.
  std::vector<std::string> changes;
  std::string token;
  v1::ListSeatChangesRequest list;
  list.set_account_id("acc_hist");
  *list.mutable_start() = Ts("2026-05-20T00:00:00Z");
  *list.mutable_end() = Ts("2026-07-01T00:00:00Z");
  list.set_page_size(2);
  std::string second_token;
  for (int page = 0; page < 10; ++page) {
    list.set_page_token(token);
    v1::ListSeatChangesResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = seats->ListSeatChanges(Context(ctx, Tok("seats:read")), list, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_LE(resp.changes_size(), 2);
    EXPECT_GE(resp.sequence(), written);
    for (const auto& c : resp.changes()) {
      EXPECT_EQ(c.account_id(), "acc_hist");
      changes.push_back(FormatRfc3339(FromUnixMicros(c.at().seconds() * 1000000 + c.at().nanos() / 1000)) + " " +
                        c.user_id() + " " + c.role() + " " + std::to_string(c.member_delta()) + " " +
                        std::to_string(c.delta()) + " " + c.event_id());
    }
    token = resp.next_page_token();
    if (page == 0) second_token = token;
    if (token.empty()) break;
  }
  EXPECT_EQ(changes, (std::vector<std::string>{
                         "2026-05-20T10:00:00.000000Z usr_hist_1 owner 1 1 evt_hist_add_0",
                         "2026-05-20T10:10:00.000000Z usr_hist_2 member 1 1 evt_hist_add_1",
                         "2026-05-20T10:20:00.000000Z usr_hist_3 member 1 1 evt_hist_add_2",
                         "2026-05-20T10:30:00.000000Z usr_api_4 member 1 1 evt_hist_add_3",
                         "2026-05-21T10:00:00.000000Z usr_hist_2 member -1 -1 evt_hist_rm_2",
                         "2026-06-03T09:15:27.402000Z usr_api_4 member 0 -1 evt_01KT6C8BBSXFRYZ5FQKXXR0EDF_api",
                     }));

  // Seat-seconds of 10:00-11:00 on 2026-05-20: 1, 2, 3 seats ten minutes each, then 4 for 30.
  v1::GetSeatUsageRequest usage_req;
  usage_req.set_account_id("acc_hist");
  *usage_req.mutable_start() = Ts("2026-05-20T10:00:00Z");
  *usage_req.mutable_end() = Ts("2026-05-20T11:00:00Z");
  v1::SeatUsage usage;
  {
    grpc::ClientContext ctx;
    grpc::Status s = seats->GetSeatUsage(Context(ctx, Tok("seats:read")), usage_req, &usage);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_DOUBLE_EQ(usage.billable_seat_seconds(), 600 * 1 + 600 * 2 + 600 * 3 + 1800 * 4);
  EXPECT_DOUBLE_EQ(usage.mean_billable(), 3.0);
  EXPECT_EQ(usage.min_billable(), 1);
  EXPECT_EQ(usage.max_billable(), 4);
  EXPECT_EQ(usage.start_billable(), 1);
  EXPECT_EQ(usage.end_billable(), 4);
  EXPECT_EQ(usage.start().seconds(), usage_req.start().seconds());
  EXPECT_EQ(usage.end().seconds(), usage_req.end().seconds());
  EXPECT_GE(usage.sequence(), written);

  // Refused with INVALID_ARGUMENT: intervals that are missing, empty or backwards, timestamps
  // out of range, tokens of another query.
  auto expect_invalid = [&](auto call, const char* what) {
    grpc::ClientContext ctx;
    EXPECT_EQ(call(Context(ctx, Tok("seats:read"))).error_code(), grpc::StatusCode::INVALID_ARGUMENT) << what;
  };
  auto changes_call = [&](v1::ListSeatChangesRequest r) {
    return [&seats, r](grpc::ClientContext* c) {
      v1::ListSeatChangesResponse o;
      return seats->ListSeatChanges(c, r, &o);
    };
  };
  auto usage_call = [&](v1::GetSeatUsageRequest r) {
    return [&seats, r](grpc::ClientContext* c) {
      v1::SeatUsage o;
      return seats->GetSeatUsage(c, r, &o);
    };
  };
  v1::ListSeatChangesRequest bad = list;
  bad.set_page_token("");
  bad.clear_end();
  expect_invalid(changes_call(bad), "no end");
  bad = list;
  bad.set_page_token("");
  *bad.mutable_end() = bad.start();
  expect_invalid(changes_call(bad), "empty interval");
  bad = list;
  bad.set_page_token(second_token);
  bad.set_account_id("acc_api");
  expect_invalid(changes_call(bad), "token of another account");
  bad = list;
  bad.set_page_token(second_token);
  *bad.mutable_end() = Ts("2026-08-01T00:00:00Z");
  expect_invalid(changes_call(bad), "token of another interval");
  bad = list;
  bad.set_page_token(second_token);
  bad.set_include_non_billable(true);
  expect_invalid(changes_call(bad), "token of the other filter");
  v1::GetSeatUsageRequest bad_usage = usage_req;
  std::swap(*bad_usage.mutable_start(), *bad_usage.mutable_end());
  expect_invalid(usage_call(bad_usage), "backwards");
  bad_usage = usage_req;
  bad_usage.clear_start();
  expect_invalid(usage_call(bad_usage), "no start");
  bad_usage = usage_req;
  bad_usage.mutable_start()->set_nanos(1000000000);
  expect_invalid(usage_call(bad_usage), "nanos out of range");
  bad_usage = usage_req;
  bad_usage.set_account_id("");
  expect_invalid(usage_call(bad_usage), "no account");
  v1::GetSeatCountRequest bad_count;
  bad_count.set_account_id("acc_hist");
  bad_count.mutable_as_of()->set_seconds(-62135596801);  // 0000-12-31T23:59:59Z
  expect_invalid(
      [&](grpc::ClientContext* c) {
        v1::SeatCount o;
        return seats->GetSeatCount(c, bad_count, &o);
      },
      "as_of before year 1");
}

// Binds a unary RPC and its request into a call that only needs a context.
template <typename Stub, typename Request, typename Response>
std::function<grpc::Status(grpc::ClientContext*)> Invoker(
    Stub* stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*), Request request) {
  return [stub, method, request](grpc::ClientContext* context) {
    Response response;
    return (stub->*method)(context, request, &response);
  };
}

// Every RPC x {no token, a token without the scope, a token with it}.
TEST_F(ApiE2ETest, AuthMatrixCoversEveryRpc) {
  auto users = v1::UserService::NewStub(Channel());
  auto members = v1::MembershipService::NewStub(Channel());
  auto seats = v1::SeatService::NewStub(Channel());
  auto admin = v1::AdminService::NewStub(Channel());
  struct Rpc {
    const char* name;
    const char* scope;
    std::function<grpc::Status(grpc::ClientContext*)> call;
  };
  v1::IsUserActiveRequest is_active;
  is_active.set_user_id("usr_api_1");
  v1::BatchIsUserActiveRequest batch;
  batch.add_user_ids("usr_api_1");
  v1::GetUserRequest get_user;
  get_user.set_user_id("usr_api_1");
  v1::GetMembershipRequest get_membership;
  get_membership.set_account_id("acc_api");
  get_membership.set_user_id("usr_api_1");
  v1::ListMembersRequest list_members;
  list_members.set_account_id("acc_api");
  v1::ListUserMembershipsRequest list_memberships;
  list_memberships.set_user_id("usr_api_1");
  v1::GetSeatCountRequest get_seats;
  get_seats.set_account_id("acc_api");
  v1::ListSeatChangesRequest seat_changes;
  seat_changes.set_account_id("acc_api");
  seat_changes.mutable_start()->set_seconds(1779000000);
  seat_changes.mutable_end()->set_seconds(1780000000);
  v1::GetSeatUsageRequest seat_usage;
  seat_usage.set_account_id("acc_api");
  *seat_usage.mutable_start() = seat_changes.start();
  *seat_usage.mutable_end() = seat_changes.end();
  v1::ReplayDeadLettersRequest replay_none;
  replay_none.add_event_ids("evt_api_no_such_letter");
  v1::ListUserEventsRequest user_events;
  user_events.set_user_id("usr_api_1");
  const std::vector<Rpc> rpcs = {
      {"IsUserActive", "users:check", Invoker(users.get(), &v1::UserService::Stub::IsUserActive, is_active)},
      {"BatchIsUserActive", "users:check", Invoker(users.get(), &v1::UserService::Stub::BatchIsUserActive, batch)},
      {"GetUser", "users:read", Invoker(users.get(), &v1::UserService::Stub::GetUser, get_user)},
      {"GetMembership", "members:read",
       Invoker(members.get(), &v1::MembershipService::Stub::GetMembership, get_membership)},
      {"ListMembers", "members:read", Invoker(members.get(), &v1::MembershipService::Stub::ListMembers, list_members)},
      {"ListUserMemberships", "members:read",
       Invoker(members.get(), &v1::MembershipService::Stub::ListUserMemberships, list_memberships)},
      {"GetSeatCount", "seats:read", Invoker(seats.get(), &v1::SeatService::Stub::GetSeatCount, get_seats)},
      {"ListSeatCounts", "seats:read",
       Invoker(seats.get(), &v1::SeatService::Stub::ListSeatCounts, v1::ListSeatCountsRequest())},
      {"ListSeatChanges", "seats:read", Invoker(seats.get(), &v1::SeatService::Stub::ListSeatChanges, seat_changes)},
      {"GetSeatUsage", "seats:read", Invoker(seats.get(), &v1::SeatService::Stub::GetSeatUsage, seat_usage)},
      {"ListSources", "admin", Invoker(admin.get(), &v1::AdminService::Stub::ListSources, v1::ListSourcesRequest())},
      {"ListDeadLetters", "admin",
       Invoker(admin.get(), &v1::AdminService::Stub::ListDeadLetters, v1::ListDeadLettersRequest())},
      {"ReplayDeadLetters", "admin",
       Invoker(admin.get(), &v1::AdminService::Stub::ReplayDeadLetters, replay_none)},
      {"ListUserEvents", "admin", Invoker(admin.get(), &v1::AdminService::Stub::ListUserEvents, user_events)},
  };
  for (const Rpc& rpc : rpcs) {
    grpc::ClientContext none;
    EXPECT_EQ(rpc.call(Context(none, "")).error_code(), grpc::StatusCode::UNAUTHENTICATED) << rpc.name;
    grpc::ClientContext unknown;
    EXPECT_EQ(rpc.call(Context(unknown, "not-a-token")).error_code(), grpc::StatusCode::UNAUTHENTICATED) << rpc.name;
    for (const auto& [scope, token] : ScopeTokens()) {
      grpc::ClientContext ctx;
      grpc::Status s = rpc.call(Context(ctx, token));
      if (scope == rpc.scope) {
        EXPECT_TRUE(s.ok()) << rpc.name << " with " << scope << ": " << s.error_message();
      } else {
        EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << rpc.name << " with '" << scope << "'";
      }
    }
  }
}

// An operator's action takes effect even over a provider event dated after it (a provider clock
// ahead, within MM_MAX_CLOCK_SKEW_SECONDS; or another replica's clock): its fact time becomes
// just after the state it replaces.
TEST_F(ApiE2ETest, OperatorActionsTakeEffectOverAProviderEventDatedLater) {
  auto head = [] { return std::stoull(db_->Scalar("SELECT last_sequence FROM change_log_head")); };
  json disable = json::parse(FixtureFor("huudis.user.disabled.v1.json", "skew"));
  const std::string user = disable["data"]["id"];
  const std::string later = FormatRfc3339(SystemClock::Instance().Now() + std::chrono::seconds(120));
  disable["createdAt"] = later;
  disable["data"]["disabledAt"] = later;
  Post(disable.dump());

  auto act = [&](const std::string& action) {
    auto r = client::HttpRequest("POST", service_->http_url() + "/v1/users/" + user + "/" + action,
                                 {{"X-API-Key", ScopeTokens().at("users:write")}}, "");
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : client::HttpReply{};
  };
  auto enabled = act("enable");
  ASSERT_EQ(enabled.status, 200) << enabled.body;
  json answer = json::parse(enabled.body);
  EXPECT_EQ(answer["disabled"], false) << answer;
  EXPECT_EQ(answer["provider"], "operator") << answer;
  UserClient checker(service_->grpc_target(), ScopeTokens().at("users:check"));
  EXPECT_TRUE(checker.Check(user, head()).active());
  EXPECT_EQ(db_->Scalar("SELECT outcome FROM provider_events WHERE provider = 'operator' AND event_type = "
                        "'operator.user.enabled' AND raw_body::jsonb->>'user_id' = '" + user + "'"),
            "applied");

  // And back: a disable right after, on the same (lifted) timeline.
  auto disabled = act("disable");
  ASSERT_EQ(disabled.status, 200) << disabled.body;
  EXPECT_EQ(json::parse(disabled.body)["disabled"], true);
  EXPECT_FALSE(checker.Check(user, head()).active());
}

TEST_F(ApiE2ETest, OperatorApiStatusesAndNewerWinsWithProviders) {
  const std::string base = service_->http_url() + "/v1/users/";
  auto request = [&](const std::string& method, const std::string& path,
                     std::vector<std::pair<std::string, std::string>> headers, const std::string& body = "") {
    auto r = client::HttpRequest(method, base + path, headers, body);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : client::HttpReply{};
  };
  auto key = [](const std::string& scope) {
    return std::vector<std::pair<std::string, std::string>>{{"X-API-Key", ScopeTokens().at(scope)}};
  };
  // A user known from a provider event, enabled by Huudis in June 2026.
  Post(ReplaceAll(FixtureFor("huudis.user.enabled.v1.json", "op"), "usr_01KS325EWE6RW751J81QV16TCW_op", "usr_op"));

  EXPECT_EQ(request("POST", "usr_op/disable", {}).status, 401);
  EXPECT_EQ(request("POST", "usr_op/disable", {{"X-API-Key", "nope"}}).status, 401);
  EXPECT_EQ(request("POST", "usr_op/disable", key("users:read")).status, 403);
  EXPECT_EQ(request("GET", "usr_op", key("users:write")).status, 403);
  EXPECT_EQ(request("POST", "usr_op/disable", key("admin")).status, 403) << "admin does not imply users:write";
  EXPECT_EQ(request("POST", "usr_nobody/disable", key("users:write")).status, 404);
  EXPECT_EQ(request("POST", "usr_op/disable", key("users:write"), "not json").status, 422);
  EXPECT_EQ(request("POST", "usr_op/disable", key("users:write"), R"({"reason": 42})").status, 422);
  EXPECT_EQ(request("POST", std::string(257, 'u') + "/disable", key("users:write")).status, 422);
  EXPECT_EQ(request("GET", "usr_op/disable", key("users:write")).status, 405);
  auto problem = request("POST", "usr_nobody/disable", key("users:write"));
  EXPECT_EQ(problem.content_type, "application/problem+json");

  auto disabled = request("POST", "usr_op/disable", {{"Authorization", "Bearer " + Tok("users:write")}},
                          R"({"reason": "incident-7"})");
  ASSERT_EQ(disabled.status, 200) << disabled.body;
  json user = json::parse(disabled.body);
  EXPECT_EQ(user["user_id"], "usr_op");
  EXPECT_EQ(user["disabled"], true);
  EXPECT_EQ(user["disabled_reason"], "incident-7");
  EXPECT_EQ(user["provider"], "operator");
  EXPECT_EQ(user["disabled_by"], "caller-tok-uwrite");
  UserClient checker(service_->grpc_target(), Tok("users:check"));
  EXPECT_FALSE(checker.Check("usr_op").active());

  // A provider event older than the operator's action is stale: newer wins across sources.
  auto late = PostSigned(service_->http_url(),
                         ReplaceAll(FixtureFor("huudis.user.enabled.v1.json", "op2"), "usr_01KS325EWE6RW751J81QV16TCW_op2", "usr_op"));
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(json::parse(late->body)["status"], "stale");
  EXPECT_FALSE(checker.Check("usr_op", json::parse(late->body)["sequence"]).active());

  auto enabled = request("POST", "usr_op/enable", key("users:write"));
  ASSERT_EQ(enabled.status, 200) << enabled.body;
  EXPECT_EQ(json::parse(enabled.body)["disabled"], false);
  auto got = request("GET", "usr_op", key("users:read"));
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(json::parse(got.body)["state"], "active");
  EXPECT_EQ(request("GET", "usr_nobody", key("users:read")).status, 404);
  // (Other tests of the suite act on other users of the same database.)
  EXPECT_EQ(db_->Scalar("SELECT count(*) FROM provider_events WHERE provider = 'operator' AND raw_body LIKE '%usr_op\"%'"), "2")
      << "operator actions are kept like any event";
}

// Listing page by page while members are added and removed between pages: every member
// present throughout appears exactly once, and nothing appears twice.
// min_sequence on the database reads without a read replica (docs/design.md §5): a webhook's
// sequence is read at once from the primary; one beyond anything committed waits as
// IsUserActive does and ends DEADLINE_EXCEEDED at the call's deadline.
TEST_F(ApiE2ETest, DatabaseReadsHonourMinSequence) {
  const uint64_t added = Post(MemberAdded("acc_minseq", "usr_minseq", "member", 0, "evt_minseq_add"));
  ASSERT_GT(added, 0u);
  auto members = v1::MembershipService::NewStub(Channel());
  auto seats = v1::SeatService::NewStub(Channel());
  auto users = v1::UserService::NewStub(Channel());
  auto admin = v1::AdminService::NewStub(Channel());
  {
    v1::GetMembershipRequest req;
    req.set_account_id("acc_minseq");
    req.set_user_id("usr_minseq");
    req.set_min_sequence(added);
    v1::Membership m;
    grpc::ClientContext ctx;
    grpc::Status s = members->GetMembership(Context(ctx, Tok("members:read")), req, &m);
    ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    EXPECT_EQ(m.role(), "member");
  }
  {
    v1::GetSeatCountRequest req;
    req.set_account_id("acc_minseq");
    req.set_min_sequence(added);
    v1::SeatCount count;
    grpc::ClientContext ctx;
    ASSERT_TRUE(seats->GetSeatCount(Context(ctx, Tok("seats:read")), req, &count).ok());
    EXPECT_GE(count.sequence(), added);
    EXPECT_EQ(count.total(), 1);
  }
  {
    v1::ListMembersRequest req;
    req.set_account_id("acc_minseq");
    req.set_min_sequence(added);
    v1::ListMembersResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(members->ListMembers(Context(ctx, Tok("members:read")), req, &resp).ok());
    EXPECT_EQ(resp.members_size(), 1);
  }
  // Beyond what was ever committed: waits until the deadline, as IsUserActive does.
  const uint64_t unreachable = added + 1000000;
  auto far = [&](auto call) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(700));
    const auto started = std::chrono::steady_clock::now();
    grpc::Status s = call(ctx);
    const auto waited = std::chrono::steady_clock::now() - started;
    EXPECT_GE(waited, std::chrono::milliseconds(500)) << "it waited for the sequence";
    return s;
  };
  grpc::Status user = far([&](grpc::ClientContext& ctx) {
    ctx.AddMetadata("authorization", "Bearer " + Tok("users:read"));
    v1::GetUserRequest req;
    req.set_user_id("usr_minseq");
    req.set_min_sequence(unreachable);
    v1::User out;
    return users->GetUser(&ctx, req, &out);
  });
  EXPECT_EQ(user.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << user.error_message();
  grpc::Status sources = far([&](grpc::ClientContext& ctx) {
    ctx.AddMetadata("authorization", "Bearer " + Tok("admin"));
    v1::ListSourcesRequest req;
    req.set_min_sequence(unreachable);
    v1::ListSourcesResponse out;
    return admin->ListSources(&ctx, req, &out);
  });
  EXPECT_EQ(sources.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << sources.error_message();
  // Validation comes first: a bad id is INVALID_ARGUMENT at once, whatever min_sequence says.
  {
    v1::GetUserRequest req;
    req.set_min_sequence(unreachable);
    v1::User out;
    grpc::ClientContext ctx;
    EXPECT_EQ(users->GetUser(Context(ctx, Tok("users:read")), req, &out).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  // Without a read replica every read is the primary's.
  const std::string metrics = service_->MetricsText();
  EXPECT_GT(MetricValue(metrics, "mm_db_reads_total{target=\"primary\"}"), 0) << metrics;
  EXPECT_EQ(MetricValue(metrics, "mm_db_reads_total{target=\"replica\"}"), 0);
  EXPECT_EQ(metrics.find("\nmm_db_read_replica_up "), std::string::npos) << "no replica: no replica gauges";
}

TEST_F(ApiE2ETest, PaginationUnderConcurrentWritesReturnsEveryStableMemberOnce) {
  const std::string account = "acc_busy";
  std::set<std::string> stable;
  for (int i = 0; i < 200; ++i) {
    char user[32];
    std::snprintf(user, sizeof user, "usr_busy_%03d", i * 2);  // even ids: present throughout
    stable.insert(user);
    Post(MemberAdded(account, user, "member", i % 50, "evt_busy_add_" + std::to_string(i)));
  }
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 150 && !stop.load(); ++i) {
      char added[32], removed_then[32];
      std::snprintf(added, sizeof added, "usr_busy_%03d", i * 2 + 1);  // odd ids come and go
      std::snprintf(removed_then, sizeof removed_then, "usr_busy_%03d", (i - 20) * 2 + 1);
      Post(MemberAdded(account, added, "member", i % 50, "evt_busy_odd_" + std::to_string(i)));
      if (i >= 20) Post(MemberRemoved(account, removed_then, i % 50, "evt_busy_rm_" + std::to_string(i)));
    }
  });
  auto stub = v1::MembershipService::NewStub(Channel());
  std::vector<std::string> seen = ListAllMembers(*stub, account, 7, [] {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // let writes land between pages
  });
  stop.store(true);
  writer.join();
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "a member appeared twice";
  for (const std::string& user : stable) EXPECT_TRUE(unique.contains(user)) << user << " missing";
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end())) << "stable order";
}

// --- membershipctl, the real binary ----------------------------------------------------------

CommandResult Ctl(const std::string& args, const std::string& env) {
  return RunCommand(env + " " + MM_CTL_BINARY + " " + args);
}

TEST_F(ApiE2ETest, MembershipctlEndToEnd) {
  std::string env = "MM_GRPC_ADDR=" + service_->grpc_target() + " MM_HTTP_URL=" + service_->http_url() +
                    " MM_HUUDIS_SECRET=" + kSecret;
  auto with = [&](const std::string& scope) { return env + " MM_TOKEN=" + Tok(scope); };

  auto active = Ctl("is-active usr_api_1", with("users:check"));
  EXPECT_EQ(active.code, 0) << active.output;
  EXPECT_NE(active.output.find("active (USER_STATE_ACTIVE)"), std::string::npos) << active.output;
  auto inactive = Ctl("is-active usr_api_4 --json", with("users:check"));
  EXPECT_EQ(inactive.code, 1) << inactive.output;
  EXPECT_EQ(json::parse(inactive.output)["state"], "USER_STATE_DISABLED") << inactive.output;
  EXPECT_EQ(Ctl("is-active usr_api_1", with("users:read")).code, 3) << "PERMISSION_DENIED is a failed call";
  EXPECT_EQ(Ctl("is-active", with("users:check")).code, 2) << "usage error";
  EXPECT_EQ(Ctl("is-active --help", with("users:check")).code, 0);

  auto user = Ctl("user usr_api_4", with("users:read"));
  EXPECT_EQ(user.code, 0) << user.output;
  EXPECT_NE(user.output.find("account_compromise"), std::string::npos) << user.output;
  EXPECT_EQ(Ctl("user usr_nobody", with("users:read")).code, 1);

  auto members = Ctl("members acc_api --all", with("members:read"));
  EXPECT_EQ(members.code, 0) << members.output;
  for (const char* u : {"usr_api_1", "usr_api_2", "usr_api_3", "usr_api_4"}) {
    EXPECT_NE(members.output.find(u), std::string::npos) << members.output;
  }
  auto memberships = Ctl("memberships usr_api_1 --json", with("members:read"));
  EXPECT_EQ(json::parse(memberships.output)["memberships"].size(), 2u) << memberships.output;
  auto seats = Ctl("seats acc_api --json", with("seats:read"));
  EXPECT_EQ(json::parse(seats.output)["billable"], "3") << seats.output;
  auto all = Ctl("seat-counts --all", with("seats:read"));
  EXPECT_NE(all.output.find("acc_two"), std::string::npos) << all.output;
  // --min-sequence on the database reads: the last webhook's sequence is read at once; one
  // never committed fails DEADLINE_EXCEEDED (a failed call) at the deadline.
  const std::string seq = std::to_string(last_sequence_);
  auto fresh = Ctl("seats acc_api --json --min-sequence " + seq, with("seats:read"));
  EXPECT_EQ(fresh.code, 0) << fresh.output;
  EXPECT_GE(std::stoull(json::parse(fresh.output)["sequence"].get<std::string>()), last_sequence_) << fresh.output;
  EXPECT_EQ(Ctl("user usr_api_4 --min-sequence " + seq, with("users:read")).code, 0);
  EXPECT_EQ(Ctl("members acc_api --min-sequence " + seq, with("members:read")).code, 0);
  auto never = Ctl("user usr_api_4 --timeout-ms 500 --min-sequence " + std::to_string(last_sequence_ + 1000000),
                   with("users:read"));
  EXPECT_EQ(never.code, 3) << never.output;
  EXPECT_NE(never.output.find("DEADLINE_EXCEEDED"), std::string::npos) << never.output;
  EXPECT_EQ(Ctl("user usr_api_4 --min-sequence x", with("users:read")).code, 2);

  auto body_file = *dir_ + "/created.json";
  std::ofstream(body_file) << FixtureFor("huudis.user.created.v1.json", "ctl");
  auto sent = Ctl("send-webhook " + body_file, env);
  EXPECT_EQ(sent.code, 0) << sent.output;
  EXPECT_NE(sent.output.find("\"applied\""), std::string::npos) << sent.output;
  EXPECT_EQ(Ctl("send-webhook " + body_file + " --secret whsec_wrong", env).code, 1);

  auto disabled = Ctl("disable usr_api_3 --reason ctl-test", with("users:write"));
  EXPECT_EQ(disabled.code, 0) << disabled.output;
  EXPECT_EQ(Ctl("is-active usr_api_3", with("users:check")).code, 1);
  EXPECT_EQ(Ctl("enable usr_api_3", with("users:write")).code, 0);
  EXPECT_EQ(Ctl("disable usr_nobody", with("users:write")).code, 1);
  // No pull source is configured here: an empty answer, not an error.
  auto sources = Ctl("sources", with("admin"));
  EXPECT_EQ(sources.code, 0) << sources.output;
  EXPECT_NE(sources.output.find("no pull source configured or seen"), std::string::npos) << sources.output;
  EXPECT_EQ(Ctl("sources", with("users:read")).code, 3) << "ListSources needs admin";
  EXPECT_EQ(Ctl("frobnicate", env).code, 2);
  EXPECT_EQ(Ctl("--help", env).code, 0);
}

// The billing questions of the README, one command each: billable seats on the 1st, seat-days
// in November; and the CSV of a billing run over every workspace.
TEST_F(ApiE2ETest, MembershipctlAnswersBillingQuestions) {
  Post(MemberAddedAt("acc_bill", "usr_bill_1", "owner", "2026-11-01T00:00:00.000Z", "evt_bill_1"));
  Post(MemberAddedAt("acc_bill", "usr_bill_2", "member", "2026-11-16T00:00:00.000Z", "evt_bill_2"));
  Post(MemberAddedAt("acc_bill", "usr_bill_3", "member", "2026-10-20T00:00:00.000Z", "evt_bill_3"));
  Post(MemberRemovedAt("acc_bill", "usr_bill_3", "2026-11-10T12:00:00.000Z", "evt_bill_3_rm"));
  const std::string env = "MM_GRPC_ADDR=" + service_->grpc_target() + " MM_TOKEN=" + Tok("seats:read");

  auto on_the_first = Ctl("seats acc_bill --as-of 2026-11-01", env);
  EXPECT_EQ(on_the_first.code, 0) << on_the_first.output;
  EXPECT_EQ(on_the_first.output, "acc_bill\ttotal 2\tbillable 2\tmember 1, owner 1\n");
  auto before = Ctl("seats acc_bill --as-of 2026-10-31T23:59:59Z --json", env);
  EXPECT_EQ(json::parse(before.output)["billable"], "1") << before.output;

  // November: usr_bill_1 30 days, usr_bill_3 9.5, usr_bill_2 15.
  auto november = Ctl("seat-usage acc_bill --from 2026-11-01 --to 2026-12-01", env);
  EXPECT_EQ(november.code, 0) << november.output;
  EXPECT_NE(november.output.find("seat-days 54.500000\tmean 1.817\tmin 1\tmax 2\tstart 2\tend 2"), std::string::npos)
      << november.output;
  auto as_json = json::parse(Ctl("seat-usage acc_bill --from 2026-11-01 --to 2026-12-01 --json", env).output);
  EXPECT_DOUBLE_EQ(as_json["billable_seat_seconds"].get<double>(), 54.5 * 86400) << as_json;

  auto changes = Ctl("seat-changes acc_bill --from 2026-11-01 --to 2026-12-01 --page-size 1 --all", env);
  EXPECT_EQ(changes.code, 0) << changes.output;
  EXPECT_EQ(changes.output,
            "2026-11-01T00:00:00Z\tusr_bill_1\towner\t+1\t+1\tevt_bill_1\n"
            "2026-11-10T12:00:00Z\tusr_bill_3\tmember\t-1\t-1\tevt_bill_3_rm\n"
            "2026-11-16T00:00:00Z\tusr_bill_2\tmember\t+1\t+1\tevt_bill_2\n");

  // The billing run: every workspace, CSV with a header, a row per workspace.
  auto run = Ctl("seat-usage --all-workspaces --from 2026-11-01 --to 2026-12-01 --csv", env);
  EXPECT_EQ(run.code, 0) << run.output;
  std::vector<std::string> lines = absl::StrSplit(run.output, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 4u) << run.output;
  EXPECT_EQ(lines[0], "account_id,start,end,billable_seat_seconds,billable_seat_days,mean_billable,min_billable,"
                      "max_billable,start_billable,end_billable,sequence");
  EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [](const std::string& l) {
    return l.rfind("acc_bill,2026-11-01T00:00:00Z,2026-12-01T00:00:00Z,4708800.000000,54.500000,1.816667,1,2,2,2,", 0) == 0;
  })) << run.output;
  EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [](const std::string& l) { return l.rfind("acc_api,", 0) == 0; }))
      << "every workspace, however quiet in the period: " << run.output;
  auto counts = Ctl("seats --all-workspaces --as-of 2026-11-01 --csv", env);
  EXPECT_EQ(counts.code, 0) << counts.output;
  EXPECT_NE(counts.output.find("\nacc_bill,2026-11-01T00:00:00Z,2,2,member=1;owner=1,"), std::string::npos)
      << counts.output;

  EXPECT_EQ(Ctl("seat-usage acc_bill --from 2026-11-01", env).code, 2) << "--to is required";
  EXPECT_EQ(Ctl("seat-usage acc_bill --from yesterday --to 2026-12-01", env).code, 2);
  EXPECT_EQ(Ctl("seats acc_bill --all-workspaces", env).code, 2) << "one workspace or all";
  EXPECT_EQ(Ctl("seat-usage acc_bill --from 2026-12-01 --to 2026-11-01", env).code, 3) << "INVALID_ARGUMENT";
}

// The running service keeps the seat ledger to MM_SEAT_LEDGER_RETENTION_DAYS: history older
// than that becomes OUT_OF_RANGE naming the oldest time kept, while the counts now and within
// the retention are unchanged.
TEST(ApiRetentionE2ETest, SeatHistoryOlderThanTheRetentionIsOutOfRangeAndCountsStay) {
  auto db = TestDatabase::Create("api_retention");
  std::string dir = TempDir();
  auto service = ServiceProcess::Start({.binary = MM_SERVER_BINARY,
                                        .env = {{"MM_DATABASE_URL", db->url()},
                                                {"MM_HUUDIS_SECRETS", kSecret},
                                                {"MM_CALLERS_FILE", WriteScopedCallers(dir)},
                                                {"MM_SEAT_LEDGER_RETENTION_DAYS", "30"},
                                                {"MM_PRUNE_INTERVAL_MS", "200"}}});
  auto reply = PostSigned(service->http_url(), MemberAdded("acc_ret", "usr_ret_1", "member", 0, "evt_ret_1"));
  ASSERT_TRUE(reply.ok() && reply->status == 200);
  const std::string recent = FormatRfc3339(SystemClock::Instance().Now() - std::chrono::hours(24 * 10));
  reply = PostSigned(service->http_url(), MemberAddedAt("acc_ret", "usr_ret_2", "member", recent, "evt_ret_2"));
  ASSERT_TRUE(reply.ok() && reply->status == 200);
  auto seats = v1::SeatService::NewStub(grpc::CreateChannel(service->grpc_target(), grpc::InsecureChannelCredentials()));
  auto count_at = [&](std::optional<TimePoint> at, v1::SeatCount& out) {
    v1::GetSeatCountRequest r;
    r.set_account_id("acc_ret");
    if (at) r.mutable_as_of()->set_seconds(ToUnixMicros(*at) / 1000000);
    grpc::ClientContext c;
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    c.AddMetadata("authorization", "Bearer " + ScopeTokens().at("seats:read"));
    return seats->GetSeatCount(&c, r, &out);
  };
  const TimePoint may = *ParseRfc3339("2026-05-20T12:00:00Z");
  v1::SeatCount count;
  grpc::Status s;
  for (int i = 0; i < 100 && (s = count_at(may, count)).error_code() != grpc::StatusCode::OUT_OF_RANGE; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE) << "the pruner never moved the horizon";
  EXPECT_NE(s.error_message().find("oldest time the seat ledger keeps"), std::string::npos) << s.error_message();
  ASSERT_TRUE(count_at(std::nullopt, count).ok());
  EXPECT_EQ(count.billable(), 2);
  ASSERT_TRUE(count_at(SystemClock::Instance().Now() - std::chrono::hours(24 * 20), count).ok());
  EXPECT_EQ(count.billable(), 1) << "usr_ret_1 joined in May, folded into the base";
  ASSERT_TRUE(count_at(SystemClock::Instance().Now() - std::chrono::hours(24 * 5), count).ok());
  EXPECT_EQ(count.billable(), 2);
  EXPECT_EQ(db->Scalar("SELECT count(*) FROM seat_ledger"), "1") << "only the recent join is a row";
}

// --- Database trouble ------------------------------------------------------------------------

TEST(ApiDatabaseE2ETest, DatabaseBackedRpcsSayUnavailableThenRecover) {
  auto db = TestDatabase::Create("api_outage");
  std::string admin = AdminDatabaseUrl();
  int pg_port = std::stoi(admin.substr(admin.find("@127.0.0.1:") + 11));
  TcpProxy proxy("127.0.0.1", pg_port);
  std::string dir = TempDir();
  auto service = ServiceProcess::Start(
      {.binary = MM_SERVER_BINARY,
       .env = {{"MM_DATABASE_URL", ReplaceAll(db->url(), ":" + std::to_string(pg_port) + "/",
                                              ":" + std::to_string(proxy.port()) + "/")},
               {"MM_HUUDIS_SECRETS", kSecret},
               {"MM_CALLERS_FILE", WriteScopedCallers(dir)}}});
  auto seats = v1::SeatService::NewStub(grpc::CreateChannel(service->grpc_target(), grpc::InsecureChannelCredentials()));
  auto ask = [&] {
    v1::GetSeatCountRequest r;
    r.set_account_id("acc_x");
    v1::SeatCount o;
    grpc::ClientContext c;
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    c.AddMetadata("authorization", "Bearer " + ScopeTokens().at("seats:read"));
    return seats->GetSeatCount(&c, r, &o);
  };
  ASSERT_TRUE(ask().ok());
  proxy.SetDown(true);
  EXPECT_EQ(ask().error_code(), grpc::StatusCode::UNAVAILABLE);
  proxy.SetDown(false);
  grpc::Status s;
  for (int i = 0; i < 50 && !(s = ask()).ok(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(s.ok()) << "served again without a restart: " << s.error_message();
}

TEST(ApiDatabaseE2ETest, FullDatabaseQueueAnswersResourceExhaustedAtOnce) {
  auto db = TestDatabase::Create("api_full");
  std::string dir = TempDir();
  auto service = ServiceProcess::Start({.binary = MM_SERVER_BINARY,
                                        .env = {{"MM_DATABASE_URL", db->url()},
                                                {"MM_HUUDIS_SECRETS", kSecret},
                                                {"MM_CALLERS_FILE", WriteScopedCallers(dir)},
                                                {"MM_DB_READ_THREADS", "1"},
                                                {"MM_DB_READ_QUEUE", "1"}}});
  // Hold a lock that GetUser's read waits on: the one worker blocks, one call queues behind it.
  pqxx::connection locker(db->url());
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
  auto users = v1::UserService::NewStub(grpc::CreateChannel(service->grpc_target(), grpc::InsecureChannelCredentials()));
  std::vector<std::thread> blocked;
  std::atomic<int> finished{0};
  for (int i = 0; i < 2; ++i) {
    blocked.emplace_back([&] {
      v1::GetUserRequest r;
      r.set_user_id("usr_any");
      v1::User o;
      grpc::ClientContext c;
      c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
      c.AddMetadata("authorization", "Bearer " + ScopeTokens().at("users:read"));
      users->GetUser(&c, r, &o);
      finished.fetch_add(1);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  v1::GetUserRequest r;
  r.set_user_id("usr_any");
  v1::User o;
  grpc::ClientContext c;
  c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  c.AddMetadata("authorization", "Bearer " + ScopeTokens().at("users:read"));
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(users->GetUser(&c, r, &o).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2)) << "refused at once";
  lock.abort();
  for (auto& t : blocked) t.join();
  EXPECT_EQ(finished.load(), 2);
}

}  // namespace
}  // namespace mm::testing
