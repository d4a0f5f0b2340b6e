// Benchmark: webhook ingest, acknowledged after commit (issue #4), side by side with a raw
// pgbench insert workload on the same PostgreSQL server in the same run.
//
// Service: the real `membership-mirror` on a fresh migrated database with a Huudis secret. N
// unique, signed Huudis webhooks (user.disabled/enabled, account.member_added/role_changed/
// removed, shaped like tests/fixtures/huudis.*, over many users and workspaces) are built up
// front, signed with the current time just before each run, and sent over C keep-alive
// HTTP/1.1 connections (default 64) by one Boost.Asio thread: each connection sends its next
// request when the previous answer has arrived. Only 2xx answers count; anything else fails
// the program. After each run the database must hold every acknowledged event.
//
// Each run starts from a populated mirror, as production does: the first --preload webhooks
// are decoded by the Huudis adapter and written through the event store straight to the fresh
// database, which is then ANALYZEd (as autovacuum would have done), before the service starts.
// Without it every run would measure an empty database whose cached plans were made for tiny
// tables.
//
// Baseline: `pgbench -n -c C -j 2 -T S -f script` where the script inserts one row per
// transaction (an event id text primary key, a timestamp and a jsonb body of the same size as
// the webhooks) into a fresh database of the same server, fsync on.
//
// FusionAuth (--fusionauth-events N, default 60000; 0 skips): the same stream as FusionAuth would
// send it (registrations for memberships, user.deactivate/reactivate for states), signed with a
// JWT in X-FusionAuth-Signature-JWT, once with HS256 and once with RS256 (a 2,048-bit key),
// each sent to a service of its own on a database preloaded as above, printed beside the Huudis
// run. Before the runs, the CPU cost of verifying and decoding one delivery in-process (the
// adapters, one thread) for Huudis HMAC-SHA256, FusionAuth HS256, RS256 and ES256.
//
// Group commit sizing: `--sweep 1,8,32,128,512,2048` runs the service once per
// MM_WRITER_MAX_BATCH value on a fresh database each and prints the table. Closed-loop senders
// split into two halves that alternate between batches, so batches hold about C/2 events and
// caps above that cannot show; `--sweep-connections 1024` lets the larger caps bind.
//
// Usage: ingest_bench [--seconds S=10] [--events N=150000] [--warmup N=1000] [--preload N=50000]
//                     [--connections C=64] [--client-threads T=1] [--batch B]
//                     [--sweep B1,B2,...] [--sweep-connections C=--connections]
//                     [--pgbench-seconds S=10] [--no-pgbench]
//                     [--pgbench PATH] [--service-binary PATH] [--db-setting NAME=VALUE]...
//                     [--fusionauth-events N=60000]
// Needs MM_TEST_DATABASE_URL; with MM_BENCH_DATA_DIR it writes the latency distributions
// (plot "ingest"; plot "ingest_batch_sweep" for the sweep). Exit code 0 only when every
// request was answered 2xx and every acknowledged event is in the database.

#include <utility>  // before asio: its awaitable.hpp uses std::exchange without including it

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "adapters/fusionauth_adapter.h"
#include "adapters/huudis_adapter.h"
#include "adapters/huudis_signature.h"
#include "bench_support.h"
#include "callers_file.h"
#include "http_post.h"
#include "jwt/jws.h"
#include "service_process.h"
#include "store/pg_event_store.h"
#include "test_database.h"

namespace mm {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::ordered_json;
using bench::FixtureJson;
using testing::MetricValue;

constexpr char kSecret[] = "whsec_bench_ingest_0123456789";
constexpr char kFusionAuthSecret[] = "fusionauth-bench-ingest-hmac-secret";

struct Options {
  double seconds = 10;      // measured window per run: no new request starts after it
  size_t events = 150000;   // pre-built webhooks; a run also ends when they are used up
  size_t warmup = 1000;     // sent first on each run, not measured
  size_t preload = 50000;   // written straight to the database before each run (see Preload)
  int connections = 64;
  int client_threads = 1;
  std::optional<int> batch;  // MM_WRITER_MAX_BATCH for the main run; unset: the service default
  std::vector<int> sweep;
  int sweep_connections = 0;  // 0: --connections
  double pgbench_seconds = 10;
  bool pgbench = true;
  std::string pgbench_path;
  std::string service_binary = MM_SERVER_BINARY;  // another build, for A/B comparisons
  // Diagnostics: settings for the service's database (ALTER DATABASE ... SET), e.g.
  // session_preload_libraries=auto_explain auto_explain.log_min_duration=0.
  std::vector<std::pair<std::string, std::string>> db_settings;
  size_t fusionauth_events = 60000;  // per FusionAuth run; 0: no FusionAuth runs
};

[[noreturn]] void Usage(const std::string& error) {
  bench::ExitWithUsage("ingest_bench", error,
                       "usage: ingest_bench [--seconds S] [--events N] [--warmup N] [--preload N] [--connections C]\n"
                       "                    [--client-threads T] [--batch B] [--sweep B1,B2,...] [--sweep-connections C]\n"
                       "                    [--pgbench-seconds S] [--no-pgbench] [--pgbench PATH]\n"
                       "                    [--service-binary PATH] [--db-setting NAME=VALUE]...\n"
                       "                    [--fusionauth-events N]\n");
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(arg + " needs a value");
      return argv[++i];
    };
    try {
      if (arg == "--seconds") {
        o.seconds = std::stod(value());
      } else if (arg == "--events") {
        o.events = std::stoul(value());
      } else if (arg == "--warmup") {
        o.warmup = std::stoul(value());
      } else if (arg == "--preload") {
        o.preload = std::stoul(value());
      } else if (arg == "--connections") {
        o.connections = std::stoi(value());
      } else if (arg == "--client-threads") {
        o.client_threads = std::stoi(value());
      } else if (arg == "--batch") {
        o.batch = std::stoi(value());
      } else if (arg == "--sweep") {
        std::stringstream list(value());
        for (std::string item; std::getline(list, item, ',');) o.sweep.push_back(std::stoi(item));
      } else if (arg == "--sweep-connections") {
        o.sweep_connections = std::stoi(value());
      } else if (arg == "--pgbench-seconds") {
        o.pgbench_seconds = std::stod(value());
      } else if (arg == "--no-pgbench") {
        o.pgbench = false;
      } else if (arg == "--pgbench") {
        o.pgbench_path = value();
      } else if (arg == "--service-binary") {
        o.service_binary = value();
      } else if (arg == "--fusionauth-events") {
        o.fusionauth_events = std::stoul(value());
      } else if (arg == "--db-setting") {
        std::string kv = value();
        size_t eq = kv.find('=');
        if (eq == std::string::npos) Usage("--db-setting needs NAME=VALUE");
        o.db_settings.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
      } else {
        Usage("unknown argument " + arg);
      }
    } catch (const std::logic_error&) {
      Usage("bad value for " + arg);
    }
  }
  if (o.sweep_connections == 0) o.sweep_connections = o.connections;
  if (o.connections < 1 || o.sweep_connections < 1 || o.client_threads < 1 || o.seconds <= 0 || o.events == 0) {
    Usage("connections, client threads, seconds and events must be positive");
  }
  if (o.warmup >= o.events) Usage("--warmup must be below --events");
  if (o.fusionauth_events > 0 && o.warmup >= o.fusionauth_events) Usage("--warmup must be below --fusionauth-events");
  return o;
}

