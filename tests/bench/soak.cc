// Soak (hardening issue point 10): the real `membership-mirror` under steady, moderate, mixed
// traffic for N minutes, sampled all along, judged at the end on whether it stays flat.
//
// Set-up, as the other benchmarks: a fresh migrated database, a callers file with a caller per
// scope, one Huudis secret, MM_MAX_BODY_BYTES=64 KiB and MM_HEADER_TIMEOUT_MS=2000 (so the
// oversized and abandoned requests below are cut quickly). The population (default 10,000
// users, 100 workspaces) is created first through signed webhooks over 32 keep-alive
// connections: account.created per workspace, user.created and one member_added per user.
//
// Then, for N minutes, each at its own steady rate on its own thread (--rate scales them all):
//   - signed Huudis webhooks of every type the adapter maps (server/adapters/huudis_adapter.cc:
//     user created/disabled/enabled, account created, member added/removed/role changed), in the
//     fixtures' shapes (tests/fixtures/huudis.*.json), over 4 keep-alive connections; 15% dated
//     up to 2 minutes in the past (out of order: may be answered `stale`), 12% a re-delivery of
//     an event already answered (`duplicate`), 3% an unknown type (`ignored`), 2% a known type
//     without its user id (`dead_lettered`);
//   - IsUserActive (every 10th with min_sequence = the newest sequence a webhook was answered
//     with) and BatchIsUserActive (100 ids);
//   - reads: GetUser, GetMembership, ListMembers (paged), ListUserMemberships, GetSeatCount,
//     ListSeatCounts (paged), AdminService.ListSources;
//   - two WatchChanges streams open for the whole run (one from sequence 0, one from the
//     current position), and streams that open, read a little and are cancelled;
//   - operator disables and enables (POST /v1/users/{id}/disable|enable) and GET /v1/users/{id},
//     each on a new connection;
//   - hostile and short-lived HTTP: bad, expired and missing signatures, an oversized body, a
//     wrong content type, a body that is not JSON, operator calls without a key, without the
//     scope and for a user never seen, unknown paths and methods, probes, connections closed
//     at once or after half a request, and half requests abandoned (the service must cut them
//     after its header timeout); gRPC calls without a token, without the scope, with an empty
//     id or a bad page token.
// Every answer is checked against what it must be; any other answer counts as an error.
//
// Samples of the service process every --sample-seconds: VmRSS, VmHWM and Threads from
// /proc/<pid>/status, open descriptors from /proc/<pid>/fd, and the queue gauges of /metrics.
// Two samples are taken idle — traffic paused, keep-alive connections closed, queues drained:
// "warm-up" after --warmup (fraction of the run, 0.2) and "end". Flat means, between them: RSS
// grew by at most max(5%, 4 MiB), descriptors by at most 2 and threads by at most 2.
//
// At the end (idle): the cache has applied the database's last sequence; BatchIsUserActive
// agrees with the users table for every user; GetSeatCount agrees with a recount of the
// memberships for every workspace; every acknowledged event is in provider_events once; both
// long streams received every user and membership row of the change log after their start,
// in order; the service stops cleanly on SIGTERM.
//
// Usage: soak [--minutes M=10] [--sample-seconds S=10] [--users N=10000] [--accounts N=100]
//             [--rate X=1] [--warmup F=0.2] [--service-binary PATH]
// Needs MM_TEST_DATABASE_URL. Exit code 0 only when flat, without errors, and every check held.

#include <utility>  // before asio: its awaitable.hpp uses std::exchange without including it

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "adapters/huudis_signature.h"
#include "bench_ids.h"
#include "bench_support.h"
#include "callers_file.h"
#include "common/time.h"
#include "http_post.h"
#include "membership/v1/membership.grpc.pb.h"
#include "membership_client.h"
#include "service_process.h"
#include "test_database.h"

namespace mm {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace v1 = membership::v1;
using tcp = net::ip::tcp;
using nlohmann::ordered_json;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kSecret[] = "whsec_soak_0123456789";
constexpr char kCheckToken[] = "soak-checker";     // users:check
constexpr char kReadToken[] = "soak-reader";       // users:read members:read seats:read
constexpr char kWatchToken[] = "soak-watcher";     // changes:watch
constexpr char kOperatorToken[] = "soak-operator";  // users:write users:read
constexpr char kAdminToken[] = "soak-admin";       // admin
constexpr char kNoScopeToken[] = "soak-no-scope";  // a known caller allowed nothing
constexpr size_t kMaxBodyBytes = 65536;            // the service's MM_MAX_BODY_BYTES
constexpr int kHeaderTimeoutMs = 2000;             // the service's MM_HEADER_TIMEOUT_MS
constexpr int64_t kEpochMs = 1780000000000;        // ids' time part (2026-05-28)

struct Options {
  double minutes = 10;
  double sample_seconds = 10;
  size_t users = 10000;
  size_t accounts = 100;
  double rate = 1;      // scales every rate below
  double warmup = 0.2;  // fraction of the run before the warm-up sample
  std::string service_binary = MM_SERVER_BINARY;
};

// The flatness bounds, between the idle warm-up and end samples.
constexpr double kRssGrowthFraction = 0.05;
constexpr double kRssGrowthMib = 4;
constexpr long long kFdTolerance = 2;
constexpr long long kThreadTolerance = 2;

[[noreturn]] void Usage(const std::string& error) {
  bench::ExitWithUsage("soak", error,
                       "usage: soak [--minutes M] [--sample-seconds S] [--users N] [--accounts N] [--rate X]\n"
                       "            [--warmup F] [--service-binary PATH]\n");
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) Usage(arg + " needs a value");
    std::string value = argv[++i];
    try {
      if (arg == "--minutes") o.minutes = std::stod(value);
      else if (arg == "--sample-seconds") o.sample_seconds = std::stod(value);
      else if (arg == "--users") o.users = std::stoul(value);
      else if (arg == "--accounts") o.accounts = std::stoul(value);
      else if (arg == "--rate") o.rate = std::stod(value);
      else if (arg == "--warmup") o.warmup = std::stod(value);
      else if (arg == "--service-binary") o.service_binary = value;
      else Usage("unknown argument " + arg);
    } catch (const std::logic_error&) {
      Usage("bad value for " + arg);
    }
  }
  if (o.minutes <= 0 || o.sample_seconds <= 0 || o.users < 100 || o.accounts < 3 || o.rate <= 0 ||
      o.warmup <= 0 || o.warmup >= 1) {
    Usage("minutes, sample seconds and rate must be positive, users >= 100, accounts >= 3, 0 < warmup < 1");
  }
  return o;
}

int64_t NowMs() { return ToUnixMicros(SystemClock::Instance().Now()) / 1000; }
std::string Rfc3339Ms(int64_t ms) { return FormatRfc3339(FromUnixMillis(ms)); }

// ---------------------------------------------------------------------------------------------
// Operation counts and errors.

