// Benchmark: seat counts at a past instant (GetSeatCount with as_of) on a 100,000-member
// workspace whose seat ledger holds 1,000,000 rows, over gRPC against the real service, beside
// the current-count path (GetSeatCount without as_of) and a baseline run on the same database
// in the same run: what the read would cost without the day sums — summing every ledger row of
// the workspace up to the instant (direct SQL). Also a month's GetSeatUsage, for information.
//
// The history goes through the real write path (group-commit batches of 1,000): the members
// join, then one after another leave and rejoin three days later, now and then in another role
// (two ledger rows a pair), over the following ten months, ending before now.
//
// Write cost: the same live-traffic mix (TrafficMix: joins, role changes, leaves, disables and
// enables, profile updates, 2% late) written through PgEventStore in batches of 64, once with
// the ledger and once without (PgEventStore::Options::seat_ledger, off only here), each on a
// fresh database after an unmeasured preload, in four rounds, alternating which goes first. CPU
// per event of the writing thread and of its PostgreSQL backend (/proc), and the ratio.
//
// Usage: seat_history_bench [members=100000] [ledger_rows=1000000] [calls=2000] [write_events=40000]
//        (write_events 0 skips the write cost; needs MM_TEST_DATABASE_URL)

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <pqxx/pqxx>

#include "bench_support.h"
#include "callers_file.h"
#include "domain/events.h"
#include "membership/v1/membership.grpc.pb.h"
#include "service_process.h"
#include "store/pg_event_store.h"
#include "test_database.h"

namespace mm {
namespace {

domain::ProviderEvent MemberEvent(domain::EventKind kind, const std::string& id, int user, TimePoint at,
                                  const char* role = "member") {
  domain::ProviderEvent e;
  e.event_id = id;
  e.event_type = kind == domain::EventKind::kMemberAdded ? "huudis.account.member_added.v1"
                                                         : "huudis.account.member_removed.v1";
  e.fact_time = e.received_at = at;
  e.raw_body = "{}";
  domain::NormalizedEvent n;
  n.kind = kind;
  n.account_id = "acc_big";
  n.user_id = "usr_bench_" + std::to_string(user);
  if (kind == domain::EventKind::kMemberAdded) n.role = role;
  n.fact_time = at;
  e.events.push_back(std::move(n));
  return e;
}

// ---- The ledger's write cost. ----

// A live-traffic mix over 2,000 workspaces and 50,000 users, fact times in order but 2% late
// by an hour (a fact in a pair's past: a recompute): joins, role changes, leaves, disables and
// enables of members (which move a seat in each of their workspaces), profile updates.
class TrafficMix {
 public:
  explicit TrafficMix(uint64_t seed) : rng_(seed) {}

  domain::ProviderEvent Next() {
    const int64_t k = n_++;
    TimePoint at = FromUnixSeconds(1780000000) + std::chrono::milliseconds(k * 50);
    if (Pick(100) < 2) at -= std::chrono::hours(1);
    domain::ProviderEvent e;
    e.event_id = "evt_mix_" + std::to_string(k);
    e.fact_time = e.received_at = at;
    e.raw_body = "{}";
    domain::NormalizedEvent n;
    n.fact_time = at;
    const int kind = Pick(10);
    if (kind < 4 || members_.empty()) {
      n.kind = domain::EventKind::kMemberAdded;
      n.account_id = "acc_mix_" + std::to_string(Pick(2000));
      n.user_id = "usr_mix_" + std::to_string(Pick(50000));
      n.role = Pick(5) == 0 ? "admin" : "member";
      members_.emplace_back(n.account_id, n.user_id);
    } else if (kind < 7) {
      const size_t i = static_cast<size_t>(Pick(static_cast<int>(members_.size())));
      n.account_id = members_[i].first;
      n.user_id = members_[i].second;
      if (kind < 6) {
        n.kind = domain::EventKind::kMemberRoleChanged;
        n.role = Pick(2) == 0 ? "admin" : "member";
      } else {
        n.kind = domain::EventKind::kMemberRemoved;
        members_[i] = members_.back();
        members_.pop_back();
      }
    } else {
      n.user_id = members_[static_cast<size_t>(Pick(static_cast<int>(members_.size())))].second;
      n.kind = kind == 7 ? domain::EventKind::kUserDisabled
                         : kind == 8 ? domain::EventKind::kUserEnabled : domain::EventKind::kUserUpdated;
      if (kind == 9) n.name = "Name " + std::to_string(k);
    }
    e.event_type = "bench.mix";
    e.events.push_back(std::move(n));
    return e;
  }