// ---------------------------------------------------------------------------------------------
// The webhooks.

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A ULID-shaped id (26 Crockford base32 characters: 48-bit milliseconds, then 80 bits), unique
// per `unique` value: splitmix64 is a bijection and its whole output is spelled out.
std::string Ulid(int64_t millis, uint64_t unique) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  uint64_t z = unique + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  std::string out(26, '0');
  auto t = static_cast<uint64_t>(millis);
  for (int i = 9; i >= 0; --i, t >>= 5) out[static_cast<size_t>(i)] = kAlphabet[t & 31];
  for (int i = 25; i >= 13; --i, z >>= 5) out[static_cast<size_t>(i)] = kAlphabet[z & 31];
  out[10] = out[11] = out[12] = kAlphabet[unique % 7];  // the 80-bit tail's spare bits
  return out;
}

std::string IsoMillis(int64_t millis) {
  std::time_t secs = millis / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis % 1000));
  return buf;
}

struct Webhook {
  std::string event_id, type, body;
};

// A realistic stream: memberships are added, change role and are removed; users are disabled
// and re-enabled; over many users and workspaces. Ids, names and times differ per event; the
// JSON has the fixtures' shape (field names and order) and is sent compact, as a provider's
// JSON serializer would.
std::vector<Webhook> BuildWebhooks(size_t count) {
  const ordered_json added = FixtureJson("huudis.account.member_added.v1.json");
  const ordered_json role_changed = FixtureJson("huudis.account.member_role_changed.v1.json");
  const ordered_json removed = FixtureJson("huudis.account.member_removed.v1.json");
  const ordered_json disabled = FixtureJson("huudis.user.disabled.v1.json");
  const ordered_json enabled = FixtureJson("huudis.user.enabled.v1.json");

  static const char* kFirst[] = {"Dana", "Ilse", "Tomas", "Priya", "Kenji", "Amara", "Lukas", "Sofia",
                                 "Mateo", "Yara", "Oskar", "Leila", "Ravi", "Hana", "Felix", "Noor"};
  static const char* kLast[] = {"Okafor", "Berg", "Novak", "Raman", "Sato", "Diallo", "Meyer", "Costa",
                                "Silva", "Haddad", "Lind", "Karimi", "Patel", "Kim", "Wolf", "Aziz"};
  static const char* kWords[] = {"Lumen", "Northwind", "Quartz", "Harbor", "Cobalt", "Juniper",
                                 "Atlas", "Meridian", "Orchid", "Summit", "Vector", "Willow"};
  static const char* kRoles[] = {"member", "member", "member", "admin", "owner"};
  static const char* kVia[] = {"invite_accept", "admin_add", "sso_jit"};
  static const char* kReasons[] = {"account_compromise", "offboarding", "policy_violation",
                                   "admin_action"};

  const size_t users = std::max<size_t>(1000, count / 3);
  const size_t accounts = std::max<size_t>(50, count / 60);
  const int64_t base = NowMillis() - 3600 * 1000;  // facts from the last hour, in event order
  std::mt19937_64 rng(20260603);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto user_id = [&](size_t u) { return "usr_" + Ulid(base - 86400000 + static_cast<int64_t>(u), u); };
  auto account_id = [&](size_t a) { return "acc_" + Ulid(base - 864000000 + static_cast<int64_t>(a), a + (1ULL << 40)); };
  auto user_name = [&](size_t u) { return std::string(kFirst[u % 16]) + " " + kLast[(u / 16) % 16]; };
  auto user_email = [&](size_t u) {
    std::string first = kFirst[u % 16], last = kLast[(u / 16) % 16];
    std::transform(first.begin(), first.end(), first.begin(), ::tolower);
    std::transform(last.begin(), last.end(), last.begin(), ::tolower);
    return first + "." + last + std::to_string(u) + "@example.net";
  };
  auto account_name = [&](size_t a) {
    return std::string(kWords[a % 12]) + " " + kWords[(a / 12) % 12] + " " + std::to_string(a);
  };
  auto admin_of = [&](size_t a) { return user_id((a * 7919) % users); };

  struct Member {
    size_t account, user;
    std::string role;
  };
  std::vector<Member> members;  // added and not removed (by the generator's own order)
  std::vector<size_t> disabled_users;

  std::vector<Webhook> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const int64_t created = base + static_cast<int64_t>(i) * 10;
    const std::string fact = IsoMillis(created - 40 - static_cast<int64_t>(pick(60)));
    size_t slot = i % 20;  // 40% added, 15% role changed, 10% removed, 20% disabled, 15% enabled
    if ((slot >= 8 && slot < 13 && members.empty()) || (slot >= 17 && disabled_users.empty())) {
      slot = slot >= 17 ? 13 : 0;
    }
    // Fills a template's common fields; the caller adds what is particular to the type.
    auto member_event = [&](const ordered_json& tmpl, const Member& m, const char* time_key,
                            const char* actor_key) {
      ordered_json e = tmpl;
      auto& d = e["data"];
      d["accountId"] = account_id(m.account);
      d["accountName"] = account_name(m.account);
      d["userId"] = user_id(m.user);
      d["userEmail"] = user_email(m.user);
      if (d.contains("userName")) d["userName"] = user_name(m.user);
      d["role"] = m.role;
      d[time_key] = fact;
      d[actor_key] = admin_of(m.account);
      return e;
    };
    auto user_event = [&](const ordered_json& tmpl, size_t u, const char* time_key, const char* actor_key) {
      ordered_json e = tmpl;
      auto& d = e["data"];
      d["id"] = user_id(u);
      d["email"] = user_email(u);
      d[time_key] = fact;
      d[actor_key] = user_id(pick(users));
      return e;
    };
    ordered_json e;
    if (slot < 8) {
      Member m{pick(accounts), pick(users), kRoles[pick(5)]};
      e = member_event(added, m, "joinedAt", "addedByUserId");
      e["data"]["addedVia"] = kVia[pick(3)];
      members.push_back(std::move(m));
    } else if (slot < 11) {
      Member& m = members[pick(members.size())];
      std::string previous = m.role;
      m.role = previous == "member" ? "admin" : "member";
      e = member_event(role_changed, m, "changedAt", "changedByUserId");
      e["data"]["previousRole"] = previous;
    } else if (slot < 13) {
      size_t k = pick(members.size());
      e = member_event(removed, members[k], "removedAt", "removedByUserId");
      members[k] = std::move(members.back());
      members.pop_back();
    } else if (slot < 17) {
      size_t u = pick(users);
      e = user_event(disabled, u, "disabledAt", "disabledBy");
      e["data"]["reason"] = kReasons[pick(4)];
      disabled_users.push_back(u);
    } else {
      size_t k = pick(disabled_users.size());
      e = user_event(enabled, disabled_users[k], "enabledAt", "enabledBy");
      disabled_users[k] = disabled_users.back();
      disabled_users.pop_back();
    }
    Webhook w;
    w.event_id = "evt_" + Ulid(created, i + (1ULL << 50));
    w.type = e["type"].get<std::string>();
    e["id"] = w.event_id;
    e["createdAt"] = IsoMillis(created);
    w.body = e.dump();
    out.push_back(std::move(w));
  }
  return out;
}

