// Fuzz target: the HTTP request path (server/ingress): the real HttpServer (Boost.Beast
// session: header and body limits, Expect, keep-alive and pipelining, lingering close) on a
// loopback port, with the real router, Huudis adapter, operator API and group-commit writer in
// front of a store that checks instead of storing. Each input is the bytes a client sends on
// one connection (then it half-closes); `@SIG@` in the first request's header section is
// replaced by a valid Huudis signature of that request's body, so that signed deliveries reach
// the decoder, and the token `fuzz-token` authorizes the operator API.
//
// Checks: every connection is answered within 5 s by a sequence of complete HTTP/1.1
// responses and then closed; no answer is a 500 (the fake store never fails, so a 500 is a
// bug); every JSON answer is valid JSON; a webhook answered 200 names its outcome. Round trip:
// every event the writer hands to the store is stored the way PgEventStore stores it and read
// back identically (fuzz_support.h CheckStoredRoundTrip), on the writer thread.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "adapters/huudis_adapter.h"
#include "auth/caller_registry.h"
#include "common/crypto.h"
#include "common/log.h"
#include "fuzz_support.h"
#include "ingest/event_writer.h"
#include "ingress/http_server.h"
#include "ingress/router.h"
#include "metrics/metrics.h"
#include "store/read_pool.h"
#include "store/read_store.h"

namespace {

namespace http = boost::beast::http;
namespace net = boost::asio;
using net::ip::tcp;

constexpr char kSecret[] = "whsec_fuzz_secret_000000000000000";
constexpr char kToken[] = "fuzz-token";
constexpr std::string_view kSignaturePlaceholder = "@SIG@";

class FixedClock final : public mm::Clock {
 public:
  mm::TimePoint Now() const override { return mm::fuzz::Now(); }
};

// Applies nothing: checks that each event survives being stored, and answers as a store would.
class CheckingStore final : public mm::store::EventStore {
 public:
  absl::StatusOr<std::vector<mm::store::ApplyResult>> ApplyBatch(
      std::span<const mm::domain::ProviderEvent* const> batch,
      std::span<const mm::store::SourceCheckpoint* const>) override {
    std::vector<mm::store::ApplyResult> results;
    for (const mm::domain::ProviderEvent* event : batch) {
      mm::fuzz::CheckStoredRoundTrip(*event);
      results.push_back({.outcome = event->dead_letter_reason ? mm::domain::Outcome::kDeadLettered
                                    : event->ignored          ? mm::domain::Outcome::kIgnored
                                                              : mm::domain::Outcome::kApplied,
                         .sequence = ++sequence_});
    }
    return results;
  }
  absl::Status Ping() override { return absl::OkStatus(); }

 private:
  uint64_t sequence_ = 0;
};

// Knows every user whose id starts with "usr_"; the operator API reads nothing else.
class FakeReadStore final : public mm::store::ReadStore {
 public:
  absl::StatusOr<std::optional<mm::store::UserView>> GetUser(const std::string& user_id) override {
    if (!user_id.starts_with("usr_")) return std::nullopt;
    mm::store::UserView view;
    view.record.user_id = user_id;
    view.updated_at = mm::fuzz::Now();
    return view;
  }
  absl::StatusOr<std::optional<mm::store::MembershipView>> GetMembership(const std::string&,
                                                                         const std::string&) override {
    return Unused();
  }
  absl::StatusOr<mm::store::Page<mm::store::MembershipView>> ListMembers(const std::string&, const std::string&,
                                                                         const std::string&, int) override {
    return Unused();
  }
  absl::StatusOr<mm::store::Page<mm::store::MembershipView>> ListUserMemberships(const std::string&,
                                                                                 const std::string&, int) override {
    return Unused();
  }
  absl::StatusOr<mm::store::SeatCountView> GetSeatCount(const std::string&) override { return Unused(); }
  absl::StatusOr<mm::store::Page<mm::store::SeatCountView>> ListSeatCounts(const std::string&, int) override {
    return Unused();
  }
  absl::StatusOr<std::vector<mm::store::ChangeRow>> ReadChanges(uint64_t, int) override { return Unused(); }
  absl::StatusOr<std::vector<mm::store::SourceStatus>> ListSources() override { return Unused(); }

