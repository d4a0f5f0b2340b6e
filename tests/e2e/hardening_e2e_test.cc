// End-to-end, the real binary against a real PostgreSQL: what the hardening issue asks of the
// mirror when one value, the database or the start-up is hostile (DESIGN §5a).
// - Values: future fact times are clamped, unrepresentable times and over-long values are
//   bounded or dead-lettered, and ordinary events keep applying right after each of them.
// - Errors by cause: a value the database itself refuses dead-letters its event; readiness
//   holds.
// - Never a guess: IsUserActive is UNAVAILABLE and gRPC health NOT_SERVING until the cache has
//   loaded; a database restored behind the replica makes it reload its snapshot; an
//   undecodable change-log row is reported and never stalls the cache.

#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e_helpers.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "raw_http.h"
#include "service_process.h"
#include "tcp_proxy.h"
#include "test_database.h"

namespace mm::testing {
namespace {

namespace v1 = membership::v1;
using nlohmann::json;
using namespace std::chrono_literals;

std::map<std::string, std::string> Env(const std::string& database_url, const std::string& callers) {
  return {{"MM_DATABASE_URL", database_url},
          {"MM_HUUDIS_SECRETS", kSecret},
          {"MM_CALLERS_FILE", callers},
          {"MM_POLL_INTERVAL_MS", "100"}};
}

std::string IsoNowPlus(std::chrono::seconds offset) {
  return FormatRfc3339(SystemClock::Instance().Now() + offset);
}

// A signed huudis webhook with `body`; returns (HTTP status, parsed answer or null).
std::pair<int, json> Post(const ServiceProcess& service, const json& body) {
  auto reply = PostSigned(service.http_url(), body.dump());
  if (!reply.ok()) return {0, nullptr};
  return {reply->status, json::parse(reply->body, nullptr, false)};
}

json Disable(const std::string& event_id, const std::string& user_id) {
  return {{"id", event_id},
          {"type", "huudis.user.disabled.v1"},
          {"createdAt", IsoNowPlus(0s)},
          {"data", {{"id", user_id}, {"disabledAt", IsoNowPlus(0s)}, {"reason", "e2e"}}}};
}

std::string MetricsText(const ServiceProcess& service) { return service.MetricsText(); }

grpc::health::v1::HealthCheckResponse::ServingStatus Health(const ServiceProcess& service) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(service.grpc_target(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.status();
}

std::unique_ptr<v1::UserService::Stub> Users(const ServiceProcess& service) {
  return v1::UserService::NewStub(grpc::CreateChannel(service.grpc_target(), grpc::InsecureChannelCredentials()));
}

grpc::Status GetUser(const ServiceProcess& service, const std::string& user_id, v1::User* out) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  ctx.AddMetadata("authorization", std::string("Bearer ") + kReaderToken);
  v1::GetUserRequest req;
  req.set_user_id(user_id);
  return Users(service)->GetUser(&ctx, req, out);
}

bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

// The service's PostgreSQL port, from the admin URL scripts/test sets.
int PgPort() {
  std::string admin = AdminDatabaseUrl();
  size_t at = admin.find("@127.0.0.1:");
  if (at == std::string::npos) throw std::runtime_error("expects a 127.0.0.1 URL: " + admin);
  return std::stoi(admin.substr(at + 11));
}

// The settings of a service whose database connections go through `proxy` (in front of the
// test PostgreSQL), so that the test can cut or silence that database for it alone.
std::map<std::string, std::string> EnvThroughProxy(const TestDatabase& db, const TcpProxy& proxy) {
  const std::string pg = ":" + std::to_string(PgPort()) + "/";
  return Env(ReplaceAll(db.url(), pg, ":" + std::to_string(proxy.port()) + "/"), WriteCallersFile(TempDir()));
}

// ---------------------------------------------------------------------------------------------

TEST(HardeningE2ETest, BeforeTheCacheHasLoadedIsUserActiveIsUnavailableAndHealthNotServing) {
  auto db = TestDatabase::Create("e2e_startup");
  TcpProxy proxy("127.0.0.1", PgPort());
  proxy.SetDown(true);  // the snapshot cannot load until the database is reachable
  auto env = EnvThroughProxy(*db, proxy);
  auto service = ServiceProcess::Start({.binary = MM_SERVER_BINARY, .env = env, .wait_ready = false});

  UserClient checker(service->grpc_target(), kCheckerToken);
  v1::IsUserActiveRequest req;
  req.set_user_id("usr_anyone");
  v1::IsUserActiveResponse resp;
  EXPECT_EQ(checker.IsUserActive(req, &resp).error_code(), grpc::StatusCode::UNAVAILABLE);
  v1::BatchIsUserActiveRequest batch;
  batch.add_user_ids("usr_anyone");
  v1::BatchIsUserActiveResponse batch_resp;
  EXPECT_EQ(checker.BatchIsUserActive(batch, &batch_resp).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Health(*service), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  auto ready = client::HttpRequest("GET", service->http_url() + "/readyz", {}, "");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 503);
  EXPECT_EQ(json::parse(ready->body)["checks"]["cache"], "loading") << ready->body;

  proxy.SetDown(false);
  ASSERT_TRUE(service->WaitReadyStatus(200, 20s)) << service->Log();
  // gRPC health follows /readyz at once (the same evaluation publishes it).
  EXPECT_EQ(Health(*service), grpc::health::v1::HealthCheckResponse::SERVING);
  ASSERT_TRUE(checker.IsUserActive(req, &resp).ok());
  EXPECT_EQ(resp.state(), v1::USER_STATE_UNKNOWN);
}

// DESIGN §5a "timeouts everywhere": a database that stops answering without closing its
// connections (a proxy that swallows every byte) is noticed within seconds — webhooks get 503
// within the request deadline instead of hanging, the service turns not ready, IsUserActive
// keeps answering from memory — and the service recovers by itself when the database answers
// again.
TEST(HardeningE2ETest, ADatabaseThatSilentlyStopsAnsweringIsNoticedAndSurvived) {
  auto db = TestDatabase::Create("e2e_silent");
  TcpProxy proxy("127.0.0.1", PgPort());
  auto env = EnvThroughProxy(*db, proxy);
  env["MM_DB_STATEMENT_TIMEOUT_MS"] = "1000";
  env["MM_DB_CONNECT_TIMEOUT_SECONDS"] = "2";
  env["MM_REQUEST_TIMEOUT_MS"] = "3000";
  auto service = ServiceProcess::Start({.binary = MM_SERVER_BINARY, .env = env});
  auto [before_status, before] = Post(*service, Disable("evt_silent_1", "usr_silent_1"));
  ASSERT_EQ(before_status, 200) << before;
  UserClient checker(service->grpc_target(), kCheckerToken);
  ASSERT_FALSE(checker.Check("usr_silent_1", before["sequence"].get<uint64_t>()).active());

  proxy.SetBlackhole(true);
  const auto sent = std::chrono::steady_clock::now();
  auto [status, answer] = Post(*service, Disable("evt_silent_2", "usr_silent_2"));
  const auto waited = std::chrono::steady_clock::now() - sent;
  EXPECT_EQ(status, 503) << answer;
  EXPECT_LT(waited, 8s) << "the webhook waited on a silent database";
  EXPECT_TRUE(service->WaitReadyStatus(503, 20s)) << "not ready while the database is silent";
  v1::IsUserActiveResponse during = checker.Check("usr_silent_1");
  EXPECT_FALSE(during.active()) << "IsUserActive keeps answering from memory";
  EXPECT_NE(service->Log().find("unanswered past its deadline"), std::string::npos) << service->Log();

  // Ready again by itself, without a webhook to prove it (an unready replica is sent none).
  proxy.SetBlackhole(false);
  ASSERT_TRUE(service->WaitReadyStatus(200, 30s)) << service->Log();
  int retry_status = 0;
  json retried;
  ASSERT_TRUE(Eventually([&] {
    std::tie(retry_status, retried) = Post(*service, Disable("evt_silent_2", "usr_silent_2"));
    return retry_status == 200;
  }));
  EXPECT_FALSE(checker.Check("usr_silent_2", retried["sequence"].get<uint64_t>()).active());
}

// SIGTERM while the database is silent and a webhook waits on it: the drain still ends, and
// the waiting webhook is answered 503 (never 2xx: nothing was committed).
TEST(HardeningE2ETest, ShutdownWhileTheDatabaseIsSilentDoesNotHang) {
  auto db = TestDatabase::Create("e2e_silent_stop");
  TcpProxy proxy("127.0.0.1", PgPort());
  auto env = EnvThroughProxy(*db, proxy);
  env["MM_DB_STATEMENT_TIMEOUT_MS"] = "1000";
  env["MM_REQUEST_TIMEOUT_MS"] = "30000";  // the webhook waits on the writer, not on its own deadline
  env["MM_SHUTDOWN_GRACE_MS"] = "2000";
  auto service = ServiceProcess::Start({.binary = MM_SERVER_BINARY, .env = env});
  proxy.SetBlackhole(true);
  std::promise<int> answered;
  std::thread sender([&] { answered.set_value(Post(*service, Disable("evt_stop_1", "usr_stop_1")).first); });
  std::this_thread::sleep_for(300ms);  // the webhook is with the writer, on the silent database
  const auto signalled = std::chrono::steady_clock::now();
  service->Signal(SIGTERM);
  const int code = service->Wait(30s);
  const auto took = std::chrono::steady_clock::now() - signalled;
  sender.join();
  EXPECT_EQ(code, 0) << service->Log();
  EXPECT_LT(took, 12s) << service->Log();
  const int status = answered.get_future().get();
  EXPECT_NE(status, 200) << "answered 2xx without a commit";
  proxy.SetBlackhole(false);
  EXPECT_EQ(db->Scalar("SELECT count(*) FROM provider_events WHERE event_id = 'evt_stop_1'"), "0");
}

class HostileValuesE2ETest : public SharedServiceTest {
 protected:
  static void SetUpTestSuite() {
    GuardSuiteSetUp([] {
      db_ = TestDatabase::Create("e2e_hostile").release();
      dir_ = new std::string(TempDir());
      service_ = ServiceProcess::Start({.binary = MM_SERVER_BINARY, .env = Env(db_->url(), WriteCallersFile(*dir_))})
                     .release();
    });
  }
  static void TearDownTestSuite() {
    delete service_;
    delete db_;
    delete dir_;
  }
  static void ExpectOrdinaryEventsStillApply(const std::string& tag) {
    testing::ExpectOrdinaryEventsStillApply(service_->http_url(), service_->grpc_target(), tag);
  }
  static int64_t DeadLetters(const std::string& event_id) {
    return std::stoll(db_->Scalar("SELECT count(*) FROM dead_letters WHERE event_id = '" + event_id + "'"));
  }