// The whole HTTP/1.1 request as Huudis would send it, signed at `unix_seconds`.
std::string SignedRequest(const Webhook& w, int64_t unix_seconds, int port, uint64_t delivery) {
  std::string r;
  r.reserve(w.body.size() + 400);
  r += "POST /webhooks/huudis HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
       "\r\nUser-Agent: Huudis-Webhooks/1.0\r\nContent-Type: application/json\r\nHuudis-Event-Type: " +
       w.type + "\r\nHuudis-Event-Id: " + w.event_id + "\r\nHuudis-Delivery-Id: whdlv_" +
       Ulid(NowMillis(), delivery) + "\r\nHuudis-Signature: " +
       adapters::MakeHuudisSignatureHeader(kSecret, unix_seconds, w.body) +
       "\r\nContent-Length: " + std::to_string(w.body.size()) + "\r\n\r\n";
  r += w.body;
  return r;
}

// ---------------------------------------------------------------------------------------------
// The same stream from FusionAuth.

// The FusionAuth delivery of the fact a Huudis webhook carries (docs/providers.md §2.5): a
// workspace membership becomes a registration of the application of the same id, a disable a
// user.deactivate, an enable a user.reactivate; event ids are UUIDs, times epoch milliseconds.
std::string FusionAuthBody(const Webhook& w, size_t index) {
  const ordered_json huudis = ordered_json::parse(w.body);
  const ordered_json& d = huudis["data"];
  const std::optional<TimePoint> created = ParseRfc3339(huudis["createdAt"].get<std::string>());
  const int64_t at = created ? ToUnixMicros(*created) / 1000 : NowMillis();
  char id[40];
  std::snprintf(id, sizeof id, "%08zx-0000-4000-8000-%012zx", index >> 32, index & 0xffffffffffff);
  ordered_json e{{"createInstant", at}, {"id", id}, {"tenantId", "29b8006d-fbbc-45b7-86e8-90d91b0e7131"}};
  const std::string type = w.type;
  if (type == "huudis.user.disabled.v1" || type == "huudis.user.enabled.v1") {
    const bool disabled = type == "huudis.user.disabled.v1";
    e["type"] = disabled ? "user.deactivate" : "user.reactivate";
    e["user"] = {{"active", !disabled}, {"email", d["email"]}, {"id", d["id"]}};
  } else {
    e["type"] = type == "huudis.account.member_added.v1"          ? "user.registration.create"
                : type == "huudis.account.member_role_changed.v1" ? "user.registration.update"
                                                                  : "user.registration.delete";
    e["applicationId"] = d["accountId"];
    e["registration"] = {{"applicationId", d["accountId"]}, {"insertInstant", at}, {"roles", {d["role"]}}};
    e["user"] = {{"active", true}, {"email", d["userEmail"]}, {"id", d["userId"]}};
  }
  return ordered_json{{"event", e}}.dump();
}

