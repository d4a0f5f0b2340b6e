// Benchmark: IsUserActive and BatchIsUserActive over gRPC against the real service, side by
// side with an empty-handler gRPC server (empty_grpc_server: same toolchain, same gRPC, same
// callback API) driven by the same load generator (grpc_load.h) at the same concurrency, in
// the same run. Prints QPS, p50 and p99 of both and the ratio; BatchIsUserActive with 100 ids
// as user checks per second. Runs alternate between the two servers so that drift of the
// machine affects both alike.
//
// Usage: grpc_bench [seconds_per_run=5] [users=10000] [rounds=2] [which=all|single|batch]
//        (needs MM_TEST_DATABASE_URL)

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include "../unit/event_builders.h"
#include "bench_support.h"
#include "common/process_tuning.h"
#include "grpc_load.h"
#include "membership/v1/membership.grpc.pb.h"
#include "callers_file.h"
#include "service_process.h"
#include "store/pg_event_store.h"
#include "test_database.h"

namespace mm {
namespace {

namespace v1 = membership::v1;
constexpr char kToken[] = "bench-token";

std::string UserId(int i) { return "usr_bench_" + std::to_string(100000000 + i); }

// Users through the real write path: every 10th disabled, the rest created active.
void LoadUsers(const std::string& url, int users) {
  store::PgEventStore store(url);
  bench::BatchLoader loader(store, "loading users");
  for (int i = 0; i < users; ++i) {
    loader.Add(i % 10 == 0 ? testutil::UserDisabled("evt_u" + std::to_string(i), UserId(i), testutil::At(i),
                                                     "bench: disabled")
                           : testutil::UserCreated("evt_u" + std::to_string(i), UserId(i), testutil::At(i)));
  }
  loader.Flush();
}

struct Totals {
  bench::LoadResult merged;
  double cpu_seconds = 0;  // the server's CPU over the runs (warm-up included)
  void Add(bench::LoadResult r, double cpu) {
    cpu_seconds += cpu;
    merged.calls += r.calls;
    merged.all_calls += r.all_calls;
    merged.failures += r.failures;
    if (merged.first_failure.empty()) merged.first_failure = r.first_failure;
    merged.seconds += r.seconds;
    merged.latency_ms.insert(merged.latency_ms.end(), r.latency_ms.begin(), r.latency_ms.end());
  }
  double cpu_us_per_call() const { return cpu_seconds * 1e6 / static_cast<double>(std::max<uint64_t>(1, merged.all_calls)); }
};

// One run against the server process `pid`, with the CPU time it used.
void Run(bench::LoadOptions options, const testing::ServiceProcess& server, Totals& totals) {
  options.target = server.grpc_target();
  double cpu_before = testing::ProcessCpuSeconds(server.pid());
  bench::LoadResult result = bench::RunLoad(options);
  totals.Add(std::move(result), testing::ProcessCpuSeconds(server.pid()) - cpu_before);
}

struct Pair {
  Totals baseline, service;
};

// `rounds` alternating runs of the baseline and the service with the same options.
Pair Compare(const bench::LoadOptions& options, const testing::ServiceProcess& baseline,
             const testing::ServiceProcess& service, int rounds) {
  Pair pair;
  for (int r = 0; r < rounds; ++r) {
    Run(options, baseline, pair.baseline);
    Run(options, service, pair.service);
  }
  return pair;
}

std::string Format(const char* format, double a, double b = 0) {
  char text[96];
  std::snprintf(text, sizeof text, format, a, b);
  return text;
}

bool Report(const std::string& title, const std::string& plot, Pair& pair, double per_call_checks) {
  bool ok = true;
  for (auto* totals : {&pair.baseline, &pair.service}) {
    if (totals->merged.failures > 0) {
      std::printf("FAILED calls: %llu (first: %s)\n", static_cast<unsigned long long>(totals->merged.failures),
                  totals->merged.first_failure.c_str());
      ok = false;
    }
  }
  bench::LoadResult& b = pair.baseline.merged;
  bench::LoadResult& s = pair.service.merged;
  const double b_qps = b.qps(), s_qps = s.qps();
  bench::WriteDistribution(plot, "empty-handler gRPC server", b.latency_ms);
  bench::WriteDistribution(plot, "membership-mirror", s.latency_ms);
  bench::Summary bs = bench::Summarize(b.latency_ms), ss = bench::Summarize(s.latency_ms);
  std::printf("\n%s\n", title.c_str());
  std::printf("%-28s %10s %8s %8s %9s %16s\n", "", "calls/s", "p50 ms", "p99 ms", "p99.9 ms",
              "server CPU/call");
  std::printf("%-28s %10.0f %8.3f %8.3f %9.3f %13.1f us\n", "empty-handler gRPC server", b_qps, bs.p50_ms,
              bs.p99_ms, bs.p999_ms, pair.baseline.cpu_us_per_call());
  std::printf("%-28s %10.0f %8.3f %8.3f %9.3f %13.1f us\n", "membership-mirror", s_qps, ss.p50_ms, ss.p99_ms,
              ss.p999_ms, pair.service.cpu_us_per_call());
  std::printf("ratio (membership-mirror / empty) calls/s: %.2fx  p50: %.2fx  p99: %.2fx  server CPU/call: %.2fx\n",
              s_qps / b_qps, ss.p50_ms / bs.p50_ms, ss.p99_ms / bs.p99_ms,
              pair.service.cpu_us_per_call() / pair.baseline.cpu_us_per_call());
  if (per_call_checks > 1) {
    std::printf("user checks/s: membership-mirror %.0f (empty handler %.0f)\n", s_qps * per_call_checks,
                b_qps * per_call_checks);
    bench::PrintTarget("BatchIsUserActive >= 1,000,000 user checks/s", s_qps * per_call_checks >= 1e6,
                       Format("%.0f checks/s", s_qps * per_call_checks));
  } else {
    bench::PrintTarget("IsUserActive >= 0.9x the empty-handler calls/s (" + title + ")", s_qps >= 0.9 * b_qps,
                       Format("%.2fx", s_qps / b_qps));
    if (plot == "is_user_active_16") {
      bench::PrintTarget("IsUserActive p99 <= 1.5 ms at 16 streams", ss.p99_ms <= 1.5,
                         Format("p99 %.3f ms; the empty handler's %.3f ms", ss.p99_ms, bs.p99_ms));
    }
  }
  return ok;
}

// Spot check that the service really answered from its cache (not a fast error path).
bool AnswersAreReal(const std::string& target) {
  auto stub = v1::UserService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  for (int i : {0, 1}) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
    v1::IsUserActiveRequest req;
    req.set_user_id(UserId(i));
    v1::IsUserActiveResponse resp;
    grpc::Status status = stub->IsUserActive(&ctx, req, &resp);
    bool want_active = i % 10 != 0;
    if (!status.ok() || resp.active() != want_active || resp.state() == v1::USER_STATE_UNKNOWN) {
      std::printf("FAILED: %s answered %s (status %d)\n", UserId(i).c_str(), resp.ShortDebugString().c_str(),
                  status.error_code());
      return false;
    }
  }
  return true;
}

}  // namespace
}  // namespace mm

