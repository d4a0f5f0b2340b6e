// Benchmark: GetSeatCount on a 100,000-member workspace, over gRPC against the real service,
// side by side with the baseline a naive implementation would run — counting the workspace's
// memberships with a scan (SELECT role, count(*) ... GROUP BY role) — on the same database in
// the same run. Prints p50/p99 of both and the ratio.
//
// Usage: seat_count_bench [members=100000] [calls=2000]   (needs MM_TEST_DATABASE_URL)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <pqxx/pqxx>

#include "bench_support.h"
#include "common/crypto.h"
#include "domain/events.h"
#include "membership/v1/membership.grpc.pb.h"
#include "callers_file.h"
#include "service_process.h"
#include "store/pg_event_store.h"
#include "test_database.h"

int main(int argc, char** argv) {
  using namespace mm;
  const int members = argc > 1 ? std::stoi(argv[1]) : 100000;
  const int calls = argc > 2 ? std::stoi(argv[2]) : 2000;
  auto db = testing::TestDatabase::Create("bench_seats");

  // Load through the real write path (group-commit batches of 1,000 member_added events).
  auto load_start = bench::Steady::now();
  store::PgEventStore store(db->url());
  const char* roles[] = {"owner", "admin", "member", "member", "member"};
  bench::BatchLoader loader(store, "loading members");
  for (int i = 0; i < members; ++i) {
    domain::ProviderEvent e;
    e.event_id = "evt_bench_" + std::to_string(i);
    e.event_type = "huudis.account.member_added.v1";
    e.fact_time = e.received_at = FromUnixSeconds(1780000000 + i);
    e.raw_body = "{}";
    domain::NormalizedEvent n;
    n.kind = domain::EventKind::kMemberAdded;
    n.account_id = "acc_big";
    n.user_id = "usr_bench_" + std::to_string(i);
    n.role = roles[i % 5];
    n.fact_time = e.fact_time;
    e.events.push_back(std::move(n));
    loader.Add(std::move(e));
  }
  loader.Flush();
  double load_s = bench::MillisSince(load_start) / 1000.0;
  db->Query("VACUUM ANALYZE");

  testing::ScratchDir dir("mm-seat-bench");
  std::string callers = testing::WriteCallersFile(dir.path(), {{"bench", "bench", {"seats:read"}}});
  auto service = testing::ServiceProcess::Start(
      {.binary = MM_SERVER_BINARY,
       .env = {{"MM_DATABASE_URL", db->url()}, {"MM_CALLERS_FILE", callers}}});
  auto stub = membership::v1::SeatService::NewStub(
      grpc::CreateChannel(service->grpc_target(), grpc::InsecureChannelCredentials()));

  int64_t total = 0;
  auto rpc = [&](int) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer bench");
    membership::v1::GetSeatCountRequest req;
    req.set_account_id("acc_big");
    membership::v1::SeatCount out;
    if (!stub->GetSeatCount(&ctx, req, &out).ok()) std::abort();
    total = out.total();
  };
  bench::TimeCalls(200, rpc);  // warm-up: connections, prepared statements, caches
  auto seat_ms = bench::TimeCalls(calls, rpc);
  bench::Summary seat = bench::Summarize(seat_ms);
  bench::WriteDistribution("seat_count", "GetSeatCount over gRPC", seat_ms);

  pqxx::connection conn(db->url());
  conn.prepare("naive", "SELECT role, count(*) FROM memberships WHERE account_id = $1 AND present GROUP BY role");
  auto naive = [&](int) {
    pqxx::nontransaction txn(conn);
    txn.exec_prepared("naive", std::string("acc_big"));
  };
  bench::TimeCalls(20, naive);
  auto scan_ms = bench::TimeCalls(std::max(50, calls / 20), naive);
  bench::Summary scan = bench::Summarize(scan_ms);
  bench::WriteDistribution("seat_count", "COUNT(*) scan, direct SQL", scan_ms);

  std::printf("members=%d loaded_in_s=%.1f total_reported=%lld calls=%d\n", members, load_s,
              static_cast<long long>(total), calls);
  bench::PrintLatencyHeader();
  bench::PrintLatencyRow("GetSeatCount over gRPC (maintained counts)", seat);
  bench::PrintLatencyRow("baseline: COUNT(*) scan, direct SQL", scan);
  bench::PrintTarget("GetSeatCount p99 <= 2 ms at 100,000 members", seat.p99_ms <= 2,
                     "p99 " + std::to_string(seat.p99_ms).substr(0, 5) + " ms");
  std::printf("ratio (baseline / GetSeatCount) p50: %.1fx  p99: %.1fx\n", scan.p50_ms / seat.p50_ms,
              scan.p99_ms / seat.p99_ms);
  return total == members ? 0 : 1;
}