class Stats {
 public:
  void Count(const std::string& kind, uint64_t n = 1) {
    total_.fetch_add(n, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    ops_[kind] += n;
  }
  void Error(const std::string& kind, const std::string& detail) {
    std::lock_guard lock(mu_);
    auto& [count, first] = errors_[kind];
    if (count++ == 0) first = detail.substr(0, 300);
  }
  uint64_t total() const { return total_.load(std::memory_order_relaxed); }
  uint64_t errors() const {
    std::lock_guard lock(mu_);
    uint64_t n = 0;
    for (const auto& [kind, e] : errors_) n += e.first;
    return n;
  }
  // The sum of the kinds that start with `prefix` and end with `suffix`.
  uint64_t Get(const std::string& prefix, const std::string& suffix = "") const {
    std::lock_guard lock(mu_);
    uint64_t n = 0;
    for (auto it = ops_.lower_bound(prefix); it != ops_.end() && it->first.rfind(prefix, 0) == 0; ++it) {
      const std::string& k = it->first;
      if (k.size() >= suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0) n += it->second;
    }
    return n;
  }
  void Print() const {
    std::lock_guard lock(mu_);
    std::printf("\noperations (%llu in all):\n", static_cast<unsigned long long>(total()));
    for (const auto& [kind, n] : ops_) std::printf("  %-62s %10llu\n", kind.c_str(), static_cast<unsigned long long>(n));
    std::printf("errors: %s\n", errors_.empty() ? "none" : "");
    for (const auto& [kind, e] : errors_) {
      std::printf("  %-40s %8llu  first: %s\n", kind.c_str(), static_cast<unsigned long long>(e.first), e.second.c_str());
    }
  }

 private:
  mutable std::mutex mu_;
  std::atomic<uint64_t> total_{0};
  std::map<std::string, uint64_t> ops_;
  std::map<std::string, std::pair<uint64_t, std::string>> errors_;
};

Stats g_stats;
std::atomic<uint64_t> g_last_sequence{0};  // the newest sequence a webhook was answered with

void NoteSequence(uint64_t s) {
  uint64_t seen = g_last_sequence.load();
  while (s > seen && !g_last_sequence.compare_exchange_weak(seen, s)) {
  }
}

// gRPC answers: `kind` counted when the status is one of `expected`, an error otherwise.
bool Expect(const std::string& kind, const grpc::Status& status, std::initializer_list<grpc::StatusCode> expected) {
  for (grpc::StatusCode code : expected) {
    if (status.error_code() == code) {
      g_stats.Count(kind);
      return true;
    }
  }
  g_stats.Error(kind + ": status " + std::to_string(status.error_code()), status.error_message());
  return false;
}

// ---------------------------------------------------------------------------------------------
// The population and the webhooks.

struct Population {
  std::vector<std::string> users, accounts;
  Population(size_t user_count, size_t account_count) {
    uint64_t rng = 20261203;
    for (size_t u = 0; u < user_count; ++u) users.push_back("usr_" + bench::Ulid(kEpochMs + static_cast<int64_t>(u), rng));
    for (size_t a = 0; a < account_count; ++a) accounts.push_back("acc_" + bench::Ulid(kEpochMs + static_cast<int64_t>(a), rng));
  }
  std::string Email(size_t u) const { return "user" + std::to_string(u) + "@example.net"; }
  std::string Name(size_t u) const { return "User " + std::to_string(u); }
  std::string AccountName(size_t a) const { return "Workspace " + std::to_string(a); }
  // The workspaces user `u` may belong to: three of them, so memberships stay bounded.
  size_t AccountOf(size_t u, size_t k) const { return (u * 31 + k * 17) % accounts.size(); }
};

enum class Answer { kNew, kDuplicate, kIgnored, kDeadLetter };  // what a webhook must be answered

struct Webhook {
  std::string event_id, type, body;
  Answer expect = Answer::kNew;
};

enum Type { kUserCreated, kUserDisabled, kUserEnabled, kAccountCreated, kMemberAdded, kMemberRemoved, kRoleChanged };
constexpr const char* kFixtures[] = {
    "huudis.user.created.v1.json",          "huudis.user.disabled.v1.json",
    "huudis.user.enabled.v1.json",          "huudis.account.created.v1.json",
    "huudis.account.member_added.v1.json",  "huudis.account.member_removed.v1.json",
    "huudis.account.member_role_changed.v1.json"};

class WebhookFactory {
 public:
  explicit WebhookFactory(const Population& p) : p_(p), rng_(42) {
    for (const char* f : kFixtures) templates_.push_back(bench::FixtureJson(f));
  }

  // Every workspace, every user, and one membership per user.
  std::vector<Webhook> Seed() {
    std::vector<Webhook> out;
    const int64_t t = NowMs() - 600000;
    for (size_t a = 0; a < p_.accounts.size(); ++a) out.push_back(Make(kAccountCreated, a % p_.users.size(), a, t));
    for (size_t u = 0; u < p_.users.size(); ++u) out.push_back(Make(kUserCreated, u, 0, t));
    for (size_t u = 0; u < p_.users.size(); ++u) out.push_back(Make(kMemberAdded, u, p_.AccountOf(u, 0), t));
    return out;
  }

  // One of the soak's mix (see the top of this file).
  Webhook Next() {
    std::lock_guard lock(mu_);
    const int slot = static_cast<int>(rng_() % 100);
    const size_t u = rng_() % p_.users.size();
    const size_t a = p_.AccountOf(u, rng_() % 3);
    const int64_t now = NowMs();
    const int64_t fact = rng_() % 100 < 15 ? now - 1000 - static_cast<int64_t>(rng_() % 119000) : now;
    if (slot < 22) return Make(kMemberAdded, u, a, fact);
    if (slot < 34) return Make(kRoleChanged, u, a, fact);
    if (slot < 44) return Make(kMemberRemoved, u, a, fact);
    if (slot < 60) return Make(kUserDisabled, u, a, fact);
    if (slot < 76) return Make(kUserEnabled, u, a, fact);
    if (slot < 81) return Make(kUserCreated, u, a, fact);
    if (slot < 83) return Make(kAccountCreated, u, rng_() % p_.accounts.size(), fact);
    if (slot < 95 && !delivered_.empty()) {
      Webhook w = delivered_[rng_() % delivered_.size()];
      w.expect = Answer::kDuplicate;
      return w;
    }
    if (slot < 98) {
      Webhook w = Make(kUserEnabled, u, a, fact);
      w.type = "huudis.user.mfa_enrolled.v1";  // not a type the adapter maps
      w.body = ReplaceType(w.body, "huudis.user.enabled.v1", w.type);
      w.expect = Answer::kIgnored;
      return w;
    }
    ordered_json e = ordered_json::parse(Make(kMemberAdded, u, a, fact).body);
    e["data"].erase("userId");
    return {e["id"].get<std::string>(), e["type"].get<std::string>(), e.dump(), Answer::kDeadLetter};
  }

  // `w` was answered (stored): later re-deliveries of it are expected to be duplicates.
  void Delivered(const Webhook& w) {
    std::lock_guard lock(mu_);
    if (delivered_.size() < 2048) {
      delivered_.push_back(w);
    } else {
      delivered_[rng_() % delivered_.size()] = w;
    }
  }

