// End-to-end tests of ChangeService.WatchChanges on the real binary: every change exactly once
// and in order (from 0, resumed from the middle, while webhooks keep committing during the
// backfill), a reader that never reads ended with RESOURCE_EXHAUSTED while another keeps
// receiving, authorization, and streams ending at shutdown.
//
// The stream carries users and memberships; account rows are skipped. So the expected
// sequences are those of the change_log rows whose entity is not 'account', read from the
// database itself.

#include <utility>  // before asio: its awaitable.hpp uses std::exchange without including it

#include <csignal>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e_helpers.h"
#include "service_process.h"
#include "test_database.h"

namespace mm::testing {
namespace {

namespace v1 = membership::v1;
using nlohmann::json;

constexpr char kWatchToken[] = "tok-watch-e2e";
constexpr char kOtherToken[] = "tok-users-read-e2e";

std::string WriteWatchCallers(const std::string& dir) {
  return WriteCallersFile(dir, {{"watcher", kWatchToken, {"changes:watch"}}, {"reader", kOtherToken, {"users:read"}}});
}

// One WatchChanges call read on its own thread (or not read at all, until ReadAll).
class Watcher {
 public:
  Watcher(const std::shared_ptr<grpc::Channel>& channel, const std::string& token, uint64_t after,
          bool read = true)
      : stub_(v1::ChangeService::NewStub(channel)) {
    if (!token.empty()) ctx_.AddMetadata("authorization", "Bearer " + token);
    v1::WatchChangesRequest req;
    req.set_after_sequence(after);
    reader_ = stub_->WatchChanges(&ctx_, req);
    if (read) thread_ = std::thread([this] { ReadAll(); });
  }
  ~Watcher() {
    ctx_.TryCancel();
    if (thread_.joinable()) thread_.join();
  }

  // Reads until the stream ends (for a watcher created with read = false).
  void ReadAll() {
    v1::Change change;
    while (reader_->Read(&change)) {
      std::lock_guard lock(mu_);
      changes_.push_back(change);
      changed_.notify_all();
    }
    grpc::Status status = reader_->Finish();
    std::lock_guard lock(mu_);
    status_ = status;
    changed_.notify_all();
  }

  // True once a change with sequence >= `sequence` arrived; false if the stream ended or the
  // time ran out first.
  bool WaitFor(uint64_t sequence, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] {
      return (!changes_.empty() && changes_.back().sequence() >= sequence) || status_.has_value();
    }) && !changes_.empty() && changes_.back().sequence() >= sequence;
  }
  // The final status, once the stream ended (waits up to `timeout`).
  std::optional<grpc::Status> WaitEnd(std::chrono::seconds timeout = std::chrono::seconds(30)) {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, timeout, [&] { return status_.has_value(); });
    return status_;
  }
  std::vector<v1::Change> changes() const {
    std::lock_guard lock(mu_);
    return changes_;
  }
  std::vector<uint64_t> sequences() const {
    std::vector<uint64_t> out;
    for (const v1::Change& c : changes()) out.push_back(c.sequence());
    return out;
  }

 private:
  std::unique_ptr<v1::ChangeService::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::Change>> reader_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<v1::Change> changes_;
  std::optional<grpc::Status> status_;
  std::thread thread_;
};

