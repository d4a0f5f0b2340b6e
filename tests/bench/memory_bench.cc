// Benchmark: memory and time to ready with 1,000,000 cached users (issue #4).
//
// Seeds a fresh database with N users whose rows are exactly what the service writes: one
// template user per kind (created; disabled by Huudis with a reason; disabled by an operator
// with a free-text reason; disabled and enabled again) goes through the real Huudis adapter
// (signed fixture bodies) and the real PostgreSQL store, and every seeded user is a copy of its
// kind's template `users` row with its own ids (`usr_`/`evt_` + 26-character ULIDs), email,
// name, times and reason substituted — streamed in with one COPY. The change-log head is set
// to the number of events those users imply (the change log itself is not needed to start:
// the cache's snapshot reads `users` and the head).
//
// Then, `starts` times, starts the real service and measures the time from starting the
// process to /readyz 200, checks /metrics reports N cached users and that IsUserActive
// agrees with the database on a sample of users, and reads VmRSS (and VmHWM, the peak) from
// /proc/<pid>/status once the service has settled. The same is done with an empty database;
// bytes per user = (RSS with N users - RSS with none) / N.
//
// Usage: memory_bench [users=1000000] [starts=3]   (needs MM_TEST_DATABASE_URL)
// Targets: <= 200 bytes RSS per cached user; ready in <= 5 s with 1,000,000 users.

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <libpq-fe.h>
#include <pqxx/pqxx>

#include "adapters/huudis_adapter.h"
#include "adapters/huudis_signature.h"
#include "bench_ids.h"
#include "bench_support.h"
#include "common/crypto.h"
#include "common/time.h"
#include "domain/events.h"
#include "http_post.h"
#include "membership/v1/membership.grpc.pb.h"
#include "callers_file.h"
#include "service_process.h"
#include "store/pg_event_store.h"
#include "test_database.h"

