// The real binary with a read replica (issue #14 point 2): each test starts its own primary and
// asynchronous streaming standby (tests/support/pg_cluster.h) and the service with
//   MM_DATABASE_URL=primary, MM_DATABASE_READ_URL=standby
// (server/store/replica_router.h). Replay on the standby is paused and resumed with
// pg_wal_replay_pause() / pg_wal_replay_resume() to hold it behind.
// - Reads without min_sequence come from the replica: stale while replay is paused, but served;
//   the service's sessions are on the standby.
// - A read with min_sequence = a webhook answer's sequence reads its own write: from the
//   primary while the replica is paused (after waiting MM_DATABASE_READ_MAX_WAIT_MS for it),
//   from the replica once it has replayed it; the lag gauges say how far behind it is.
// - A replica stopped entirely: reads are answered by the primary (availability over the
//   replica's load relief), and go back to the replica once it answers again.

#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e_helpers.h"
#include "pg_cluster.h"
#include "topology_helpers.h"
#include "service_process.h"

namespace mm::testing {
namespace {

namespace v1 = membership::v1;
using nlohmann::json;
using namespace std::chrono_literals;
using namespace topology;

constexpr char kAllReadsToken[] = "token-all-reads";  // users:read, members:read, seats:read, admin
constexpr int kMaxWaitMs = 500;                       // MM_DATABASE_READ_MAX_WAIT_MS of these tests

// Posts a signed webhook; returns the sequence of its 200 answer (the test fails otherwise).
uint64_t Deliver(const ServiceProcess& service, const json& body) {
  auto reply = PostSigned(service.http_url(), body.dump());
  EXPECT_TRUE(reply.ok()) << reply.status();
  if (!reply.ok()) return 0;
  EXPECT_EQ(reply->status, 200) << reply->body;
  return json::parse(reply->body, nullptr, false).value("sequence", uint64_t{0});
}

std::string Problems(const ServiceProcess& service) {
  std::istringstream in(service.Log());
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.find("\"level\":\"warn") != std::string::npos || line.find("\"level\":\"error") != std::string::npos) {
      out += "  " + line + "\n";
    }
  }
  return out;
}

std::unique_ptr<ServiceProcess> StartService(const PgServer& primary, const PgServer& standby) {
  const std::string dir = TempDir();
  return ServiceProcess::Start(
      {.binary = MM_SERVER_BINARY,
       .env = {{"MM_DATABASE_URL", primary.url()},
               {"MM_DATABASE_READ_URL", standby.url()},
               {"MM_DATABASE_READ_MAX_WAIT_MS", std::to_string(kMaxWaitMs)},
               {"MM_HUUDIS_SECRETS", kSecret},
               {"MM_CALLERS_FILE",
                WriteCallersFile(dir, {{"checker", kCheckerToken, {"users:check"}},
                                       {"reads", kAllReadsToken, {"users:read", "members:read", "seats:read", "admin"}}})},
               {"MM_POLL_INTERVAL_MS", "100"},
               {"MM_DB_CONNECT_TIMEOUT_SECONDS", "2"},
               {"MM_DB_STATEMENT_TIMEOUT_MS", "5000"}}});
}

// The read RPCs the tests call, with a bearer token that may call them all.
class Reader {
 public:
  explicit Reader(const ServiceProcess& service)
      : channel_(grpc::CreateChannel(service.grpc_target(), grpc::InsecureChannelCredentials())),
        users_(v1::UserService::NewStub(channel_)),
        seats_(v1::SeatService::NewStub(channel_)),
        admin_(v1::AdminService::NewStub(channel_)) {}

