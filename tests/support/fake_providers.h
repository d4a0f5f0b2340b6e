#pragma once
// What the fake provider APIs (fake_huudis.h, fake_monocloud.h, fake_fusionauth.h) share: each
// is a FakeProvider — a FakeHttpServer on 127.0.0.1 port 0 that answers in one provider's
// documented shapes, with a credential, a request log and scripted faults. Pull-source tests run
// the real service against them; `fake-providers` (fake_providers_main.cc) serves them for the
// local demo.
//
// Every request goes through the same steps, in this order:
//   1. a path under "/_fake/" is an admin request: answered by the fake's admin endpoints when
//      the fake was built with them (no credential, never faulted, never delayed), else 404;
//   2. DelayNext: the first armed delay whose prefix matches is counted down and applied to the
//      answer (whatever the answer is);
//   3. FailNext: the first armed failure whose prefix matches is counted down and answered, in the
//      provider's error shape, before the credential is even looked at (as a rate limiter or a
//      proxy in front of the provider would);
//   4. the credential; a missing or wrong one is 401 in the provider's error shape;
//   5. the provider's own routing and validation; a listing consults FailPage once it knows
//      which page of its walk is asked for (after the request is validated).
// Prefixes are matched against the request path as sent (FakeRequest::path, e.g.
// "/api/v1/account/audit" for a Huudis fake served under "/api"); "" matches every path.
//
// Thread-safety: every public method may be called from any thread while the server answers
// requests (a test changes provider state while the service polls it).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.h"
#include "fake_http_server.h"

namespace mm::testing {

class FakeProvider {
 public:
  virtual ~FakeProvider();
  FakeProvider(const FakeProvider&) = delete;
  FakeProvider& operator=(const FakeProvider&) = delete;

  // Where the documented API paths are appended: "http://127.0.0.1:<port>" plus, for Huudis, its
  // path prefix ("/api" by default).
  virtual std::string base_url() const;
  int port() const;

  // The credential requests must carry from now on (a test rotates a token).
  void SetCredential(std::string credential);

  // The next `n` requests whose path starts with `path_prefix` are answered `status` in the
  // provider's error shape, with `Retry-After: <retry_after_seconds>` unless it is negative.
  void FailNext(std::string path_prefix, int n, int status, int retry_after_seconds = -1);
  // A listing request for page `page_index` of its walk (0: the first page — no cursor, page=1,
  // startRow 0; 1: the page after it, ...) whose path starts with `path_prefix` is answered
  // `status` in the provider's error shape. Stays armed until ClearFaults() when `times` is
  // negative, else for that many matching requests. Only listing endpoints consult it.
  void FailPage(std::string path_prefix, int page_index, int status, int times = -1);
  // The next `n` requests whose path starts with `path_prefix` are answered after `delay` (a
  // timer: other connections are served meanwhile).
  void DelayNext(std::string path_prefix, int n, std::chrono::milliseconds delay);
  void ClearFaults();

  // Everything received so far (admin requests included), in order.
  std::vector<FakeRequest> Requests() const;
  // Requests received so far whose path starts with `path_prefix`.
  size_t RequestCount(std::string_view path_prefix = "") const;
  void ClearRequests();

 protected:
  FakeProvider(std::string credential, bool admin_endpoints, const Clock* clock);

  // Starts answering; called last in the derived constructor, so that no request reaches a
  // half-built fake. The derived destructor calls StopServer() first, for the same reason.
  void StartServer();
  void StopServer();

  // The provider's answer to a request that passed steps 1-3 (it checks the credential itself,
  // with CredentialIs, where the provider's header says).
  virtual FakeResponse Serve(const FakeRequest& request) = 0;
  // The provider's error answer for `status` (a fault, a 401, ...).
  virtual FakeResponse Error(int status, std::string_view message, const FakeRequest& request) = 0;
  // An admin request ("/_fake/..."); only called when the fake was built with admin endpoints.
  virtual FakeResponse Admin(const FakeRequest& request) = 0;

  bool CredentialIs(std::string_view presented) const;
  // FailPage: the status to answer page `page_index` of a listing at `path` with, if armed
  // (counts one use down).
  std::optional<int> PageFault(std::string_view path, int page_index);
  TimePoint Now() const { return clock_->Now(); }

 private:
  struct CountedFault {
    std::string prefix;
    int remaining = 0;  // negative: until ClearFaults()
    int status = 0;
    int retry_after_seconds = -1;
    int page_index = -1;
    std::chrono::milliseconds delay{0};
  };

  FakeResponse Dispatch(const FakeRequest& request);

  const bool admin_endpoints_;
  const Clock* const clock_;
  mutable std::mutex mu_;
  std::string credential_;                // guarded by mu_
  std::vector<CountedFault> failures_;    // guarded by mu_
  std::vector<CountedFault> page_faults_; // guarded by mu_
  std::vector<CountedFault> delays_;      // guarded by mu_
  std::unique_ptr<FakeHttpServer> server_;
};

// --- Helpers the fakes share (also handy in tests). ---

// A ULID: 10 Crockford base32 characters of `t`'s Unix milliseconds, then 16 random ones — the
// part after the prefix of a Huudis id ("aud_01KT6C8B9ADEXQ9YEDWKHGM7HG").
std::string MakeUlid(TimePoint t);
// A random version-4 UUID, lower case (FusionAuth and MonoCloud ids).
std::string MakeUuid();
// `t` truncated to milliseconds, as "2026-06-03T09:15:27.402Z" (how Huudis writes times).
std::string FormatRfc3339Millis(TimePoint t);
TimePoint TruncateToMillis(TimePoint t);
// URL-safe base64 without padding of `text`, and back (nullopt if malformed): opaque cursors.
std::string EncodeCursorToken(std::string_view text);
std::optional<std::string> DecodeCursorToken(std::string_view token);
// A non-negative decimal integer (no sign, no spaces, at most 9 digits), else nullopt.
std::optional<int> ParseSmallInt(std::string_view text);
// The standard reason phrase of an HTTP status ("Too Many Requests"), "Error" if unknown.
std::string_view StatusReason(int status);

}  // namespace mm::testing
