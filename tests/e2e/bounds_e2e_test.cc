// Bounded resources (DESIGN §5a, hardening issue point 6), against the real binary: calls
// waiting for a min_sequence and WatchChanges streams are capped (RESOURCE_EXHAUSTED past the
// cap); a call cancelled or past its deadline while queued for a database worker does no
// database work; the HTTP accept loop survives running out of file descriptors.

#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "e2e_helpers.h"
#include "service_process.h"
#include "test_database.h"

namespace mm::testing {
namespace {

namespace v1 = membership::v1;
using namespace std::chrono_literals;

constexpr char kWatchToken[] = "tok-watch-bounds";

std::unique_ptr<ServiceProcess> StartService(const TestDatabase& db, std::map<std::string, std::string> extra) {
  const std::string dir = TempDir();
  extra["MM_DATABASE_URL"] = db.url();
  extra["MM_CALLERS_FILE"] = WriteCallersFile(dir, {{"checker", kCheckerToken, {"users:check"}},
                                                    {"reader", kReaderToken, {"users:read"}},
                                                    {"watcher", kWatchToken, {"changes:watch"}}});
  extra["MM_HUUDIS_SECRETS"] = kSecret;
  return ServiceProcess::Start({.binary = MM_SERVER_BINARY, .env = extra});
}

// A metric's value from /metrics (0 when absent).
double Metric(const ServiceProcess& service, const std::string& name) {
  return MetricValue(service.MetricsText(), name);
}

TEST(BoundsE2ETest, CallsWaitingForAMinSequenceAreCapped) {
  auto db = TestDatabase::Create("bounds_waiters");
  auto service = StartService(*db, {{"MM_MAX_SEQUENCE_WAITERS", "3"}});
  UserClient checker(service->grpc_target(), kCheckerToken);
  v1::IsUserActiveRequest far;
  far.set_user_id("usr_any");
  far.set_min_sequence(1000000000);  // never reached: each call waits until its deadline
  std::vector<std::future<grpc::StatusCode>> waiting;
  for (int i = 0; i < 3; ++i) {
    waiting.push_back(std::async(std::launch::async, [&] {
      v1::IsUserActiveResponse resp;
      return checker.IsUserActive(far, &resp, 3s).error_code();
    }));
  }
  std::this_thread::sleep_for(700ms);  // the three are waiting on the server
  v1::IsUserActiveResponse resp;
  const auto asked = std::chrono::steady_clock::now();
  EXPECT_EQ(checker.IsUserActive(far, &resp, 3s).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 1s) << "refused at once, not after waiting";
  v1::IsUserActiveRequest now;
  now.set_user_id("usr_any");
  EXPECT_TRUE(checker.IsUserActive(now, &resp).ok()) << "a call without min_sequence is never refused";
  for (auto& w : waiting) EXPECT_EQ(w.get(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // Their slots are free again — once the server's own deadlines have fired: the server's
  // deadline is the client's plus the time the call took to arrive, so a moment after the clients
  // gave up a slot can still be taken (seen under scripts/sanitize asan).
  grpc::StatusCode again = grpc::StatusCode::RESOURCE_EXHAUSTED;
  for (int i = 0; i < 20 && again == grpc::StatusCode::RESOURCE_EXHAUSTED; ++i) {
    if (i > 0) std::this_thread::sleep_for(100ms);
    again = checker.IsUserActive(far, &resp, 500ms).error_code();
  }
  EXPECT_EQ(again, grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST(BoundsE2ETest, WatchStreamsAreCapped) {
  auto db = TestDatabase::Create("bounds_watch");
  auto service = StartService(*db, {{"MM_MAX_WATCH_STREAMS", "2"}});
  auto stub = v1::ChangeService::NewStub(grpc::CreateChannel(service->grpc_target(), grpc::InsecureChannelCredentials()));
  struct Stream {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<v1::Change>> reader;
  };
  auto open = [&](std::chrono::milliseconds deadline) {
    auto s = std::make_unique<Stream>();
    s->ctx.AddMetadata("authorization", std::string("Bearer ") + kWatchToken);
    s->ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    v1::WatchChangesRequest req;
    s->reader = stub->WatchChanges(&s->ctx, req);
    return s;
  };
  auto first = open(60s);
  auto second = open(60s);
  std::this_thread::sleep_for(700ms);  // both are open on the server
  auto third = open(5s);
  v1::Change change;
  EXPECT_FALSE(third->reader->Read(&change));
  grpc::Status refused = third->reader->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();

  // One ends: a new stream is accepted (it stays open until its deadline).
  first->ctx.TryCancel();
  first->reader->Finish();
  std::this_thread::sleep_for(500ms);
  auto fourth = open(1s);
  EXPECT_FALSE(fourth->reader->Read(&change));
  EXPECT_EQ(fourth->reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  second->ctx.TryCancel();
  second->reader->Finish();
}

TEST(BoundsE2ETest, CallsAbandonedWhileQueuedDoNoDatabaseWork) {
  auto db = TestDatabase::Create("bounds_abandoned");
  auto service = StartService(*db, {{"MM_DB_READ_THREADS", "1"}});
  auto users = v1::UserService::NewStub(grpc::CreateChannel(service->grpc_target(), grpc::InsecureChannelCredentials()));
  auto get_user = [&](std::chrono::milliseconds deadline) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kReaderToken);
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    v1::GetUserRequest req;
    req.set_user_id("usr_any");
    v1::User user;
    return users->GetUser(&ctx, req, &user).error_code();
  };
  ASSERT_EQ(get_user(5s), grpc::StatusCode::NOT_FOUND);  // the worker's connection is made

  // Hold the one worker: its next read waits on a lock this test holds.
  pqxx::connection locker(db->url());
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
  auto held = std::async(std::launch::async, [&] { return get_user(20s); });
  std::this_thread::sleep_for(300ms);
  const double skipped_before = Metric(*service, "mm_db_pool_skipped_total");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get_user(200ms), grpc::StatusCode::DEADLINE_EXCEEDED);
  lock.commit();
  EXPECT_EQ(held.get(), grpc::StatusCode::NOT_FOUND);
  double skipped = 0;
  for (int i = 0; i < 40 && (skipped = Metric(*service, "mm_db_pool_skipped_total")) < skipped_before + 5; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(skipped, skipped_before + 5) << "each expired call was answered without its query";
}

size_t OpenFiles(pid_t pid) { return static_cast<size_t>(OpenFileCount(pid)); }

TEST(BoundsE2ETest, TheAcceptLoopSurvivesRunningOutOfFileDescriptors) {
  auto db = TestDatabase::Create("bounds_emfile");
  auto service = StartService(*db, {});
  rlimit original{};
  ASSERT_EQ(prlimit(service->pid(), RLIMIT_NOFILE, nullptr, &original), 0);
  rlimit tight = original;
  tight.rlim_cur = OpenFiles(service->pid()) + 4;
  ASSERT_EQ(prlimit(service->pid(), RLIMIT_NOFILE, &tight, nullptr), 0);

  std::vector<int> clients;
  for (int i = 0; i < 20; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(service->http_port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);  // the kernel's backlog
    clients.push_back(fd);
  }
  std::this_thread::sleep_for(300ms);
  const double cpu_before = ProcessCpuSeconds(service->pid());
  std::this_thread::sleep_for(2s);
  const double cpu = ProcessCpuSeconds(service->pid()) - cpu_before;
  EXPECT_LT(cpu, 0.5) << "the accept loop spins on EMFILE";
  EXPECT_NE(service->Log().find("cannot accept connections"), std::string::npos) << service->Log();

  for (int fd : clients) ::close(fd);
  ASSERT_EQ(prlimit(service->pid(), RLIMIT_NOFILE, &original, nullptr), 0);
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    auto ready = client::HttpRequest("GET", service->http_url() + "/healthz", {}, "");
    served = ready.ok() && ready->status == 200;
    if (!served) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(served) << "accepting again once descriptors are free";
  EXPECT_EQ(service->Wait(0ms), -1) << "still running";
}

}  // namespace
}  // namespace mm::testing
