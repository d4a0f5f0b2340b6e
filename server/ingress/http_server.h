#pragma once
// A small HTTP/1.1 server on Boost.Beast that knows HTTP and nothing else (DESIGN §1):
// - body limit: a Content-Length over the limit is answered 413 before the body is read; a
//   chunked body that grows past it is cut off with 413 too;
// - deadlines: headers must arrive within header_timeout (also the keep-alive idle limit) and
//   the body within body_timeout; slow senders are disconnected;
// - keep-alive and pipelined requests on one connection, answered in order;
// - a connection cap: connections beyond it get 503 with Retry-After and are closed;
// - `Expect: 100-continue` is honoured, so curl-style clients do not stall;
// - graceful drain: Drain() stops accepting, answers requests still arriving with 503 +
//   Connection: close, and waits for handlers in flight;
// - optional TLS (1.2 and later, no renegotiation), the handshake under header_timeout; with a
//   client CA, client certificates are verified when presented, and a request on a connection
//   without a verified client certificate is answered 401, except GET on `anonymous_get_paths`
//   (kubelet probes and scrapers carry none).
//
// Handlers are called on an I/O thread and must not block: they answer through the Responder,
// exactly once, from any thread (e.g. the group-commit writer's).

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "absl/status/statusor.h"

namespace mm::ingress {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;  // close the connection after answering
};

using Responder = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(const HttpRequest&, Responder)>;

// TLS of the port, as PEM text: the caller reads and checks the files at start.
struct HttpTlsOptions {
  std::string cert_chain_pem;   // empty: plaintext
  std::string private_key_pem;
  std::string client_ca_pem;    // non-empty: mutual TLS
  std::vector<std::string> anonymous_get_paths = {"/healthz", "/readyz", "/metrics"};
};

struct HttpServerOptions {
  std::string listen = "0.0.0.0:8080";  // host:port; port 0 picks a free port
  int threads = 2;
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 * 1024;
  int max_connections = 1024;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds write_timeout{10000};
  // Longest a request waits for its handler's answer (a webhook for its commit): then 503 with
  // Retry-After, and the answer that comes later is dropped (it was not promised).
  std::chrono::milliseconds handler_timeout{15000};
  // After an answer to a request whose body was not read whole (413, 400, 431), the connection
  // is half-closed and what the sender still sends is read and dropped — for at most
  // `linger_time`, and until it pauses for `linger_idle` — before it is closed (nginx's
  // lingering close). Closing with unread bytes would make the kernel send a reset, which can
  // destroy the answer before the sender reads it.
  std::chrono::milliseconds linger_time{10000};
  std::chrono::milliseconds linger_idle{2000};
  HttpTlsOptions tls;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();  // Stop()s

  // Binds and starts the I/O threads. Errors (address in use, bad address, a TLS certificate
  // or key OpenSSL refuses) are returned.
  absl::Status Start();
  int port() const { return port_; }

  // Stops accepting and waits up to `grace` for handlers in flight to answer. Returns true if
  // everything in flight was answered.
  bool Drain(std::chrono::milliseconds grace);
  void Stop();

  int open_connections() const;
  bool draining() const;

  class Impl;  // Beast machinery, in http_server.cc

 private:
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace mm::ingress