  static TestDatabase* db_;
  static std::string* dir_;
  static ServiceProcess* service_;
};
TestDatabase* HostileValuesE2ETest::db_ = nullptr;
std::string* HostileValuesE2ETest::dir_ = nullptr;
ServiceProcess* HostileValuesE2ETest::service_ = nullptr;

// A sender of an oversized body receives the 413 (lingering close), every time: declared by
// Content-Length (refused before reading) and chunked (refused once past the limit).
TEST_F(HostileValuesE2ETest, AnOversizedBodyAlwaysGets413NotAReset) {
  const std::string body((1 << 20) + 4096, 'x');  // MM_MAX_BODY_BYTES (1 MiB) + 4 KiB
  const std::string declared = "POST /webhooks/huudis HTTP/1.1\r\nHost: mirror\r\nContent-Type: application/json\r\n"
                               "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  std::string chunked_body;
  for (size_t at = 0; at < body.size(); at += 65536) {
    const size_t n = std::min<size_t>(65536, body.size() - at);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    chunked_body += size + body.substr(at, n) + "\r\n";
  }
  chunked_body += "0\r\n\r\n";
  const std::string chunked = "POST /webhooks/huudis HTTP/1.1\r\nHost: mirror\r\nContent-Type: application/json\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i) {
    RawExchange a = SendRaw(service_->http_port(), declared + body);
    EXPECT_EQ(a.send_error, 0) << "declared, attempt " << i << ": the server reset the connection mid-request";
    EXPECT_EQ(a.received.rfind("HTTP/1.1 413", 0), 0u) << "declared, attempt " << i << ": errno " << a.read_error
                                                       << ", read " << a.received.size() << " bytes";
    RawExchange b = SendRaw(service_->http_port(), chunked + chunked_body);
    EXPECT_EQ(b.send_error, 0) << "chunked, attempt " << i << ": the server reset the connection mid-request";
    EXPECT_EQ(b.received.rfind("HTTP/1.1 413", 0), 0u) << "chunked, attempt " << i << ": errno " << b.read_error
                                                       << ", read " << b.received.size() << " bytes";
  }
  ExpectOrdinaryEventsStillApply("after_413");
}

// The hardening issue's worst case: a signed event whose date does not round-trip.
TEST_F(HostileValuesE2ETest, UnrepresentableTimesAreDeadLetteredAndNeverStallTheCache) {
  struct Case {
    std::string name;
    std::function<void(json&)> edit;
  };
  const std::vector<Case> cases = {
      {"past_9999_after_offset", [](json& b) { b["data"]["disabledAt"] = "9999-12-31T23:59:59-01:00"; }},
      {"year_zero", [](json& b) { b["createdAt"] = "0000-01-01T00:00:00Z"; }},
      {"before_1970", [](json& b) { b["data"]["disabledAt"] = "1969-12-31T23:59:59Z"; }},
      {"not_a_time", [](json& b) { b["data"]["disabledAt"] = "yesterday"; }},
      {"a_number", [](json& b) { b["data"]["disabledAt"] = 1780000000; }},
  };
  for (const Case& c : cases) {
    json body = Disable("evt_time_" + c.name, "usr_time_" + c.name);
    c.edit(body);
    auto [status, answer] = Post(*service_, body);
    EXPECT_EQ(status, 200) << c.name << ": " << answer;
    EXPECT_EQ(answer["status"], "dead_lettered") << c.name;
    EXPECT_EQ(DeadLetters("evt_time_" + c.name), 1) << c.name;
    v1::User user;
    EXPECT_EQ(GetUser(*service_, "usr_time_" + c.name, &user).error_code(), grpc::StatusCode::NOT_FOUND) << c.name;
    ExpectOrdinaryEventsStillApply(c.name);
  }
}

TEST_F(HostileValuesE2ETest, AFactTimeInTheFutureIsTakenAsTheReceiveTime) {
  const std::string user = "usr_future";
  json body = Disable("evt_future_disable", user);
  body["data"]["disabledAt"] = IsoNowPlus(std::chrono::hours(24 * 365 * 5));
  auto [status, answer] = Post(*service_, body);
  ASSERT_EQ(status, 200) << answer;
  EXPECT_EQ(answer["status"], "applied");
  v1::User got;
  ASSERT_TRUE(GetUser(*service_, user, &got).ok());
  const auto sva = std::chrono::system_clock::time_point(std::chrono::seconds(got.sessions_valid_after().seconds()));
  EXPECT_LT(std::chrono::abs(sva - std::chrono::system_clock::now()), std::chrono::minutes(2))
      << "sessions_valid_after must not be years ahead";
  // Re-enabled, a token issued now works: a far-future disable would have revoked it for years.
  json enable = {{"id", "evt_future_enable"},
                 {"type", "huudis.user.enabled.v1"},
                 {"createdAt", IsoNowPlus(1s)},
                 {"data", {{"id", user}, {"enabledAt", IsoNowPlus(1s)}}}};
  auto [enable_status, enabled] = Post(*service_, enable);
  ASSERT_EQ(enable_status, 200) << enabled;
  EXPECT_EQ(enabled["status"], "applied");
  UserClient checker(service_->grpc_target(), kCheckerToken);
  v1::IsUserActiveRequest req;
  req.set_user_id(user);
  req.set_min_sequence(enabled["sequence"].get<uint64_t>());
  *req.mutable_token_issued_at() = google::protobuf::Timestamp();
  req.mutable_token_issued_at()->set_seconds(NowSeconds() + 5);
  v1::IsUserActiveResponse resp;
  ASSERT_TRUE(checker.IsUserActive(req, &resp).ok());
  EXPECT_TRUE(resp.active());
  EXPECT_NE(MetricsText(*service_).find("mm_fact_times_clamped_total{provider=\"huudis\"}"), std::string::npos);
}

TEST_F(HostileValuesE2ETest, OverLongValuesAreBoundedOrDeadLettered) {
  // A role past 256 bytes would overflow an index: the event is a dead letter.
  json member = {{"id", "evt_long_role"},
                 {"type", "huudis.account.member_added.v1"},
                 {"createdAt", IsoNowPlus(0s)},
                 {"data", {{"accountId", "acc_long"}, {"userId", "usr_long_role"}, {"role", std::string(3000, 'r')}}}};
  auto [status, answer] = Post(*service_, member);
  ASSERT_EQ(status, 200) << answer;
  EXPECT_EQ(answer["status"], "dead_lettered");
  EXPECT_EQ(db_->Scalar("SELECT reason FROM dead_letters WHERE event_id = 'evt_long_role'"),
            "data.role is longer than 256 bytes");
  ExpectOrdinaryEventsStillApply("long_role");

  // A 100 kB reason is shortened; the disable itself applies.
  json disable = Disable("evt_long_reason", "usr_long_reason");
  disable["data"]["reason"] = std::string(100000, 'x');
  auto [reason_status, reason_answer] = Post(*service_, disable);
  ASSERT_EQ(reason_status, 200);
  EXPECT_EQ(reason_answer["status"], "applied");
  v1::User got;
  ASSERT_TRUE(GetUser(*service_, "usr_long_reason", &got).ok());
  EXPECT_EQ(got.disabled_reason().size(), 1024u);
  EXPECT_EQ(got.state(), v1::USER_STATE_DISABLED);

  // Ids and the envelope type past 256 bytes: 400, nothing stored.
  json long_type = Disable("evt_long_type", "usr_long_type");
  long_type["type"] = std::string(257, 't');
  EXPECT_EQ(Post(*service_, long_type).first, 400);
  json long_id = Disable(std::string(257, 'e'), "usr_long_id");
  EXPECT_EQ(Post(*service_, long_id).first, 400);
  EXPECT_EQ(db_->Scalar("SELECT count(*) FROM provider_events WHERE event_type = '" + std::string(257, 't') + "'"), "0");
  ExpectOrdinaryEventsStillApply("long_ids");
}

// DESIGN §5a "errors by cause": a value PostgreSQL refuses (here a CHECK constraint the test adds
// to the users table) is a content error of one event. It is stored as a dead letter with the
// database's reason (not its DETAIL, which quotes the row), the service stays ready, and the
// events committed alongside it apply.
TEST_F(HostileValuesE2ETest, AValueTheDatabaseRefusesDeadLettersOnlyItsEvent) {
  db_->Query("ALTER TABLE users ADD CONSTRAINT e2e_refuse CHECK (record->>'email' IS DISTINCT FROM 'refuse@example.net')");
  json refused = Disable("evt_db_refused", "usr_db_refused");
  refused["data"]["email"] = "refuse@example.net";
  std::vector<std::thread> senders;
  std::vector<std::pair<int, json>> answers(21);
  for (int i = 0; i < 21; ++i) {
    senders.emplace_back([&, i] {
      answers[i] = i == 10 ? Post(*service_, refused)
                           : Post(*service_, Disable("evt_db_ok_" + std::to_string(i), "usr_db_ok_" + std::to_string(i)));
    });
  }
  for (std::thread& t : senders) t.join();
  db_->Query("ALTER TABLE users DROP CONSTRAINT e2e_refuse");
  for (int i = 0; i < 21; ++i) {
    ASSERT_EQ(answers[i].first, 200) << i << ": " << answers[i].second;
    EXPECT_EQ(answers[i].second["status"], i == 10 ? "dead_lettered" : "applied") << i;
  }
  std::string reason = db_->Scalar("SELECT reason FROM dead_letters WHERE event_id = 'evt_db_refused'");
  EXPECT_NE(reason.find("e2e_refuse"), std::string::npos) << reason;
  EXPECT_EQ(reason.find("Failing row"), std::string::npos) << reason;
  EXPECT_EQ(reason.find("refuse@example.net"), std::string::npos) << reason;
  EXPECT_EQ(db_->Scalar("SELECT outcome FROM provider_events WHERE event_id = 'evt_db_refused'"), "dead_lettered");
  auto ready = client::HttpRequest("GET", service_->http_url() + "/readyz", {}, "");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200) << "a content error never flips readiness: " << ready->body;
  ExpectOrdinaryEventsStillApply("db_refused");
}

