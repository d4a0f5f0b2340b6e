// End-to-end: the real membership-mirror binary, a real PostgreSQL, HTTP and gRPC on loopback.

#include <signal.h>

#include <utility>  // before asio: its awaitable.hpp uses std::exchange without including it

#include <atomic>
#include <set>
#include <thread>

#include <boost/asio.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e_helpers.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "service_process.h"
#include "tcp_proxy.h"
#include "test_database.h"

namespace mm::testing {
namespace {

namespace v1 = membership::v1;
using nlohmann::json;

std::map<std::string, std::string> BaseEnv(const TestDatabase& db, const std::string& callers) {
  return {{"MM_DATABASE_URL", db.url()},
          {"MM_HUUDIS_SECRETS", std::string(kSecret) + "," + kRotatedSecret},
          {"MM_CALLERS_FILE", callers},
          {"MM_POLL_INTERVAL_MS", "100"}};
}

class ServiceE2ETest : public SharedServiceTest {
 protected:
  static void SetUpTestSuite() {
    GuardSuiteSetUp([] {
      db_ = TestDatabase::Create("e2e").release();
      dir_ = new std::string(TempDir());
      auto env = BaseEnv(*db_, WriteCallersFile(*dir_));
      env["MM_MAX_BODY_BYTES"] = "4096";
      env["MM_HEADER_TIMEOUT_MS"] = "400";
      service_ = ServiceProcess::Start({.binary = MM_SERVER_BINARY, .env = env}).release();
    });
  }
  static void TearDownTestSuite() {
    delete service_;
    delete db_;
    delete dir_;
  }

  static json Body(const client::HttpReply& r) { return json::parse(r.body); }
  static int64_t StoredEvents() { return std::stoll(db_->Scalar("SELECT count(*) FROM provider_events")); }

  UserClient checker() const { return UserClient(service_->grpc_target(), kCheckerToken); }