 private:
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::mt19937_64 rng_;
  int64_t n_ = 0;
  std::vector<std::pair<std::string, std::string>> members_;
};

// CPU seconds of a process (utime + stime from /proc/PID/stat).
double ProcessCpuSeconds(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
  std::string field;
  double ticks = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
    if (i == 15) break;
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct WriteCost {
  double client_us = 0;   // this thread: deciding, planning, building the arrays
  double backend_us = 0;  // its PostgreSQL backend: the statements
  double wall_s = 0;
  int64_t events = 0;
};

// One store (ledger on or off) on a fresh database: `preload` events unmeasured, then `events`
// measured, `batch` a transaction.
WriteCost MeasureWrites(bool ledger, int preload, int events, int batch) {
  auto db = testing::TestDatabase::Create(ledger ? "bench_ledger_on" : "bench_ledger_off");
  const std::string app = ledger ? "mm_bench_ledger_on" : "mm_bench_ledger_off";
  store::PgEventStore store(db->url() + "?application_name=" + app, {.seat_ledger = ledger});
  TrafficMix mix(7);
  auto apply = [&](int n) {
    std::vector<domain::ProviderEvent> events_of_batch;
    for (int i = 0; i < n; ++i) {
      events_of_batch.push_back(mix.Next());
      if (static_cast<int>(events_of_batch.size()) == batch || i + 1 == n) {
        std::vector<const domain::ProviderEvent*> ptrs;
        for (const auto& e : events_of_batch) ptrs.push_back(&e);
        auto applied = store.ApplyBatch(ptrs);
        if (!applied.ok()) throw std::runtime_error(applied.status().ToString());
        events_of_batch.clear();
      }
    }
  };
  apply(preload);
  db->Query("VACUUM ANALYZE");
  const std::string backend = db->Scalar("SELECT pid FROM pg_stat_activity WHERE application_name = '" + app + "'");
  const double backend0 = ProcessCpuSeconds(backend), client0 = ThreadCpuSeconds();
  const auto start = bench::Steady::now();
  apply(events);
  WriteCost cost;
  cost.wall_s = bench::MillisSince(start) / 1000.0;
  cost.client_us = (ThreadCpuSeconds() - client0) * 1e6 / events;
  cost.backend_us = (ProcessCpuSeconds(backend) - backend0) * 1e6 / events;
  cost.events = events;
  return cost;
}


google::protobuf::Timestamp Ts(TimePoint t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(ToUnixMicros(t) / 1000000);
  return ts;
}

}  // namespace
}  // namespace mm

int main(int argc, char** argv) {
  using namespace mm;
  const int members = argc > 1 ? std::stoi(argv[1]) : 100000;
  const int64_t ledger_rows = argc > 2 ? std::stoll(argv[2]) : 1000000;
  const int calls = argc > 3 ? std::stoi(argv[3]) : 2000;
  const int write_events = argc > 4 ? std::stoi(argv[4]) : 40000;
  if (members < 1 || ledger_rows < members || calls < 1 || write_events < 0) {
    bench::ExitWithUsage("seat_history_bench", "members >= 1, ledger_rows >= members, calls >= 1, write_events >= 0",
                         "usage: seat_history_bench [members=100000] [ledger_rows=1000000] [calls=2000]"
                         " [write_events=40000]");
  }

  // The write cost first, on an idle server: rounds of (with, without) pairs in alternating
  // order; the figures are means over the rounds, the ratio the median of the rounds' ratios
  // (a checkpoint or autovacuum in one run moves one round, not the answer).
  constexpr int kRounds = 4;
  WriteCost on, off;
  std::vector<double> ratios = {0, 0, 0, 0};
  for (int round = 0; round < kRounds && write_events > 0; ++round) {
    WriteCost pair[2];
    for (bool ledger : {round % 2 == 0, round % 2 != 0}) {
      WriteCost c = MeasureWrites(ledger, 20000, write_events, 64);
      pair[ledger ? 0 : 1] = c;
      WriteCost& sum = ledger ? on : off;
      sum.client_us += c.client_us / kRounds;
      sum.backend_us += c.backend_us / kRounds;
      sum.wall_s += c.wall_s;
      sum.events += c.events;
    }
    ratios[static_cast<size_t>(round)] =
        (pair[0].client_us + pair[0].backend_us) / (pair[1].client_us + pair[1].backend_us);
  }
  std::sort(ratios.begin(), ratios.end());
  const double median_ratio = (ratios[kRounds / 2 - 1] + ratios[kRounds / 2]) / 2;
  auto db = testing::TestDatabase::Create("bench_seat_history");

  // The history: joins over the first day, then leave-and-rejoin pairs evenly over 300 days,
  // ending before now (inside the default 400-day retention).
  const TimePoint now = SystemClock::Instance().Now();
  const TimePoint first = now - std::chrono::hours(24 * 305);
  const auto away = std::chrono::hours(24 * 3);
  const int64_t pairs = (ledger_rows - members) / 2;
  const auto spacing = std::chrono::microseconds(std::chrono::hours(24 * 300)) / std::max<int64_t>(pairs, 1);
  auto load_start = bench::Steady::now();
  store::PgEventStore store(db->url());
  bench::BatchLoader loader(store, "loading the history");
  for (int i = 0; i < members; ++i) {
    loader.Add(MemberEvent(domain::EventKind::kMemberAdded, "evt_join_" + std::to_string(i), i,
                           first + std::chrono::seconds(i) * 86400 / members, i % 5 == 0 ? "admin" : "member"));
  }
  const TimePoint churn_start = first + std::chrono::hours(24);
  for (int64_t k = 0; k < pairs; ++k) {
    const int user = static_cast<int>((k * 7919) % members);
    const TimePoint at = churn_start + spacing * k;
    loader.Add(MemberEvent(domain::EventKind::kMemberRemoved, "evt_leave_" + std::to_string(k), user, at));
    loader.Add(MemberEvent(domain::EventKind::kMemberAdded, "evt_rejoin_" + std::to_string(k), user, at + away,
                           k % 7 == 0 ? "admin" : "member"));
  }
  loader.Flush();
  const double load_s = bench::MillisSince(load_start) / 1000.0;
  db->Query("VACUUM ANALYZE");
  const int64_t rows = std::stoll(db->Scalar("SELECT count(*) FROM seat_ledger WHERE account_id = 'acc_big'"));
  const int64_t days = std::stoll(db->Scalar("SELECT count(*) FROM seat_ledger_days WHERE account_id = 'acc_big'"));
  const TimePoint last = churn_start + spacing * pairs + away;
  std::printf("ledger: %s\n", db->Scalar("SELECT min(at)::text || ' .. ' || max(at)::text || ', ' || count(DISTINCT"
                                         " date_trunc('day', at, 'UTC')) || ' days' FROM seat_ledger").c_str());

  testing::ScratchDir dir("mm-seat-history-bench");
  std::string callers = testing::WriteCallersFile(dir.path(), {{"bench", "bench", {"seats:read"}}});
  auto service = testing::ServiceProcess::Start(
      {.binary = MM_SERVER_BINARY, .env = {{"MM_DATABASE_URL", db->url()}, {"MM_CALLERS_FILE", callers}}});
  auto stub = membership::v1::SeatService::NewStub(
      grpc::CreateChannel(service->grpc_target(), grpc::InsecureChannelCredentials()));

  // The same instants for every path: uniform over the history.
  std::mt19937_64 rng(20261204);
  std::vector<TimePoint> instants;
  for (int i = 0; i < calls + 200; ++i) {
    instants.push_back(first + std::chrono::microseconds(std::uniform_int_distribution<int64_t>(
                                   0, ToUnixMicros(last) - ToUnixMicros(first))(rng)));
  }
  int failures = 0;
  int64_t total_now = 0, total_at_end = 0;
  auto count = [&](std::optional<TimePoint> as_of) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer bench");
    membership::v1::GetSeatCountRequest req;
    req.set_account_id("acc_big");
    if (as_of) *req.mutable_as_of() = Ts(*as_of);
    membership::v1::SeatCount out;
    if (!stub->GetSeatCount(&ctx, req, &out).ok()) ++failures;
    return out.total();
  };
  bench::TimeCalls(200, [&](int i) { count(instants[static_cast<size_t>(i)]); });  // warm-up
  auto now_ms = bench::TimeCalls(calls, [&](int) { total_now = count(std::nullopt); });
  auto at_ms = bench::TimeCalls(calls, [&](int i) { count(instants[static_cast<size_t>(i) + 200]); });
  total_at_end = count(now);
  bench::Summary now_s = bench::Summarize(now_ms), at_s = bench::Summarize(at_ms);
  bench::WriteDistribution("seat_history", "GetSeatCount(as_of) over gRPC", at_ms);
  bench::WriteDistribution("seat_history", "GetSeatCount (now) over gRPC", now_ms);