// A change-log row that cannot be decoded (written here behind the service's back, as a bug or
// corruption would) is reported — log, metric — and the cache reloads instead of stopping at
// it: the disables of other users committed after it still reach IsUserActive.
TEST_F(HostileValuesE2ETest, AnUndecodableChangeLogRowIsReportedAndSkippedByReloading) {
  ExpectOrdinaryEventsStillApply("before_corrupt");
  db_->Query(
      "WITH h AS (UPDATE change_log_head SET last_sequence = last_sequence + 1 RETURNING last_sequence)"
      " INSERT INTO change_log (sequence, entity, entity_key, record)"
      " SELECT last_sequence, 'user', 'usr_corrupt', '{\"user_id\": 7, \"state\": [1]}' FROM h");
  db_->Query("NOTIFY mm_changes");
  ExpectOrdinaryEventsStillApply("after_corrupt");
  EXPECT_TRUE(Eventually([] {
    return MetricsText(*service_).find("mm_changelog_undecodable_rows_total 1") != std::string::npos;
  })) << MetricsText(*service_);
  EXPECT_NE(MetricsText(*service_).find("mm_cache_reloads_total{reason=\"undecodable_row\"} 1"), std::string::npos);
  EXPECT_NE(service_->Log().find("unreadable change-log row"), std::string::npos);
  EXPECT_TRUE(service_->WaitReadyStatus(200, 10s));
  ExpectOrdinaryEventsStillApply("later");
}