struct FusionAuthStream {
  std::string label;                // "HS256", "RS256"
  std::map<std::string, std::string> env;  // the service's key settings
  std::vector<std::string> bodies;  // index i: the twin of hooks[preload + i]
  std::vector<std::string> tokens;  // X-FusionAuth-Signature-JWT of each body
  double sign_s = 0;
};

// Signs every body with `key`, on two threads (RSA signing is slow: it is not what is measured).
FusionAuthStream SignFusionAuth(std::string label, const std::vector<std::string>& bodies, const jwt::SigningKey& key) {
  FusionAuthStream stream{std::move(label), {}, bodies, std::vector<std::string>(bodies.size()), 0};
  auto start = bench::Steady::now();
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < stream.bodies.size();) {
      absl::StatusOr<std::string> token = adapters::MakeFusionAuthSignatureHeader(key, stream.bodies[i]);
      if (!token.ok()) {
        failed = true;
        return;
      }
      stream.tokens[i] = *std::move(token);
    }
  };
  std::thread helper(work);
  work();
  helper.join();
  if (failed) throw std::runtime_error("signing a FusionAuth delivery failed");
  stream.sign_s = bench::MillisSince(start) / 1000.0;
  return stream;
}

std::string FusionAuthRequest(const std::string& body, const std::string& token, int port) {
  std::string r;
  r.reserve(body.size() + token.size() + 200);
  r += "POST /webhooks/fusionauth HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
       "\r\nContent-Type: application/json\r\nX-FusionAuth-Signature-JWT: " + token +
       "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  r += body;
  return r;
}

// The PEM private key of a fresh key made by `openssl genpkey <args>`.
std::string OpensslKey(const std::string& args) {
  std::string path = "/tmp/mm-bench-key-" + std::to_string(getpid()) + ".pem";
  std::string command = "openssl genpkey " + args + " -out " + path + " 2>/dev/null";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("openssl genpkey failed");
  std::ifstream in(path);
  std::stringstream pem;
  pem << in.rdbuf();
  std::filesystem::remove(path);
  return pem.str();
}

// CPU microseconds per delivery of verify + decode in-process, one thread.
struct VerifyCost {
  std::string label;
  double us_per_event = 0;
};

template <typename Decode>
double MicrosPerCall(size_t n, const Decode& decode) {
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i) decode(i);
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / static_cast<double>(n);
}

// ---------------------------------------------------------------------------------------------
// The load: C keep-alive connections, each with one request in flight.

struct LoadResult {
  size_t ok = 0, failed = 0;
  double wall_s = 0;
  std::vector<double> latencies_ms;  // of 2xx answers
  std::map<std::string, size_t> outcomes;  // "status" of the 2xx answers
  std::vector<std::string> failures;  // the first few, for the report
};

class Load {
 public:
  Load(const std::vector<std::string>& requests, size_t begin, size_t end, int port, int connections,
       int threads)
      : requests_(requests), next_(begin), end_(end), threads_(threads), ioc_(threads) {
    tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
    for (int i = 0; i < connections; ++i) {
      auto c = std::make_unique<Conn>(ioc_);
      c->socket.connect(endpoint);
      c->socket.set_option(tcp::no_delay(true));
      conns_.push_back(std::move(c));
    }
  }

  // Sends until the requests are used up or `window` has passed; waits for every answer.
  LoadResult Run(std::chrono::duration<double> window) {
    deadline_ = bench::Steady::now() + std::chrono::duration_cast<bench::Steady::duration>(window);
    auto start = bench::Steady::now();
    for (auto& c : conns_) Next(*c);
    std::vector<std::thread> extra;
    for (int i = 1; i < threads_; ++i) extra.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& t : extra) t.join();
    LoadResult r;
    r.wall_s = bench::MillisSince(start) / 1000.0;
    for (auto& c : conns_) {
      r.ok += c->ok;
      r.latencies_ms.insert(r.latencies_ms.end(), c->latencies_ms.begin(), c->latencies_ms.end());
      for (auto& [k, v] : c->outcomes) r.outcomes[k] += v;
    }
    r.failed = failed_.load();
    r.failures = std::move(failures_);
    return r;
  }

 private:
  struct Conn {
    explicit Conn(net::io_context& ioc) : socket(ioc) {}
    tcp::socket socket;
    beast::flat_buffer buffer;
    std::optional<http::response_parser<http::string_body>> parser;
    bench::Steady::time_point sent_at;
    size_t ok = 0;
    std::vector<double> latencies_ms;
    std::map<std::string, size_t> outcomes;
  };

  void Fail(Conn& c, std::string what) {
    failed_.fetch_add(1);
    {
      std::lock_guard lock(mu_);
      if (failures_.size() < 5) failures_.push_back(std::move(what));
    }
    beast::error_code ignored;
    c.socket.close(ignored);  // this connection stops; the others go on
  }

  void Next(Conn& c) {
    size_t index = next_.fetch_add(1);
    if (index >= end_ || bench::Steady::now() >= deadline_) {
      beast::error_code ignored;
      c.socket.shutdown(tcp::socket::shutdown_both, ignored);
      c.socket.close(ignored);
      return;
    }
    c.sent_at = bench::Steady::now();
    const std::string& request = requests_[index];
    net::async_write(c.socket, net::buffer(request), [this, &c](beast::error_code ec, size_t) {
      if (ec) return Fail(c, "write: " + ec.message());
      c.parser.emplace();
      http::async_read(c.socket, c.buffer, *c.parser, [this, &c](beast::error_code rec, size_t) {
        if (rec) return Fail(c, "read: " + rec.message());
        double ms = bench::MillisSince(c.sent_at);
        const auto& res = c.parser->get();
        unsigned status = res.result_int();
        if (status < 200 || status > 299) {
          return Fail(c, "HTTP " + std::to_string(status) + ": " + res.body());
        }
        ++c.ok;
        c.latencies_ms.push_back(ms);
        static constexpr std::string_view kKey = "\"status\":\"";
        std::string_view body = res.body();
        if (size_t at = body.find(kKey); at != std::string_view::npos) {
          body.remove_prefix(at + kKey.size());
          ++c.outcomes[std::string(body.substr(0, body.find('"')))];
        }
        if (!res.keep_alive()) return Fail(c, "server closed a keep-alive connection");
        Next(c);
      });
    });
  }

  const std::vector<std::string>& requests_;
  std::atomic<size_t> next_;
  const size_t end_;
  const int threads_;
  net::io_context ioc_;
  std::vector<std::unique_ptr<Conn>> conns_;
  bench::Steady::time_point deadline_;
  std::atomic<size_t> failed_{0};
  std::mutex mu_;
  std::vector<std::string> failures_;
};