  // A month of usage ending at random instants.
  auto usage_ms = bench::TimeCalls(std::max(20, calls / 20), [&](int i) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer bench");
    membership::v1::GetSeatUsageRequest req;
    req.set_account_id("acc_big");
    const TimePoint end = std::max(instants[static_cast<size_t>(i)], first + std::chrono::hours(24 * 30));
    *req.mutable_start() = Ts(end - std::chrono::hours(24 * 30));
    *req.mutable_end() = Ts(end);
    membership::v1::SeatUsage out;
    if (!stub->GetSeatUsage(&ctx, req, &out).ok()) ++failures;
  });
  bench::Summary usage_s = bench::Summarize(usage_ms);

  pqxx::connection conn(db->url());
  conn.prepare("naive",
               "SELECT role, sum(members), sum(billable) FROM seat_ledger"
               " WHERE account_id = $1 AND at <= $2::timestamptz GROUP BY role");
  auto naive = [&](int i) {
    pqxx::nontransaction txn(conn);
    txn.exec_prepared("naive", std::string("acc_big"), FormatRfc3339(instants[static_cast<size_t>(i) + 200]));
  };
  bench::TimeCalls(5, naive);
  auto scan_ms = bench::TimeCalls(std::max(50, calls / 20), naive);
  bench::Summary scan = bench::Summarize(scan_ms);
  bench::WriteDistribution("seat_history", "baseline: sum of the rows up to t, direct SQL", scan_ms);

  std::printf("members=%d ledger_rows=%lld day_sums=%lld loaded_in_s=%.1f total_now=%lld total_as_of_now=%lld "
              "calls=%d failures=%d\n",
              members, static_cast<long long>(rows), static_cast<long long>(days), load_s,
              static_cast<long long>(total_now), static_cast<long long>(total_at_end), calls, failures);
  bench::PrintLatencyHeader();
  bench::PrintLatencyRow("GetSeatCount(as_of) over gRPC (day sums)", at_s);
  bench::PrintLatencyRow("GetSeatCount (now) over gRPC", now_s);
  bench::PrintLatencyRow("GetSeatUsage, 30 days, over gRPC", usage_s);
  bench::PrintLatencyRow("baseline: sum of the rows up to t, direct SQL", scan);
  if (write_events > 0) {
    std::printf("\nwrite cost, %lld events a side in batches of 64:    thread us/event  backend us/event  total us/event  events/s\n",
                static_cast<long long>(on.events));
    for (const auto& [label, c] : {std::pair<const char*, const WriteCost&>{"with the seat ledger", on},
                                   {"baseline: without it", off}}) {
      std::printf("%-50s %15.1f %17.1f %15.1f %9.0f\n", label, c.client_us, c.backend_us, c.client_us + c.backend_us,
                  static_cast<double>(c.events) / c.wall_s);
    }
    const double added = median_ratio - 1;
    std::printf("ratio (with / without) CPU per event: %.3fx (median of %d rounds: %.3f .. %.3f); of the means %.3fx\n",
                median_ratio, kRounds, ratios.front(), ratios.back(),
                (on.client_us + on.backend_us) / (off.client_us + off.backend_us));
    bench::PrintTarget("the seat ledger adds <= 10% CPU per event written", added <= 0.10,
                       std::to_string(static_cast<int>(added * 1000) / 10.0).substr(0, 4) + "% more CPU per event");
  }
  bench::PrintTarget("GetSeatCount(as_of) p99 <= 5 ms, 100,000 members, 1,000,000 ledger rows", at_s.p99_ms <= 5,
                     "p99 " + std::to_string(at_s.p99_ms).substr(0, 5) + " ms with " + std::to_string(rows) +
                         " rows");
  std::printf("ratio (baseline / GetSeatCount(as_of)) p50: %.1fx  p99: %.1fx\n", scan.p50_ms / at_s.p50_ms,
              scan.p99_ms / at_s.p99_ms);
  std::printf("ratio (GetSeatCount(as_of) / GetSeatCount now) p50: %.2fx  p99: %.2fx\n", at_s.p50_ms / now_s.p50_ms,
              at_s.p99_ms / now_s.p99_ms);
  return failures == 0 && total_now == members && total_at_end == members ? 0 : 1;
}
