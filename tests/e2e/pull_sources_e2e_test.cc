// End-to-end tests of the pull sources (DESIGN §3b): the real binary, a real PostgreSQL, and
// fake provider APIs (tests/support/fake_huudis.h, fake_monocloud.h, fake_fusionauth.h) that
// speak the documented shapes, paging and errors. Webhooks are off in every test: what the
// mirror knows it learns by pulling.

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "adapters/fusionauth_adapter.h"
#include "e2e_helpers.h"
#include "fake_fusionauth.h"
#include "fake_huudis.h"
#include "fake_monocloud.h"
#include "jwt/jws.h"
#include "service_process.h"
#include "test_database.h"

namespace mm::testing {
namespace {

namespace v1 = membership::v1;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kToken[] = "token-all";  // every scope the tests read with
constexpr char kWorkspace[] = "acc_01KHNBH9JCVBRBAVHNB1HYYFDX";

bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

TimePoint Ago(std::chrono::seconds s) { return SystemClock::Instance().Now() - s; }

// A service with pull sources and no webhook secret, and typed access to what it answers.
class Mirror {
 public:
  Mirror(const TestDatabase& db, const std::string& dir, std::map<std::string, std::string> env) {
    std::string callers = WriteCallersFile(
        dir, {{"all", kToken, {"users:check", "users:read", "users:write", "members:read", "seats:read", "admin"}}});
    env.try_emplace("MM_DATABASE_URL", db.url());
    env.try_emplace("MM_CALLERS_FILE", callers);
    env.try_emplace("MM_POLL_INTERVAL_MS", "50");
    env.try_emplace("MM_SOURCE_RETRY_ATTEMPTS", "2");
    env.try_emplace("MM_SOURCE_RETRY_BACKOFF_MS", "50");
    env.try_emplace("MM_SOURCE_TIMEOUT_MS", "2000");
    process_ = ServiceProcess::Start({.binary = MM_SERVER_BINARY, .env = env});
    auto channel = grpc::CreateChannel(process_->grpc_target(), grpc::InsecureChannelCredentials());
    users_ = v1::UserService::NewStub(channel);
    members_ = v1::MembershipService::NewStub(channel);
    admin_ = v1::AdminService::NewStub(channel);
  }

  ServiceProcess& process() { return *process_; }