int main(int argc, char** argv) {
  using namespace mm;
  // The load generator shares the 2 cores with the server: spare it Abseil's debug lock graph
  // too, so more of the machine goes to the server under test (both servers alike).
  TuneProcessForServing();
  const double seconds = argc > 1 ? std::stod(argv[1]) : 5;
  const int users = argc > 2 ? std::stoi(argv[2]) : 10000;
  const int rounds = argc > 3 ? std::stoi(argv[3]) : 2;
  const std::string which = argc > 4 ? argv[4] : "all";

  auto db = testing::TestDatabase::Create("bench_grpc");
  LoadUsers(db->url(), users);

  testing::ScratchDir dir("mm-grpc-bench");
  std::string callers = testing::WriteCallersFile(dir.path(), {{"bench", kToken, {"users:check"}}});
  auto service = testing::ServiceProcess::Start(
      {.binary = MM_SERVER_BINARY, .env = {{"MM_DATABASE_URL", db->url()}, {"MM_CALLERS_FILE", callers}}});
  auto empty = testing::ServiceProcess::Start({.binary = MM_EMPTY_SERVER_BINARY, .env = {}, .wait_ready = false});
  if (!AnswersAreReal(service->grpc_target())) return 1;

  std::printf("users=%d seconds_per_run=%.1f rounds=%d (alternating empty/service)\n", users, seconds, rounds);
  bool ok = true;
  bench::LoadOptions single;
  single.bearer_token = kToken;
  single.method = "/membership.v1.UserService/IsUserActive";
  single.measure_seconds = seconds;
  for (int i = 0; i < 1000; ++i) {
    v1::IsUserActiveRequest req;
    req.set_user_id(UserId((i * 7919) % users));
    single.requests.push_back(bench::Serialize(req));
  }
  for (int streams : {16, 64}) {
    if (which == "batch") break;
    single.streams = streams;
    Pair pair = Compare(single, *empty, *service, rounds);
    ok &= Report("IsUserActive, " + std::to_string(streams) + " streams on one connection",
                 "is_user_active_" + std::to_string(streams), pair, 1);
  }

  if (which == "single") return ok ? 0 : 1;
  bench::LoadOptions batch = single;
  batch.method = "/membership.v1.UserService/BatchIsUserActive";
  batch.requests.clear();
  for (int i = 0; i < 100; ++i) {
    v1::BatchIsUserActiveRequest req;
    for (int j = 0; j < 100; ++j) req.add_user_ids(UserId((i * 100 + j) * 7919 % users));
    batch.requests.push_back(bench::Serialize(req));
  }
  batch.streams = 16;
  Pair pair = Compare(batch, *empty, *service, rounds);
  ok &= Report("BatchIsUserActive with 100 ids, 16 streams on one connection", "batch_is_user_active", pair, 100);

  return ok ? 0 : 1;
}