 private:
  static std::string ReplaceType(std::string body, const std::string& from, const std::string& to) {
    size_t at = body.find(from);
    if (at != std::string::npos) body.replace(at, from.size(), to);
    return body;
  }

  Webhook Make(Type type, size_t u, size_t a, int64_t fact_ms) {
    static const char* kRoles[] = {"member", "member", "admin", "owner"};
    static const char* kReasons[] = {"account_compromise", "offboarding", "policy_violation"};
    ordered_json e = templates_[type];
    const std::string fact = Rfc3339Ms(fact_ms);
    const std::string actor = p_.users[(u * 7919 + 1) % p_.users.size()];
    Webhook w;
    w.event_id = "evt_" + bench::Ulid(fact_ms, rng_state_);
    e["id"] = w.event_id;
    e["createdAt"] = fact;
    auto& d = e["data"];
    switch (type) {
      case kUserCreated:
        d["id"] = p_.users[u], d["email"] = p_.Email(u), d["name"] = p_.Name(u), d["createdAt"] = fact;
        break;
      case kUserDisabled:
        d["id"] = p_.users[u], d["email"] = p_.Email(u), d["disabledAt"] = fact, d["disabledBy"] = actor;
        d["reason"] = kReasons[u % 3];
        break;
      case kUserEnabled:
        d["id"] = p_.users[u], d["email"] = p_.Email(u), d["enabledAt"] = fact, d["enabledBy"] = actor;
        break;
      case kAccountCreated:
        d["id"] = p_.accounts[a], d["name"] = p_.AccountName(a), d["slug"] = "workspace-" + std::to_string(a);
        d["createdAt"] = fact, d["createdByUserId"] = actor;
        break;
      case kMemberAdded:
      case kMemberRemoved:
      case kRoleChanged: {
        d["accountId"] = p_.accounts[a], d["accountName"] = p_.AccountName(a);
        d["userId"] = p_.users[u], d["userEmail"] = p_.Email(u);
        if (d.contains("userName")) d["userName"] = p_.Name(u);
        d["role"] = kRoles[(u + a + static_cast<size_t>(fact_ms)) % 4];
        const char* time_key = type == kMemberAdded ? "joinedAt" : type == kMemberRemoved ? "removedAt" : "changedAt";
        const char* actor_key = type == kMemberAdded     ? "addedByUserId"
                                : type == kMemberRemoved ? "removedByUserId"
                                                         : "changedByUserId";
        d[time_key] = fact;
        d[actor_key] = actor;
        if (type == kRoleChanged) d["previousRole"] = "member";
        break;
      }
    }
    w.type = e["type"].get<std::string>();
    w.body = e.dump();
    return w;
  }

  const Population& p_;
  std::vector<ordered_json> templates_;
  std::mutex mu_;
  std::mt19937_64 rng_;
  uint64_t rng_state_ = 7;
  std::vector<Webhook> delivered_;
};

Headers WebhookHeaders(const Webhook& w, const std::string& secret, int64_t unix_seconds) {
  return {{"Content-Type", "application/json"},
          {"Huudis-Event-Type", w.type},
          {"Huudis-Event-Id", w.event_id},
          {"Huudis-Signature", adapters::MakeHuudisSignatureHeader(secret, unix_seconds, w.body)}};
}

// A keep-alive HTTP/1.1 connection with blocking I/O (a 15 s receive timeout); it connects
// when first used and after Close.
class KeepAlive {
 public:
  explicit KeepAlive(int port) : port_(port) {}

  absl::StatusOr<http::response<http::string_body>> Post(const std::string& target, const Headers& headers,
                                                         const std::string& body) {
    beast::error_code ec;
    if (!socket_.is_open()) {
      socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)), ec);
      if (ec) return absl::UnavailableError("connect: " + ec.message());
      timeval tv{15, 0};
      setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      socket_.set_option(tcp::no_delay(true));
    }
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, "127.0.0.1:" + std::to_string(port_));
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::write(socket_, req, ec);
    if (ec) return Broken("write: " + ec.message());
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res, ec);
    if (ec) return Broken("read: " + ec.message());
    if (!res.keep_alive()) Close();
    return res;
  }

  void Close() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    buffer_.clear();
  }

 private:
  absl::Status Broken(const std::string& what) {
    Close();
    return absl::UnavailableError(what);
  }
  const int port_;
  net::io_context ioc_;
  tcp::socket socket_{ioc_};
  beast::flat_buffer buffer_;
};

// Sends `w` and checks the answer against what it must be. Returns the answer's status text.
std::string SendWebhook(KeepAlive& conn, WebhookFactory* factory, const Webhook& w, const std::string& kind) {
  auto res = conn.Post("/webhooks/huudis", WebhookHeaders(w, kSecret, NowMs() / 1000), w.body);
  if (!res.ok()) {
    g_stats.Error(kind + ": transport", std::string(res.status().message()));
    return "";
  }
  if (res->result_int() != 200) {
    g_stats.Error(kind + ": HTTP " + std::to_string(res->result_int()), res->body());
    return "";
  }
  auto answer = nlohmann::json::parse(res->body(), nullptr, false);
  std::string status = answer.is_object() ? answer.value("status", "") : "";
  if (answer.is_object() && answer.contains("sequence")) NoteSequence(answer["sequence"].get<uint64_t>());
  bool expected = false;
  switch (w.expect) {
    case Answer::kNew: expected = status == "applied" || status == "stale"; break;
    case Answer::kDuplicate: expected = status == "duplicate"; break;
    case Answer::kIgnored: expected = status == "ignored"; break;
    case Answer::kDeadLetter: expected = status == "dead_lettered"; break;
  }
  const std::string type = w.type.substr(w.type.find('.') + 1);  // without "huudis."
  if (!expected) {
    g_stats.Error(kind + ": unexpected answer", type + ": " + res->body());
    return status;
  }
  g_stats.Count(kind + " " + type + ": " + status);
  if (w.expect != Answer::kDuplicate && factory != nullptr) factory->Delivered(w);
  return status;
}

// ---------------------------------------------------------------------------------------------
// Steady traffic: each kind on its own thread at its own rate, pausable.