  static TestDatabase* db_;
  static std::string* dir_;
  static ServiceProcess* service_;
};
TestDatabase* ServiceE2ETest::db_ = nullptr;
std::string* ServiceE2ETest::dir_ = nullptr;
ServiceProcess* ServiceE2ETest::service_ = nullptr;

TEST_F(ServiceE2ETest, DisableAndEnableReachIsUserActiveWithSessionsRevoked) {
  const std::string user = UserIdFor("cycle");
  auto before = checker().Check(user);
  EXPECT_TRUE(before.active());
  EXPECT_EQ(before.state(), v1::USER_STATE_UNKNOWN);

  auto disabled = PostSigned(service_->http_url(), FixtureFor("huudis.user.disabled.v1.json", "cycle"));
  ASSERT_TRUE(disabled.ok()) << disabled.status();
  ASSERT_EQ(disabled->status, 200) << disabled->body;
  json answer = Body(*disabled);
  EXPECT_EQ(answer["status"], "applied");
  EXPECT_EQ(answer["event_id"], "evt_01KT6C8BBSXFRYZ5FQKXXR0EDF_cycle");
  ASSERT_TRUE(answer["sequence"].is_number_unsigned());

  // Read-your-writes: the webhook's sequence as min_sequence.
  auto after = checker().Check(user, answer["sequence"].get<uint64_t>());
  EXPECT_FALSE(after.active());
  EXPECT_EQ(after.state(), v1::USER_STATE_DISABLED);
  EXPECT_EQ(after.disabled_reason(), "account_compromise");
  EXPECT_EQ(after.sessions_valid_after().seconds(), 1780478127);  // disabledAt 2026-06-03T09:15:27.402Z
  EXPECT_GE(after.sequence(), answer["sequence"].get<uint64_t>());

  auto again = PostSigned(service_->http_url(), FixtureFor("huudis.user.disabled.v1.json", "cycle"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(Body(*again)["status"], "duplicate");

  auto enabled = PostSigned(service_->http_url(), FixtureFor("huudis.user.enabled.v1.json", "cycle"));
  ASSERT_TRUE(enabled.ok());
  ASSERT_EQ(Body(*enabled)["status"], "applied");
  uint64_t seq = Body(*enabled)["sequence"];

  v1::IsUserActiveRequest req;
  req.set_user_id(user);
  req.set_min_sequence(seq);
  v1::IsUserActiveResponse resp;
  req.mutable_token_issued_at()->set_seconds(1780478000);  // before the disable
  ASSERT_TRUE(checker().IsUserActive(req, &resp).ok());
  EXPECT_FALSE(resp.active()) << "a token from before the disable must stay revoked";
  EXPECT_EQ(resp.state(), v1::USER_STATE_ACTIVE);
  req.mutable_token_issued_at()->set_seconds(1780478127);  // exactly sessions_valid_after: valid
  req.mutable_token_issued_at()->set_nanos(402000000);
  ASSERT_TRUE(checker().IsUserActive(req, &resp).ok());
  EXPECT_TRUE(resp.active());
  EXPECT_EQ(resp.disabled_reason(), "");
}

TEST_F(ServiceE2ETest, StaleDisableArrivingAfterEnableIsRecordedButChangesNothing) {
  const std::string user = UserIdFor("stale");
  auto enabled = PostSigned(service_->http_url(), FixtureFor("huudis.user.enabled.v1.json", "stale"));
  ASSERT_EQ(Body(*enabled)["status"], "applied");
  auto disabled = PostSigned(service_->http_url(), FixtureFor("huudis.user.disabled.v1.json", "stale"));
  ASSERT_EQ(Body(*disabled)["status"], "stale");
  auto state = checker().Check(user, Body(*disabled)["sequence"]);
  EXPECT_EQ(state.state(), v1::USER_STATE_ACTIVE);
  // ...but the stale disable still revokes sessions issued before it.
  EXPECT_EQ(state.sessions_valid_after().seconds(), 1780478127);
  EXPECT_EQ(db_->Scalar("SELECT outcome FROM provider_events WHERE event_id = "
                        "'evt_01KT6C8BBSXFRYZ5FQKXXR0EDF_stale'"),
            "stale");
}

TEST_F(ServiceE2ETest, RejectedRequestsGetTheDocumentedStatusAndStoreNothing) {
  const std::string url = service_->http_url();
  const std::string body = FixtureFor("huudis.user.disabled.v1.json", "rejected");
  const int64_t stored_before = StoredEvents();
  auto expect = [&](const absl::StatusOr<client::HttpReply>& r, int status, const char* what) {
    ASSERT_TRUE(r.ok()) << what << ": " << r.status();
    EXPECT_EQ(r->status, status) << what << ": " << r->body;
    if (status >= 400) {
      EXPECT_EQ(r->content_type, "application/problem+json") << what;
      json problem = json::parse(r->body);
      EXPECT_EQ(problem["status"], status) << what;
      EXPECT_TRUE(problem.contains("title") && problem.contains("detail") && problem.contains("type")) << what;
      EXPECT_EQ(r->body.find("account_compromise"), std::string::npos) << what << ": body echoed";
    }
  };
  auto post = [&](const std::string& path, const std::vector<std::pair<std::string, std::string>>& headers,
                  const std::string& b) { return client::HttpRequest("POST", url + path, headers, b); };
  std::string sig = adapters::MakeHuudisSignatureHeader(kSecret, NowSeconds(), body);

  expect(post("/nope", {{"Content-Type", "application/json"}}, body), 404, "unknown path");
  expect(post("/webhooks/okta", {{"Content-Type", "application/json"}}, body), 404, "unknown provider");
  auto get = client::HttpRequest("GET", url + "/webhooks/huudis", {}, "");
  expect(get, 405, "GET on webhook");
  bool allow = false;
  for (const auto& [k, v] : get->headers) allow |= k == "Allow" && v == "POST";
  EXPECT_TRUE(allow) << "405 names the allowed method";
  expect(post("/webhooks/huudis", {{"Huudis-Signature", sig}}, body), 415, "no content type");
  expect(post("/webhooks/huudis", {{"Content-Type", "text/plain"}, {"Huudis-Signature", sig}}, body), 415,
         "text/plain");
  std::string big(5000, ' ');
  big = body + big;
  expect(PostSigned(url, big), 413, "over MM_MAX_BODY_BYTES");
  expect(post("/webhooks/huudis", {{"Content-Type", "application/json"}}, body), 401, "no signature");
  expect(PostSigned(url, body, "whsec_wrong"), 401, "wrong secret");
  expect(PostSigned(url, body, kSecret, NowSeconds() - 301), 401, "stale timestamp");
  expect(PostSigned(url, body, kSecret, NowSeconds() + 301), 401, "future timestamp");
  expect(post("/webhooks/huudis",
              {{"Content-Type", "application/json"},
               {"Huudis-Signature", adapters::MakeHuudisSignatureHeader(kSecret, NowSeconds(), body + " ")}},
              body),
         401, "signature over other bytes");
  expect(PostSigned(url, "not json at all"), 400, "not JSON");
  expect(PostSigned(url, R"({"type":"huudis.user.disabled.v1","data":{}})"), 400, "no event id");
  expect(PostSigned(url, "[1,2,3]"), 400, "not an object");

  EXPECT_EQ(StoredEvents(), stored_before) << "a rejected request must store nothing";
  // Logs name the reason, never the body, the signature material or a secret.
  const std::string log = service_->Log();
  EXPECT_NE(log.find("\"msg\":\"webhook rejected\""), std::string::npos);
  for (const std::string& secret_or_body : {std::string("account_compromise"), std::string(kSecret),
                                            std::string(kRotatedSecret), std::string("not json at all"),
                                            sig.substr(sig.find("v1=") + 3)}) {
    EXPECT_EQ(log.find(secret_or_body), std::string::npos) << "the log leaks: " << secret_or_body;
  }
  EXPECT_TRUE(checker().Check(UserIdFor("rejected")).state() == v1::USER_STATE_UNKNOWN);
}

TEST_F(ServiceE2ETest, AuthenticUnusableAndUnknownEventsAreKept) {
  std::string broken = ReplaceAll(FixtureFor("huudis.account.member_added.v1.json", "dead"),
                                  "\"userId\": \"usr_01KS325EWE6RW751J81QV16TCW_dead\",", "");
  auto dead = PostSigned(service_->http_url(), broken);
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ(dead->status, 200);
  EXPECT_EQ(Body(*dead)["status"], "dead_lettered");
  EXPECT_NE(db_->Scalar("SELECT reason FROM dead_letters WHERE event_id = "
                        "'evt_01KS327YCP2VNSZCWM8761JP2W_dead'"),
            "");
  EXPECT_EQ(db_->Scalar("SELECT raw_body FROM provider_events WHERE event_id = "
                        "'evt_01KS327YCP2VNSZCWM8761JP2W_dead'"),
            broken)
      << "the raw body is kept byte for byte";

  std::string unknown = ReplaceAll(FixtureFor("huudis.user.created.v1.json", "unknown"),
                                   "huudis.user.created.v1", "huudis.session.created.v1");
  auto ignored = PostSigned(service_->http_url(), unknown);
  ASSERT_TRUE(ignored.ok());
  EXPECT_EQ(ignored->status, 200);
  EXPECT_EQ(Body(*ignored)["status"], "ignored");
  EXPECT_EQ(db_->Scalar("SELECT outcome FROM provider_events WHERE event_id = "
                        "'evt_01KS325EY3ZQ25YEMAB2ZAHJT6_unknown'"),
            "ignored");
}

TEST_F(ServiceE2ETest, SdkHeaderNameAndRotatedSecretAreAccepted) {
  auto sdk = PostSigned(service_->http_url(), FixtureFor("huudis.user.created.v1.json", "sdkhdr"), kSecret,
                        NowSeconds(), "X-Huudis-Signature");
  ASSERT_TRUE(sdk.ok());
  EXPECT_EQ(sdk->status, 200) << sdk->body;
  auto rotated = PostSigned(service_->http_url(), FixtureFor("huudis.account.created.v1.json", "rot"),
                            kRotatedSecret);
  ASSERT_TRUE(rotated.ok());
  EXPECT_EQ(rotated->status, 200) << rotated->body;
}

TEST_F(ServiceE2ETest, KeepAliveServesSeveralRequestsOnOneConnection) {
  namespace net = boost::asio;
  net::io_context ioc;
  net::ip::tcp::socket socket(ioc);
  socket.connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(service_->http_port())});
  std::string two = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  net::write(socket, net::buffer(two));
  // Both answers arrive on this one connection; the server then closes it after the keep-alive
  // idle limit (MM_HEADER_TIMEOUT_MS=400), which ends the read.
  std::string received;
  char buf[4096];
  boost::system::error_code ec;
  while (!ec) {
    size_t n = socket.read_some(net::buffer(buf), ec);
    received.append(buf, n);
  }
  size_t first = received.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos) << received;
  EXPECT_NE(received.find("HTTP/1.1 200", first + 1), std::string::npos) << received;
  EXPECT_EQ(received.find("Connection: close"), std::string::npos) << "kept alive: " << received;
}

TEST_F(ServiceE2ETest, SlowSenderIsCutOffAtTheHeaderDeadline) {
  namespace net = boost::asio;
  net::io_context ioc;
  net::ip::tcp::socket socket(ioc);
  socket.connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(service_->http_port())});
  net::write(socket, net::buffer(std::string("POST /webhooks/huudis HTTP/1.1\r\nHost: x\r\n")));
  auto started = std::chrono::steady_clock::now();
  char buf[256];
  boost::system::error_code ec;
  size_t n = 0;
  do {  // the server closes the connection (EOF) after MM_HEADER_TIMEOUT_MS=400
    n = socket.read_some(net::buffer(buf), ec);
  } while (!ec && n > 0);
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST_F(ServiceE2ETest, GrpcValidatesIdsAndCallers) {
  v1::IsUserActiveResponse resp;
  v1::IsUserActiveRequest req;
  req.set_user_id("");
  EXPECT_EQ(checker().IsUserActive(req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.set_user_id(std::string(257, 'u'));
  EXPECT_EQ(checker().IsUserActive(req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.set_user_id(std::string(256, 'u'));
  EXPECT_TRUE(checker().IsUserActive(req, &resp).ok());

  req.set_user_id("usr_x");
  const std::string target = service_->grpc_target();
  EXPECT_EQ(UserClient(target, "").IsUserActive(req, &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(UserClient(target, "wrong").IsUserActive(req, &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(UserClient(target, kReaderToken).IsUserActive(req, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(UserClient(target, kAdminToken).IsUserActive(req, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED)
      << "admin does not imply users:check";

  v1::BatchIsUserActiveRequest batch;
  v1::BatchIsUserActiveResponse batch_resp;
  for (int i = 0; i < 3; ++i) batch.add_user_ids("usr_batch_" + std::to_string(i));
  ASSERT_TRUE(checker().BatchIsUserActive(batch, &batch_resp).ok());
  ASSERT_EQ(batch_resp.results_size(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(batch_resp.results(i).user_id(), "usr_batch_" + std::to_string(i));
  batch.add_user_ids("");
  EXPECT_EQ(checker().BatchIsUserActive(batch, &batch_resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  batch.clear_user_ids();
  for (int i = 0; i < 1001; ++i) batch.add_user_ids("u" + std::to_string(i));
  EXPECT_EQ(checker().BatchIsUserActive(batch, &batch_resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServiceE2ETest, MinSequenceNotReachedEndsWithDeadlineExceeded) {
  v1::IsUserActiveRequest req;
  req.set_user_id("usr_waiting");
  req.set_min_sequence(checker().Check("usr_waiting").sequence() + 1000000);
  v1::IsUserActiveResponse resp;
  auto started = std::chrono::steady_clock::now();
  grpc::Status s = checker().IsUserActive(req, &resp, std::chrono::milliseconds(300));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

TEST_F(ServiceE2ETest, HealthServiceAndEndpointsAnswer) {
  auto channel = grpc::CreateChannel(service_->grpc_target(), grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  auto ready = client::HttpRequest("GET", service_->http_url() + "/readyz", {}, "");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(json::parse(ready->body)["ready"], true);
  // Other tests of the suite post user.created to the same service too: count this one's.
  const std::string applied =
      "mm_webhook_requests_total{provider=\"huudis\",status=\"applied\",type=\"huudis.user.created.v1\"}";
  const double before = MetricValue(service_->MetricsText(), applied);
  ASSERT_EQ(PostSigned(service_->http_url(), FixtureFor("huudis.user.created.v1.json", "metrics"))->status, 200);
  auto metrics = client::HttpRequest("GET", service_->http_url() + "/metrics", {}, "");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(MetricValue(metrics->body, applied), before + 1) << metrics->body;
  EXPECT_NE(metrics->body.find("mm_writer_commit_duration_seconds_count"), std::string::npos);
}

// --- Services with their own settings -------------------------------------------------------

TEST(ServiceSettingsE2ETest, UnknownUsersCanFailClosed) {
  auto db = TestDatabase::Create("e2e_closed");
  std::string dir = TempDir();
  auto env = BaseEnv(*db, WriteCallersFile(dir));
  env["MM_UNKNOWN_USERS"] = "inactive";
  auto service = ServiceProcess::Start({.binary = MM_SERVER_BINARY, .env = env});
  auto answer = UserClient(service->grpc_target(), kCheckerToken).Check("usr_never_seen");
  EXPECT_FALSE(answer.active());
  EXPECT_EQ(answer.state(), v1::USER_STATE_UNKNOWN);
}

TEST(ServiceSettingsE2ETest, InvalidSettingExitsBeforeListening) {
  auto db = TestDatabase::Create("e2e_badcfg", /*migrate=*/false);
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"MM_MAX_BODY_BYTES", "lots"}, {"MM_UNKNOWN_USERS", "maybe"}, {"MM_HTTP_LISTEN", "nowhere"}}) {
    std::map<std::string, std::string> env = {{"MM_DATABASE_URL", db->url()}, {"MM_INSECURE_NO_AUTH", "1"}};
    env[name] = value;
    try {
      auto service = ServiceProcess::Start({.binary = MM_SERVER_BINARY, .env = env, .wait_ready = false});
      ADD_FAILURE() << name << "=" << value << " was accepted";
    } catch (const std::runtime_error& e) {
      std::string what = e.what();
      EXPECT_NE(what.find("exited at start"), std::string::npos) << what;
      EXPECT_NE(what.find(name), std::string::npos) << "the error names the setting: " << what;
      EXPECT_EQ(what.find("\"listening\""), std::string::npos) << what;
    }
  }
}

TEST(ServiceSettingsE2ETest, ConnectionsOverTheCapGet503) {
  auto db = TestDatabase::Create("e2e_cap");
  std::string dir = TempDir();
  auto env = BaseEnv(*db, WriteCallersFile(dir));
  env["MM_MAX_CONNECTIONS"] = "2";
  env["MM_HEADER_TIMEOUT_MS"] = "1000";  // an idle connection that did get a slot closes soon
  auto service = ServiceProcess::Start({.binary = MM_SERVER_BINARY, .env = env});
  namespace net = boost::asio;
  net::io_context ioc;
  net::ip::tcp::endpoint ep(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(service->http_port()));
  auto read_all = [](net::ip::tcp::socket& socket) {
    std::string received;
    char buf[1024];
    boost::system::error_code ec;
    while (!ec) {
      size_t n = socket.read_some(net::buffer(buf), ec);
      received.append(buf, n);
    }
    return received;
  };
  // The harness's own readiness probe may still hold a slot for a moment after it is done, in
  // which case b (not c) is the one refused: then wait and try again.
  std::string third;
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    net::ip::tcp::socket a(ioc), b(ioc), c(ioc);
    a.connect(ep);
    b.connect(ep);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the server accept both
    c.connect(ep);
    third = read_all(c);
    if (third.rfind("HTTP/1.1 503", 0) == 0) break;
  }
  EXPECT_EQ(third.rfind("HTTP/1.1 503", 0), 0u) << third;
  EXPECT_NE(third.find("Retry-After"), std::string::npos) << third;
}

TEST(ServiceSettingsE2ETest, DatabaseOutageAnswers503KeepsServingChecksAndRecovers) {
  auto db = TestDatabase::Create("e2e_outage");
  std::string admin = AdminDatabaseUrl();
  // Route the service's database connections through a proxy we can cut.
  size_t at = admin.find("@127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << "expects a 127.0.0.1 URL: " << admin;
  int pg_port = std::stoi(admin.substr(at + 11));
  TcpProxy proxy("127.0.0.1", pg_port);
  std::string url = ReplaceAll(db->url(), ":" + std::to_string(pg_port) + "/", ":" + std::to_string(proxy.port()) + "/");
  std::string dir = TempDir();
  auto env = BaseEnv(*db, WriteCallersFile(dir));
  env["MM_DATABASE_URL"] = url;
  auto service = ServiceProcess::Start({.binary = MM_SERVER_BINARY, .env = env});
  UserClient users(service->grpc_target(), kCheckerToken);

  auto disabled = PostSigned(service->http_url(), FixtureFor("huudis.user.disabled.v1.json", "outage"));
  ASSERT_EQ(disabled->status, 200);
  ASSERT_FALSE(users.Check(UserIdFor("outage"), json::parse(disabled->body)["sequence"]).active());

  proxy.SetDown(true);
  auto refused = PostSigned(service->http_url(), FixtureFor("huudis.user.enabled.v1.json", "outage"));
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 503) << refused->body;
  bool retry_after = false;
  for (const auto& [k, v] : refused->headers) retry_after |= k == "Retry-After";
  EXPECT_TRUE(retry_after);
  EXPECT_TRUE(service->WaitReadyStatus(503, std::chrono::seconds(10))) << "not ready while the DB is down";
  auto during = users.Check(UserIdFor("outage"));
  EXPECT_FALSE(during.active()) << "IsUserActive keeps answering from memory";
  EXPECT_EQ(during.state(), v1::USER_STATE_DISABLED);

  proxy.SetDown(false);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  absl::StatusOr<client::HttpReply> accepted;
  while (status != 200 && std::chrono::steady_clock::now() < deadline) {  // as a provider retries
    accepted = PostSigned(service->http_url(), FixtureFor("huudis.user.enabled.v1.json", "outage"));
    status = accepted.ok() ? accepted->status : 0;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(status, 200) << "recovered by itself, without a restart";
  EXPECT_EQ(json::parse(accepted->body)["status"], "applied");
  EXPECT_TRUE(users.Check(UserIdFor("outage"), json::parse(accepted->body)["sequence"]).active());
  EXPECT_TRUE(service->WaitReadyStatus(200, std::chrono::seconds(10)));
}

TEST(ServiceSettingsE2ETest, SigtermUnderLoadLosesNothingAnswered2xx) {
  auto db = TestDatabase::Create("e2e_sigterm");
  std::string dir = TempDir();
  auto service = ServiceProcess::Start({.binary = MM_SERVER_BINARY, .env = BaseEnv(*db, WriteCallersFile(dir))});
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::vector<std::thread> senders;
  for (int s = 0; s < 4; ++s) {
    senders.emplace_back([&, s] {
      for (int i = 0; !stop.load() && i < 100000; ++i) {
        std::string suffix = "t" + std::to_string(s) + "_" + std::to_string(i);
        auto r = PostSigned(service->http_url(), FixtureFor("huudis.user.created.v1.json", suffix));
        if (!r.ok()) continue;  // connection refused after shutdown: not acknowledged
        if (r->status == 200) {
          std::lock_guard lock(mu);
          acknowledged.push_back("evt_01KS325EY3ZQ25YEMAB2ZAHJT6_" + suffix);
        } else {
          EXPECT_EQ(r->status, 503) << r->body;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  service->Signal(SIGTERM);
  auto signalled = std::chrono::steady_clock::now();
  int code = service->Wait(std::chrono::seconds(30));
  // In-flight work finishes promptly: nothing waits out the whole grace period.
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(10));
  stop.store(true);
  for (auto& t : senders) t.join();
  EXPECT_EQ(code, 0) << service->Log();
  ASSERT_FALSE(acknowledged.empty());
  std::set<std::string> stored;
  for (const auto& row : db->Query("SELECT event_id FROM provider_events")) stored.insert(row[0].as<std::string>());
  for (const std::string& id : acknowledged) {
    ASSERT_TRUE(stored.contains(id)) << id << " was answered 200 but is not stored";
  }
}

}  // namespace
}  // namespace mm::testing