  v1::IsUserActiveResponse Check(const std::string& user) {
    grpc::ClientContext ctx;
    Prepare(ctx);
    v1::IsUserActiveRequest req;
    req.set_user_id(user);
    v1::IsUserActiveResponse resp;
    grpc::Status s = users_->IsUserActive(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }
  v1::UserState State(const std::string& user) { return Check(user).state(); }

  std::optional<v1::User> User(const std::string& user) {
    grpc::ClientContext ctx;
    Prepare(ctx);
    v1::GetUserRequest req;
    req.set_user_id(user);
    v1::User resp;
    if (!users_->GetUser(&ctx, req, &resp).ok()) return std::nullopt;
    return resp;
  }

  // Present members of `account`: user -> role.
  std::map<std::string, std::string> Members(const std::string& account) {
    std::map<std::string, std::string> out;
    std::string token;
    do {
      grpc::ClientContext ctx;
      Prepare(ctx);
      v1::ListMembersRequest req;
      req.set_account_id(account);
      req.set_page_size(1000);
      req.set_page_token(token);
      v1::ListMembersResponse resp;
      grpc::Status s = members_->ListMembers(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const auto& m : resp.members()) out[m.user_id()] = m.role();
      token = resp.next_page_token();
    } while (!token.empty());
    return out;
  }

  std::vector<v1::SourceStatus> Sources() {
    grpc::ClientContext ctx;
    Prepare(ctx);
    v1::ListSourcesResponse resp;
    grpc::Status s = admin_->ListSources(&ctx, v1::ListSourcesRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.sources().begin(), resp.sources().end()};
  }
  std::optional<v1::SourceStatus> Source(const std::string& source, const std::string& scope) {
    for (const v1::SourceStatus& s : Sources()) {
      if (s.source() == source && s.scope() == scope) return s;
    }
    return std::nullopt;
  }
  // Runs of `source`/`scope` that ended ok, as far as the status shows: waits for a new one.
  bool WaitForNewSuccess(const std::string& source, const std::string& scope, std::chrono::milliseconds timeout = 30s) {
    auto before = Source(source, scope);
    int64_t seconds = before && before->has_last_success_at() ? before->last_success_at().seconds() : 0;
    int32_t nanos = before && before->has_last_success_at() ? before->last_success_at().nanos() : 0;
    return Eventually(
        [&] {
          auto now = Source(source, scope);
          return now && now->status() == "ok" && now->has_last_success_at() &&
                 (now->last_success_at().seconds() > seconds ||
                  (now->last_success_at().seconds() == seconds && now->last_success_at().nanos() > nanos));
        },
        timeout);
  }

  std::string Metrics() { return process_->MetricsText(); }
  // The value of one series ("name{labels}"), 0 if absent.
  double Metric(const std::string& series) { return MetricValue(Metrics(), series); }

 private:
  static void Prepare(grpc::ClientContext& ctx) {
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
  }
  std::unique_ptr<ServiceProcess> process_;
  std::unique_ptr<v1::UserService::Stub> users_;
  std::unique_ptr<v1::MembershipService::Stub> members_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

HuudisMember Member(const std::string& id, const std::string& role, std::chrono::seconds joined_ago = 3600s) {
  HuudisMember m;
  m.id = id;
  m.email = id + "@example.net";
  m.name = "Name " + id;
  m.role = role;
  m.joined_at = Ago(joined_ago);
  return m;
}

HuudisEndUser EndUser(const std::string& id, bool disabled = false) {
  HuudisEndUser u;
  u.id = id;
  u.email = id + "@example.net";
  u.name = "Name " + id;
  u.disabled = disabled;
  u.first_sign_in_at = Ago(7200s);
  return u;
}

std::map<std::string, std::string> HuudisEnv(const FakeHuudis& huudis, const std::string& token_file) {
  return {{"MM_HUUDIS_API_URL", huudis.base_url()},
          {"MM_HUUDIS_API_TOKEN_FILE", token_file},
          {"MM_HUUDIS_WORKSPACES", kWorkspace},
          {"MM_HUUDIS_AUDIT_POLL_SECONDS", "1"},
          {"MM_RECONCILE_INTERVAL_SECONDS", "2"},
          {"MM_SOURCE_PAGE_SIZE", "2"}};
}

// The fake's members of the workspace, as the mirror should hold them.
std::map<std::string, std::string> Expected(const FakeHuudis& huudis, const std::vector<std::string>& ids) {
  std::map<std::string, std::string> out;
  for (const std::string& id : ids) {
    if (auto m = huudis.Member(kWorkspace, id)) out[id] = m->role;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Huudis, webhooks off: the audit log for what it records, the lists for what it does not.

TEST(HuudisPullE2ETest, AScriptedHistoryConvergesWithWebhooksOff) {
  auto db = TestDatabase::Create("pull_huudis");
  const std::string dir = TempDir();
  FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace, "Lumen Analytics");
  for (const char* id : {"usr_owner", "usr_a", "usr_b", "usr_c"}) {
    huudis.UpsertMember(kWorkspace, Member(id, std::string(id) == "usr_owner" ? "owner" : "member"));
  }
  for (const char* id : {"usr_a", "usr_c", "usr_d", "usr_e", "usr_f"}) huudis.UpsertEndUser(kWorkspace, EndUser(id));
  // What the audit log records (each also applied to the fake's lists)...
  FakeHuudis::Happening h;
  h.by = "usr_op";
  h.at = Ago(600s);
  HuudisAuditEntry fraud = huudis.RecordEndUserDisabled(kWorkspace, "usr_c", "fraud", h);
  h.at = Ago(500s);
  huudis.RecordEndUserDisabled(kWorkspace, "usr_d", "", h);
  h.at = Ago(400s);
  HuudisAuditEntry reenabled = huudis.RecordEndUserEnabled(kWorkspace, "usr_d", h);
  h.at = Ago(300s);
  huudis.RecordMemberAdded(kWorkspace, Member("usr_g", "admin"), "invite_accept", h);
  h.at = Ago(200s);
  huudis.RecordFailure(kWorkspace, "ops.end_user.disabled", {{"id", "usr_a"}}, h);  // not a fact

  const std::string token_file = dir + "/huudis.token";
  WriteFile(token_file, "hud_test_admin_token\n");
  Mirror mirror(*db, dir, HuudisEnv(huudis, token_file));

  const std::vector<std::string> all = {"usr_owner", "usr_a", "usr_b", "usr_c", "usr_g"};
  ASSERT_TRUE(Eventually([&] { return mirror.Members(kWorkspace) == Expected(huudis, all); }))
      << mirror.process().Log();
  EXPECT_EQ(mirror.State("usr_c"), v1::USER_STATE_DISABLED);
  EXPECT_EQ(mirror.State("usr_d"), v1::USER_STATE_ACTIVE);
  EXPECT_EQ(mirror.State("usr_a"), v1::USER_STATE_ACTIVE);  // the failed entry is no fact
  ASSERT_TRUE(Eventually([&] { return mirror.State("usr_f") == v1::USER_STATE_ACTIVE; }));  // an end user: known now
  // Provenance names the audit entry that set each state: the first listing waited for the
  // audit log, so it did not outrank its facts.
  std::optional<v1::User> c = mirror.User("usr_c");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->last_event_id(), fraud.id);
  EXPECT_EQ(c->last_event_type(), "ops.end_user.disabled");
  EXPECT_EQ(c->disabled_reason(), "fraud");
  EXPECT_EQ(c->disabled_by(), "usr_op");
  EXPECT_EQ(mirror.User("usr_d")->last_event_id(), reenabled.id);

  // What only the lists show: a removal, a role change, a disable.
  huudis.RemoveMember(kWorkspace, "usr_b");
  huudis.SetMemberRole(kWorkspace, "usr_c", "admin");
  huudis.SetEndUserDisabled(kWorkspace, "usr_e", true);
  ASSERT_TRUE(Eventually([&] { return mirror.Members(kWorkspace) == Expected(huudis, all); }))
      << mirror.process().Log();
  ASSERT_TRUE(Eventually([&] { return mirror.State("usr_e") == v1::USER_STATE_DISABLED; }));
  EXPECT_EQ(mirror.Members(kWorkspace).count("usr_b"), 0u);
  EXPECT_EQ(mirror.Members(kWorkspace)["usr_c"], "admin");
  std::optional<v1::User> e = mirror.User("usr_e");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->last_event_id().rfind("reconcile:huudis-lists:", 0), 0u) << e->last_event_id();
  EXPECT_EQ(e->last_event_type(), "reconcile.user_disabled");
  EXPECT_EQ(e->disabled_reason(), "reconcile");
  EXPECT_EQ(db->Scalar("SELECT count(*) FROM provider_events WHERE event_id LIKE 'reconcile:huudis-lists:%:member_removed:" +
                       std::string(kWorkspace) + ":usr_b'"),
            "1");

  // Steady state: further runs find no drift.
  ASSERT_TRUE(mirror.WaitForNewSuccess("huudis-lists", kWorkspace));
  const double drift = mirror.Metric("mm_reconcile_drift_total{kind=\"member_removed\",source=\"huudis-lists\"}");
  EXPECT_EQ(drift, 1);
  ASSERT_TRUE(mirror.WaitForNewSuccess("huudis-lists", kWorkspace));
  ASSERT_TRUE(mirror.WaitForNewSuccess("huudis-lists", kWorkspace));
  EXPECT_EQ(mirror.Source("huudis-lists", kWorkspace)->last_run_drift(), 0);
  EXPECT_EQ(mirror.Metric("mm_reconcile_drift_total{kind=\"member_removed\",source=\"huudis-lists\"}"), drift);

  // A new disable arrives within one poll interval, without any webhook.
  h.at = std::nullopt;
  HuudisAuditEntry late = huudis.RecordEndUserDisabled(kWorkspace, "usr_a", "offboarded", h);
  ASSERT_TRUE(Eventually([&] { return mirror.State("usr_a") == v1::USER_STATE_DISABLED; }, 10s));
  EXPECT_EQ(mirror.User("usr_a")->last_event_id(), late.id);

  std::optional<v1::SourceStatus> audit = mirror.Source("huudis-audit", kWorkspace);
  ASSERT_TRUE(audit.has_value());
  EXPECT_EQ(audit->status(), "ok");
  EXPECT_TRUE(audit->configured());
  EXPECT_TRUE(audit->has_watermark());
  EXPECT_EQ(audit->events_yielded(), 5);  // four facts at first, then the late one; overlaps not counted
  EXPECT_GT(mirror.Metric("mm_source_polls_total{result=\"ok\",source=\"huudis-audit\"}"), 2);
  // The same status through membershipctl, as an operator reads it.
  CommandResult ctl = RunCommand("MM_GRPC_ADDR=" + mirror.process().grpc_target() + " MM_TOKEN=" + kToken + " " +
                                 MM_CTL_BINARY + " sources");
  EXPECT_EQ(ctl.code, 0) << ctl.output;
  EXPECT_NE(ctl.output.find("huudis-audit " + std::string(kWorkspace) + ": ok"), std::string::npos) << ctl.output;
  EXPECT_NE(ctl.output.find("huudis-lists " + std::string(kWorkspace) + ": ok"), std::string::npos) << ctl.output;
  EXPECT_NE(ctl.output.find("watermark"), std::string::npos) << ctl.output;
  CommandResult as_json = RunCommand("MM_GRPC_ADDR=" + mirror.process().grpc_target() + " MM_TOKEN=" + kToken + " " +
                                     MM_CTL_BINARY + " sources --json");
  json parsed = json::parse(as_json.output);
  EXPECT_EQ(parsed["sources"].size(), 2u) << as_json.output;
  // Webhooks are off: nothing came that way.
  EXPECT_EQ(mirror.Metric("mm_webhook_requests_total{provider=\"huudis\",status=\"applied\",type=\"huudis.user.disabled.v1\"}"), 0);
}

// Rate limits, a 500 in the middle of a listing, a slow page, both page shapes: a run either
// completes or changes nothing, and the mirror converges once the provider behaves.
TEST(HuudisPullE2ETest, ProviderFaultsLeaveNothingHalfDone) {
  auto db = TestDatabase::Create("pull_faults");
  const std::string dir = TempDir();
  FakeHuudis huudis;
  huudis.set_page_shape(HuudisPageShape::kItems);
  huudis.AddWorkspace(kWorkspace);
  for (int i = 0; i < 7; ++i) huudis.UpsertMember(kWorkspace, Member("usr_m" + std::to_string(i), "member"));
  const std::string token_file = dir + "/huudis.token";
  WriteFile(token_file, "hud_test_admin_token");
  Mirror mirror(*db, dir, HuudisEnv(huudis, token_file));
  ASSERT_TRUE(Eventually([&] { return mirror.Members(kWorkspace).size() == 7; })) << mirror.process().Log();

  // A 500 on the second page of the member listing, on every try: the listing is incomplete,
  // so a removal it would reveal is not applied.
  huudis.FailPage("/api/v1/iam/users", 1, 500);
  huudis.RemoveMember(kWorkspace, "usr_m6");  // the last member: on the fourth page
  ASSERT_TRUE(Eventually([&] {
    auto s = mirror.Source("huudis-lists", kWorkspace);
    return s && s->status() == "error";
  }));
  std::this_thread::sleep_for(3s);  // more failing runs
  EXPECT_EQ(mirror.Members(kWorkspace).count("usr_m6"), 1u) << "an incomplete listing changed the mirror";
  EXPECT_NE(mirror.Source("huudis-lists", kWorkspace)->last_error().find("500"), std::string::npos);
  EXPECT_GT(mirror.Metric("mm_source_polls_total{result=\"error\",source=\"huudis-lists\"}"), 0);
  auto ready = client::HttpRequest("GET", mirror.process().http_url() + "/readyz", {}, "");
  EXPECT_EQ(ready->status, 200) << "a provider outage must not take the mirror down";

  // 429 with Retry-After on the audit log, and a slow end-user page beyond the attempt timeout:
  // both retried within the run.
  huudis.ClearFaults();
  huudis.FailNext("/api/v1/account/audit", 1, 429, 1);
  huudis.DelayNext("/api/v1/ops/end-users", 1, 3000ms);
  FakeHuudis::Happening h;
  HuudisAuditEntry disable = huudis.RecordEndUserDisabled(kWorkspace, "usr_m0", "late", h);
  ASSERT_TRUE(Eventually([&] { return mirror.Members(kWorkspace).count("usr_m6") == 0; }));
  ASSERT_TRUE(Eventually([&] { return mirror.State("usr_m0") == v1::USER_STATE_DISABLED; }));
  EXPECT_EQ(mirror.User("usr_m0")->last_event_id(), disable.id);
  EXPECT_EQ(mirror.Source("huudis-lists", kWorkspace)->status(), "ok");
  // The rate-limited request was retried after the Retry-After second, not failed.
  std::vector<FakeRequest> audit;
  for (const FakeRequest& r : huudis.Requests()) {
    if (r.path == "/api/v1/account/audit") audit.push_back(r);
  }
  ASSERT_GE(audit.size(), 2u);
  for (const FakeRequest& r : audit) {
    EXPECT_EQ(r.headers.at("authorization"), "Bearer hud_test_admin_token");
    EXPECT_EQ(r.headers.at("x-huudis-workspace-id"), kWorkspace);
    EXPECT_EQ(r.query.at("limit"), "2");
  }
}

TEST(HuudisPullE2ETest, ARefusedTokenStopsTheSourceUntilTheFileChanges) {
  auto db = TestDatabase::Create("pull_token");
  const std::string dir = TempDir();
  FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  huudis.UpsertEndUser(kWorkspace, EndUser("usr_t"));
  FakeHuudis::Happening h;
  huudis.RecordEndUserDisabled(kWorkspace, "usr_t", "x", h);
  const std::string token_file = dir + "/huudis.token";
  WriteFile(token_file, "hud_wrong_token");
  Mirror mirror(*db, dir, HuudisEnv(huudis, token_file));

  ASSERT_TRUE(Eventually([&] {
    auto a = mirror.Source("huudis-audit", kWorkspace);
    return a && a->status() == "stopped";
  })) << mirror.process().Log();
  // The lists wait for the audit log's first sweep: they have not run either.
  EXPECT_EQ(mirror.Source("huudis-lists", kWorkspace)->status(), "never_run");
  EXPECT_NE(mirror.Source("huudis-audit", kWorkspace)->last_error().find("401"), std::string::npos);
  EXPECT_EQ(mirror.Metric("mm_source_polls_total{result=\"unauthorized\",source=\"huudis-audit\"}"), 1);
  EXPECT_NE(mirror.process().Log().find("the provider refused its credential"), std::string::npos);
  EXPECT_EQ(mirror.process().Log().find("hud_wrong_token"), std::string::npos) << "a credential was logged";
  // Stopped means stopped: no more requests, nothing applied.
  const size_t requests = huudis.RequestCount();
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(huudis.RequestCount(), requests);
  EXPECT_EQ(mirror.State("usr_t"), v1::USER_STATE_UNKNOWN);
  EXPECT_EQ(db->Scalar("SELECT count(*) FROM provider_events"), "0");

  // The Secret is fixed (the mounted file changes): the sources resume by themselves.
  WriteFile(token_file, "hud_test_admin_token\n");
  ASSERT_TRUE(Eventually([&] { return mirror.State("usr_t") == v1::USER_STATE_DISABLED; }));
  ASSERT_TRUE(Eventually([&] { return mirror.Source("huudis-lists", kWorkspace)->status() == "ok"; }));
}

// Operator overrides are not undone by a reconcile run; a dry run reports drift, applies none.
TEST(HuudisPullE2ETest, OperatorOverridesStandAndADryRunAppliesNothing) {
  auto db = TestDatabase::Create("pull_override");
  const std::string dir = TempDir();
  FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  huudis.UpsertMember(kWorkspace, Member("usr_keep", "member"));
  huudis.UpsertMember(kWorkspace, Member("usr_leaver", "member"));
  huudis.UpsertEndUser(kWorkspace, EndUser("usr_incident"));
  const std::string token_file = dir + "/huudis.token";
  WriteFile(token_file, "hud_test_admin_token");
  {
    Mirror mirror(*db, dir, HuudisEnv(huudis, token_file));
    ASSERT_TRUE(Eventually([&] { return mirror.Members(kWorkspace).size() == 2; }));
    ASSERT_TRUE(Eventually([&] { return mirror.State("usr_incident") == v1::USER_STATE_ACTIVE; }));
    auto disabled = client::HttpRequest("POST", mirror.process().http_url() + "/v1/users/usr_incident/disable",
                                        {{"X-API-Key", kToken}, {"Content-Type", "application/json"}},
                                        R"({"reason":"incident-7"})");
    ASSERT_TRUE(disabled.ok());
    ASSERT_EQ(disabled->status, 200) << disabled->body;
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(mirror.WaitForNewSuccess("huudis-lists", kWorkspace));
    // Huudis still lists usr_incident as enabled: the operator's disable stands.
    EXPECT_EQ(mirror.State("usr_incident"), v1::USER_STATE_DISABLED);
    EXPECT_EQ(mirror.User("usr_incident")->disabled_reason(), "incident-7");
    EXPECT_EQ(mirror.User("usr_incident")->provider(), "operator");
  }
  // A dry run: the removal is reported as drift, not applied.
  auto env = HuudisEnv(huudis, token_file);
  env["MM_RECONCILE_DRY_RUN"] = "1";
  Mirror mirror(*db, dir, env);
  huudis.RemoveMember(kWorkspace, "usr_leaver");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(mirror.WaitForNewSuccess("huudis-lists", kWorkspace));
  EXPECT_EQ(mirror.Members(kWorkspace).count("usr_leaver"), 1u);
  EXPECT_EQ(mirror.Source("huudis-lists", kWorkspace)->last_run_drift(), 1);
  EXPECT_GE(mirror.Metric("mm_reconcile_drift_total{kind=\"member_removed\",source=\"huudis-lists\"}"), 3);
  EXPECT_NE(mirror.process().Log().find("dry run"), std::string::npos);
  EXPECT_EQ(db->Scalar("SELECT count(*) FROM provider_events WHERE event_id LIKE '%member_removed%'"), "0");
}

// ---------------------------------------------------------------------------------------------
// One puller among replicas, and a crash mid-sweep.

TEST(PullLeaseE2ETest, TwoReplicasNeverBothPullAndTheOtherTakesOver) {
  auto db = TestDatabase::Create("pull_lease");
  const std::string dir = TempDir();
  FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  huudis.UpsertEndUser(kWorkspace, EndUser("usr_l1"));
  const std::string token_file = dir + "/huudis.token";
  WriteFile(token_file, "hud_test_admin_token");
  auto env = HuudisEnv(huudis, token_file);
  auto a = std::make_unique<Mirror>(*db, dir, env);
  auto b = std::make_unique<Mirror>(*db, dir, env);
  const std::string held = "mm_source_lease_held{source=\"huudis-audit\"}";
  ASSERT_TRUE(Eventually([&] { return a->Metric(held) + b->Metric(held) == 1; }));
  // For a while: always exactly one holder, and only the holder polls.
  Mirror* holder = a->Metric(held) == 1 ? a.get() : b.get();
  Mirror* standby = holder == a.get() ? b.get() : a.get();
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(a->Metric(held) + b->Metric(held), 1);
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_GT(holder->Metric("mm_source_polls_total{result=\"ok\",source=\"huudis-audit\"}"), 0);
  EXPECT_EQ(standby->Metric("mm_source_polls_total{result=\"ok\",source=\"huudis-audit\"}"), 0);
  for (const char* source : {"huudis-lists"}) {
    EXPECT_EQ(a->Metric("mm_source_lease_held{source=\"" + std::string(source) + "\"}") +
                  b->Metric("mm_source_lease_held{source=\"" + std::string(source) + "\"}"),
              1);
  }

  // The holder dies without a word: the other replica takes over and pulls.
  holder->process().Signal(SIGKILL);
  holder->process().Wait(5s);
  ASSERT_TRUE(Eventually([&] { return standby->Metric(held) == 1; }, 20s)) << standby->process().Log();
  FakeHuudis::Happening h;
  huudis.RecordEndUserDisabled(kWorkspace, "usr_l1", "after takeover", h);
  ASSERT_TRUE(Eventually([&] { return standby->State("usr_l1") == v1::USER_STATE_DISABLED; }));
  EXPECT_NE(standby->process().Log().find("pull source lease taken"), std::string::npos);
}

// A crash in the middle of an audit sweep: the next replica resumes the sweep at the cursor
// committed with the last page's events — nothing skipped, nothing applied twice.
TEST(PullLeaseE2ETest, KillingThePullerMidSweepLosesAndRepeatsNothing) {
  auto db = TestDatabase::Create("pull_crash");
  const std::string dir = TempDir();
  FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  constexpr int kEntries = 40;
  FakeHuudis::Happening h;
  for (int i = 0; i < kEntries; ++i) {
    huudis.UpsertEndUser(kWorkspace, EndUser("usr_s" + std::to_string(i)));
    h.at = Ago(std::chrono::seconds(1000 - i));
    huudis.RecordEndUserDisabled(kWorkspace, "usr_s" + std::to_string(i), "batch", h);
  }
  const std::string token_file = dir + "/huudis.token";
  WriteFile(token_file, "hud_test_admin_token");
  auto env = HuudisEnv(huudis, token_file);
  env["MM_RECONCILE_INTERVAL_SECONDS"] = "3600";  // the lists would find the disables too
  huudis.DelayNext("/api/v1/account/audit", 1000, 300ms);  // 20 pages of 2: a sweep of ~6 s
  auto first = std::make_unique<Mirror>(*db, dir, env);
  ASSERT_TRUE(Eventually([&] {
    std::string yielded = db->Scalar("SELECT events_yielded FROM source_state WHERE source = 'huudis-audit'");
    return !yielded.empty() && std::stoi(yielded) >= 8 &&
           db->Scalar("SELECT count(*) FROM source_state WHERE source = 'huudis-audit' AND position ? 'sweep'") == "1";
  })) << first->process().Log();
  first->process().Signal(SIGKILL);
  first->process().Wait(5s);
  const std::string cursor =
      db->Scalar("SELECT position->'sweep'->>'cursor' FROM source_state WHERE source = 'huudis-audit'");
  const int committed = std::stoi(db->Scalar("SELECT events_yielded FROM source_state WHERE source = 'huudis-audit'"));
  ASSERT_FALSE(cursor.empty());
  ASSERT_LT(committed, kEntries);
  huudis.ClearRequests();

  Mirror second(*db, dir, env);
  ASSERT_TRUE(Eventually([&] {
    return db->Scalar("SELECT count(*) FROM provider_events WHERE event_id LIKE 'aud_%'") == std::to_string(kEntries);
  })) << second.process().Log();
  // The new puller's first audit request went on from the stored cursor.
  std::vector<FakeRequest> requests = huudis.Requests();
  auto audit = std::find_if(requests.begin(), requests.end(),
                            [](const FakeRequest& r) { return r.path == "/api/v1/account/audit"; });
  ASSERT_NE(audit, requests.end());
  ASSERT_TRUE(audit->query.contains("cursor"));
  EXPECT_EQ(audit->query.at("cursor"), cursor);
  // Every entry applied once: none twice, none skipped.
  EXPECT_EQ(db->Scalar("SELECT count(*) FROM provider_events WHERE outcome = 'applied' AND event_id LIKE 'aud_%'"),
            std::to_string(kEntries));
  ASSERT_TRUE(Eventually([&] {
    return db->Scalar("SELECT events_yielded FROM source_state WHERE source = 'huudis-audit'") == std::to_string(kEntries);
  }));
  for (int i = 0; i < kEntries; ++i) EXPECT_EQ(second.State("usr_s" + std::to_string(i)), v1::USER_STATE_DISABLED);
}

// ---------------------------------------------------------------------------------------------
// MonoCloud: no webhooks at all; users and groups by polling.

TEST(MonoCloudPullE2ETest, UsersAndGroupsConvergeByPolling) {
  auto db = TestDatabase::Create("pull_monocloud");
  const std::string dir = TempDir();
  FakeMonoCloud mono;
  const int64_t now = ToUnixMicros(SystemClock::Instance().Now()) / 1000000;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(mono.UpsertUser({.user_id = "mc-" + std::to_string(i),
                                   .email = "mc" + std::to_string(i) + "@example.net",
                                   .name = "Mono " + std::to_string(i),
                                   .disabled = i == 1,
                                   .creation_time = now - 10000,
                                   .last_updated = now - 1000 + i}));
  }
  mono.AddGroup("grp-eng", "Engineering");
  mono.AssignToGroup("grp-eng", "mc-0");
  mono.AssignToGroup("grp-eng", "mc-2");
  mono.AssignToGroup("grp-eng", "mc-3");
  const std::string key_file = dir + "/monocloud.key";
  WriteFile(key_file, "mc_test_api_key");
  Mirror mirror(*db, dir, {{"MM_MONOCLOUD_API_URL", mono.base_url()},
                           {"MM_MONOCLOUD_API_KEY_FILE", key_file},
                           {"MM_MONOCLOUD_GROUPS", "grp-eng"},
                           {"MM_MONOCLOUD_POLL_SECONDS", "1"},
                           {"MM_SOURCE_PAGE_SIZE", "2"}});
  ASSERT_TRUE(Eventually([&] { return mirror.State("mc-1") == v1::USER_STATE_DISABLED; })) << mirror.process().Log();
  for (const char* id : {"mc-0", "mc-2", "mc-3", "mc-4"}) EXPECT_EQ(mirror.State(id), v1::USER_STATE_ACTIVE) << id;
  ASSERT_TRUE(Eventually([&] {
    return mirror.Members("grp-eng") ==
           std::map<std::string, std::string>{{"mc-0", "member"}, {"mc-2", "member"}, {"mc-3", "member"}};
  }));
  EXPECT_EQ(mirror.User("mc-0")->email(), "mc0@example.net");
  EXPECT_EQ(mirror.User("mc-1")->last_event_id().rfind("reconcile:monocloud:", 0), 0u);