// ---------------------------------------------------------------------------------------------
// CPU accounting: on a shared 2-core machine wall-clock figures move with the neighbours' load;
// CPU time per event does not (much), and shows which process the time goes to.


// Our child process running `comm` (the service: ServiceProcess does not expose its pid).
int ChildPid(const std::string& comm) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == getpid() && comm.rfind(stat.substr(open + 1, close - open - 1), 0) == 0) return std::stoi(name);
  }
  return -1;
}

struct CpuSample {
  double service = 0, postgres = 0, client = 0;
};

// The service, the PostgreSQL backends connected to `db` (the service's connections) and this
// program.
CpuSample SampleCpu(int service_pid, const testing::TestDatabase& db) {
  CpuSample s;
  if (service_pid > 0) s.service = testing::ProcessCpuSeconds(service_pid);
  for (const auto& row : db.Query("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                                  " AND pid <> pg_backend_pid()")) {
    s.postgres += testing::ProcessCpuSeconds(row[0].as<int>());
  }
  s.client = testing::ProcessCpuSeconds(getpid());
  return s;
}

// ---------------------------------------------------------------------------------------------
// One service run on a fresh database.

// Writes hooks[0, count) through the adapter and the event store in batches of 1,000, then
// ANALYZEs the database.
void Preload(const testing::TestDatabase& db, const std::vector<Webhook>& hooks, size_t count) {
  const adapters::HuudisAdapter adapter({.secrets = {kSecret}});
  store::PgEventStore store(db.url());
  const int64_t t = NowMillis() / 1000;
  bench::BatchLoader loader(store, "preload");
  for (size_t i = 0; i < count; ++i) {
    const std::string signature = adapters::MakeHuudisSignatureHeader(kSecret, t, hooks[i].body);
    adapters::HeaderLookup headers = [&](std::string_view name) -> std::optional<std::string_view> {
      if (name == adapters::HuudisAdapter::kSignatureHeader) return signature;
      return std::nullopt;
    };
    auto event = adapter.Decode(headers, hooks[i].body, FromUnixSeconds(t));
    if (!event.ok()) throw std::runtime_error("preload: " + std::string(event.status().message()));
    loader.Add(std::move(*event));
  }
  loader.Flush();
  db.Query("ANALYZE");
}

struct ServiceRun {
  std::string label;
  LoadResult load;
  double events_per_s = 0;
  bench::Summary latency;
  double mean_batch = 0;  // from mm_writer_batch_size, warm-up included
  double mean_commit_ms = 0;  // from mm_writer_commit_duration_seconds, warm-up included
  CpuSample cpu_us_per_event;  // measured window only
  size_t stored = 0, acknowledged = 0;  // provider_events rows vs 2xx answers + preloaded events
  bool ok() const { return load.failed == 0 && stored == acknowledged && load.ok > 0; }
};

// `fusionauth`: send that stream (FusionAuth deliveries) instead of the Huudis webhooks.
ServiceRun RunService(const Options& o, const std::vector<Webhook>& hooks, std::optional<int> batch,
                      int connections, const FusionAuthStream* fusionauth = nullptr) {
  ServiceRun run;
  run.label = batch ? "MM_WRITER_MAX_BATCH=" + std::to_string(*batch) : "MM_WRITER_MAX_BATCH=service default";
  if (fusionauth != nullptr) run.label = "FusionAuth " + fusionauth->label;
  auto db = testing::TestDatabase::Create("bench_ingest");
  for (const auto& [name, value] : o.db_settings) {
    pqxx::connection conn(db->url());
    pqxx::nontransaction txn(conn);
    txn.exec("ALTER DATABASE " + txn.quote_name(db->name()) + " SET " + name + " = " + txn.quote(value));
  }
  std::map<std::string, std::string> env = {{"MM_DATABASE_URL", db->url()},
                                            {"MM_HUUDIS_SECRETS", kSecret},
                                            {"MM_INSECURE_NO_AUTH", "1"},
                                            {"MM_MAX_CONNECTIONS", std::to_string(connections + 64)}};
  if (batch) env["MM_WRITER_MAX_BATCH"] = std::to_string(*batch);
  if (fusionauth != nullptr) env.insert(fusionauth->env.begin(), fusionauth->env.end());
  Preload(*db, hooks, o.preload);
  auto service = testing::ServiceProcess::Start({.binary = o.service_binary, .env = env});

  // Signed now: the run must end within the signature window (300 s).
  const int64_t t = NowMillis() / 1000;
  std::vector<std::string> requests(o.preload);  // the preloaded ones are not sent
  requests.reserve(hooks.size());
  if (fusionauth != nullptr) {
    for (size_t i = 0; i < fusionauth->bodies.size(); ++i) {
      requests.push_back(FusionAuthRequest(fusionauth->bodies[i], fusionauth->tokens[i], service->http_port()));
    }
  } else {
    for (size_t i = o.preload; i < hooks.size(); ++i) {
      requests.push_back(SignedRequest(hooks[i], t, service->http_port(), i));
    }
  }

  const size_t first = o.preload;
  LoadResult warm = Load(requests, first, first + o.warmup, service->http_port(), connections, o.client_threads)
                        .Run(std::chrono::hours(1));
  Load load(requests, first + o.warmup, requests.size(), service->http_port(), connections, o.client_threads);
  const int service_pid = ChildPid(std::filesystem::path(o.service_binary).filename().string());
  CpuSample before = SampleCpu(service_pid, *db);
  run.load = load.Run(std::chrono::duration<double>(o.seconds));
  CpuSample after = SampleCpu(service_pid, *db);
  if (run.load.ok > 0) {
    double per = 1e6 / static_cast<double>(run.load.ok);
    run.cpu_us_per_event = {(after.service - before.service) * per, (after.postgres - before.postgres) * per,
                            (after.client - before.client) * per};
  }
  run.acknowledged = o.preload + warm.ok + run.load.ok;
  run.load.failed += warm.failed;
  for (auto& f : warm.failures) run.load.failures.push_back("warm-up: " + f);
  run.events_per_s = static_cast<double>(run.load.ok) / run.load.wall_s;
  std::vector<double> ms = run.load.latencies_ms;
  run.latency = bench::Summarize(ms);

  auto metrics = client::HttpRequest("GET", service->http_url() + "/metrics", {}, "");
  if (metrics.ok()) {
    double count = MetricValue(metrics->body, "mm_writer_batch_size_count");
    if (count > 0) run.mean_batch = MetricValue(metrics->body, "mm_writer_batch_size_sum") / count;
    double commits = MetricValue(metrics->body, "mm_writer_commit_duration_seconds_count");
    if (commits > 0) {
      run.mean_commit_ms = 1000 * MetricValue(metrics->body, "mm_writer_commit_duration_seconds_sum") / commits;
    }
  }
  run.stored = std::stoul(db->Scalar("SELECT count(*) FROM provider_events"));
  if (!run.ok()) {
    std::fprintf(stderr, "%s: %zu failed requests, %zu acknowledged, %zu stored\n", run.label.c_str(),
                 run.load.failed, run.acknowledged, run.stored);
    for (const auto& f : run.load.failures) std::fprintf(stderr, "  %s\n", f.c_str());
    std::string log = service->Log();
    std::fprintf(stderr, "service log (tail):\n%s\n", log.substr(log.size() > 4000 ? log.size() - 4000 : 0).c_str());
  }
  return run;
}

// ---------------------------------------------------------------------------------------------
// The pgbench baseline.

struct PgbenchRun {
  bool ok = false;
  std::string command;
  double tps = 0;
  std::vector<double> latencies_ms;
  bench::Summary latency;
};

std::string PgbenchBinary(const Options& o) {
  if (!o.pgbench_path.empty()) return o.pgbench_path;
  for (const char* p : {"/usr/lib/postgresql/15/bin/pgbench", "/usr/bin/pgbench"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "pgbench";
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

PgbenchRun RunPgbench(const Options& o, const std::string& sample_body) {
  PgbenchRun run;
  auto db = testing::TestDatabase::Create("bench_pgbench", /*migrate=*/false);
  db->Query(
      "CREATE TABLE bench_events (event_id text PRIMARY KEY, received_at timestamptz NOT NULL DEFAULT now(),"
      " body jsonb NOT NULL); CREATE SEQUENCE bench_event_seq");
  const testing::ScratchDir scratch("mm-ingest-bench");
  const std::filesystem::path dir(scratch.path());
  std::string literal;
  for (char c : sample_body) literal += c == '\'' ? std::string("''") : std::string(1, c);
  {
    std::ofstream script(dir / "insert.sql");
    script << "INSERT INTO bench_events (event_id, body) VALUES ('evt_' || lpad(nextval('bench_event_seq')::text, "
              "26, '0'), '"
           << literal << "');\n";
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%g", o.pgbench_seconds);
  run.command = PgbenchBinary(o) + " -n -c " + std::to_string(o.connections) + " -j 2 -T " + secs +
                " -l --log-prefix=" + (dir / "log").string() + " -f " + (dir / "insert.sql").string() + " " +
                ShellQuote(db->url());
  std::string output;
  if (FILE* pipe = popen((run.command + " 2>&1").c_str(), "r")) {
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
    int status = pclose(pipe);
    run.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  size_t at = output.find("tps = ");
  if (at != std::string::npos) run.tps = std::strtod(output.c_str() + at + 6, nullptr);
  if (!run.ok || run.tps <= 0) {
    std::fprintf(stderr, "pgbench failed:\n%s\n%s\n", run.command.c_str(), output.c_str());
    run.ok = false;
  }
  // Per-transaction log lines: client_id transaction_no time_us script_no epoch epoch_us.
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().rfind("log.", 0) != 0) continue;
    std::ifstream in(entry.path());
    long long client, txn, micros;
    std::string rest;
    while (in >> client >> txn >> micros && std::getline(in, rest)) {
      run.latencies_ms.push_back(static_cast<double>(micros) / 1000.0);
    }
  }
  std::vector<double> ms = run.latencies_ms;
  run.latency = bench::Summarize(ms);
  return run;
}

std::string Outcomes(const std::map<std::string, size_t>& outcomes) {
  std::string s;
  for (const auto& [k, v] : outcomes) s += (s.empty() ? "" : ", ") + k + " " + std::to_string(v);
  return s;
}

}  // namespace
}  // namespace mm

int main(int argc, char** argv) {
  using namespace mm;
  const Options o = ParseOptions(argc, argv);

  auto build_start = bench::Steady::now();
  const std::vector<Webhook> hooks = BuildWebhooks(o.preload + o.events);
  size_t body_bytes = 0;
  for (const auto& w : hooks) body_bytes += w.body.size();
  const size_t mean_body = body_bytes / hooks.size();
  // The baseline's row body: a real webhook of the mean size.
  const Webhook* sample = &hooks.front();
  for (const auto& w : hooks) {
    if (w.body.size() >= mean_body) {
      sample = &w;
      break;
    }
  }
  {
    auto probe = testing::TestDatabase::Create("bench_probe", /*migrate=*/false);
    std::printf("ingest: signed Huudis webhooks, %d keep-alive HTTP/1.1 connections, %d client thread(s)\n",
                o.connections, o.client_threads);
    std::printf("PostgreSQL %s: fsync=%s synchronous_commit=%s wal_sync_method=%s\n",
                probe->Scalar("SHOW server_version").c_str(), probe->Scalar("SHOW fsync").c_str(),
                probe->Scalar("SHOW synchronous_commit").c_str(), probe->Scalar("SHOW wal_sync_method").c_str());
  }
  std::printf("webhooks built: %zu (mean body %zu bytes) in %.1f s; per run: %zu preloaded into the database"
              " (then ANALYZE), %zu sent as warm-up, then up to %g s measured\n",
              hooks.size(), mean_body, bench::MillisSince(build_start) / 1000.0, o.preload, o.warmup, o.seconds);
  std::fflush(stdout);

  // FusionAuth: the same stream as FusionAuth deliveries, and its keys.
  std::vector<FusionAuthStream> fusionauth;
  std::vector<VerifyCost> verify_costs;
  if (o.fusionauth_events > 0) {
    const size_t n = std::min(o.fusionauth_events, hooks.size() - o.preload);
    std::vector<std::string> bodies;
    for (size_t i = 0; i < n; ++i) bodies.push_back(FusionAuthBody(hooks[o.preload + i], i));
    auto hmac = jwt::SigningKey::Hmac(jwt::Algorithm::kHS256, "bench-hmac", kFusionAuthSecret);
    auto rsa = jwt::SigningKey::FromPrivateKeyPem(jwt::Algorithm::kRS256, "bench-rsa",
                                                  OpensslKey("-algorithm RSA -pkeyopt rsa_keygen_bits:2048"));
    auto ec = jwt::SigningKey::FromPrivateKeyPem(jwt::Algorithm::kES256, "bench-ec",
                                                 OpensslKey("-algorithm EC -pkeyopt ec_paramgen_curve:P-256"));
    if (!hmac.ok() || !rsa.ok() || !ec.ok()) throw std::runtime_error("FusionAuth bench keys");
    nlohmann::json jwks{{"keys", nlohmann::json::array()}};
    for (const jwt::SigningKey* key : {&*rsa, &*ec}) jwks["keys"].push_back(*jwt::PublicJwk(*key));
    const std::string jwks_path = "/tmp/mm-bench-jwks-" + std::to_string(getpid()) + ".json";
    std::ofstream(jwks_path) << jwks.dump();
    fusionauth.push_back(SignFusionAuth("HS256", bodies, *hmac));
    fusionauth.back().env = {{"MM_FUSIONAUTH_HMAC_SECRETS", kFusionAuthSecret}};
    fusionauth.push_back(SignFusionAuth("RS256", bodies, *rsa));
    fusionauth.back().env = {{"MM_FUSIONAUTH_PUBLIC_KEYS_FILE", jwks_path}};
    std::printf("FusionAuth deliveries: %zu, signed HS256 in %.1f s and RS256 (2,048-bit) in %.1f s\n", n,
                fusionauth[0].sign_s, fusionauth[1].sign_s);

    // Verify + decode in-process, one thread, the same deliveries.
    const size_t m = std::min<size_t>(n, 5000);
    const int64_t t = NowMillis() / 1000;
    const adapters::HuudisAdapter huudis({.secrets = {kSecret}});
    std::vector<std::string> huudis_signatures;
    for (size_t i = 0; i < m; ++i) {
      huudis_signatures.push_back(adapters::MakeHuudisSignatureHeader(kSecret, t, hooks[o.preload + i].body));
    }
    verify_costs.push_back({"Huudis HMAC-SHA256 (baseline)", MicrosPerCall(m, [&](size_t i) {
                              auto headers = [&](std::string_view) -> std::optional<std::string_view> {
                                return huudis_signatures[i];
                              };
                              if (!huudis.Decode(headers, hooks[o.preload + i].body, FromUnixSeconds(t)).ok()) std::abort();
                            })});
    jwt::KeySet keys;
    (void)keys.AddHmacSecretEntry(kFusionAuthSecret);
    (void)keys.AddPublicKeys(jwks.dump());
    adapters::FusionAuthAdapterOptions options;
    options.keys = keys;
    const adapters::FusionAuthAdapter adapter(std::move(options));
    FusionAuthStream es256 = SignFusionAuth("ES256", std::vector<std::string>(bodies.begin(), bodies.begin() + m), *ec);
    for (const FusionAuthStream* stream : {&fusionauth[0], &fusionauth[1], &es256}) {
      verify_costs.push_back({"FusionAuth " + stream->label, MicrosPerCall(m, [&](size_t i) {
                                auto headers = [&](std::string_view) -> std::optional<std::string_view> {
                                  return stream->tokens[i];
                                };
                                if (!adapter.Decode(headers, stream->bodies[i], SystemClock::Instance().Now()).ok()) {
                                  std::abort();
                                }
                              })});
    }
  }

  bool ok = true;
  ServiceRun main_run = RunService(o, hooks, o.batch, o.connections);
  ok = ok && main_run.ok();
  bench::WriteDistribution("ingest", "service: signed webhooks over HTTP, ack after commit",
                           main_run.load.latencies_ms);

  std::vector<ServiceRun> sweep;
  for (int b : o.sweep) {
    sweep.push_back(RunService(o, hooks, b, o.sweep_connections));
    ok = ok && sweep.back().ok();
    bench::WriteDistribution("ingest_batch_sweep", "max batch " + std::to_string(b), sweep.back().load.latencies_ms);
  }

  std::vector<ServiceRun> fusionauth_runs;
  for (const FusionAuthStream& stream : fusionauth) {
    fusionauth_runs.push_back(RunService(o, hooks, o.batch, o.connections, &stream));
    ok = ok && fusionauth_runs.back().ok();
  }

  PgbenchRun pg;
  if (o.pgbench) {
    pg = RunPgbench(o, sample->body);
    ok = ok && pg.ok;
    bench::WriteDistribution("ingest", "pgbench: one-row INSERT transactions", pg.latencies_ms);
  }

  std::printf("\n");
  bench::PrintLatencyHeader();
  bench::PrintLatencyRow("service: webhook answered 2xx after commit", main_run.latency);
  for (const ServiceRun& r : fusionauth_runs) bench::PrintLatencyRow("service: " + r.label + " webhook, 2xx after commit", r.latency);
  if (o.pgbench) bench::PrintLatencyRow("baseline: pgbench one-row INSERT transaction", pg.latency);
  std::printf("service (%s): %zu events acknowledged in %.2f s = %.0f events/s\n", main_run.label.c_str(),
              main_run.load.ok, main_run.load.wall_s, main_run.events_per_s);
  std::printf("service: mean batch %.1f events, mean commit %.2f ms; answers: %s\n", main_run.mean_batch,
              main_run.mean_commit_ms, Outcomes(main_run.load.outcomes).c_str());
  const CpuSample& cpu = main_run.cpu_us_per_event;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::printf("CPU per acknowledged event: service %.0f us, PostgreSQL backends %.0f us, load tool %.0f us"
              " (%u cores: CPU-bound ceiling %.0f events/s)\n",
              cpu.service, cpu.postgres, cpu.client, cores, cores * 1e6 / (cpu.service + cpu.postgres + cpu.client));
  std::printf("stored: %zu provider_events rows for %zu preloaded and acknowledged events: %s\n",
              main_run.stored, main_run.acknowledged, main_run.stored == main_run.acknowledged ? "all there" : "MISSING");
  if (o.pgbench) {
    std::printf("baseline: %s\n", pg.command.c_str());
    std::printf("baseline: %.0f tps (one %zu-byte jsonb row per transaction)\n", pg.tps, sample->body.size());
    std::printf("ratio (service events/s / pgbench tps): %.2f\n", main_run.events_per_s / pg.tps);
  }
  constexpr double kTarget = 10000;  // issue #4: events/s acknowledged after commit, fsync on
  char measured[96];
  std::snprintf(measured, sizeof measured, "%.0f events/s, %.0f%% of it", main_run.events_per_s,
                100 * main_run.events_per_s / kTarget);
  bench::PrintTarget("ingest >= 10,000 events/s acknowledged after commit, 64 senders", main_run.events_per_s >= kTarget,
                     measured);
  if (!verify_costs.empty()) {
    std::printf("\nverify + decode one delivery in-process (one thread, %s):\n", "the same stream");
    for (const VerifyCost& c : verify_costs) {
      std::printf("  %-32s %8.1f us  (%.2fx the Huudis baseline)\n", c.label.c_str(), c.us_per_event,
                  c.us_per_event / verify_costs.front().us_per_event);
    }
    std::printf("the service, same database preload and senders, FusionAuth deliveries instead of Huudis:\n");
    std::printf("  %-22s %10s %9s %9s %14s %8s\n", "stream", "events/s", "p50 ms", "p99 ms", "CPU us/event",
                "stored");
    for (const ServiceRun* r : {&main_run}) {
      const CpuSample& c = r->cpu_us_per_event;
      std::printf("  %-22s %10.0f %9.3f %9.3f %14.0f %8s\n", "Huudis (baseline)", r->events_per_s, r->latency.p50_ms,
                  r->latency.p99_ms, c.service + c.postgres, r->stored == r->acknowledged ? "all" : "MISSING");
    }
    for (const ServiceRun& r : fusionauth_runs) {
      const CpuSample& c = r.cpu_us_per_event;
      std::printf("  %-22s %10.0f %9.3f %9.3f %14.0f %8s  (%.2fx Huudis events/s; service CPU %.0f us/event)\n",
                  r.label.c_str(), r.events_per_s, r.latency.p50_ms, r.latency.p99_ms, c.service + c.postgres,
                  r.stored == r.acknowledged ? "all" : "MISSING", r.events_per_s / main_run.events_per_s, c.service);
    }
  }
  if (!sweep.empty()) {
    std::printf("\ngroup-commit sweep (%d connections, fresh database per row, same webhooks):\n",
                o.sweep_connections);
    std::printf("%-20s %10s %9s %9s %9s %11s %10s %12s %8s\n", "MM_WRITER_MAX_BATCH", "events/s", "p50 ms",
                "p99 ms", "mean ms", "mean batch", "commit ms", "CPU us/event", "stored");
    for (const ServiceRun& r : sweep) {
      const CpuSample& c = r.cpu_us_per_event;
      std::printf("%-20s %10.0f %9.3f %9.3f %9.3f %11.1f %10.2f %12.0f %8s\n",
                  r.label.substr(r.label.find('=') + 1).c_str(), r.events_per_s, r.latency.p50_ms,
                  r.latency.p99_ms, r.latency.mean_ms, r.mean_batch, r.mean_commit_ms,
                  c.service + c.postgres + c.client, r.stored == r.acknowledged ? "all" : "MISSING");
    }
  }
  if (!ok) std::printf("FAILED: a request was not answered 2xx, an acknowledged event is missing, or pgbench failed"
                       " (details on stderr)\n");
  return ok ? 0 : 1;
}