// A database restored from a backup taken before the replica's position (or a failover that lost
// commits) is noticed: the replica reloads its snapshot and says so; users only the lost commits
// knew are unknown again, and new events apply on the restored log.
TEST(HardeningE2ETest, ADatabaseRestoredBehindTheReplicaReloadsItsSnapshot) {
  auto db = TestDatabase::Create("e2e_restore");
  std::string dir = TempDir();
  auto service = ServiceProcess::Start({.binary = MM_SERVER_BINARY, .env = Env(db->url(), WriteCallersFile(dir))});
  UserClient checker(service->grpc_target(), kCheckerToken);

  auto [s1, kept] = Post(*service, Disable("evt_restore_kept", "usr_restore_kept"));
  ASSERT_EQ(s1, 200) << kept;
  ASSERT_FALSE(checker.Check("usr_restore_kept", kept["sequence"].get<uint64_t>()).active());
  const std::string dump = dir + "/backup.dump";
  ASSERT_EQ(std::system(("pg_dump -Fc -f " + dump + " '" + db->url() + "'").c_str()), 0);

  auto [s2, lost] = Post(*service, Disable("evt_restore_lost", "usr_restore_lost"));
  ASSERT_EQ(s2, 200) << lost;
  auto [s3, lost2] = Post(*service, Disable("evt_restore_lost2", "usr_restore_lost2"));
  ASSERT_EQ(s3, 200) << lost2;
  ASSERT_EQ(checker.Check("usr_restore_lost2", lost2["sequence"].get<uint64_t>()).state(), v1::USER_STATE_DISABLED);

  // Restore: the backup into a new database (atomically), which then takes the old one's name.
  const std::string restored = db->name() + "_restored";
  const std::string admin_url = AdminDatabaseUrl();
  auto psql = [&](const std::string& sql) {
    return std::system(("psql -q -v ON_ERROR_STOP=1 '" + admin_url + "' -c \"" + sql + "\" >/dev/null").c_str());
  };
  ASSERT_EQ(psql("CREATE DATABASE " + restored), 0);
  ASSERT_EQ(std::system(("pg_restore --single-transaction --no-owner -d '" + WithDatabase(db->url(), restored) + "' " + dump).c_str()), 0);
  ASSERT_EQ(psql("DROP DATABASE " + db->name() + " WITH (FORCE)"), 0);
  ASSERT_EQ(psql("ALTER DATABASE " + restored + " RENAME TO " + db->name()), 0);

  ASSERT_TRUE(Eventually([&] {
    return MetricsText(*service).find("mm_cache_reloads_total{reason=\"changelog_behind\"} 1") != std::string::npos;
  })) << service->Log();
  EXPECT_NE(service->Log().find("not the one this replica followed"), std::string::npos);
  ASSERT_TRUE(service->WaitReadyStatus(200, 20s));
  EXPECT_EQ(checker.Check("usr_restore_kept").state(), v1::USER_STATE_DISABLED);
  EXPECT_EQ(checker.Check("usr_restore_lost").state(), v1::USER_STATE_UNKNOWN);
  EXPECT_EQ(checker.Check("usr_restore_lost2").state(), v1::USER_STATE_UNKNOWN);
  // Writes go on against the restored log (the provider's retry of a lost event applies again).
  int status = 0;
  json again;
  ASSERT_TRUE(Eventually([&] {
    std::tie(status, again) = Post(*service, Disable("evt_restore_lost", "usr_restore_lost"));
    return status == 200;
  })) << again;
  EXPECT_EQ(again["status"], "applied") << again;
  // Read-your-writes holds on the restored log: its sequences, not the lost ones, are waited for.
  auto answer = checker.Check("usr_restore_lost", again["sequence"].get<uint64_t>());
  EXPECT_EQ(answer.state(), v1::USER_STATE_DISABLED) << again << answer.DebugString();
  EXPECT_GE(answer.sequence(), again["sequence"].get<uint64_t>());
}

}  // namespace
}  // namespace mm::testing
