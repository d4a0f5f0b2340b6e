#pragma once
// A scriptable HTTP/1.1 server for tests (Boost.Beast): the base of the fake Huudis, MonoCloud
// and FusionAuth APIs that pull-source tests talk to. It listens on 127.0.0.1 port 0, plain or
// TLS, on its own I/O thread, with keep-alive. Every request is recorded, then answered with
// what the handler returns; a response can be delayed (a slow page: a timer, so other
// connections are served meanwhile), sent chunked, or replaced by a connection reset.
// Needs no database.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mm::testing {

struct FakeRequest {
  std::string method;
  std::string target;  // path + query, as sent
  std::string path;    // target up to '?', not decoded
  std::string body;
  std::map<std::string, std::string> query;    // percent- and '+'-decoded; a repeated key keeps the last value
  std::map<std::string, std::string> headers;  // lower-case names; repeated headers joined with ", "
};

struct FakeResponse {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type = "application/json";  // empty: no Content-Type
  std::chrono::milliseconds delay{0};             // wait before answering (slow page)
  bool reset_connection = false;                  // close the socket (TCP RST) without answering
  bool chunked = false;                           // Transfer-Encoding: chunked instead of Content-Length
  bool close = false;                             // Connection: close after this response
  // When non-empty, written as it is instead of a response built from the fields above (interim
  // 1xx responses, malformed replies); `delay`, `reset_connection` and `close` still apply.
  std::string raw;
};

class FakeHttpServer {
 public:
  // Called on the server thread, once per request; may be replaced at any time (thread-safe).
  // An exception thrown by the handler is answered 500.
  using Handler = std::function<FakeResponse(const FakeRequest&)>;

  // Plain HTTP. Throws std::runtime_error if it cannot listen.
  explicit FakeHttpServer(Handler handler);
  // HTTPS with this PEM certificate chain and private key. Throws std::runtime_error if they
  // do not load.
  FakeHttpServer(Handler handler, std::string cert_chain_pem, std::string private_key_pem);
  // Stops at once: pending delayed responses are dropped, connections closed.
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  int port() const;
  std::string base_url() const;  // "http://127.0.0.1:<port>" or "https://127.0.0.1:<port>"

  void SetHandler(Handler handler);

  std::vector<FakeRequest> Requests() const;  // everything received so far, in order
  size_t RequestCount() const;
  void ClearRequests();
  // TCP connections accepted so far (keep-alive tests; a failed TLS handshake counts too).
  size_t ConnectionCount() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Decodes %XX escapes, and '+' as a space when `plus_is_space` (query strings). A malformed
// escape is kept as it is.
std::string PercentDecode(std::string_view text, bool plus_is_space);

}  // namespace mm::testing