  // Changes at the provider reach the mirror at the next poll: a disable at its last_updated,
  // a re-enable, a user deleted (gone from the listing), a member leaving the group.
  mono.SetDisabled("mc-2", true, now + 5);
  mono.SetDisabled("mc-1", false, now + 6);
  mono.DeleteUser("mc-4");
  mono.RemoveFromGroup("grp-eng", "mc-3");
  ASSERT_TRUE(Eventually([&] {
    return mirror.State("mc-2") == v1::USER_STATE_DISABLED && mirror.State("mc-1") == v1::USER_STATE_ACTIVE &&
           mirror.State("mc-4") == v1::USER_STATE_DELETED;
  })) << mirror.process().Log();
  ASSERT_TRUE(Eventually([&] { return mirror.Members("grp-eng").count("mc-3") == 0; }));
  std::optional<v1::User> two = mirror.User("mc-2");
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->disabled_at().seconds(), now + 5);  // the provider's change time
  // The paging header was followed: every page of 2 asked for with the key.
  size_t pages = 0;
  for (const FakeRequest& r : mono.Requests()) {
    if (r.path != "/api/users") continue;
    EXPECT_EQ(r.headers.at("x-api-key"), "mc_test_api_key");
    EXPECT_EQ(r.query.at("size"), "2");
    EXPECT_EQ(r.query.at("sort"), "last_updated:-1");
    pages = std::max(pages, static_cast<size_t>(std::stoi(r.query.at("page"))));
  }
  EXPECT_EQ(pages, 3u);  // 5 users, then 4: pages 1..3
  // The deletion was confirmed by reading the user (404) before it was applied: an offset
  // listing can miss a user who moved between pages.
  bool confirmed = false;
  for (const FakeRequest& r : mono.Requests()) confirmed |= r.path == "/api/users/mc-4";
  EXPECT_TRUE(confirmed);
  // Steady state.
  ASSERT_TRUE(mirror.WaitForNewSuccess("monocloud", ""));
  ASSERT_TRUE(mirror.WaitForNewSuccess("monocloud", ""));
  EXPECT_EQ(mirror.Source("monocloud", "")->last_run_drift(), 0);
  EXPECT_EQ(mirror.Source("monocloud", "grp-eng")->last_run_drift(), 0);
}

// ---------------------------------------------------------------------------------------------
// FusionAuth: a deactivate the mirror applied but FusionAuth rolled back is repaired.

constexpr char kFusionAuthSecret[] = "fusionauth-pull-e2e-hmac-secret";

// FusionAuth's user.deactivate of `user_id` in `tenant` (the fixture with these ids and the time
// of now), signed as FusionAuth signs and delivered to the mirror's webhook, which applies it.
void DeliverFusionAuthDeactivate(Mirror& mirror, const std::string& user_id, const std::string& event_id,
                                 const std::string& tenant = "29b8006d-fbbc-45b7-86e8-90d91b0e7131") {
  json body = json::parse(Fixture("fusionauth.user.deactivate.json"));
  body["event"]["id"] = event_id;
  body["event"]["createInstant"] = ToUnixMicros(SystemClock::Instance().Now()) / 1000;
  body["event"]["tenantId"] = body["event"]["user"]["tenantId"] = tenant;
  body["event"]["user"]["id"] = user_id;
  const std::string text = body.dump();
  absl::StatusOr<jwt::SigningKey> key = jwt::SigningKey::Hmac(jwt::Algorithm::kHS256, "", kFusionAuthSecret);
  ASSERT_TRUE(key.ok());
  absl::StatusOr<std::string> token = adapters::MakeFusionAuthSignatureHeader(*key, text);
  ASSERT_TRUE(token.ok());
  auto reply = client::HttpRequest("POST", mirror.process().http_url() + "/webhooks/fusionauth",
                                   {{"Content-Type", "application/json"}, {"X-FusionAuth-Signature-JWT", *token}}, text);
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->status, 200) << reply->body;
  EXPECT_EQ(json::parse(reply->body)["status"], "applied") << reply->body;
}

