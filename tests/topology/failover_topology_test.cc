// The real binary against a replicated PostgreSQL that fails over (issue #14): each test starts
// its own primary and standby (tests/support/pg_cluster.h) and the service on the multi-host URL
//   postgresql://127.0.0.1:P1,127.0.0.1:P2/mm?target_session_attrs=read-write
// so that every (re)connection finds whichever node is the writable primary now.
// - A failover while webhooks flow (synchronous standby): only 2xx or 503 + Retry-After during
//   the switch, 2xx again by itself after it, and nothing acknowledged is lost; the cache keeps
//   following (DESIGN §1.2 "2xx only after commit", §5).
// - An old primary that stays up but is fenced read-only while the standby is promoted: the
//   writer's open connection gets 25006 (UNAVAILABLE, server/store/pg_connection.cc), it
//   reconnects to the promoted node, and the change follower must follow it there too.
// - An asynchronous standby promoted without the last commits: the replica notices that the
//   change log is behind it, reloads its snapshot and goes on (DESIGN §5 "A change log replaced
//   under the replica").

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

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

struct Answer {
  int status = 0;  // 0: no HTTP answer at all (see error)
  json body;
  bool retry_after = false;
  std::string error;
};

Answer Post(const ServiceProcess& service, const json& body) {
  Answer a;
  auto reply = PostSigned(service.http_url(), body.dump());
  if (!reply.ok()) {
    a.error = std::string(reply.status().message());
    return a;
  }
  a.status = reply->status;
  a.body = json::parse(reply->body, nullptr, false);
  for (const auto& [name, value] : reply->headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == "retry-after" && !value.empty()) a.retry_after = true;
  }
  return a;
}

std::string Describe(const Answer& a) {
  return a.status == 0 ? "no answer: " + a.error : std::to_string(a.status) + " " + a.body.dump();
}

// Posts `body` until it is answered 2xx, at most `timeout`. Every other answer must be 503 with
// Retry-After (the provider's cue to retry); anything else is recorded in `unexpected`.
struct Delivery {
  Answer accepted;  // status 200 when delivered
  int unavailable = 0;
  std::vector<std::string> unexpected;
  bool delivered() const { return accepted.status == 200; }
  uint64_t sequence() const { return accepted.body.value("sequence", uint64_t{0}); }
};

Delivery Deliver(const ServiceProcess& service, const json& body, std::chrono::milliseconds timeout = 30s) {
  Delivery d;
  const auto deadline = Clock::now() + timeout;
  while (true) {
    Answer a = Post(service, body);
    if (a.status == 200) {
      d.accepted = a;
      return d;
    }
    if (a.status == 503 && a.retry_after) {
      ++d.unavailable;
    } else {
      d.unexpected.push_back(Describe(a) + (a.status == 503 ? " (no Retry-After)" : ""));
    }
    if (Clock::now() > deadline) return d;
    std::this_thread::sleep_for(100ms);
  }
}

// The log lines holding `needle` (at most `max`), for failure messages.
std::string LogLines(const std::string& log, const std::string& needle, size_t max = 8) {
  std::istringstream in(log);
  std::string line, out;
  size_t n = 0;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos && n++ < max) out += "  " + line + "\n";
  }
  return out;
}

// The service's warnings and errors, for failure messages.
std::string Problems(const ServiceProcess& service) {
  return LogLines(service.Log(), "\"level\":\"warn", 12) + LogLines(service.Log(), "\"level\":\"error", 12);
}

std::string MultiHostUrl(const PgServer& a, const PgServer& b) {
  return "postgresql://postgres@" + a.host() + ":" + std::to_string(a.port()) + "," + b.host() + ":" +
         std::to_string(b.port()) + "/" + a.database() + "?target_session_attrs=read-write";
}

std::unique_ptr<ServiceProcess> StartService(const std::string& database_url) {
  return ServiceProcess::Start({.binary = MM_SERVER_BINARY,
                                .env = {{"MM_DATABASE_URL", database_url},
                                        {"MM_HUUDIS_SECRETS", kSecret},
                                        {"MM_CALLERS_FILE", WriteCallersFile(TempDir())},
                                        {"MM_POLL_INTERVAL_MS", "100"},
                                        {"MM_DB_CONNECT_TIMEOUT_SECONDS", "2"},
                                        {"MM_DB_STATEMENT_TIMEOUT_MS", "5000"},
                                        {"MM_REQUEST_TIMEOUT_MS", "5000"}}});
}