class WatchE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = TestDatabase::Create("watch");
    dir_ = TempDir();
    service_ = ServiceProcess::Start({.binary = MM_SERVER_BINARY,
                                      .env = {{"MM_DATABASE_URL", db_->url()},
                                              {"MM_HUUDIS_SECRETS", kSecret},
                                              {"MM_CALLERS_FILE", WriteWatchCallers(dir_)}}});
    channel_ = grpc::CreateChannel(service_->grpc_target(), grpc::InsecureChannelCredentials());
  }

  // Posts a signed webhook, expects 200, returns its sequence.
  uint64_t Post(const std::string& body) {
    auto reply = PostSigned(service_->http_url(), body);
    EXPECT_TRUE(reply.ok() && reply->status == 200) << (reply.ok() ? reply->body : "no reply");
    return reply.ok() ? json::parse(reply->body).value("sequence", uint64_t{0}) : 0;
  }

  // Posts member_added for users "<prefix>_<i>" (each in its own workspace) for i in
  // [first, last), from `threads` threads; returns the highest sequence answered.
  uint64_t PostMembers(const std::string& prefix, int first, int last, int threads = 4) {
    std::atomic<uint64_t> highest{0};
    std::atomic<int> next{first};
    std::vector<std::thread> posters;
    for (int t = 0; t < threads; ++t) {
      posters.emplace_back([&] {
        for (int i = next.fetch_add(1); i < last; i = next.fetch_add(1)) {
          uint64_t s = Post(FixtureFor("huudis.account.member_added.v1.json", prefix + std::to_string(i)));
          for (uint64_t h = highest.load(); s > h && !highest.compare_exchange_weak(h, s);) {
          }
        }
      });
    }
    for (std::thread& t : posters) t.join();
    return highest.load();
  }

  // Sequences the stream must carry after `after`: every change-log row but account rows.
  std::vector<uint64_t> ExpectedAfter(uint64_t after) const {
    std::vector<uint64_t> out;
    for (const auto& r : db_->Query("SELECT sequence FROM change_log WHERE entity <> 'account'"
                                    " AND sequence > " + std::to_string(after) + " ORDER BY sequence")) {
      out.push_back(r[0].as<uint64_t>());
    }
    return out;
  }
  uint64_t Head() const { return std::stoull(db_->Scalar("SELECT last_sequence FROM change_log_head")); }

  std::unique_ptr<TestDatabase> db_;
  std::string dir_;
  std::unique_ptr<ServiceProcess> service_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(WatchE2ETest, FromZeroEveryChangeExactlyOnceInOrderWithItsFields) {
  const std::string s = "w1";
  Post(FixtureFor("huudis.account.member_added.v1.json", s));
  Post(FixtureFor("huudis.user.disabled.v1.json", s));
  Post(FixtureFor("huudis.account.member_role_changed.v1.json", s));
  uint64_t last = Post(FixtureFor("huudis.account.member_removed.v1.json", s));
  ASSERT_GT(last, 0u);

  Watcher watcher(channel_, kWatchToken, 0);
  ASSERT_TRUE(watcher.WaitFor(last));
  std::vector<uint64_t> expected = ExpectedAfter(0);
  ASSERT_EQ(watcher.sequences(), expected);

  // The entities, in commit order, with the record as it is after each change.
  const std::string user = UserIdFor(s), account = "acc_01KHNBH9JCVBRBAVHNB1HYYFDX_" + s;
  std::vector<v1::Change> changes = watcher.changes();
  std::vector<std::string> roles;
  bool saw_disabled = false, saw_removed = false;
  for (const v1::Change& c : changes) {
    EXPECT_TRUE(c.has_committed_at());
    if (c.has_user()) {
      EXPECT_EQ(c.user().user_id(), user);
      if (c.user().state() == v1::USER_STATE_DISABLED) {
        saw_disabled = true;
        EXPECT_EQ(c.user().disabled_reason(), "account_compromise");
        EXPECT_EQ(c.user().disabled_by(), "usr_01KBMF8Q60H0WWZ4KGT675KR39");
        EXPECT_EQ(c.user().last_event_type(), "huudis.user.disabled.v1");
        EXPECT_EQ(c.user().provider(), "huudis");
      }
    } else {
      ASSERT_TRUE(c.has_membership()) << c.sequence();
      EXPECT_EQ(c.membership().account_id(), account);
      EXPECT_EQ(c.membership().user_id(), user);
      roles.push_back(c.membership().role());
      if (c.membership().removed()) {
        saw_removed = true;
        EXPECT_TRUE(c.membership().has_removed_at());
        EXPECT_EQ(c.membership().removed_by_user_id(), "usr_01KHNBGW5677S9QXWZK6SRZPG6");
      } else {
        EXPECT_EQ(c.membership().added_via(), "invite_accept");
        EXPECT_TRUE(c.membership().has_joined_at());
      }
    }
  }
  EXPECT_TRUE(saw_disabled);
  EXPECT_TRUE(saw_removed);
  ASSERT_GE(roles.size(), 3u);
  EXPECT_EQ(roles.front(), "member");
  EXPECT_EQ(roles[1], "admin");
  EXPECT_TRUE(changes.back().has_membership() && changes.back().membership().removed());

  // Live: a change committed now arrives on the same stream, once.
  uint64_t more = Post(FixtureFor("huudis.user.enabled.v1.json", s));
  ASSERT_TRUE(watcher.WaitFor(more));
  EXPECT_EQ(watcher.sequences(), ExpectedAfter(0));
  EXPECT_EQ(watcher.changes().back().user().state(), v1::USER_STATE_ACTIVE);
}