// An active user, created 100 s and last updated 50 s before `now_ms`.
FusionAuthUser ActiveFusionAuthUser(std::string id, std::string email, std::string name, int64_t now_ms,
                                    std::string tenant_id = "") {
  return {.id = std::move(id),
          .tenant_id = std::move(tenant_id),
          .email = std::move(email),
          .full_name = std::move(name),
          .active = true,
          .insert_instant = now_ms - 100000,
          .last_update_instant = now_ms - 50000};
}

// The settings of a mirror reading `fusion` (API key in a file under `dir`), re-reading 1 s
// after a change, plus `extra`.
std::map<std::string, std::string> FusionAuthEnv(const FakeFusionAuth& fusion, const std::string& dir,
                                                 std::map<std::string, std::string> extra) {
  const std::string key_file = dir + "/fusionauth.key";
  WriteFile(key_file, "fa_test_api_key");
  extra.try_emplace("MM_FUSIONAUTH_API_URL", fusion.base_url());
  extra.try_emplace("MM_FUSIONAUTH_API_KEY_FILE", key_file);
  extra.try_emplace("MM_FUSIONAUTH_RECHECK_SECONDS", "1");
  extra.try_emplace("MM_FUSIONAUTH_HMAC_SECRETS", kFusionAuthSecret);
  return extra;
}