  grpc::Status GetUser(const std::string& user_id, uint64_t min_sequence, v1::User* out) const {
    grpc::ClientContext ctx;
    Prepare(ctx);
    v1::GetUserRequest req;
    req.set_user_id(user_id);
    req.set_min_sequence(min_sequence);
    return users_->GetUser(&ctx, req, out);
  }
  // The user's state as GetUser answers it; UNSPECIFIED when the call fails (and the test too).
  v1::UserState StateOf(const std::string& user_id, uint64_t min_sequence = 0) const {
    v1::User user;
    grpc::Status s = GetUser(user_id, min_sequence, &user);
    EXPECT_TRUE(s.ok()) << "GetUser(" << user_id << ", min_sequence=" << min_sequence << "): " << s.error_code()
                        << " " << s.error_message();
    return s.ok() ? user.state() : v1::USER_STATE_UNSPECIFIED;
  }
  // The change-log sequence a GetSeatCount answer reflects (of an account nobody has: zeros).
  uint64_t SeatSequence(uint64_t min_sequence = 0) const {
    grpc::ClientContext ctx;
    Prepare(ctx);
    v1::GetSeatCountRequest req;
    req.set_account_id("acc_nobody");
    req.set_min_sequence(min_sequence);
    v1::SeatCount count;
    grpc::Status s = seats_->GetSeatCount(&ctx, req, &count);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return count.sequence();
  }
  // The events ListUserEvents lists for the user.
  int EventCount(const std::string& user_id, uint64_t min_sequence = 0) const {
    grpc::ClientContext ctx;
    Prepare(ctx);
    v1::ListUserEventsRequest req;
    req.set_user_id(user_id);
    req.set_min_sequence(min_sequence);
    v1::ListUserEventsResponse resp;
    grpc::Status s = admin_->ListUserEvents(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return resp.events_size();
  }

 private:
  static void Prepare(grpc::ClientContext& ctx) {
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    ctx.AddMetadata("authorization", std::string("Bearer ") + kAllReadsToken);
  }
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::UserService::Stub> users_;
  std::unique_ptr<v1::SeatService::Stub> seats_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

// The read counters and gauges of the read replica, from /metrics.
struct ReadMetrics {
  double replica = 0, primary = 0;                  // mm_db_reads_total{target}
  double behind = 0, unavailable = 0, error = 0;    // mm_db_read_replica_fallbacks_total{reason}
  double up = 0, lag_sequences = 0, lag_seconds = 0;
  bool sampled = false;  // the gauges are there (main samples them every 500 ms, from the first tick on)

  static ReadMetrics Of(const ServiceProcess& service) {
    const std::string text = service.MetricsText();
    ReadMetrics m;
    m.replica = MetricValue(text, "mm_db_reads_total{target=\"replica\"}");
    m.primary = MetricValue(text, "mm_db_reads_total{target=\"primary\"}");
    m.behind = MetricValue(text, "mm_db_read_replica_fallbacks_total{reason=\"behind\"}");
    m.unavailable = MetricValue(text, "mm_db_read_replica_fallbacks_total{reason=\"unavailable\"}");
    m.error = MetricValue(text, "mm_db_read_replica_fallbacks_total{reason=\"error\"}");
    m.sampled = text.find("\nmm_db_read_replica_up ") != std::string::npos;
    m.up = MetricValue(text, "mm_db_read_replica_up");
    m.lag_sequences = MetricValue(text, "mm_db_read_replica_lag_sequences");
    m.lag_seconds = MetricValue(text, "mm_db_read_replica_lag_seconds");
    return m;
  }
  std::string Describe() const {
    std::ostringstream out;
    out << "reads replica " << replica << " primary " << primary << "; fallbacks behind " << behind
        << " unavailable " << unavailable << " error " << error << "; up " << up << ", lag " << lag_sequences
        << " sequences, " << lag_seconds << " s";
    return out.str();
  }
};

// Sessions on the service database of `server` other than this one: the service's (the test
// opens one connection per query and closes it).
int OtherSessions(const PgServer& server) {
  return std::stoi(server.Scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                 " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"));
}

// ---------------------------------------------------------------------------------------------

TEST(ReadReplicaTopologyTest, ReadsComeFromTheReplicaAndMinSequenceReadsYourWriteWhileItIsBehind) {
  auto primary = PgServer::StartPrimary();
  auto standby = PgServer::StartStandby(*primary, {.synchronous = false, .application_name = "replica_a"});
  auto service = StartService(*primary, *standby);
  Reader reader(*service);
  UserClient checker(service->grpc_target(), kCheckerToken);

  const uint64_t disabled = Deliver(*service, Disable("evt_rr_disable", "usr_rr"));
  ASSERT_GT(disabled, 0u) << Problems(*service);
  EXPECT_EQ(checker.Check("usr_rr", disabled).state(), v1::USER_STATE_DISABLED);
  standby->WaitCaughtUp();

  // Caught up: the replica answers reads without min_sequence, and with one it has replayed.
  ReadMetrics before = ReadMetrics::Of(*service);
  EXPECT_EQ(reader.StateOf("usr_rr"), v1::USER_STATE_DISABLED);
  EXPECT_EQ(reader.StateOf("usr_rr", disabled), v1::USER_STATE_DISABLED);
  ReadMetrics after = ReadMetrics::Of(*service);
  EXPECT_EQ(after.replica - before.replica, 2) << after.Describe();
  EXPECT_EQ(after.primary - before.primary, 0) << after.Describe();
  EXPECT_GE(OtherSessions(*standby), 2) << "the service's read worker and replica monitor are on the standby";
  ASSERT_TRUE(Eventually([&] { return ReadMetrics::Of(*service).sampled && ReadMetrics::Of(*service).up == 1; }, 5s)) << ReadMetrics::Of(*service).Describe();

  // (a) Replay paused: the enable commits on the primary only. A read without min_sequence is
  // answered by the replica, stale but served.
  standby->Query("SELECT pg_wal_replay_pause()");
  ASSERT_TRUE(Eventually([&] { return standby->Scalar("SELECT pg_get_wal_replay_pause_state()") == "paused"; }, 10s));
  const uint64_t standby_head = ChangeLogHead(*standby);
  const uint64_t enabled = Deliver(*service, Enable("evt_rr_enable", "usr_rr"));
  ASSERT_GT(enabled, disabled);
  EXPECT_TRUE(checker.Check("usr_rr", enabled).active()) << "the cache follows the primary";
  before = ReadMetrics::Of(*service);
  EXPECT_EQ(reader.StateOf("usr_rr"), v1::USER_STATE_DISABLED) << "read on the paused replica";
  EXPECT_EQ(reader.SeatSequence(), standby_head) << "the answer says which (older) sequence it reflects";
  EXPECT_EQ(reader.EventCount("usr_rr"), 1) << "the enable is not on the replica yet";
  after = ReadMetrics::Of(*service);
  EXPECT_EQ(after.replica - before.replica, 3) << after.Describe();
  EXPECT_EQ(after.primary - before.primary, 0) << after.Describe();

  // (b) With min_sequence = the enable's sequence: the replica is behind for the whole wait, so
  // the primary answers, with the new state.
  before = after;
  auto started = Clock::now();
  EXPECT_EQ(reader.StateOf("usr_rr", enabled), v1::USER_STATE_ACTIVE) << "read your write, from the primary";
  const double waited = Seconds(Clock::now() - started);
  EXPECT_GE(reader.SeatSequence(enabled), enabled);
  EXPECT_EQ(reader.EventCount("usr_rr", enabled), 2);
  after = ReadMetrics::Of(*service);
  EXPECT_EQ(after.primary - before.primary, 3) << after.Describe();
  EXPECT_EQ(after.behind - before.behind, 3) << after.Describe();
  EXPECT_EQ(after.replica - before.replica, 0) << after.Describe();
  EXPECT_GE(waited, kMaxWaitMs / 1000.0 * 0.9) << "the worker waited MM_DATABASE_READ_MAX_WAIT_MS for replay first";
  EXPECT_LT(waited, 3.0);
  std::cout << "[ topology ] replica paused: GetUser(min_sequence=" << enabled << ") answered by the primary after "
            << waited << " s" << std::endl;

  // (c) The lag gauges see the paused replica.
  ASSERT_TRUE(Eventually(
      [&] {
        ReadMetrics m = ReadMetrics::Of(*service);
        return m.lag_sequences >= static_cast<double>(enabled - standby_head) && m.lag_seconds > 0;
      },
      5s))
      << ReadMetrics::Of(*service).Describe();
  const ReadMetrics paused = ReadMetrics::Of(*service);

  // (d) Replay resumed: the lag goes back to 0, and reads with min_sequence are the replica's again.
  standby->Query("SELECT pg_wal_replay_resume()");
  const auto resumed = Clock::now();
  ASSERT_TRUE(Eventually(
      [&] {
        ReadMetrics m = ReadMetrics::Of(*service);
        return m.sampled && m.lag_sequences == 0 && m.lag_seconds == 0;
      },
      10s))
      << ReadMetrics::Of(*service).Describe();
  std::cout << "[ topology ] while paused: " << paused.Describe() << "; lag 0 again " << Seconds(Clock::now() - resumed)
            << " s after the resume" << std::endl;
  before = ReadMetrics::Of(*service);
  EXPECT_EQ(reader.StateOf("usr_rr", enabled), v1::USER_STATE_ACTIVE);
  EXPECT_GE(reader.SeatSequence(enabled), enabled);
  EXPECT_EQ(reader.StateOf("usr_rr"), v1::USER_STATE_ACTIVE);
  after = ReadMetrics::Of(*service);
  EXPECT_EQ(after.replica - before.replica, 3) << after.Describe();
  EXPECT_EQ(after.primary - before.primary, 0) << after.Describe();
  EXPECT_EQ(after.behind, before.behind);

  // A write just acknowledged is read at once from the replica or, if it has not replayed it
  // within the wait, from the primary: either way the new state.
  const uint64_t again = Deliver(*service, Disable("evt_rr_disable_again", "usr_rr"));
  EXPECT_EQ(reader.StateOf("usr_rr", again), v1::USER_STATE_DISABLED);
  EXPECT_EQ(ReadMetrics::Of(*service).unavailable + ReadMetrics::Of(*service).error, 0) << Problems(*service);
}

TEST(ReadReplicaTopologyTest, AStoppedReplicaLeavesReadsToThePrimaryUntilItAnswersAgain) {
  auto primary = PgServer::StartPrimary();
  auto standby = PgServer::StartStandby(*primary, {.synchronous = false, .application_name = "replica_e"});
  auto service = StartService(*primary, *standby);
  Reader reader(*service);

  const uint64_t disabled = Deliver(*service, Disable("evt_rr_stop_disable", "usr_rr_stop"));
  ASSERT_GT(disabled, 0u) << Problems(*service);
  standby->WaitCaughtUp();
  EXPECT_EQ(reader.StateOf("usr_rr_stop", disabled), v1::USER_STATE_DISABLED);
  ASSERT_GE(ReadMetrics::Of(*service).replica, 1) << ReadMetrics::Of(*service).Describe();

  // (e) The replica stops entirely. Reads are still answered — by the primary — quickly, with
  // and without min_sequence, and the service stays ready: it is a read replica, not a
  // dependency. (UNAVAILABLE would fail reads the primary can answer.)
  standby->Stop(PgServer::StopMode::kFast);
  const uint64_t enabled = Deliver(*service, Enable("evt_rr_stop_enable", "usr_rr_stop"));
  ASSERT_GT(enabled, disabled);
  ReadMetrics before = ReadMetrics::Of(*service);
  auto started = Clock::now();
  EXPECT_EQ(reader.StateOf("usr_rr_stop"), v1::USER_STATE_ACTIVE);
  EXPECT_EQ(reader.StateOf("usr_rr_stop", enabled), v1::USER_STATE_ACTIVE);
  EXPECT_EQ(reader.EventCount("usr_rr_stop"), 2);
  const double took = Seconds(Clock::now() - started);
  EXPECT_LT(took, 3.0) << "three reads with the replica down";
  ReadMetrics after = ReadMetrics::Of(*service);
  EXPECT_EQ(after.primary - before.primary, 3) << after.Describe();
  EXPECT_EQ(after.replica - before.replica, 0) << after.Describe();
  EXPECT_GE(after.unavailable - before.unavailable, 1) << after.Describe();
  ASSERT_TRUE(Eventually([&] { return ReadMetrics::Of(*service).sampled && ReadMetrics::Of(*service).up == 0; }, 5s)) << ReadMetrics::Of(*service).Describe();
  EXPECT_TRUE(service->WaitReadyStatus(200, 2s)) << "a replica down does not make the service unready";
  EXPECT_TRUE(Eventually([&] { return service->Log().find("read replica unreachable") != std::string::npos; }, 5s))
      << Problems(*service);
  std::cout << "[ topology ] replica stopped: 3 reads answered by the primary in " << took << " s" << std::endl;

  // Back: the monitor reaches it again and reads go to the replica once more.
  standby->Start();
  standby->WaitCaughtUp();
  ASSERT_TRUE(Eventually([&] { return ReadMetrics::Of(*service).up == 1; }, 10s)) << ReadMetrics::Of(*service).Describe();
  before = ReadMetrics::Of(*service);
  EXPECT_EQ(reader.StateOf("usr_rr_stop", enabled), v1::USER_STATE_ACTIVE);
  after = ReadMetrics::Of(*service);
  EXPECT_EQ(after.replica - before.replica, 1) << after.Describe() << "\n" << Problems(*service);
  EXPECT_EQ(after.primary - before.primary, 0) << after.Describe();
}

}  // namespace
}  // namespace mm::testing