namespace mm {
namespace {

constexpr char kSecret[] = "whsec_bench_memory";
constexpr char kToken[] = "bench-checker";

using bench::SplitMix;
using bench::Ulid;

std::string ReplaceAll(std::string text, std::string_view from, std::string_view to) {
  for (size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size()) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Templates: one user per kind, written by the real adapter and store with placeholder values
// that the seeding then substitutes per user.

enum Kind { kCreated = 0, kHuudisDisabled, kOperatorDisabled, kReenabled, kKinds };

// Placeholders: unique strings, and times that appear nowhere else.
constexpr char kUserPh[] = "usr_ZZPLACEHOLDERUSER000000K";  // + kind digit
constexpr char kEmailPh[] = "placeholder.email@example.invalid";
constexpr char kNamePh[] = "Placeholder Name";
constexpr char kActorPh[] = "usr_ZZPLACEHOLDERACTOR0000000";
constexpr char kReasonPh[] = "placeholder_reason";
constexpr char kCreatedEvtPh[] = "evt_ZZPLACEHOLDERCREATED00000";
constexpr char kDisabledEvtPh[] = "evt_ZZPLACEHOLDERDISABLED0000";
constexpr char kEnabledEvtPh[] = "evt_ZZPLACEHOLDERENABLED00000";
constexpr char kOperatorEvtPh[] = "op_ffffeeeeddddccccbbbbaaaa";
constexpr int64_t kCreatedMsPh = 978310861111;   // 2001-01-01T01:01:01.111Z
constexpr int64_t kDisabledMsPh = 981079322222;  // 2001-02-02T02:02:02.222Z
constexpr int64_t kEnabledMsPh = 983588583333;   // 2001-03-03T03:03:03.333Z
constexpr char kOperatorName[] = "oncall-admin";

std::string Rfc3339Millis(int64_t unix_ms) {
  std::string micros = FormatRfc3339(FromUnixMillis(unix_ms));  // ...SS.mmm000Z
  return micros.substr(0, micros.size() - 4) + "Z";
}

struct Template {
  std::string state;
  std::string record;  // users.record as text, placeholders in it
  bool has_reason = false;
  // The state_changed_at and sessions_valid_after columns: placeholder times (unix ms).
  std::optional<int64_t> state_changed_ms, sessions_valid_after_ms;
};

std::string SignedBodyEvent(const adapters::HuudisAdapter& adapter, const std::string& body,
                            domain::ProviderEvent& out) {
  int64_t now = ToUnixMicros(SystemClock::Instance().Now()) / 1000000;
  std::string signature = adapters::MakeHuudisSignatureHeader(kSecret, now, body);
  auto decoded = adapter.Decode(
      [&](std::string_view name) -> std::optional<std::string_view> {
        if (name == adapters::HuudisAdapter::kSignatureHeader) return std::string_view(signature);
        return std::nullopt;
      },
      body, SystemClock::Instance().Now());
  if (!decoded.ok()) return std::string(decoded.status().message());
  out = std::move(*decoded);
  return "";
}

std::vector<Template> WriteTemplates(const std::string& url) {
  adapters::HuudisAdapter adapter({.secrets = {kSecret}});
  store::PgEventStore store(url);
  std::vector<Template> templates(kKinds);
  for (int kind = 0; kind < kKinds; ++kind) {
    std::string user = kUserPh + std::to_string(kind);
    std::vector<std::string> bodies;
    bodies.push_back(std::string(R"({"id":")") + kCreatedEvtPh +
                     R"(","type":"huudis.user.created.v1","createdAt":")" + Rfc3339Millis(kCreatedMsPh) +
                     R"(","data":{"id":")" + user + R"(","email":")" + kEmailPh + R"(","name":")" +
                     kNamePh + R"(","emailVerified":true,"createdAt":")" + Rfc3339Millis(kCreatedMsPh) +
                     R"(","signupSource":"huudis-dashboard"}})");
    if (kind == kHuudisDisabled || kind == kReenabled) {
      bodies.push_back(std::string(R"({"id":")") + kDisabledEvtPh +
                       R"(","type":"huudis.user.disabled.v1","createdAt":")" + Rfc3339Millis(kDisabledMsPh) +
                       R"(","data":{"id":")" + user + R"(","email":")" + kEmailPh +
                       R"(","disabledAt":")" + Rfc3339Millis(kDisabledMsPh) + R"(","disabledBy":")" +
                       kActorPh + R"(","reason":")" + kReasonPh + R"("}})");
    }
    if (kind == kReenabled) {
      bodies.push_back(std::string(R"({"id":")") + kEnabledEvtPh +
                       R"(","type":"huudis.user.enabled.v1","createdAt":")" + Rfc3339Millis(kEnabledMsPh) +
                       R"(","data":{"id":")" + user + R"(","email":")" + kEmailPh +
                       R"(","enabledAt":")" + Rfc3339Millis(kEnabledMsPh) + R"(","enabledBy":")" +
                       kActorPh + R"("}})");
    }
    std::vector<domain::ProviderEvent> events(bodies.size());
    for (size_t i = 0; i < bodies.size(); ++i) {
      // Every template shares the placeholder event ids: make them unique per template for
      // the store's deduplication, and undo that in the record below.
      std::string error = SignedBodyEvent(adapter, bodies[i], events[i]);
      if (!error.empty()) throw std::runtime_error("template event refused: " + error);
      events[i].event_id += "_" + std::to_string(kind);
    }
    if (kind == kOperatorDisabled) {  // as server/ingress/operator_api.cc builds it
      domain::ProviderEvent e;
      e.provider = domain::Provider::kOperator;
      e.event_id = kOperatorEvtPh + std::string("_") + std::to_string(kind);
      e.event_type = "operator.user.disabled";
      e.fact_time = e.received_at = FromUnixMillis(kDisabledMsPh);
      e.raw_body = R"({"action":"disable","user_id":")" + user + R"(","by":")" + kOperatorName +
                   R"(","reason":")" + kReasonPh + R"("})";
      domain::NormalizedEvent n;
      n.kind = domain::EventKind::kUserDisabled;
      n.user_id = user;
      n.fact_time = e.fact_time;
      n.reason = kReasonPh;
      n.actor = kOperatorName;
      e.events.push_back(std::move(n));
      events.push_back(std::move(e));
    }
    for (const domain::ProviderEvent& e : events) {  // one delivery at a time, in order
      const domain::ProviderEvent* batch[] = {&e};
      auto r = store.ApplyBatch(batch);
      if (!r.ok()) throw std::runtime_error("template write failed: " + std::string(r.status().message()));
    }
    pqxx::connection conn(url);
    pqxx::read_transaction txn(conn);
    pqxx::row row = txn.exec_params1(
        "SELECT state, record::text, disabled_reason IS NOT NULL,"
        " (extract(epoch FROM state_changed_at) * 1000)::bigint,"
        " (extract(epoch FROM sessions_valid_after) * 1000)::bigint FROM users WHERE user_id = $1",
        user);
    std::string record = row[1].as<std::string>();
    for (const char* ph : {kCreatedEvtPh, kDisabledEvtPh, kEnabledEvtPh, kOperatorEvtPh}) {
      record = ReplaceAll(record, std::string(ph) + "_" + std::to_string(kind), ph);
    }
    record = ReplaceAll(record, user, kUserPh);
    Template& t = templates[static_cast<size_t>(kind)];
    t.state = row[0].as<std::string>();
    t.record = record;
    t.has_reason = row[2].as<bool>();
    if (!row[3].is_null()) t.state_changed_ms = row[3].as<int64_t>();
    if (!row[4].is_null()) t.sessions_valid_after_ms = row[4].as<int64_t>();
  }
  // The templates are not part of the benchmark's population.
  pqxx::connection conn(url);
  pqxx::work txn(conn);
  txn.exec("DELETE FROM change_log; DELETE FROM provider_events; DELETE FROM users");
  txn.exec("UPDATE change_log_head SET last_sequence = 0");
  txn.commit();
  return templates;
}

