// Benchmark of the pull sources (README "Pull sources"), against the fake Huudis API
// (tests/support/fake_huudis.h) on loopback, with the real service and PostgreSQL:
// 1. time to converge a workspace of `members` members (and as many end users) from the lists,
//    from the service's start until huudis-lists has applied every member;
// 2. the audit poller's events/s: `entries` disable entries in the audit log, from the
//    service's start until huudis-audit has committed all of them.
// Each beside its baseline in the same run: fetching the same pages with the same HTTP client
// and decoding them with the same decoders, and doing nothing else — the provider's and the
// network's share, which no implementation can avoid. The ratio is what the mirror adds
// (diffing, writing, committing).
//
// Usage: source_bench [members=10000] [entries=10000]   (needs MM_TEST_DATABASE_URL)

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "adapters/huudis_pull.h"
#include "bench_support.h"
#include "callers_file.h"
#include "fake_huudis.h"
#include "http_client/http_client.h"
#include "membership/v1/membership.grpc.pb.h"
#include "service_process.h"
#include "test_database.h"

namespace mm {
namespace {

namespace v1 = membership::v1;
using namespace std::chrono_literals;

constexpr char kWorkspace[] = "acc_01KHNBH9JCVBRBAVHNB1HYYFDX";
constexpr char kToken[] = "hud_test_admin_token";

// Pages through `path` with the service's client and decoder; returns the items seen.
template <typename Decode>
size_t FetchAll(const std::string& base, const std::string& path, Decode decode) {
  http_client::InterruptibleEnvironment env;
  http_client::HttpClient client({}, env, "baseline");
  size_t items = 0;
  std::optional<std::string> cursor;
  do {
    http_client::Request request;
    request.url = base + path + "?limit=100" + (cursor ? "&cursor=" + *cursor : "");
    request.headers = {{"Authorization", std::string("Bearer ") + kToken}, {"X-Huudis-Workspace-Id", kWorkspace}};
    auto response = client.Send(request);
    if (!response.ok() || response->status != 200) throw std::runtime_error("baseline fetch failed");
    cursor = decode(response->body, items);
  } while (cursor);
  return items;
}

std::optional<v1::SourceStatus> Source(v1::AdminService::Stub& admin, const std::string& name) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  ctx.AddMetadata("authorization", "Bearer bench");
  v1::ListSourcesResponse resp;
  if (!admin.ListSources(&ctx, v1::ListSourcesRequest(), &resp).ok()) return std::nullopt;
  for (const v1::SourceStatus& s : resp.sources()) {
    if (s.source() == name) return s;
  }
  return std::nullopt;
}

int64_t MemberCount(v1::SeatService::Stub& seats) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  ctx.AddMetadata("authorization", "Bearer bench");
  v1::GetSeatCountRequest req;
  req.set_account_id(kWorkspace);
  v1::SeatCount count;
  if (!seats.GetSeatCount(&ctx, req, &count).ok()) return -1;
  return count.total();
}

struct Service {
  std::unique_ptr<testing::ServiceProcess> process;
  std::unique_ptr<v1::AdminService::Stub> admin;
  std::unique_ptr<v1::SeatService::Stub> seats;
};

Service Start(const testing::TestDatabase& db, const testing::FakeHuudis& huudis, const std::string& dir,
              const std::string& reconcile_seconds) {
  std::string callers = testing::WriteCallersFile(dir, {{"bench", "bench", {"admin", "seats:read"}}});
  std::string token = dir + "/huudis.token";
  std::FILE* f = std::fopen(token.c_str(), "w");
  std::fputs(kToken, f);
  std::fclose(f);
  Service s;
  s.process = testing::ServiceProcess::Start({.binary = MM_SERVER_BINARY,
                                              .env = {{"MM_DATABASE_URL", db.url()},
                                                      {"MM_CALLERS_FILE", callers},
                                                      {"MM_HUUDIS_API_URL", huudis.base_url()},
                                                      {"MM_HUUDIS_API_TOKEN_FILE", token},
                                                      {"MM_HUUDIS_WORKSPACES", kWorkspace},
                                                      {"MM_HUUDIS_AUDIT_POLL_SECONDS", "1"},
                                                      {"MM_RECONCILE_INTERVAL_SECONDS", reconcile_seconds}},
                                              .wait_ready = false});
  auto channel = grpc::CreateChannel(s.process->grpc_target(), grpc::InsecureChannelCredentials());
  s.admin = v1::AdminService::NewStub(channel);
  s.seats = v1::SeatService::NewStub(channel);
  return s;
}