TEST_F(WatchE2ETest, ResumeFromTheMiddleReceivesExactlyTheRest) {
  uint64_t last = PostMembers("mid", 0, 40);
  ASSERT_GT(last, 20u);
  uint64_t middle = last / 2;
  Watcher watcher(channel_, kWatchToken, middle);
  ASSERT_TRUE(watcher.WaitFor(last));
  EXPECT_EQ(watcher.sequences(), ExpectedAfter(middle));
  EXPECT_GT(watcher.sequences().front(), middle);

  // A resume position past the head is fine: only what comes later.
  Watcher future(channel_, kWatchToken, Head() + 1000);
  uint64_t next = Post(FixtureFor("huudis.account.member_added.v1.json", "after-head"));
  ASSERT_TRUE(watcher.WaitFor(next));
  EXPECT_TRUE(future.sequences().empty());
}

TEST_F(WatchE2ETest, ChangesCommittedDuringTheBackfillAreNeitherLostNorRepeated) {
  PostMembers("bulk", 0, 1000, 8);  // member_added: account, user, membership rows
  ASSERT_GE(Head(), 3000u);

  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load() && i < 100000; ++i) {
      Post(FixtureFor("huudis.account.member_added.v1.json", "live" + std::to_string(i)));
    }
  });
  const uint64_t head_at_start = Head();
  Watcher watcher(channel_, kWatchToken, 0);
  // Let the backfill and the live writes overlap, then stop writing.
  ASSERT_TRUE(watcher.WaitFor(head_at_start));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop.store(true);
  writer.join();
  uint64_t head = Head();
  ASSERT_GT(head, head_at_start) << "changes were committed while the watcher was backfilling";
  ASSERT_TRUE(watcher.WaitFor(head));
  EXPECT_TRUE(watcher.sequences() == ExpectedAfter(0))
      << "got " << watcher.sequences().size() << " changes, expected " << ExpectedAfter(0).size();
  // No gap at the end: the last rows are there, and nothing else comes.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(watcher.sequences().back(), ExpectedAfter(0).back());
  EXPECT_EQ(watcher.sequences().size(), ExpectedAfter(0).size());
}

// A watcher that never reads, on a channel whose receive window stays small, falls behind by
// more than the service's per-watcher buffer (8,192 rows) and is ended with RESOURCE_EXHAUSTED;
// a second watcher keeps receiving meanwhile, and the slow one resumes where it stopped.
TEST_F(WatchE2ETest, ASlowConsumerIsEndedWhileAFastOneKeepsReceiving) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 * 1024);
  args.SetInt("grpc.use_local_subchannel_pool", 1);  // its own connection
  auto slow_channel =
      grpc::CreateCustomChannel(service_->grpc_target(), grpc::InsecureChannelCredentials(), args);
  uint64_t start = Post(FixtureFor("huudis.account.member_added.v1.json", "first"));
  Watcher slow(slow_channel, kWatchToken, 0, /*read=*/false);
  Watcher fast(channel_, kWatchToken, 0);
  ASSERT_TRUE(fast.WaitFor(start));

  // member_added for a new user in a new workspace: 3 rows each, well over 8,192 in total.
  uint64_t last = PostMembers("flood", 0, 3500, 8);
  ASSERT_GT(last - start, 9000u);
  ASSERT_TRUE(fast.WaitFor(last)) << "the fast watcher kept receiving";
  EXPECT_EQ(fast.sequences(), ExpectedAfter(0));
  EXPECT_FALSE(fast.WaitEnd(std::chrono::seconds(0)).has_value()) << "the fast watcher is still open";

  slow.ReadAll();  // what the transport buffered, then the status
  std::optional<grpc::Status> status = slow.WaitEnd();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status->error_message();
  const std::string marker = "resume with after_sequence=";
  size_t at = status->error_message().find(marker);
  ASSERT_NE(at, std::string::npos) << status->error_message();
  uint64_t resume = std::stoull(status->error_message().substr(at + marker.size()));
  std::vector<uint64_t> got = slow.sequences();
  ASSERT_FALSE(got.empty());
  EXPECT_LT(got.back(), last) << "the slow watcher was ended before the end";
  EXPECT_GE(resume, got.back());
  std::vector<uint64_t> expected = ExpectedAfter(0);
  ASSERT_LE(got.size(), expected.size());
  EXPECT_TRUE(std::equal(got.begin(), got.end(), expected.begin())) << "a prefix of the log, in order";

  // Resuming from the named position gives exactly the rest.
  Watcher resumed(channel_, kWatchToken, resume);
  ASSERT_TRUE(resumed.WaitFor(last));
  std::vector<uint64_t> all = got, rest = resumed.sequences();
  all.insert(all.end(), rest.begin(), rest.end());
  EXPECT_EQ(all, ExpectedAfter(0));
}