// ---------------------------------------------------------------------------------------------
// Seeding.

std::string CopyEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
  return out;
}

std::string CopyTime(std::optional<int64_t> unix_ms) {
  if (!unix_ms) return "\\N";
  return FormatRfc3339(FromUnixMillis(*unix_ms));  // timestamptz accepts RFC 3339
}

struct SeedStats {
  size_t users = 0, disabled = 0, reenabled = 0, distinct_reasons = 0;
  uint64_t events = 0;
  double seconds = 0;
};

SeedStats Seed(const std::string& url, size_t users) {
  auto started = bench::Steady::now();
  std::vector<Template> templates = WriteTemplates(url);

  // Users signed up over two years (ULID times increase with the row number); 2.5% were
  // disabled by Huudis with one of its reason codes, 0.5% by an operator in an incident with a
  // free-text reason, 1% were disabled and enabled again (active, but older sessions revoked).
  static const char* kHuudisReasons[] = {"account_compromise", "terminated", "policy_violation",
                                         "payment_failure", "user_request"};
  static const char* kFirst[] = {"Dana", "Amir", "Mei", "Lars", "Ines", "Kofi", "Noa", "Ravi",
                                 "Sofia", "Tomasz", "Yuki", "Zara", "Omar", "Lena", "Jonas", "Priya"};
  static const char* kLast[] = {"Okafor", "Haddad", "Chen", "Nilsson", "Garcia", "Mensah", "Levi",
                                "Iyer", "Rossi", "Nowak", "Tanaka", "Ahmed", "Farouk", "Weber",
                                "Berg", "Patel"};
  const int64_t start_ms = 1685577600000;  // 2023-06-01
  const int64_t span_ms = 2LL * 365 * 86400 * 1000;
  const int64_t step_ms = std::max<int64_t>(1, span_ms / static_cast<int64_t>(std::max<size_t>(users, 1)));
  uint64_t rng = 42;
  std::vector<std::string> admins;
  for (int i = 0; i < 20; ++i) admins.push_back("usr_" + Ulid(start_ms - 86400000LL * (i + 1), rng));

  SeedStats stats;
  std::map<std::string, int> reasons;
  // libpq directly: libpqxx 6 keeps raw COPY lines to itself.
  std::unique_ptr<PGconn, decltype(&PQfinish)> pg(PQconnectdb(url.c_str()), &PQfinish);
  auto exec = [&](const std::string& sql, ExecStatusType want) {
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(pg.get(), sql.c_str()), &PQclear);
    if (PQresultStatus(r.get()) != want) throw std::runtime_error(sql + ": " + PQerrorMessage(pg.get()));
  };
  exec("BEGIN", PGRES_COMMAND_OK);
  exec("COPY users (user_id, state, state_changed_at, disabled_reason, sessions_valid_after, record,"
       " created_at, updated_at) FROM STDIN",
       PGRES_COPY_IN);
  {
    std::string line;
    for (size_t i = 0; i < users; ++i) {
      uint64_t r = SplitMix(rng);
      int64_t created_ms = start_ms + static_cast<int64_t>(i) * step_ms + static_cast<int64_t>(r % static_cast<uint64_t>(step_ms));
      uint64_t pick = (r >> 32) % 1000;
      Kind kind = pick < 25 ? kHuudisDisabled : pick < 30 ? kOperatorDisabled : pick < 40 ? kReenabled : kCreated;
      int64_t disabled_ms = created_ms + 86400000LL * static_cast<int64_t>(1 + (r >> 12) % 300) + static_cast<int64_t>(r % 86400000);
      int64_t enabled_ms = disabled_ms + 3 * 86400000LL + static_cast<int64_t>((r >> 20) % 3600000);
      std::string user = "usr_" + Ulid(created_ms, rng);
      const char* first = kFirst[(r >> 40) % 16];
      const char* last = kLast[(r >> 44) % 16];
      std::string name = std::string(first) + " " + last;
      std::string email = std::string(first) + "." + last + "." + std::to_string(i) + "@example.net";
      std::transform(email.begin(), email.end(), email.begin(), [](char c) { return static_cast<char>(std::tolower(c)); });
      std::string reason;
      if (kind == kHuudisDisabled || kind == kReenabled) reason = kHuudisReasons[(r >> 48) % 5];
      if (kind == kOperatorDisabled) reason = "incident INC-" + std::to_string(4100 + (r >> 48) % 60) + ": suspicious sign-ins";

      const Template& t = templates[kind];
      std::string record = t.record;
      record = ReplaceAll(record, kUserPh, user);
      record = ReplaceAll(record, kEmailPh, email);
      record = ReplaceAll(record, kNamePh, name);
      record = ReplaceAll(record, kActorPh, admins[(r >> 52) % admins.size()]);
      record = ReplaceAll(record, kReasonPh, reason);
      record = ReplaceAll(record, kCreatedEvtPh, "evt_" + Ulid(created_ms + 41, rng));
      record = ReplaceAll(record, kDisabledEvtPh, "evt_" + Ulid(disabled_ms + 37, rng));
      record = ReplaceAll(record, kEnabledEvtPh, "evt_" + Ulid(enabled_ms + 29, rng));
      char op_id[32];
      std::snprintf(op_id, sizeof op_id, "op_%016llx%08llx", static_cast<unsigned long long>(SplitMix(rng)),
                    static_cast<unsigned long long>(SplitMix(rng) & 0xffffffffu));
      record = ReplaceAll(record, kOperatorEvtPh, op_id);
      record = ReplaceAll(record, FormatRfc3339(FromUnixMillis(kCreatedMsPh)), FormatRfc3339(FromUnixMillis(created_ms)));
      record = ReplaceAll(record, FormatRfc3339(FromUnixMillis(kDisabledMsPh)), FormatRfc3339(FromUnixMillis(disabled_ms)));
      record = ReplaceAll(record, FormatRfc3339(FromUnixMillis(kEnabledMsPh)), FormatRfc3339(FromUnixMillis(enabled_ms)));

      // The columns the store writes next to the record, as the template has them.
      auto actual = [&](std::optional<int64_t> placeholder) -> std::optional<int64_t> {
        if (!placeholder) return std::nullopt;
        if (*placeholder == kCreatedMsPh) return created_ms;
        if (*placeholder == kDisabledMsPh) return disabled_ms;
        if (*placeholder == kEnabledMsPh) return enabled_ms;
        throw std::runtime_error("template column with an unexpected time");
      };
      std::optional<int64_t> state_changed = actual(t.state_changed_ms);
      std::optional<int64_t> sessions_valid_after = actual(t.sessions_valid_after_ms);
      int64_t updated_ms = state_changed.value_or(created_ms);
      if (t.state == "disabled") {
        ++stats.disabled;
        ++reasons[reason];
      }
      if (kind == kReenabled) ++stats.reenabled;
      stats.events += kind == kCreated ? 1 : kind == kReenabled ? 3 : 2;
      line.clear();
      line += CopyEscape(user) + '\t' + t.state + '\t' + CopyTime(state_changed) + '\t' +
              (t.has_reason ? CopyEscape(reason) : std::string("\\N")) + '\t' +
              CopyTime(sessions_valid_after) + '\t' + CopyEscape(record) + '\t' + CopyTime(created_ms) +
              '\t' + CopyTime(updated_ms) + '\n';
      if (PQputCopyData(pg.get(), line.data(), static_cast<int>(line.size())) != 1) {
        throw std::runtime_error(std::string("COPY failed: ") + PQerrorMessage(pg.get()));
      }
    }
    if (PQputCopyEnd(pg.get(), nullptr) != 1) throw std::runtime_error(PQerrorMessage(pg.get()));
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQgetResult(pg.get()), &PQclear);
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      throw std::runtime_error(std::string("COPY failed: ") + PQerrorMessage(pg.get()));
    }
  }
  exec("UPDATE change_log_head SET last_sequence = " + std::to_string(stats.events), PGRES_COMMAND_OK);
  exec("COMMIT", PGRES_COMMAND_OK);
  exec("VACUUM (ANALYZE, FREEZE) users", PGRES_COMMAND_OK);
  exec("CHECKPOINT", PGRES_COMMAND_OK);
  stats.users = users;
  stats.distinct_reasons = reasons.size();
  stats.seconds = bench::MillisSince(started) / 1000.0;
  return stats;
}