class Traffic {
 public:
  // Runs `op` `per_second` times a second until Stop. `on_pause` runs on the same thread when
  // a pause begins (e.g. to close a keep-alive connection).
  void Add(double per_second, std::function<void()> op, std::function<void()> on_pause = {}) {
    auto w = std::make_unique<Worker>();
    Worker* raw = w.get();
    w->thread = std::thread([this, raw, per_second, op = std::move(op), on_pause = std::move(on_pause)] {
      const auto interval = std::chrono::duration_cast<bench::Steady::duration>(std::chrono::duration<double>(1 / per_second));
      auto next = bench::Steady::now();
      while (!stop_) {
        if (paused_) {
          if (on_pause) on_pause();
          raw->idle = true;
          while (paused_ && !stop_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
          raw->idle = false;
          next = bench::Steady::now();
          continue;
        }
        op();
        next += interval;
        auto now = bench::Steady::now();
        if (next < now - std::chrono::seconds(1)) next = now;  // fell behind: no burst to catch up
        while (!stop_ && !paused_ && bench::Steady::now() < next) {
          std::this_thread::sleep_for(std::min<bench::Steady::duration>(next - bench::Steady::now(), std::chrono::milliseconds(50)));
        }
      }
      if (on_pause) on_pause();
    });
    workers_.push_back(std::move(w));
  }
  // Returns when no operation is running and every on_pause has returned.
  void Pause() {
    paused_ = true;
    for (auto& w : workers_) {
      while (!w->idle) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  void Resume() { paused_ = false; }
  void Stop() {
    stop_ = true;
    for (auto& w : workers_) w->thread.join();
    workers_.clear();
  }
  ~Traffic() {
    if (!workers_.empty()) Stop();
  }

 private:
  struct Worker {
    std::thread thread;
    std::atomic<bool> idle{false};
  };
  std::atomic<bool> paused_{false}, stop_{false};
  std::vector<std::unique_ptr<Worker>> workers_;
};

// A WatchChanges stream open until Stop; checks that sequences strictly increase.
class LongWatch {
 public:
  LongWatch(const std::string& target, uint64_t after, std::string name)
      : name_(std::move(name)), after_(after), last_(after) {
    stub_ = v1::ChangeService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
    context_.AddMetadata("authorization", std::string("Bearer ") + kWatchToken);
    thread_ = std::thread([this] {
      v1::WatchChangesRequest req;
      req.set_after_sequence(after_);
      auto reader = stub_->WatchChanges(&context_, req);
      v1::Change change;
      while (reader->Read(&change)) {
        if (change.sequence() <= last_) {
          g_stats.Error("watch " + name_ + ": out of order",
                        std::to_string(change.sequence()) + " after " + std::to_string(last_.load()));
        }
        last_ = change.sequence();
        received_.fetch_add(1);
      }
      grpc::Status status = reader->Finish();
      if (!stopping_) g_stats.Error("watch " + name_ + ": ended", status.error_message());
      else Expect("watch " + name_ + ": stream", status, {grpc::StatusCode::CANCELLED});
      g_stats.Count("watch " + name_ + ": changes received", received_.load());
    });
  }
  void Stop() {
    stopping_ = true;
    context_.TryCancel();
    thread_.join();
  }
  uint64_t after() const { return after_; }
  uint64_t last() const { return last_; }
  uint64_t received() const { return received_; }
  const std::string& name() const { return name_; }

 private:
  const std::string name_;
  const uint64_t after_;
  std::atomic<uint64_t> last_, received_{0};
  std::atomic<bool> stopping_{false};
  std::unique_ptr<v1::ChangeService::Stub> stub_;
  grpc::ClientContext context_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// Hostile and short-lived HTTP.

int RawConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

constexpr char kHalfRequest[] = "POST /webhooks/huudis HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applic";

class Hostile {
 public:
  Hostile(const testing::ServiceProcess& service, const Population& p)
      : url_(service.http_url()), port_(service.http_port()), p_(p) {}

  void Next() {
    CheckAbandoned(false);
    const std::string user = p_.users[rng_() % p_.users.size()];
    Webhook w{"evt_" + bench::Ulid(NowMs(), rng_state_), "huudis.user.disabled.v1",
              R"({"id":"evt_x","type":"huudis.user.disabled.v1","data":{"id":")" + user + R"("}})"};
    const int64_t t = NowMs() / 1000;
    switch (step_++ % 16) {
      case 0: return Http("bad signature", "POST", "/webhooks/huudis", WebhookHeaders(w, "whsec_wrong", t), w.body, 401);
      case 1: return Http("expired signature", "POST", "/webhooks/huudis", WebhookHeaders(w, kSecret, t - 3600), w.body, 401);
      case 2: return Http("no signature", "POST", "/webhooks/huudis", {{"Content-Type", "application/json"}}, w.body, 401);
      case 3: {
        std::string big = R"({"id":"evt_big","type":"huudis.user.disabled.v1","pad":")" + std::string(2 * kMaxBodyBytes, 'x') + "\"}";
        return Http("oversized body", "POST", "/webhooks/huudis", {{"Content-Type", "application/json"}}, big, 413);
      }
      case 4: {
        Headers h = WebhookHeaders(w, kSecret, t);
        h[0].second = "text/plain";
        return Http("wrong content type", "POST", "/webhooks/huudis", h, w.body, 415);
      }
      case 5: {
        Webhook junk{w.event_id, w.type, "{not json"};
        return Http("not JSON", "POST", "/webhooks/huudis", WebhookHeaders(junk, kSecret, t), junk.body, 400);
      }
      case 6: return Http("operator without key", "POST", "/v1/users/" + user + "/disable", {}, "", 401);
      case 7: return Http("operator without scope", "POST", "/v1/users/" + user + "/disable", {{"X-API-Key", kNoScopeToken}}, "", 403);
      case 8: return Http("operator unknown user", "POST", "/v1/users/usr_never_seen/enable", {{"X-API-Key", kOperatorToken}}, "", 404);
      case 9: return Http("unknown path", "GET", "/wp-login.php", {}, "", 404);
      case 10: return Http("wrong method", "GET", "/webhooks/huudis", {}, "", 405);
      case 11: return Http(step_ % 3 == 0 ? "probe /healthz" : step_ % 3 == 1 ? "probe /readyz" : "probe /metrics", "GET",
                           step_ % 3 == 0 ? "/healthz" : step_ % 3 == 1 ? "/readyz" : "/metrics", {}, "", 200);
      case 12:
      case 13: {  // connect, maybe half a request, close
        int fd = RawConnect(port_);
        if (fd < 0) return g_stats.Error("http churn: connect", "failed");
        if (step_ % 2 == 0 && write(fd, kHalfRequest, sizeof kHalfRequest - 1) < 0) g_stats.Error("http churn: write", "failed");
        close(fd);
        return g_stats.Count(step_ % 2 == 0 ? "http churn: half a request, closed" : "http churn: connected, closed");
      }
      default: {  // half a request, abandoned: the service must cut it after its header timeout
        int fd = RawConnect(port_);
        if (fd < 0 || write(fd, kHalfRequest, sizeof kHalfRequest - 1) < 0) return g_stats.Error("http churn: abandon", "failed");
        abandoned_.push_back({fd, bench::Steady::now()});
        return g_stats.Count("http churn: half a request, abandoned");
      }
    }
  }

  // Abandoned connections the service has closed are counted and closed here; ones open past
  // the header timeout + 3 s are errors. `all`: waits until none is left.
  void CheckAbandoned(bool all) {
    while (!abandoned_.empty()) {
      auto [fd, opened] = abandoned_.front();
      pollfd pfd{fd, POLLIN, 0};
      bool closed = false;
      if (poll(&pfd, 1, 0) > 0) {
        char buf[4096];
        ssize_t n;
        while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        }
        closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
      }
      if (closed) {
        g_stats.Count("http churn: abandoned request cut by the service");
      } else if (bench::MillisSince(opened) > kHeaderTimeoutMs + 3000) {
        g_stats.Error("http churn: abandoned request not cut", "open " + std::to_string(bench::MillisSince(opened)) + " ms");
        closed = true;
      } else if (all) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      } else {
        return;
      }
      close(fd);
      abandoned_.pop_front();
    }
  }

 private:
  void Http(const std::string& kind, const char* method, const std::string& path, const Headers& headers,
            const std::string& body, int expect) {
    auto reply = client::HttpRequest(method, url_ + path, headers, body, std::chrono::seconds(10));
    if (!reply.ok()) return g_stats.Error("hostile " + kind + ": transport", std::string(reply.status().message()));
    if (reply->status != expect) {
      return g_stats.Error("hostile " + kind + ": HTTP " + std::to_string(reply->status), reply->body);
    }
    g_stats.Count("hostile " + kind + ": " + std::to_string(expect));
  }

  const std::string url_;
  const int port_;
  const Population& p_;
  std::mt19937_64 rng_{99};
  uint64_t rng_state_ = 11;
  uint64_t step_ = 0;
  std::deque<std::pair<int, bench::Steady::time_point>> abandoned_;
};

// ---------------------------------------------------------------------------------------------
// Samples of the service process.

struct Sample {
  double t_s = 0;
  std::string phase;
  long long rss_kib = 0, hwm_kib = 0, fds = 0, threads = 0;
  double writer_queue = 0, pool_queued = 0, pool_in_use = 0, http_connections = 0, lag = 0, cache_users = 0,
         cache_sequence = 0;
  double ops_per_s = 0;
};

Sample TakeSample(const testing::ServiceProcess& service, bench::Steady::time_point start, const std::string& phase) {
  Sample s;
  s.t_s = bench::MillisSince(start) / 1000;
  s.phase = phase;
  // The process first: the /metrics request below is a connection of its own.
  s.rss_kib = testing::ProcessStatusValue(service.pid(), "VmRSS");
  s.hwm_kib = testing::ProcessStatusValue(service.pid(), "VmHWM");
  s.threads = testing::ProcessStatusValue(service.pid(), "Threads");
  s.fds = testing::OpenFileCount(service.pid());
  auto reply = client::HttpRequest("GET", service.http_url() + "/metrics", {}, "", std::chrono::seconds(10));
  if (!reply.ok() || reply->status != 200) {
    g_stats.Error("sample: /metrics", reply.ok() ? std::to_string(reply->status) : std::string(reply.status().message()));
    return s;
  }
  const std::string& m = reply->body;
  s.writer_queue = testing::MetricValue(m, "mm_writer_queue_events");
  s.pool_queued = testing::MetricValue(m, "mm_db_pool_queued");
  s.pool_in_use = testing::MetricValue(m, "mm_db_pool_in_use");
  s.http_connections = testing::MetricValue(m, "mm_http_connections");
  s.lag = testing::MetricValue(m, "mm_changelog_lag_sequences");
  s.cache_users = testing::MetricValue(m, "mm_cache_users");
  s.cache_sequence = testing::MetricValue(m, "mm_cache_sequence");
  return s;
}

void PrintSampleHeader() {
  std::printf("%7s %-16s %8s %8s %5s %7s %8s %6s %8s %6s %5s %7s %9s %7s\n", "t s", "phase", "RSS MiB", "HWM MiB",
              "fds", "threads", "writer_q", "pool_q", "pool_use", "http_c", "lag", "users", "sequence", "ops/s");
}

void PrintSample(const Sample& s) {
  std::printf("%7.0f %-16s %8.1f %8.1f %5lld %7lld %8.0f %6.0f %8.0f %6.0f %5.0f %7.0f %9.0f %7.0f\n", s.t_s,
              s.phase.c_str(), static_cast<double>(s.rss_kib) / 1024, static_cast<double>(s.hwm_kib) / 1024, s.fds,
              s.threads, s.writer_queue, s.pool_queued, s.pool_in_use, s.http_connections, s.lag, s.cache_users,
              s.cache_sequence, s.ops_per_s);
  std::fflush(stdout);
}

// Waits until nothing is queued or in flight in the service (up to 20 s), then samples.
Sample IdleSample(const testing::ServiceProcess& service, bench::Steady::time_point start, const std::string& phase) {
  auto deadline = bench::Steady::now() + std::chrono::seconds(20);
  Sample s;
  while (true) {
    s = TakeSample(service, start, phase);
    bool idle = s.writer_queue == 0 && s.pool_queued == 0 && s.pool_in_use == 0 && s.lag == 0 && s.http_connections <= 1;
    if (idle) break;
    if (bench::Steady::now() > deadline) {
      g_stats.Error("drain: service not idle 20 s after the traffic paused",
                    "http connections " + std::to_string(s.http_connections) + ", writer queue " +
                        std::to_string(s.writer_queue) + ", pool in use " + std::to_string(s.pool_in_use));
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // connections just closed: let the service reap them
  return TakeSample(service, start, phase);
}

// ---------------------------------------------------------------------------------------------
// The end: correctness checks, idle.

bool Check(const std::string& what, bool ok, const std::string& detail) {
  std::printf("check: %s: %s (%s)\n", what.c_str(), ok ? "ok" : "FAILED", detail.c_str());
  return ok;
}

v1::UserState StateOf(const std::string& db_state) {
  if (db_state == "active") return v1::USER_STATE_ACTIVE;
  if (db_state == "disabled") return v1::USER_STATE_DISABLED;
  return v1::USER_STATE_DELETED;
}

bool CheckUsers(const testing::TestDatabase& db, const Population& p, const client::MembershipClient& checker) {
  std::map<std::string, std::string> states;
  for (const auto& row : db.Query("SELECT user_id, state FROM users")) states[row[0].c_str()] = row[1].c_str();
  size_t mismatches = 0, disabled = 0;
  std::string first;
  for (size_t i = 0; i < p.users.size(); i += 1000) {
    v1::BatchIsUserActiveRequest req;
    for (size_t u = i; u < std::min(p.users.size(), i + 1000); ++u) req.add_user_ids(p.users[u]);
    v1::BatchIsUserActiveResponse res;
    grpc::Status status = checker.BatchIsUserActive(req, &res);
    if (!status.ok()) return Check("IsUserActive equals the users table", false, status.error_message());
    for (const auto& r : res.results()) {
      auto it = states.find(r.user_id());
      v1::UserState want = it == states.end() ? v1::USER_STATE_UNKNOWN : StateOf(it->second);
      bool want_active = want == v1::USER_STATE_ACTIVE || want == v1::USER_STATE_UNKNOWN;
      disabled += want == v1::USER_STATE_DISABLED;
      if (r.state() != want || r.active() != want_active) {
        if (mismatches++ == 0) first = r.user_id() + " answered state " + std::to_string(r.state()) + ", table says " +
                                       (it == states.end() ? "absent" : it->second);
      }
    }
  }
  return Check("IsUserActive equals the users table, every user", mismatches == 0,
               std::to_string(p.users.size()) + " users, " + std::to_string(disabled) + " disabled, " +
                   std::to_string(mismatches) + " mismatches" + (first.empty() ? "" : "; first: " + first));
}

bool CheckSeats(const testing::TestDatabase& db, const Population& p, const client::MembershipClient& reader) {
  struct Count {
    int64_t total = 0, billable = 0;
    std::map<std::string, int64_t> by_role;
  };
  std::map<std::string, Count> want;
  for (const auto& row : db.Query(
           "SELECT m.account_id, m.role, count(*),"
           " count(*) FILTER (WHERE u.state IS DISTINCT FROM 'disabled' AND u.state IS DISTINCT FROM 'deleted')"
           " FROM memberships m LEFT JOIN users u USING (user_id) WHERE m.present GROUP BY 1, 2")) {
    Count& c = want[row[0].c_str()];
    c.total += row[2].as<int64_t>();
    c.billable += row[3].as<int64_t>();
    c.by_role[row[1].c_str()] = row[2].as<int64_t>();
  }
  size_t mismatches = 0;
  int64_t members = 0;
  std::string first;
  for (const std::string& account : p.accounts) {
    v1::GetSeatCountRequest req;
    req.set_account_id(account);
    v1::SeatCount got;
    grpc::Status status = reader.GetSeatCount(req, &got);
    const Count& c = want[account];
    members += c.total;
    std::map<std::string, int64_t> roles;
    for (const auto& [role, n] : got.by_role()) {
      if (n != 0) roles[role] = n;
    }
    if (!status.ok() || got.total() != c.total || got.billable() != c.billable || roles != c.by_role) {
      if (mismatches++ == 0) first = account + ": total " + std::to_string(got.total()) + " vs " + std::to_string(c.total) +
                                     ", billable " + std::to_string(got.billable()) + " vs " + std::to_string(c.billable);
    }
  }
  return Check("GetSeatCount equals a recount of the memberships, every workspace", mismatches == 0,
               std::to_string(p.accounts.size()) + " workspaces, " + std::to_string(members) + " present members, " +
                   std::to_string(mismatches) + " mismatches" + (first.empty() ? "" : "; first: " + first));
}

}  // namespace
}  // namespace mm

int main(int argc, char** argv) {
  using namespace mm;
  const Options o = ParseOptions(argc, argv);
  const double run_s = o.minutes * 60;
  signal(SIGPIPE, SIG_IGN);

  auto db = testing::TestDatabase::Create("soak");
  testing::ScratchDir dir("mm-soak");
  const std::string callers = testing::WriteCallersFile(
      dir.path(), {{"soak-checker", kCheckToken, {"users:check"}},
                   {"soak-reader", kReadToken, {"users:read", "members:read", "seats:read"}},
                   {"soak-watcher", kWatchToken, {"changes:watch"}},
                   {"soak-operator", kOperatorToken, {"users:write", "users:read"}},
                   {"soak-admin", kAdminToken, {"admin"}},
                   {"soak-no-scope", kNoScopeToken, {}}});
  auto service = testing::ServiceProcess::Start(
      {.binary = o.service_binary,
       .env = {{"MM_DATABASE_URL", db->url()},
               {"MM_CALLERS_FILE", callers},
               {"MM_HUUDIS_SECRETS", kSecret},
               {"MM_MAX_BODY_BYTES", std::to_string(kMaxBodyBytes)},
               {"MM_HEADER_TIMEOUT_MS", std::to_string(kHeaderTimeoutMs)}}});
  const auto start = bench::Steady::now();
  const Population pop(o.users, o.accounts);
  WebhookFactory factory(pop);
  auto client_for = [&](const char* token) {
    client::ClientOptions options;
    options.target = service->grpc_target();
    options.token = token;
    options.deadline = std::chrono::seconds(10);
    return std::make_unique<client::MembershipClient>(options);
  };
  auto checker = client_for(kCheckToken), reader = client_for(kReadToken), admin = client_for(kAdminToken),
       no_scope = client_for(kNoScopeToken), anonymous = client_for("");

  std::printf("soak: %.1f min of steady mixed traffic against %s (pid %d); %zu users, %zu workspaces; rate x%g\n",
              o.minutes, o.service_binary.c_str(), service->pid(), o.users, o.accounts, o.rate);
  std::printf("flat (idle warm-up sample at %.0f%% of the run vs idle end sample): RSS growth <= max(%.0f%%, %.0f MiB),"
              " fds +%lld, threads +%lld at most\n\n",
              o.warmup * 100, kRssGrowthFraction * 100, kRssGrowthMib, kFdTolerance, kThreadTolerance);
  PrintSampleHeader();
  std::vector<Sample> samples;
  samples.push_back(TakeSample(*service, start, "start"));
  PrintSample(samples.back());

  // The population, through the real webhook path: 32 keep-alive connections (so group commit
  // batches them), as fast as answered.
  {
    const std::vector<Webhook> seed = factory.Seed();
    std::atomic<size_t> next{0};
    std::vector<std::thread> senders;
    for (int i = 0; i < 32; ++i) {
      senders.emplace_back([&] {
        KeepAlive conn(service->http_port());
        for (size_t k; (k = next.fetch_add(1)) < seed.size();) SendWebhook(conn, nullptr, seed[k], "seed");
      });
    }
    for (auto& t : senders) t.join();
  }
  samples.push_back(IdleSample(*service, start, "seeded"));
  PrintSample(samples.back());

  // Two long streams: one replaying the whole log, one from now.
  std::vector<std::unique_ptr<LongWatch>> long_watches;
  long_watches.push_back(std::make_unique<LongWatch>(service->grpc_target(), 0, "long (from 0)"));
  long_watches.push_back(std::make_unique<LongWatch>(service->grpc_target(), g_last_sequence.load(), "long (from now)"));

  Traffic traffic;
  std::mt19937_64 seed_rng(1);
  auto user_at = [&](std::mt19937_64& rng) -> const std::string& { return pop.users[rng() % pop.users.size()]; };

  for (int i = 0; i < 4; ++i) {  // webhooks: 150/s in all
    auto conn = std::make_shared<KeepAlive>(service->http_port());
    traffic.Add(37.5 * o.rate, [&factory, conn] { SendWebhook(*conn, &factory, factory.Next(), "webhook"); },
                [conn] { conn->Close(); });
  }
  traffic.Add(300 * o.rate, [&, rng = std::mt19937_64(2), n = 0]() mutable {
    v1::IsUserActiveRequest req;
    req.set_user_id(user_at(rng));
    if (++n % 10 == 0) req.set_min_sequence(g_last_sequence.load());
    v1::IsUserActiveResponse res;
    Expect(req.min_sequence() ? "grpc IsUserActive with min_sequence" : "grpc IsUserActive", checker->IsUserActive(req, &res),
           {grpc::StatusCode::OK});
  });
  traffic.Add(10 * o.rate, [&, rng = std::mt19937_64(3)]() mutable {
    v1::BatchIsUserActiveRequest req;
    for (int k = 0; k < 100; ++k) req.add_user_ids(user_at(rng));
    v1::BatchIsUserActiveResponse res;
    if (Expect("grpc BatchIsUserActive (100 ids)", checker->BatchIsUserActive(req, &res), {grpc::StatusCode::OK})) {
      for (int k = 0; k < req.user_ids_size(); ++k) {
        if (k >= res.results_size() || res.results(k).user_id() != req.user_ids(k)) {
          g_stats.Error("grpc BatchIsUserActive: results not in request order", req.user_ids(k));
          break;
        }
      }
    }
  });
  traffic.Add(40 * o.rate, [&, rng = std::mt19937_64(4), n = 0]() mutable {
    const size_t u = rng() % pop.users.size();
    const std::string& account = pop.accounts[pop.AccountOf(u, rng() % 3)];
    switch (n++ % 6) {
      case 0: {
        v1::GetUserRequest req;
        req.set_user_id(pop.users[u]);
        v1::User res;
        Expect("grpc GetUser", reader->GetUser(req, &res), {grpc::StatusCode::OK});
        break;
      }
      case 1: {
        v1::GetMembershipRequest req;
        req.set_account_id(account);
        req.set_user_id(pop.users[u]);
        v1::Membership res;
        Expect("grpc GetMembership", reader->GetMembership(req, &res), {grpc::StatusCode::OK, grpc::StatusCode::NOT_FOUND});
        break;
      }
      case 2: {  // every page; nobody twice
        v1::ListMembersRequest req;
        req.set_account_id(account);
        req.set_page_size(100);
        std::set<std::string> seen;
        for (int page = 0; page < 20; ++page) {
          v1::ListMembersResponse res;
          if (!Expect("grpc ListMembers page", reader->ListMembers(req, &res), {grpc::StatusCode::OK})) break;
          for (const auto& m : res.members()) {
            if (!seen.insert(m.user_id()).second) g_stats.Error("grpc ListMembers: member listed twice", m.user_id());
          }
          if (res.next_page_token().empty()) break;
          req.set_page_token(res.next_page_token());
        }
        break;
      }
      case 3: {
        v1::ListUserMembershipsRequest req;
        req.set_user_id(pop.users[u]);
        v1::ListUserMembershipsResponse res;
        Expect("grpc ListUserMemberships", reader->ListUserMemberships(req, &res), {grpc::StatusCode::OK});
        break;
      }
      case 4: {
        v1::GetSeatCountRequest req;
        req.set_account_id(account);
        v1::SeatCount res;
        if (Expect("grpc GetSeatCount", reader->GetSeatCount(req, &res), {grpc::StatusCode::OK})) {
          int64_t sum = 0;
          for (const auto& [role, k] : res.by_role()) sum += k;
          if (sum != res.total() || res.billable() > res.total()) {
            g_stats.Error("grpc GetSeatCount: inconsistent", account + ": total " + std::to_string(res.total()));
          }
        }
        break;
      }
      default: {
        v1::ListSeatCountsRequest req;
        req.set_page_size(50);
        for (int page = 0; page < 10; ++page) {
          v1::ListSeatCountsResponse res;
          if (!Expect("grpc ListSeatCounts page", reader->ListSeatCounts(req, &res), {grpc::StatusCode::OK})) break;
          if (res.next_page_token().empty()) break;
          req.set_page_token(res.next_page_token());
        }
      }
    }
  });
  traffic.Add(0.2 * o.rate, [&] {
    v1::ListSourcesResponse res;
    Expect("grpc ListSources (admin)", admin->ListSources({}, &res), {grpc::StatusCode::OK});
  });
  // Short streams: open near the head, read up to 50 changes (at most 2 s), cancel.
  auto watch_stub = v1::ChangeService::NewStub(grpc::CreateChannel(service->grpc_target(), grpc::InsecureChannelCredentials()));
  traffic.Add(2 * o.rate, [&] {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kWatchToken);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::WatchChangesRequest req;
    const uint64_t head = g_last_sequence.load();
    req.set_after_sequence(head > 200 ? head - 200 : 0);
    auto stream = watch_stub->WatchChanges(&ctx, req);
    v1::Change change;
    uint64_t last = req.after_sequence();
    int n = 0;
    while (n < 50 && stream->Read(&change)) {
      if (change.sequence() <= last) g_stats.Error("watch short: out of order", std::to_string(change.sequence()));
      last = change.sequence();
      ++n;
    }
    ctx.TryCancel();
    Expect("watch short: opened, read, cancelled", stream->Finish(),
           {grpc::StatusCode::CANCELLED, grpc::StatusCode::DEADLINE_EXCEEDED});
    g_stats.Count("watch short: changes received", static_cast<uint64_t>(n));
  });
  traffic.Add(4 * o.rate, [&, rng = std::mt19937_64(5), n = 0]() mutable {
    const std::string& user = user_at(rng);
    const std::string url = service->http_url() + "/v1/users/" + user;
    Headers auth = {{"Authorization", std::string("Bearer ") + kOperatorToken}, {"Content-Type", "application/json"}};
    const char* what = n % 3 == 0 ? "disable" : n % 3 == 1 ? "enable" : "get";
    ++n;
    auto reply = std::string(what) == "get"
                     ? client::HttpRequest("GET", url, auth, "")
                     : client::HttpRequest("POST", url + "/" + what, auth,
                                           std::string(what) == "disable" ? R"({"reason":"soak: incident drill"})" : "");
    const std::string kind = std::string("operator ") + what;
    if (!reply.ok()) return g_stats.Error(kind + ": transport", std::string(reply.status().message()));
    if (reply->status != 200) return g_stats.Error(kind + ": HTTP " + std::to_string(reply->status), reply->body);
    g_stats.Count(kind + ": 200");
  });
  auto hostile = std::make_shared<Hostile>(*service, pop);
  traffic.Add(6 * o.rate, [hostile] { hostile->Next(); }, [hostile] { hostile->CheckAbandoned(true); });
  traffic.Add(2 * o.rate, [&, n = 0]() mutable {
    v1::IsUserActiveRequest req;
    req.set_user_id(pop.users[0]);
    v1::IsUserActiveResponse res;
    switch (n++ % 4) {
      case 0: Expect("hostile grpc: no token", anonymous->IsUserActive(req, &res), {grpc::StatusCode::UNAUTHENTICATED}); break;
      case 1: Expect("hostile grpc: no scope", no_scope->IsUserActive(req, &res), {grpc::StatusCode::PERMISSION_DENIED}); break;
      case 2:
        req.clear_user_id();
        Expect("hostile grpc: empty id", checker->IsUserActive(req, &res), {grpc::StatusCode::INVALID_ARGUMENT});
        break;
      default: {
        v1::ListMembersRequest list;
        list.set_account_id(pop.accounts[0]);
        list.set_page_token("not-a-token");
        v1::ListMembersResponse out;
        Expect("hostile grpc: bad page token", reader->ListMembers(list, &out), {grpc::StatusCode::INVALID_ARGUMENT});
      }
    }
  });