void Lists(int members) {
  auto db = testing::TestDatabase::Create("bench_lists");
  testing::ScratchDir dir("mm-source-bench");
  testing::FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  const TimePoint now = SystemClock::Instance().Now();
  for (int i = 0; i < members; ++i) {
    testing::HuudisMember m;
    m.id = "usr_bench_" + std::to_string(i);
    m.email = m.id + "@example.net";
    m.name = "Bench " + std::to_string(i);
    m.role = i % 50 == 0 ? "admin" : "member";
    m.joined_at = now - std::chrono::seconds(100000 - i);
    huudis.UpsertMember(kWorkspace, m);
    testing::HuudisEndUser u;
    u.id = m.id;
    u.email = m.email;
    u.name = m.name;
    u.disabled = i % 100 == 0;
    u.first_sign_in_at = m.joined_at;
    huudis.UpsertEndUser(kWorkspace, u);
  }

  auto fetch_start = bench::Steady::now();
  size_t listed = FetchAll(huudis.base_url(), "/v1/iam/users", [](const std::string& body, size_t& n) {
    auto page = adapters::DecodeHuudisMembersPage(body);
    n += page->members.size();
    return page->next_cursor;
  });
  listed += FetchAll(huudis.base_url(), "/v1/ops/end-users", [](const std::string& body, size_t& n) {
    auto page = adapters::DecodeHuudisEndUsersPage(body);
    n += page->users.size();
    return page->next_cursor;
  });
  const double fetch_ms = bench::MillisSince(fetch_start);

  auto start = bench::Steady::now();
  Service service = Start(*db, huudis, dir.path(), "10");
  double converged_ms = 0;
  while (bench::MillisSince(start) < 600000) {
    if (MemberCount(*service.seats) == members) {
      auto s = Source(*service.admin, "huudis-lists");
      if (s && s->status() == "ok") {
        converged_ms = bench::MillisSince(start);
        break;
      }
    }
    std::this_thread::sleep_for(20ms);
  }
  const auto first = Source(*service.admin, "huudis-lists");
  // Steady state: the next run (10 s later) finds nothing to correct.
  const int64_t first_success = first ? first->last_success_at().seconds() : 0;
  std::optional<v1::SourceStatus> second;
  while (bench::MillisSince(start) < converged_ms + 60000) {
    second = Source(*service.admin, "huudis-lists");
    if (second && second->last_success_at().seconds() > first_success) break;
    std::this_thread::sleep_for(200ms);
  }
  std::printf("huudis-lists: a workspace of %d members and %d end users (page size 100)\n", members, members);
  std::printf("                                              ms   items\n");
  std::printf("baseline: fetch + decode every page     %9.0f  %6zu\n", fetch_ms, listed);
  std::printf("service start -> every member applied   %9.0f  %6d\n", converged_ms, members);
  std::printf("ratio (converge / fetch) %.2fx; corrections in the first run: %lld; in the next: %lld\n",
              converged_ms / fetch_ms, static_cast<long long>(first ? first->last_run_drift() : -1),
              static_cast<long long>(second ? second->last_run_drift() : -1));
  std::printf("figure: converge a %d-member workspace from lists: %.1f s (fetching alone %.1f s); steady-state drift %lld\n\n",
              members, converged_ms / 1000, fetch_ms / 1000, static_cast<long long>(second ? second->last_run_drift() : -1));
}

void Audit(int entries) {
  auto db = testing::TestDatabase::Create("bench_audit");
  testing::ScratchDir dir("mm-source-bench");
  testing::FakeHuudis huudis;
  huudis.AddWorkspace(kWorkspace);
  const TimePoint now = SystemClock::Instance().Now();
  for (int i = 0; i < entries; ++i) {
    huudis.AddAuditEntry(kWorkspace, testing::HuudisEndUserDisabledEntry(
                                         "usr_audit_" + std::to_string(i), "a" + std::to_string(i) + "@example.net",
                                         now - std::chrono::milliseconds(10LL * (entries - i)), "usr_op", "bench"));
  }
  auto fetch_start = bench::Steady::now();
  size_t fetched = FetchAll(huudis.base_url(), "/v1/account/audit", [&](const std::string& body, size_t& n) {
    auto page = adapters::DecodeHuudisAuditPage(body, kWorkspace, now);
    n += page->entries.size();
    return page->next_cursor;
  });
  const double fetch_ms = bench::MillisSince(fetch_start);

  auto start = bench::Steady::now();
  Service service = Start(*db, huudis, dir.path(), "3600");
  double done_ms = 0;
  while (bench::MillisSince(start) < 600000) {
    auto s = Source(*service.admin, "huudis-audit");
    if (s && s->events_yielded() == entries) {
      done_ms = bench::MillisSince(start);
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  std::printf("huudis-audit: %d disable entries in the audit log (page size 100)\n", entries);
  std::printf("                                              ms  entries   entries/s\n");
  std::printf("baseline: fetch + decode every page     %9.0f  %7zu  %10.0f\n", fetch_ms, fetched, fetched / fetch_ms * 1000);
  std::printf("service start -> every entry committed  %9.0f  %7d  %10.0f\n", done_ms, entries, entries / done_ms * 1000);
  std::printf("ratio (service / fetch) %.2fx\n", done_ms / fetch_ms);
  std::printf("figure: audit poller: %.0f events/s applied and committed (fetching alone %.0f entries/s)\n\n",
              entries / done_ms * 1000, fetched / fetch_ms * 1000);
}

}  // namespace
}  // namespace mm

int main(int argc, char** argv) {
  const int members = argc > 1 ? std::stoi(argv[1]) : 10000;
  const int entries = argc > 2 ? std::stoi(argv[2]) : 10000;
  mm::Lists(members);
  mm::Audit(entries);
  return 0;
}