// ---------------------------------------------------------------------------------------------
// Measuring one start.

// A field of /proc/<pid>/status in bytes (VmRSS, VmHWM), or -1.
long long ProcStatusBytes(pid_t pid, const std::string& field) {
  long long kb = testing::ProcessStatusValue(pid, field);
  return kb < 0 ? -1 : kb * 1024;
}

// The value of an unlabelled gauge on /metrics, or -1.
double Metric(const testing::ServiceProcess& service, const std::string& name) {
  auto reply = client::HttpRequest("GET", service.http_url() + "/metrics", {}, "", std::chrono::seconds(5));
  if (!reply.ok() || reply->status != 200) return -1;
  std::istringstream in(reply->body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

struct StartResult {
  double ready_ms = 0;
  long long rss = 0, hwm = 0;
  double cached_users = 0;
  int sample_mismatches = 0;
};

// `sample`: user ids with whether they are active; with `known` false (the empty database)
// the same calls are made and must answer unknown (and active, the default), so that both
// services have served the same requests when their memory is read.
StartResult MeasureStart(const testing::TestDatabase& db, const std::string& callers,
                         const std::vector<std::pair<std::string, bool>>& sample, bool known) {
  StartResult result;
  auto started = bench::Steady::now();
  auto service = testing::ServiceProcess::Start(
      {.binary = MM_SERVER_BINARY,
       .env = {{"MM_DATABASE_URL", db.url()}, {"MM_CALLERS_FILE", callers}},
       .wait_ready = false});
  // Start() returns once the service logs "listening"; readiness waits for the cache.
  while (true) {
    auto reply = client::HttpRequest("GET", service->http_url() + "/readyz", {}, "", std::chrono::seconds(2));
    if (reply.ok() && reply->status == 200) break;
    if (bench::MillisSince(started) > 120000) throw std::runtime_error("not ready after 120 s:\n" + service->Log());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  result.ready_ms = bench::MillisSince(started);

  auto stub = membership::v1::UserService::NewStub(
      grpc::CreateChannel(service->grpc_target(), grpc::InsecureChannelCredentials()));
  for (const auto& [user_id, active] : sample) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
    membership::v1::IsUserActiveRequest req;
    req.set_user_id(user_id);
    membership::v1::IsUserActiveResponse out;
    grpc::Status s = stub->IsUserActive(&ctx, req, &out);
    bool unknown = out.state() == membership::v1::USER_STATE_UNKNOWN;
    if (!s.ok() || out.active() != (known ? active : true) || unknown == known) {
      ++result.sample_mismatches;
    }
  }
  // Let the main loop refresh its gauges (every 500 ms) and the process settle.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  result.cached_users = Metric(*service, "mm_cache_users");
  result.rss = ProcStatusBytes(service->pid(), "VmRSS");
  result.hwm = ProcStatusBytes(service->pid(), "VmHWM");
  return result;
}

double Mib(long long bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace
}  // namespace mm

int main(int argc, char** argv) {
  using namespace mm;
  const size_t users = argc > 1 ? std::stoul(argv[1]) : 1000000;
  const int starts = argc > 2 ? std::stoi(argv[2]) : 3;

  testing::ScratchDir dir("mm-bench-memory");
  std::string callers = testing::WriteCallersFile(dir.path(), {{"bench", kToken, {"users:check"}}});

  auto empty_db = testing::TestDatabase::Create("bench_mem_empty");
  auto db = testing::TestDatabase::Create("bench_mem");
  SeedStats seed = Seed(db->url(), users);
  std::vector<std::pair<std::string, bool>> sample;
  for (const auto& row : db->Query("SELECT user_id, state = 'active' FROM users ORDER BY md5(user_id) LIMIT 500")) {
    sample.emplace_back(row[0].as<std::string>(), row[1].as<bool>());
  }
  std::string table_size = db->Scalar("SELECT pg_size_pretty(pg_total_relation_size('users'))");
  std::printf("seeded users=%zu disabled=%zu reenabled=%zu distinct_reasons=%zu events=%llu in %.1f s (users table %s)\n",
              seed.users, seed.disabled, seed.reenabled, seed.distinct_reasons,
              static_cast<unsigned long long>(seed.events), seed.seconds, table_size.c_str());

  std::vector<StartResult> empty_runs, full_runs;
  for (int i = 0; i < starts; ++i) {
    empty_runs.push_back(MeasureStart(*empty_db, callers, sample, false));
    full_runs.push_back(MeasureStart(*db, callers, sample, true));
  }
  auto median_rss = [](std::vector<StartResult> runs) {
    std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.rss < b.rss; });
    return runs[runs.size() / 2].rss;
  };
  long long rss0 = median_rss(empty_runs), rss1 = median_rss(full_runs);
  std::vector<double> ready_full, ready_empty;
  bool ok = true;
  std::printf("%-8s %8s %12s %12s %12s %12s %10s\n", "start", "users", "ready ms", "VmRSS MiB", "VmHWM MiB",
              "mm_cache_users", "mismatch");
  for (int i = 0; i < starts; ++i) {
    for (const auto* run : {&empty_runs[static_cast<size_t>(i)], &full_runs[static_cast<size_t>(i)]}) {
      bool full = run == &full_runs[static_cast<size_t>(i)];
      std::printf("%-8d %8zu %12.1f %12.1f %12.1f %12.0f %10d\n", i + 1, full ? users : 0, run->ready_ms,
                  Mib(run->rss), Mib(run->hwm), run->cached_users, run->sample_mismatches);
      (full ? ready_full : ready_empty).push_back(run->ready_ms);
      ok &= run->cached_users == static_cast<double>(full ? users : 0) && run->sample_mismatches == 0;
    }
  }
  bench::Summary ready = bench::Summarize(ready_full), ready0 = bench::Summarize(ready_empty);
  double per_user = users == 0 ? 0 : static_cast<double>(rss1 - rss0) / static_cast<double>(users);
  std::printf("RSS with 0 users: %.1f MiB, with %zu users: %.1f MiB (medians of %d starts)\n", Mib(rss0), users,
              Mib(rss1), starts);
  std::printf("bytes per cached user: %.1f\n", per_user);
  std::printf("time to ready with %zu users: median %.0f ms, max %.0f ms; with 0 users: median %.0f ms\n", users,
              ready.p50_ms, ready.max_ms, ready0.p50_ms);
  char measured[64];
  std::snprintf(measured, sizeof measured, "%.1f bytes/user", per_user);
  bench::PrintTarget("<= 200 bytes RSS per cached user", per_user <= 200, measured);
  std::snprintf(measured, sizeof measured, "max %.0f ms with %zu users", ready.max_ms, users);
  bench::PrintTarget("ready in <= 5 s with 1,000,000 users", ready.max_ms <= 5000 && users >= 1000000, measured);
  if (!ok) std::printf("FAILED: the service did not report every user, or IsUserActive disagreed with the database\n");
  return ok ? 0 : 1;
}
