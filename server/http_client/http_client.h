#pragma once
// The one outbound HTTP client of the service (libcurl): every pull source (Huudis, MonoCloud,
// FusionAuth REST APIs) sends its requests through an HttpClient.
//
// What it promises:
// - HTTPS with certificate and host-name verification always on, against the system trust store
//   or `ca_bundle_file`. `http://` is accepted (in-cluster proxies, tests) with one warning per
//   client; any other scheme is INVALID_ARGUMENT. Redirects are not followed: a 3xx is returned
//   as a Response like any other final status.
// - Retries of 429, 5xx and transport failures (connection refused or reset, DNS failure,
//   timeouts, TLS handshake aborted) with the rules of retry_policy.h, at most max_attempts in
//   all; the back-off waits through RetryEnvironment so tests never sleep for real and shutdown
//   interrupts at once.
// - Requests and responses are never logged (headers carry credentials, bodies carry personal
//   data); logs and error messages name the URL without its user-info, query or fragment.
//
// Thread-safety: an HttpClient is used by one thread at a time (it reuses one libcurl handle and
// its keep-alive connections); use one client per thread. Different clients may run in parallel.
// A RetryEnvironment is shared by any number of clients and threads.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/time.h"
#include "http_client/retry_policy.h"

namespace mm::http_client {

struct HttpClientOptions {
  std::string ca_bundle_file;  // PEM CA bundle for private CAs; empty = system trust store
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds attempt_timeout{30000};  // whole attempt (connect+TLS+send+receive)
  int max_attempts = 5;  // first try + retries, for 429, 5xx and transport errors; < 1 means 1
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30000};  // cap of exponential back-off
  std::chrono::seconds max_retry_after{300};     // Retry-After above this is capped to it
  size_t max_response_bytes = 16 << 20;          // larger (decoded) body = error, no retry
  std::string user_agent = "membership-mirror";
};

struct Request {
  std::string method = "GET";  // any token; HEAD asks for no body
  std::string url;             // http:// or https:// only
  // Sent as given, in order (a name may repeat). The client adds User-Agent (unless given here)
  // and Accept-Encoding; names and values must not contain CR, LF or NUL (INVALID_ARGUMENT).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // sent when non-empty, or always for POST/PUT/PATCH; set Content-Type yourself
};

struct Response {
  int status = 0;
  std::string body;  // decoded (gzip/deflate/brotli undone)
  // In arrival order, names lower-cased, values without surrounding blanks. Only the final
  // response's headers (no 100 Continue or other interim responses).
  std::vector<std::pair<std::string, std::string>> headers;
  int attempts = 0;  // how many attempts it took (1 = no retry)

  // The first value of header `lower_name` (which must be lower case); nullopt if absent. The
  // view points into `headers`.
  std::optional<std::string_view> Header(std::string_view lower_name) const;
};

// Injected so tests never sleep for real and shutdown interrupts back-off at once. All methods
// may be called from any thread.
class RetryEnvironment {
 public:
  virtual ~RetryEnvironment() = default;
  // Waits `d`; returns false if the wait was interrupted (shutdown): the client then stops
  // retrying and returns CANCELLED.
  virtual bool Sleep(std::chrono::milliseconds d) = 0;
  // True once the owner is shutting down: an in-flight transfer is aborted → CANCELLED.
  virtual bool Cancelled() const = 0;
  // Uniform random in [0, 1) for jitter.
  virtual double Random() = 0;
  // For Retry-After as an HTTP-date.
  virtual TimePoint Now() const = 0;
};

class HttpClient {
 public:
  // `env` must outlive the client. `name` labels logs and error messages (e.g. "huudis-audit").
  HttpClient(HttpClientOptions options, RetryEnvironment& env, std::string name);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs `request`, retrying as described at the top of this file. Returns:
  // - the Response for a final status that is not retried: 1xx-3xx, 4xx other than 429;
  // - UNAVAILABLE when attempts are exhausted, naming the last status or transport error;
  // - FAILED_PRECONDITION, without retrying, when TLS verification fails (untrusted or expired
  //   certificate, wrong host name, unreadable ca_bundle_file), naming the problem;
  // - RESOURCE_EXHAUSTED, without retrying, for a body over max_response_bytes;
  // - CANCELLED as soon as env.Cancelled() is seen (checked before each attempt and at least
  //   every 50 ms during a transfer) or env.Sleep() returns false;
  // - INVALID_ARGUMENT for a malformed URL, a scheme other than http/https, an empty method or
  //   a header with CR/LF/NUL;
  // - INTERNAL for other libcurl failures (not retried).
  // Every method is retried alike: a caller whose POST must not be repeated sets max_attempts 1.
  absl::StatusOr<Response> Send(const Request& request);

  // True once this client has logged its plaintext http:// warning.
  bool warned_plaintext() const { return warned_plaintext_; }
  const std::string& name() const { return name_; }

  class Impl;

 private:
  const HttpClientOptions options_;
  RetryEnvironment& env_;
  const std::string name_;
  const RetryPolicy policy_;
  bool warned_plaintext_ = false;
  std::unique_ptr<Impl> impl_;  // the libcurl handles
};

// Maps a final response to the status a source acts on: 2xx OK; 401 UNAUTHENTICATED;
// 403 PERMISSION_DENIED; 404 NOT_FOUND; other 4xx FAILED_PRECONDITION; anything else UNKNOWN.
// The message is "HTTP <status>", followed by ": <text>" when the body is a JSON object with a
// string `message`, `detail`, `error.message` (Huudis), `title` or `generalErrors[0].message`
// (FusionAuth) — the first present, in that order: the specific before the generic — at most
// 200 bytes of it (cut at a UTF-8 boundary) with control characters replaced. The raw body never
// appears in the message.
absl::Status StatusOf(const Response& response);

// A real RetryEnvironment: an interruptible sleep (condition variable), a std::random_device
// seeded PRNG and SystemClock. Thread-safe.
class InterruptibleEnvironment final : public RetryEnvironment {
 public:
  InterruptibleEnvironment();
  ~InterruptibleEnvironment() override;

  // Wakes every sleeper (their Sleep returns false) and makes Cancelled() true, for good.
  void Interrupt();

  bool Sleep(std::chrono::milliseconds d) override;
  bool Cancelled() const override;
  double Random() override;
  TimePoint Now() const override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace mm::http_client