  // Samples until the end; the idle warm-up sample once the warm-up has passed.
  const double traffic_start_s = bench::MillisSince(start) / 1000;
  const double warmup_at = traffic_start_s + o.warmup * run_s, end_at = traffic_start_s + run_s;
  std::optional<Sample> warm;
  uint64_t last_ops = g_stats.total();
  double last_t = traffic_start_s;
  while (true) {
    double now = bench::MillisSince(start) / 1000;
    double next = std::min(end_at, last_t + o.sample_seconds);
    if (!warm && warmup_at < next) next = warmup_at;
    std::this_thread::sleep_for(std::chrono::duration<double>(std::max(0.0, next - now)));
    now = bench::MillisSince(start) / 1000;
    if (now >= end_at - 0.01) break;
    if (!warm && now >= warmup_at - 0.01) {
      traffic.Pause();
      warm = IdleSample(*service, start, "warm-up (idle)");
      samples.push_back(*warm);
      PrintSample(samples.back());
      traffic.Resume();
      last_ops = g_stats.total();
      last_t = bench::MillisSince(start) / 1000;
      continue;
    }
    Sample s = TakeSample(*service, start, "traffic");
    uint64_t ops = g_stats.total();
    s.ops_per_s = static_cast<double>(ops - last_ops) / (now - last_t);
    last_ops = ops;
    last_t = now;
    samples.push_back(s);
    PrintSample(s);
  }
  traffic.Pause();
  const Sample end = IdleSample(*service, start, "end (idle)");
  samples.push_back(end);
  PrintSample(end);