 private:
  static absl::Status Unused() { mm::fuzz::Fail("the operator API read more than users", __FILE__, __LINE__); }
};

// The service, started once per process and never stopped (libFuzzer exits the process).
struct Service {
  FixedClock clock;
  mm::metrics::Metrics metrics;
  mm::adapters::HuudisAdapter adapter{{.secrets = {kSecret}}};
  CheckingStore store;
  mm::ingest::EventWriter writer{store, {}};
  mm::store::ReadPool reads{[] { return std::make_unique<FakeReadStore>(); }, 1, 100};
  mm::auth::CallerRegistry callers = *mm::auth::CallerRegistry::FromJson(
      nlohmann::json::array({{{"name", "fuzz"},
                              {"token_sha256", mm::HexEncode(mm::Sha256(kToken))},
                              {"scopes", {"users:read", "users:write"}}}})
          .dump());
  mm::ingress::HttpServer server{
      {.listen = "127.0.0.1:0",
       .threads = 1,
       .max_body_bytes = 64 * 1024,
       .max_header_bytes = 8 * 1024,
       .header_timeout = std::chrono::seconds(2),
       .body_timeout = std::chrono::seconds(2),
       .handler_timeout = std::chrono::seconds(3),
       .linger_time = std::chrono::milliseconds(500),
       .linger_idle = std::chrono::milliseconds(100)},
      mm::ingress::MakeRouter({.webhook_adapters = {{"huudis", &adapter}},
                               .writer = &writer,
                               .metrics = &metrics,
                               .readiness = [] { return mm::ingress::Readiness{.ready = true, .checks = {{"fuzz", "ok"}}}; },
                               .clock = &clock,
                               .operator_api = {.writer = &writer,
                                                .reads = &reads,
                                                .callers = &callers,
                                                .metrics = &metrics,
                                                .clock = &clock}})};

  Service() {
    mm::log::SetLevel(mm::log::Level::kError);
    absl::Status started = server.Start();
    if (!started.ok()) mm::fuzz::Fail("the HTTP server did not start", __FILE__, __LINE__);
  }
};

// The input with `@SIG@` in the first request's header section replaced by the signature of
// that request's body, as Beast reads it.
std::string Signed(std::string_view input) {
  std::string out(input);
  const size_t header_end = out.find("\r\n\r\n");
  const size_t placeholder = out.find(kSignaturePlaceholder);
  if (placeholder == std::string::npos || header_end == std::string::npos || placeholder > header_end) return out;
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(1 << 20);
  boost::beast::error_code ec;
  parser.put(net::buffer(out.data(), out.size()), ec);
  if (ec || !parser.is_done()) return out;
  out.replace(placeholder, kSignaturePlaceholder.size(),
              mm::adapters::MakeHuudisSignatureHeader(kSecret, mm::fuzz::kNowSeconds, parser.get().body()));
  return out;
}

// Sends `request` on a new connection, half-closes, and returns everything the server sent
// until it closed.
std::string Exchange(int port, const std::string& request) {
  static net::io_context ioc;
  tcp::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(net::ip::address_v4::loopback(), static_cast<unsigned short>(port)), ec);
  if (ec) {
    const std::string what = "cannot connect to the HTTP server: " + ec.message();
    mm::fuzz::Fail(what.c_str(), __FILE__, __LINE__);
  }
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  // Closed with a reset once the answer is read: tens of thousands of connections a minute
  // would otherwise leave as many in TIME_WAIT and use up the loopback's ephemeral ports.
  const linger reset{.l_onoff = 1, .l_linger = 0};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  net::write(socket, net::buffer(request), ec);  // the server may close before reading it all
  socket.shutdown(tcp::socket::shutdown_send, ec);
  std::string answer;
  char chunk[16384];
  for (;;) {
    const ssize_t n = ::recv(socket.native_handle(), chunk, sizeof chunk, 0);
    if (n > 0) {
      answer.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) mm::fuzz::Fail("no answer within 5 s", __FILE__, __LINE__);
    break;  // closed (or reset after the answer)
  }
  return answer;
}

void CheckAnswers(std::string_view answers) {
  boost::beast::error_code ec;
  while (!answers.empty()) {
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.body_limit(16 << 20);
    const size_t used = parser.put(net::buffer(answers.data(), answers.size()), ec);
    if (ec == http::error::need_more) parser.put_eof(ec);
    MM_FUZZ_CHECK(!ec && parser.is_done());
    answers.remove_prefix(used);
    const http::response<http::string_body>& response = parser.get();
    MM_FUZZ_CHECK(response.version() == 11);
    const unsigned status = response.result_int();
    MM_FUZZ_CHECK(status == 100 || (status >= 200 && status < 500) || status == 503);
    if (status == 100) continue;
    const std::string_view type(response[http::field::content_type].data(), response[http::field::content_type].size());
    if (type.starts_with("application/json") || type.starts_with("application/problem+json")) {
      const nlohmann::json body = nlohmann::json::parse(response.body(), nullptr, /*allow_exceptions=*/false);
      MM_FUZZ_CHECK(body.is_object());
      if (status == 200 && body.contains("event_id")) {
        MM_FUZZ_CHECK(body.contains("status") && body["status"].is_string());
        MM_FUZZ_CHECK(mm::domain::ParseOutcome(body["status"].get<std::string>()).has_value());
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Service* const service = new Service();
  CheckAnswers(Exchange(service->server.port(), Signed(mm::fuzz::AsText(data, size))));
  return 0;
}