TEST_F(WatchE2ETest, RequiresTheChangesWatchScope) {
  Watcher anonymous(channel_, "", 0);
  std::optional<grpc::Status> status = anonymous.WaitEnd();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  Watcher unknown(channel_, "not-a-token", 0);
  status = unknown.WaitEnd();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  Watcher wrong_scope(channel_, kOtherToken, 0);
  status = wrong_scope.WaitEnd();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(anonymous.changes().empty() && wrong_scope.changes().empty());
}

TEST_F(WatchE2ETest, ShutdownEndsOpenStreams) {
  uint64_t last = Post(FixtureFor("huudis.account.member_added.v1.json", "bye"));
  Watcher watcher(channel_, kWatchToken, 0);
  ASSERT_TRUE(watcher.WaitFor(last));
  service_->Signal(SIGTERM);
  // Ended by the service (not by the Shutdown deadline cancelling it), with where to resume.
  std::optional<grpc::Status> status = watcher.WaitEnd();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::UNAVAILABLE) << status->error_message();
  EXPECT_NE(status->error_message().find("resume with after_sequence=" + std::to_string(last)),
            std::string::npos)
      << status->error_message();
  EXPECT_EQ(service_->Wait(std::chrono::seconds(60)), 0) << service_->Log();
}

}  // namespace
}  // namespace mm::testing

namespace mm::testing {
namespace {

// Retention: rows older than MM_CHANGELOG_RETENTION_SECONDS are pruned; a watch that asks for
// pruned changes ends with OUT_OF_RANGE naming the oldest retained sequence, and a watch from
// there works.
TEST(WatchRetentionE2ETest, PrunedChangesAreOutOfRangeAndNewOnesStillFlow) {
  auto db = TestDatabase::Create("watch_retention");
  std::string dir = TempDir();
  auto service = ServiceProcess::Start({.binary = MM_SERVER_BINARY,
                                        .env = {{"MM_DATABASE_URL", db->url()},
                                                {"MM_HUUDIS_SECRETS", kSecret},
                                                {"MM_CALLERS_FILE", WriteWatchCallers(dir)},
                                                {"MM_CHANGELOG_RETENTION_SECONDS", "1"},
                                                {"MM_PRUNE_INTERVAL_MS", "200"}}});
  auto channel = grpc::CreateChannel(service->grpc_target(), grpc::InsecureChannelCredentials());
  for (int i = 0; i < 3; ++i) {
    auto r = PostSigned(service->http_url(), FixtureFor("huudis.account.member_added.v1.json", "ret" + std::to_string(i)));
    ASSERT_TRUE(r.ok() && r->status == 200);
  }
  const uint64_t head = std::stoull(db->Scalar("SELECT last_sequence FROM change_log_head"));
  ASSERT_GE(head, 6u);
  bool pruned = false;
  for (int i = 0; i < 100 && !pruned; ++i) {
    pruned = db->Scalar("SELECT count(*) FROM change_log") == "0";
    if (!pruned) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(pruned) << "rows older than the retention are pruned";

  Watcher old(channel, kWatchToken, 0);
  auto status = old.WaitEnd();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::OUT_OF_RANGE) << status->error_message();
  EXPECT_NE(status->error_message().find("after_sequence=" + std::to_string(head)), std::string::npos)
      << status->error_message();
  EXPECT_TRUE(old.changes().empty());

  Watcher fresh(channel, kWatchToken, head);
  auto r = PostSigned(service->http_url(), FixtureFor("huudis.account.member_added.v1.json", "ret_new"));
  ASSERT_TRUE(r.ok() && r->status == 200);
  uint64_t seq = json::parse(r->body)["sequence"];
  ASSERT_TRUE(fresh.WaitFor(seq)) << "new changes flow after the pruned range";
  EXPECT_GT(fresh.changes().front().sequence(), head);
}

}  // namespace
}  // namespace mm::testing