  // Checks, idle, with the long streams still open.
  bool ok = true;
  const uint64_t head = std::stoull(db->Scalar("SELECT last_sequence FROM change_log_head"));
  ok &= Check("the cache applied the database's last sequence", static_cast<uint64_t>(end.cache_sequence) == head && end.lag == 0,
              "cache " + std::to_string(static_cast<uint64_t>(end.cache_sequence)) + ", database " + std::to_string(head));
  ok &= CheckUsers(*db, pop, *checker);
  ok &= CheckSeats(*db, pop, *reader);
  // Answered webhooks are counted as "seed|webhook <type>: <answer>".
  const uint64_t acked = g_stats.Get("seed ") + g_stats.Get("webhook ");
  const uint64_t duplicates = g_stats.Get("seed ", ": duplicate") + g_stats.Get("webhook ", ": duplicate");
  const uint64_t stored_huudis = std::stoull(db->Scalar("SELECT count(*) FROM provider_events WHERE provider = 'huudis'"));
  ok &= Check("every acknowledged webhook is stored once", stored_huudis == acked - duplicates,
              std::to_string(acked - duplicates) + " acknowledged (not duplicates), " + std::to_string(stored_huudis) + " rows");
  const uint64_t operator_acked = g_stats.Get("operator disable") + g_stats.Get("operator enable");
  const uint64_t stored_operator = std::stoull(db->Scalar("SELECT count(*) FROM provider_events WHERE provider = 'operator'"));
  ok &= Check("every operator action is stored", stored_operator == operator_acked,
              std::to_string(operator_acked) + " answered 200, " + std::to_string(stored_operator) + " rows");
  for (const auto& w : long_watches) {
    auto deadline = bench::Steady::now() + std::chrono::seconds(10);
    while (w->last() < head && bench::Steady::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    // Account rows (workspace names) are not streamed (server/api/change_service.h).
    const uint64_t rows = std::stoull(db->Scalar("SELECT count(*) FROM change_log WHERE entity <> 'account' AND sequence > " +
                                                 std::to_string(w->after())));
    ok &= Check("watch " + w->name() + " received every change in order", w->last() == head && w->received() == rows,
                std::to_string(w->received()) + " received up to " + std::to_string(w->last()) + "; log: " + std::to_string(rows) +
                    " user and membership rows up to " + std::to_string(head));
  }
  for (auto& w : long_watches) w->Stop();
  traffic.Stop();
  samples.push_back(IdleSample(*service, start, "streams closed"));
  PrintSample(samples.back());

  // Flat?
  std::printf("\n");
  if (!warm) warm = samples[1];
  const double rss_growth_mib = static_cast<double>(end.rss_kib - warm->rss_kib) / 1024;
  const double rss_bound_mib = std::max(kRssGrowthMib, kRssGrowthFraction * static_cast<double>(warm->rss_kib) / 1024);
  const bool rss_flat = rss_growth_mib <= rss_bound_mib;
  const bool fds_flat = end.fds - warm->fds <= kFdTolerance;
  const bool threads_flat = end.threads - warm->threads <= kThreadTolerance;
  // A least-squares slope of RSS over the traffic samples after the warm-up, for the record.
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const Sample& s : samples) {
    if (s.t_s < warm->t_s || s.phase != "traffic") continue;
    const double x = s.t_s / 60, y = static_cast<double>(s.rss_kib) / 1024;
    n += 1, sx += x, sy += y, sxx += x * x, sxy += x * y;
  }
  const double slope = n >= 2 && n * sxx - sx * sx > 0 ? (n * sxy - sx * sy) / (n * sxx - sx * sx) : 0;
  std::printf("flat: RSS %.1f -> %.1f MiB (%+.1f MiB, %+.1f%%; bound +%.1f MiB; slope under traffic %+.2f MiB/min): %s\n",
              static_cast<double>(warm->rss_kib) / 1024, static_cast<double>(end.rss_kib) / 1024, rss_growth_mib,
              100 * rss_growth_mib * 1024 / static_cast<double>(warm->rss_kib), rss_bound_mib, slope, rss_flat ? "yes" : "NO");
  std::printf("flat: fds %lld -> %lld (bound +%lld): %s\n", warm->fds, end.fds, kFdTolerance, fds_flat ? "yes" : "NO");
  std::printf("flat: threads %lld -> %lld (bound +%lld): %s\n", warm->threads, end.threads, kThreadTolerance,
              threads_flat ? "yes" : "NO");

  // A clean stop.
  service->Signal(SIGTERM);
  const int exit_code = service->Wait(std::chrono::seconds(30));
  ok &= Check("the service stops cleanly on SIGTERM", exit_code == 0, "exit code " + std::to_string(exit_code));

  g_stats.Print();
  const bool passed = ok && rss_flat && fds_flat && threads_flat && g_stats.errors() == 0;
  std::printf("\nsoak: %s (%.1f min of traffic, %llu operations, %llu errors)\n", passed ? "PASSED" : "FAILED", o.minutes,
              static_cast<unsigned long long>(g_stats.total()), static_cast<unsigned long long>(g_stats.errors()));
  if (!passed) {
    std::string log = service->Log();
    std::fprintf(stderr, "service log (tail):\n%s\n", log.substr(log.size() > 4000 ? log.size() - 4000 : 0).c_str());
  }
  return passed ? 0 : 1;
}