// The service's sessions on `server` (every session on the service database but ours), one
// line each: state and the start of the last statement.
std::string ServiceSessions(const PgServer& server) {
  std::string out;
  for (const auto& row : server.Query("SELECT state, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_activity"
                                      " WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY 2")) {
    out += "  [" + (row[0].is_null() ? std::string("-") : row[0].as<std::string>()) + "] " +
           (row[1].is_null() ? std::string() : row[1].as<std::string>()) + "\n";
  }
  return out;
}

grpc::Status GetUser(const ServiceProcess& service, const std::string& user_id, v1::User* out) {
  auto stub = v1::UserService::NewStub(grpc::CreateChannel(service.grpc_target(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  ctx.AddMetadata("authorization", std::string("Bearer ") + kReaderToken);
  v1::GetUserRequest req;
  req.set_user_id(user_id);
  return stub->GetUser(&ctx, req, out);
}

// IsUserActive for `user_id` once this replica has applied `min_sequence` (the server caps the
// wait at 10 s).
grpc::Status IsUserActive(const ServiceProcess& service, const std::string& user_id, uint64_t min_sequence,
                          v1::IsUserActiveResponse* out) {
  UserClient checker(service.grpc_target(), kCheckerToken);
  v1::IsUserActiveRequest req;
  req.set_user_id(user_id);
  req.set_min_sequence(min_sequence);
  return checker.IsUserActive(req, out, 12s);
}

// ---------------------------------------------------------------------------------------------
// a. Failover while webhooks flow

// Posts signed disables of fresh users (and an enable of every second one) one after another
// from its own thread, each until it is answered 2xx, and records every answer.
class WebhookStream {
 public:
  struct Ack {
    std::string event_id;
    std::string user_id;
    bool disabled = false;  // the user's state after this event
    uint64_t sequence = 0;
    std::string outcome;  // "applied", or "duplicate" for a retry of what had committed
    Clock::time_point at;
  };

  explicit WebhookStream(const ServiceProcess& service) : service_(service) {
    thread_ = std::thread([this] { Run(); });
  }
  ~WebhookStream() { Stop(); }

  // Finishes the user in flight (its events delivered or given up), then returns.
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  size_t acked() const { return acked_.load(); }
  int unavailable() const { return unavailable_.load(); }

  // After Stop():
  const std::vector<Ack>& acks() const { return acks_; }
  const std::map<int, int>& statuses() const { return statuses_; }  // HTTP status (0: none) → count
  const std::vector<std::string>& problems() const { return problems_; }
  int missing_retry_after() const { return missing_retry_after_; }

 private:
  void Run() {
    for (int i = 0; !stop_.load(); ++i) {
      const std::string user = "usr_failover_" + std::to_string(i);
      if (!Send(Disable("evt_failover_" + std::to_string(i) + "_disable", user), user, true)) return;
      if (i % 2 == 1 && !Send(Enable("evt_failover_" + std::to_string(i) + "_enable", user), user, false)) return;
    }
  }

  bool Send(const json& body, const std::string& user, bool disabled) {
    const std::string id = body["id"];
    const auto deadline = Clock::now() + 30s;
    while (true) {
      Answer a = Post(service_, body);
      ++statuses_[a.status];
      if (a.status == 200) {
        acks_.push_back(
            {id, user, disabled, a.body.value("sequence", uint64_t{0}), a.body.value("status", ""), Clock::now()});
        acked_.fetch_add(1);
        return true;
      }
      if (a.status == 503) {
        unavailable_.fetch_add(1);
        if (!a.retry_after) ++missing_retry_after_;
      } else if (problems_.size() < 20) {
        problems_.push_back(id + ": " + Describe(a));
      }
      if (Clock::now() > deadline) {
        problems_.push_back(id + ": not answered 2xx within 30 s; last answer " + Describe(a));
        return false;
      }
      std::this_thread::sleep_for(100ms);  // sooner than Retry-After asks: the test is in a hurry
    }
  }

  const ServiceProcess& service_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> acked_{0};
  std::atomic<int> unavailable_{0};
  std::vector<Ack> acks_;
  std::map<int, int> statuses_;
  std::vector<std::string> problems_;
  int missing_retry_after_ = 0;
  std::thread thread_;
};

TEST(FailoverTopologyTest, FailoverWhileWebhooksFlowLosesNothingAcknowledged) {
  auto primary = PgServer::StartPrimary();
  auto standby = PgServer::StartStandby(*primary, {.synchronous = true, .application_name = "standby_a"});
  auto service = StartService(MultiHostUrl(*primary, *standby));

  WebhookStream stream(*service);
  ASSERT_TRUE(Eventually([&] { return stream.acked() >= 30; }, 20s)) << Problems(*service);

  // The primary dies mid-flow; the synchronous standby has every commit it acknowledged.
  const auto killed = Clock::now();
  const size_t acked_before = stream.acked();
  primary->Stop(PgServer::StopMode::kImmediate);
  // No node is writable for a while (the service's reconnections find one node refusing and
  // the other a hot standby): webhooks are answered 503 meanwhile, retried by the sender.
  EXPECT_TRUE(Eventually([&] { return stream.unavailable() >= 10; }, 15s))
      << "not answered 503 while no node was writable";
  const size_t acked_while_down = stream.acked() - acked_before;
  standby->Promote();
  const auto promoted = Clock::now();
  const size_t acked_at_promotion = stream.acked();
  // 2xx again by itself: no restart, no signal.
  ASSERT_TRUE(Eventually([&] { return stream.acked() >= acked_at_promotion + 30; }, 30s))
      << "webhooks were not accepted again after the promotion\n"
      << Problems(*service);
  stream.Stop();
  EXPECT_EQ(service->Wait(0ms), -1) << "the service exited";

  Clock::time_point first_after = Clock::time_point::max();
  int duplicates = 0;
  for (const auto& ack : stream.acks()) {
    if (ack.at > promoted) first_after = std::min(first_after, ack.at);
    if (ack.outcome != "applied") ++duplicates;
    EXPECT_TRUE(ack.outcome == "applied" || ack.outcome == "duplicate") << ack.event_id << ": " << ack.outcome;
  }
  std::cout << "[ topology ] primary killed; " << stream.unavailable() << " answers 503, " << acked_while_down
            << " acknowledged (in flight) before the promotion at +" << Seconds(promoted - killed)
            << " s; first 2xx after it at +" << Seconds(first_after - killed) << " s; " << stream.acks().size()
            << " events acknowledged in all, " << duplicates << " of them duplicate" << std::endl;

  // Only 2xx or 503 + Retry-After, never anything else, never no answer.
  for (const auto& [status, count] : stream.statuses()) {
    EXPECT_TRUE(status == 200 || status == 503) << count << " answers with status " << status;
  }
  EXPECT_EQ(stream.missing_retry_after(), 0) << "503 without Retry-After";
  for (const std::string& p : stream.problems()) ADD_FAILURE() << p;

  // Every acknowledged event is on the new primary, and so is its effect.
  std::set<std::string> stored;
  for (const auto& row : standby->Query("SELECT event_id FROM provider_events WHERE provider = 'huudis'")) {
    stored.insert(row[0].as<std::string>());
  }
  std::map<std::string, std::string> state;
  for (const auto& row : standby->Query("SELECT user_id, state FROM users")) {
    state[row[0].as<std::string>()] = row[1].as<std::string>();
  }
  std::map<std::string, bool> expected_disabled;  // the user's last acknowledged event decides
  uint64_t last_sequence = 0;
  int missing = 0;
  for (const auto& ack : stream.acks()) {
    if (!stored.contains(ack.event_id) && ++missing <= 10) {
      ADD_FAILURE() << ack.event_id << " was acknowledged 2xx and is not in the new primary's provider_events";
    }
    expected_disabled[ack.user_id] = ack.disabled;
    last_sequence = std::max(last_sequence, ack.sequence);
  }
  EXPECT_EQ(missing, 0) << "acknowledged events lost in the failover";
  for (const auto& [user, disabled] : expected_disabled) {
    EXPECT_EQ(state[user], disabled ? "disabled" : "active") << user;
  }

  // The cache kept following: the replica has applied the last acknowledged sequence, and
  // answers every user's last state.
  ASSERT_GT(last_sequence, 0u);
  UserClient checker(service->grpc_target(), kCheckerToken);
  std::vector<std::string> users;
  for (const auto& [user, disabled] : expected_disabled) users.push_back(user);
  for (size_t at = 0; at < users.size(); at += 1000) {
    v1::BatchIsUserActiveRequest req;
    for (size_t i = at; i < std::min(users.size(), at + 1000); ++i) req.add_user_ids(users[i]);
    req.set_min_sequence(last_sequence);
    v1::BatchIsUserActiveResponse resp;
    grpc::Status s = checker.BatchIsUserActive(req, &resp);
    ASSERT_TRUE(s.ok()) << "BatchIsUserActive(min_sequence=" << last_sequence << "): " << s.error_code() << " "
                        << s.error_message() << "\n"
                        << Problems(*service);
    ASSERT_EQ(resp.results_size(), req.user_ids_size());
    for (const auto& r : resp.results()) {
      const bool disabled = expected_disabled[r.user_id()];
      EXPECT_EQ(r.active(), !disabled) << r.user_id();
      EXPECT_EQ(r.state(), disabled ? v1::USER_STATE_DISABLED : v1::USER_STATE_ACTIVE) << r.user_id();
    }
  }
  EXPECT_TRUE(service->WaitReadyStatus(200, 20s)) << Problems(*service);
  EXPECT_EQ(MetricValue(service->MetricsText(), "mm_cache_reloads_total{reason=\"changelog_behind\"}"), 0)
      << "a failover to a synchronous standby lost nothing: no reload is due";
}

// ---------------------------------------------------------------------------------------------
// b. A writer pinned to a fenced old primary

TEST(FailoverTopologyTest, WriterAndFollowerLeaveAFencedOldPrimaryForThePromotedOne) {
  auto primary = PgServer::StartPrimary();
  auto standby = PgServer::StartStandby(*primary, {.synchronous = false, .application_name = "standby_b"});
  auto service = StartService(MultiHostUrl(*primary, *standby));

  Delivery before = Deliver(*service, Disable("evt_fence_before", "usr_fence_before"));
  ASSERT_TRUE(before.delivered()) << Describe(before.accepted) << "\n" << Problems(*service);
  v1::IsUserActiveResponse resp;
  ASSERT_TRUE(IsUserActive(*service, "usr_fence_before", before.sequence(), &resp).ok());
  ASSERT_FALSE(resp.active());

  // The operator fences the old primary (it stays up: the service's connections to it stay
  // open), lets the standby catch up and promotes it.
  primary->SetDefaultReadOnly(true);
  standby->WaitCaughtUp();
  standby->Promote();
  const auto promoted = Clock::now();

  // The writer's open connection meets the fence (25006: 503, or its writable check), and the
  // writer reconnects to the promoted node.
  Delivery after = Deliver(*service, Disable("evt_fence_after", "usr_fence_after"));
  ASSERT_TRUE(after.delivered()) << "the writer never reached the promoted node; last answer "
                                 << Describe(after.accepted) << "\n"
                                 << Problems(*service);
  std::cout << "[ topology ] after the fence: " << after.unavailable << " answers 503, then 2xx at +"
            << Seconds(Clock::now() - promoted) << " s after the promotion" << std::endl;
  for (const std::string& u : after.unexpected) ADD_FAILURE() << "answer other than 2xx or 503 + Retry-After: " << u;
  // A 503 here is allowed, not required: the first write either meets the fence (25006) or
  // the connection's writable check (store/pg_connection.h) sees it first and reconnects.
  Delivery enable = Deliver(*service, Enable("evt_fence_enable", "usr_fence_before"));
  ASSERT_TRUE(enable.delivered()) << Describe(enable.accepted);
  EXPECT_TRUE(enable.unexpected.empty());
  EXPECT_EQ(enable.unavailable, 0) << "the writer is on the promoted node now";

  // The events are on the promoted node, not on the fenced one.
  for (const char* id : {"evt_fence_after", "evt_fence_enable"}) {
    EXPECT_EQ(standby->Scalar(std::string("SELECT count(*) FROM provider_events WHERE event_id = '") + id + "'"), "1")
        << id;
    EXPECT_EQ(primary->Scalar(std::string("SELECT count(*) FROM provider_events WHERE event_id = '") + id + "'"), "0")
        << id;
  }

  // The change follower must leave the fenced node as well: nothing new is ever committed
  // there, so a follower that stays reads a log that has stopped, and the cache never sees what
  // the writer commits on the promoted node. (One wait: the server caps it at 10 s.)
  grpc::Status followed = IsUserActive(*service, "usr_fence_after", enable.sequence(), &resp);
  if (!followed.ok()) {
    const std::string metrics = service->MetricsText();
    v1::IsUserActiveResponse now;
    IsUserActive(*service, "usr_fence_after", 0, &now);
    const int64_t fresh_age = NowSeconds() - now.fresh_as_of().seconds();
    ADD_FAILURE() << "SERVICE BUG: the change follower did not follow the promoted node. IsUserActive(min_sequence="
                  << enable.sequence() << ") → " << followed.error_code() << " \"" << followed.error_message()
                  << "\"; without min_sequence usr_fence_after is " << v1::UserState_Name(now.state())
                  << " at sequence " << now.sequence() << " while fresh_as_of claims " << fresh_age
                  << " s ago. The promoted node's change_log_head is " << ChangeLogHead(*standby)
                  << ", the fenced node's " << ChangeLogHead(*primary) << "; mm_cache_sequence "
                  << MetricValue(metrics, "mm_cache_sequence") << ", mm_changelog_lag_sequences "
                  << MetricValue(metrics, "mm_changelog_lag_sequences")
                  << ". The service's sessions still on the fenced node (pg_stat_activity there):\n"
                  << ServiceSessions(*primary) << Problems(*service);
  } else {
    EXPECT_FALSE(resp.active()) << resp.DebugString();
    EXPECT_EQ(resp.state(), v1::USER_STATE_DISABLED);
    ASSERT_TRUE(IsUserActive(*service, "usr_fence_before", enable.sequence(), &resp).ok());
    EXPECT_TRUE(resp.active()) << "the enable on the promoted node reached the cache";
  }
  // Database reads (ReadPool) must come from the promoted node too.
  v1::User user;
  grpc::Status read = GetUser(*service, "usr_fence_after", &user);
  EXPECT_TRUE(read.ok() && user.state() == v1::USER_STATE_DISABLED)
      << "SERVICE BUG: GetUser(usr_fence_after), acknowledged on the promoted node, → " << read.error_code() << " \""
      << read.error_message() << "\" (state " << v1::UserState_Name(user.state())
      << "): the ReadPool's connections stay on the fenced old primary";
  EXPECT_TRUE(service->WaitReadyStatus(200, 10s)) << Problems(*service);
}

// ---------------------------------------------------------------------------------------------
// c. A promoted standby that lost commits

TEST(FailoverTopologyTest, APromotedStandbyThatLostCommitsMakesTheReplicaReload) {
  auto primary = PgServer::StartPrimary();
  auto standby = PgServer::StartStandby(*primary, {.synchronous = false, .application_name = "standby_c"});
  auto service = StartService(MultiHostUrl(*primary, *standby));
  UserClient checker(service->grpc_target(), kCheckerToken);

  // Kept: on both nodes.
  Delivery kept = Deliver(*service, Disable("evt_lost_kept", "usr_lost_kept"));
  ASSERT_TRUE(kept.delivered()) << Describe(kept.accepted) << "\n" << Problems(*service);
  Delivery flip = Deliver(*service, Disable("evt_lost_flip_disable", "usr_lost_flip"));
  ASSERT_TRUE(flip.delivered()) << Describe(flip.accepted);
  standby->WaitCaughtUp();
  standby->Stop(PgServer::StopMode::kFast);

  // Lost: acknowledged by the primary alone (asynchronous replication, the standby down).
  Delivery lost_enable = Deliver(*service, Enable("evt_lost_flip_enable", "usr_lost_flip"));
  ASSERT_TRUE(lost_enable.delivered()) << Describe(lost_enable.accepted);
  Delivery lost_1 = Deliver(*service, Disable("evt_lost_1", "usr_lost_1"));
  ASSERT_TRUE(lost_1.delivered()) << Describe(lost_1.accepted);
  Delivery lost_2 = Deliver(*service, Disable("evt_lost_2", "usr_lost_2"));
  ASSERT_TRUE(lost_2.delivered()) << Describe(lost_2.accepted);
  const uint64_t replica_position = lost_2.sequence();
  EXPECT_EQ(checker.Check("usr_lost_2", replica_position).state(), v1::USER_STATE_DISABLED);
  EXPECT_TRUE(checker.Check("usr_lost_flip", replica_position).active());
  EXPECT_EQ(checker.Check("usr_lost_1", replica_position).state(), v1::USER_STATE_DISABLED);

  // The primary dies; the standby, which never saw the last commits, is promoted.
  primary->Stop(PgServer::StopMode::kImmediate);
  standby->Start();
  standby->Promote();
  const auto promoted = Clock::now();
  const uint64_t promoted_head = ChangeLogHead(*standby);
  ASSERT_LT(promoted_head, replica_position) << "the promoted node was meant to lack the last commits";
  EXPECT_EQ(standby->Scalar("SELECT count(*) FROM provider_events WHERE event_id IN "
                            "('evt_lost_flip_enable', 'evt_lost_1', 'evt_lost_2')"), "0");

  // The replica notices its cache is ahead of the database's log and reloads its snapshot.
  ASSERT_TRUE(Eventually(
      [&] {
        return MetricValue(service->MetricsText(), "mm_cache_reloads_total{reason=\"changelog_behind\"}") >= 1;
      },
      30s))
      << "no reload: the replica's cache (sequence " << replica_position
      << ") stays ahead of the promoted node's change_log_head " << promoted_head << "\n"
      << Problems(*service);
  std::cout << "[ topology ] reload noticed at +" << Seconds(Clock::now() - promoted)
            << " s after the promotion (replica at " << replica_position << ", promoted head " << promoted_head
            << ")" << std::endl;
  EXPECT_NE(service->Log().find("not the one this replica followed"), std::string::npos) << Problems(*service);
  ASSERT_TRUE(service->WaitReadyStatus(200, 20s)) << Problems(*service);

  // Answers come from the reloaded state: what was lost is undone.
  EXPECT_EQ(checker.Check("usr_lost_kept").state(), v1::USER_STATE_DISABLED);
  v1::IsUserActiveResponse flipped = checker.Check("usr_lost_flip");
  EXPECT_EQ(flipped.state(), v1::USER_STATE_DISABLED) << "the lost enable is undone";
  EXPECT_FALSE(flipped.active());
  EXPECT_EQ(checker.Check("usr_lost_1").state(), v1::USER_STATE_UNKNOWN) << "a user only lost commits knew";
  EXPECT_EQ(checker.Check("usr_lost_2").state(), v1::USER_STATE_UNKNOWN) << "a user only lost commits knew";

  // New events apply on the promoted node's log: the provider's retry of a lost event, and a
  // new one; read-your-writes waits for the new log's sequences.
  Delivery retried = Deliver(*service, Disable("evt_lost_1", "usr_lost_1"));
  ASSERT_TRUE(retried.delivered()) << Describe(retried.accepted) << "\n" << Problems(*service);
  EXPECT_EQ(retried.accepted.body.value("status", ""), "applied") << retried.accepted.body;
  for (const std::string& u : retried.unexpected) ADD_FAILURE() << "answer other than 2xx or 503 + Retry-After: " << u;
  Delivery fresh = Deliver(*service, Disable("evt_lost_new", "usr_lost_new"));
  ASSERT_TRUE(fresh.delivered()) << Describe(fresh.accepted);
  v1::IsUserActiveResponse answer = checker.Check("usr_lost_new", fresh.sequence());
  EXPECT_EQ(answer.state(), v1::USER_STATE_DISABLED) << answer.DebugString();
  EXPECT_GE(answer.sequence(), fresh.sequence());
  EXPECT_EQ(checker.Check("usr_lost_1", retried.sequence()).state(), v1::USER_STATE_DISABLED);
  EXPECT_EQ(standby->Scalar("SELECT count(*) FROM provider_events WHERE event_id IN ('evt_lost_1', 'evt_lost_new')"),
            "2");
}

}  // namespace
}  // namespace mm::testing