TEST(FusionAuthPullE2ETest, ARolledBackDeactivateIsRepairedByTheReread) {
  auto db = TestDatabase::Create("pull_fusionauth");
  const std::string dir = TempDir();
  FakeFusionAuth fusion;
  const int64_t now_ms = ToUnixMicros(SystemClock::Instance().Now()) / 1000;
  const std::string rolled_back = fusion.UpsertUser(
      ActiveFusionAuthUser("dd03f8bc-a5e3-49d4-8b7b-9ebabd24ee00", "dana@example.net", "Dana Okafor", now_ms));
  const std::string gone = fusion.UpsertUser(
      ActiveFusionAuthUser("11111111-2222-4333-8444-555555555555", "gone@example.net", "Gone Soon", now_ms));
  Mirror mirror(*db, dir, FusionAuthEnv(fusion, dir, {{"MM_RECONCILE_INTERVAL_SECONDS", "2"}}));
  ASSERT_TRUE(Eventually([&] { return mirror.State(gone) == v1::USER_STATE_ACTIVE; })) << mirror.process().Log();

  // FusionAuth sends a user.deactivate, the mirror applies it; then FusionAuth rolls the
  // transaction back (another required webhook failed), and the user is active.
  ASSERT_NO_FATAL_FAILURE(DeliverFusionAuthDeactivate(mirror, rolled_back, "76c28e52-8bc1-4cca-a207-a0dab22e538f"));
  ASSERT_TRUE(Eventually([&] { return mirror.State(rolled_back) == v1::USER_STATE_DISABLED; }, 10s));
  // The re-read a second later sees it active and corrects it.
  ASSERT_TRUE(Eventually([&] { return mirror.State(rolled_back) == v1::USER_STATE_ACTIVE; }, 15s))
      << mirror.process().Log();
  std::optional<v1::User> user = mirror.User(rolled_back);
  ASSERT_TRUE(user.has_value());
  EXPECT_EQ(user->last_event_id().rfind("reconcile:fusionauth-users:", 0), 0u) << user->last_event_id();
  bool reread = false;
  for (const FakeRequest& r : fusion.Requests()) {
    reread |= r.method == "GET" && r.path == "/api/user/" + rolled_back && r.headers.at("authorization") == "fa_test_api_key";
  }
  EXPECT_TRUE(reread);

  // The sweep: a user FusionAuth no longer has is deleted after the next complete search.
  fusion.DeleteUser(gone);
  ASSERT_TRUE(Eventually([&] { return mirror.State(gone) == v1::USER_STATE_DELETED; }, 15s)) << mirror.process().Log();
  bool searched = false;
  for (const FakeRequest& r : fusion.Requests()) {
    if (r.method != "POST" || r.path != "/api/user/search") continue;
    json body = json::parse(r.body);
    searched |= body["search"].contains("numberOfResults");
  }
  EXPECT_TRUE(searched);
  bool confirmed = false;
  for (const FakeRequest& r : fusion.Requests()) confirmed |= r.method == "GET" && r.path == "/api/user/" + gone;
  EXPECT_TRUE(confirmed) << "a deletion is confirmed by a 404 before it is applied";
}

// With several tenants FusionAuth requires the tenant header, and a change does not say which
// tenant its user is in: the re-read asks each configured tenant, and a user one of them has
// is corrected, not taken for deleted.
TEST(FusionAuthPullE2ETest, WithSeveralTenantsTheRereadAsksEachTenant) {
  auto db = TestDatabase::Create("pull_fusionauth_tenants");
  const std::string dir = TempDir();
  FakeFusionAuth fusion;
  const std::string first = "29b8006d-fbbc-45b7-86e8-90d91b0e7131";
  const std::string second = "7f0c3c8e-2f1d-4c55-9a7e-1b6a9f4e2d10";
  fusion.AddTenant(second);
  const int64_t now_ms = ToUnixMicros(SystemClock::Instance().Now()) / 1000;
  const std::string user = fusion.UpsertUser(
      ActiveFusionAuthUser("3c1f9a2e-7b4d-4e8a-9c6f-2d5b8e1a7f30", "ines@example.net", "Ines Duarte", now_ms, second));
  Mirror mirror(*db, dir, FusionAuthEnv(fusion, dir, {{"MM_FUSIONAUTH_TENANTS", first + "," + second},
                                                      {"MM_RECONCILE_INTERVAL_SECONDS", "3600"}}));
  ASSERT_TRUE(Eventually([&] { return mirror.State(user) == v1::USER_STATE_ACTIVE; })) << mirror.process().Log();

  ASSERT_NO_FATAL_FAILURE(DeliverFusionAuthDeactivate(mirror, user, "0b6e7d2a-5c4f-4a1b-8e3d-9f2c1a7b6e50", second));
  ASSERT_TRUE(Eventually([&] { return mirror.State(user) == v1::USER_STATE_DISABLED; }, 10s));
  ASSERT_TRUE(Eventually([&] { return mirror.State(user) == v1::USER_STATE_ACTIVE; }, 15s))
      << mirror.process().Log();
  std::set<std::string> asked;
  for (const FakeRequest& r : fusion.Requests()) {
    if (r.method == "GET" && r.path == "/api/user/" + user) asked.insert(r.headers.at("x-fusionauth-tenantid"));
  }
  EXPECT_EQ(asked, (std::set<std::string>{first, second}));
}

}  // namespace
}  // namespace mm::testing
