// The outbound HTTP client (http_client/http_client.h) against FakeHttpServer on loopback:
// retries and their delays, final statuses, transport failures, limits, cancellation, TLS
// verification, and what reaches the server. The back-off never sleeps for real: a
// RecordingEnvironment notes each requested delay and returns at once.

#include "http_client/http_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fake_http_server.h"

namespace mm::http_client {
namespace {

using mm::testing::FakeHttpServer;
using mm::testing::FakeRequest;
using mm::testing::FakeResponse;
using namespace std::chrono;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

// Sleep records the delay and returns at once (false when told to, as if interrupted); Random
// is a fixed 0.5 so back-off delays are exact.
class RecordingEnvironment : public RetryEnvironment {
 public:
  bool Sleep(milliseconds d) override {
    std::lock_guard lock(mu_);
    sleeps_.push_back(d);
    return !interrupt_sleeps_;
  }
  bool Cancelled() const override { return cancelled_.load(); }
  double Random() override { return 0.5; }
  TimePoint Now() const override { return FromUnixSeconds(1'780'478'127); }  // 2026-06-03T09:15:27Z

  std::vector<milliseconds> sleeps() const {
    std::lock_guard lock(mu_);
    return sleeps_;
  }
  void set_interrupt_sleeps(bool interrupt) {
    std::lock_guard lock(mu_);
    interrupt_sleeps_ = interrupt;
  }
  void set_cancelled(bool cancelled) { cancelled_.store(cancelled); }

 private:
  mutable std::mutex mu_;
  std::vector<milliseconds> sleeps_;
  bool interrupt_sleeps_ = false;
  std::atomic<bool> cancelled_{false};
};

FakeResponse Reply(int status, std::string body = "", std::vector<std::pair<std::string, std::string>> headers = {}) {
  FakeResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

// Answers the scripted responses in order, then repeats the last one.
FakeHttpServer::Handler Script(std::vector<FakeResponse> responses) {
  auto state = std::make_shared<std::pair<std::mutex, size_t>>();
  return [state, responses = std::move(responses)](const FakeRequest&) {
    std::lock_guard lock(state->first);
    size_t i = std::min(state->second++, responses.size() - 1);
    return responses[i];
  };
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Fixture(const std::string& name) { return ReadFile(std::string(MM_FIXTURES_DIR) + "/" + name); }

size_t CountOf(const std::string& haystack, const std::string& needle) {
  size_t count = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++count;
  return count;
}

class HttpClientTest : public ::testing::Test {
 protected:
  // Small timeouts and back-off so every failure path is quick; the delays are only recorded.
  static HttpClientOptions FastOptions() {
    HttpClientOptions options;
    options.connect_timeout = milliseconds{2000};
    options.attempt_timeout = milliseconds{5000};
    options.max_attempts = 4;
    options.initial_backoff = milliseconds{100};
    options.max_backoff = milliseconds{1000};
    options.max_retry_after = seconds{30};
    return options;
  }

  HttpClient MakeClient(HttpClientOptions options = FastOptions()) { return HttpClient(options, env_, "test-source"); }

  static Request Get(const std::string& url) {
    Request request;
    request.url = url;
    return request;
  }

  RecordingEnvironment env_;
};

// --- Success, headers, body ------------------------------------------------------------------

TEST_F(HttpClientTest, OkWithHeadersAndBody) {
  FakeHttpServer server([](const FakeRequest&) {
    return Reply(200, R"({"data":[1,2,3]})",
                 {{"X-Request-Id", "req_42"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}, {"X-Padded", "  v  "}});
  });
  HttpClient client = MakeClient();
  absl::StatusOr<Response> response = client.Send(Get(server.base_url() + "/v1/things"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, R"({"data":[1,2,3]})");
  EXPECT_EQ(response->attempts, 1);
  EXPECT_EQ(response->Header("x-request-id"), "req_42");
  EXPECT_EQ(response->Header("content-type"), "application/json");
  EXPECT_EQ(response->Header("set-cookie"), "a=1");  // the first of two
  EXPECT_EQ(response->Header("x-padded"), "v");
  EXPECT_EQ(response->Header("x-absent"), std::nullopt);
  int cookies = 0;
  for (const auto& [name, value] : response->headers) {
    EXPECT_TRUE(std::none_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) << name;
    if (name == "set-cookie") ++cookies;
  }
  EXPECT_EQ(cookies, 2);
  EXPECT_TRUE(StatusOf(*response).ok());
  EXPECT_TRUE(env_.sleeps().empty());
}

TEST_F(HttpClientTest, OnlyTheFinalResponsesHeadersAreKept) {
  FakeResponse interim_then_final;
  interim_then_final.raw =
      "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n"
      "HTTP/1.1 200 OK\r\nX-Final: yes\r\nX-Folded: first\r\n  second\r\nContent-Length: 2\r\n\r\nok";
  FakeHttpServer server([interim_then_final](const FakeRequest&) { return interim_then_final; });
  HttpClient client = MakeClient();
  absl::StatusOr<Response> response = client.Send(Get(server.base_url() + "/"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ok");
  EXPECT_EQ(response->Header("x-interim"), std::nullopt);
  EXPECT_EQ(response->Header("x-final"), "yes");
  EXPECT_EQ(response->Header("x-folded"), "first second");  // obs-fold joined
}

TEST_F(HttpClientTest, GarbageReplyRetriedThenUnavailable) {
  FakeResponse garbage;
  garbage.raw = "this is not HTTP\r\n\r\n";
  garbage.close = true;
  FakeHttpServer server(Script({garbage, Reply(200, "sane again")}));
  HttpClient client = MakeClient();
  absl::StatusOr<Response> response = client.Send(Get(server.base_url() + "/"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->attempts, 2);

  server.SetHandler([garbage](const FakeRequest&) { return garbage; });
  response = client.Send(Get(server.base_url() + "/"));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
}

TEST_F(HttpClientTest, RedirectIsReturnedNotFollowed) {
  FakeHttpServer server([](const FakeRequest& request) {
    if (request.path == "/elsewhere") return Reply(200, "followed");
    return Reply(302, "", {{"Location", "/elsewhere"}});
  });
  HttpClient client = MakeClient();
  absl::StatusOr<Response> response = client.Send(Get(server.base_url() + "/start"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 302);
  EXPECT_EQ(response->Header("location"), "/elsewhere");
  EXPECT_EQ(response->attempts, 1);
  EXPECT_EQ(server.RequestCount(), 1u);
  EXPECT_EQ(StatusOf(*response).code(), absl::StatusCode::kUnknown);
}

// --- Retries ---------------------------------------------------------------------------------

TEST_F(HttpClientTest, TooManyRequestsHonoursRetryAfterSeconds) {
  FakeHttpServer server(Script({Reply(429, R"({"error":{"code":"RATE_LIMITED"}})", {{"Retry-After", "2"}}),
                                Reply(200, "ok")}));
  HttpClient client = MakeClient();
  absl::StatusOr<Response> response = client.Send(Get(server.base_url() + "/audit"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ok");
  EXPECT_EQ(response->attempts, 2);
  EXPECT_THAT(env_.sleeps(), ElementsAre(milliseconds{2000}));
  EXPECT_EQ(server.RequestCount(), 2u);
}

TEST_F(HttpClientTest, ServiceUnavailableHonoursRetryAfterDateCappedAtMax) {
  // RecordingEnvironment's now is 2026-06-03T09:15:27Z: the first date is 10 s ahead, the second
  // an hour (capped at max_retry_after = 30 s).
  FakeHttpServer server(Script({Reply(503, "", {{"Retry-After", "Wed, 03 Jun 2026 09:15:37 GMT"}}),
                                Reply(503, "", {{"Retry-After", "Wed, 03 Jun 2026 10:15:27 GMT"}}),
                                Reply(204)}));
  HttpClient client = MakeClient();
  absl::StatusOr<Response> response = client.Send(Get(server.base_url() + "/"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 204);
  EXPECT_EQ(response->attempts, 3);
  EXPECT_THAT(env_.sleeps(), ElementsAre(milliseconds{10000}, milliseconds{30000}));
}

TEST_F(HttpClientTest, ServerErrorsRetriedWithExponentialBackoff) {
  FakeHttpServer server(Script({Reply(500), Reply(502), Reply(503), Reply(200, "finally")}));
  HttpClient client = MakeClient();
  absl::StatusOr<Response> response = client.Send(Get(server.base_url() + "/"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "finally");
  EXPECT_EQ(response->attempts, 4);
  // Random() = 0.5 of min(1000, 100 * 2^retry).
  EXPECT_THAT(env_.sleeps(), ElementsAre(milliseconds{50}, milliseconds{100}, milliseconds{200}));
  EXPECT_EQ(server.RequestCount(), 4u);
}

TEST_F(HttpClientTest, AttemptsExhaustedIsUnavailableNamingTheLastStatus) {
  FakeHttpServer server(Script({Reply(500), Reply(502), Reply(429), Reply(503, R"({"detail":"maintenance"})")}));
  HttpClient client = MakeClient();
  absl::StatusOr<Response> response = client.Send(Get(server.base_url() + "/users"));
  ASSERT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_THAT(response.status().message(), HasSubstr("HTTP 503"));
  EXPECT_THAT(response.status().message(), HasSubstr("4 attempts"));
  EXPECT_THAT(response.status().message(), HasSubstr("test-source"));
  EXPECT_EQ(server.RequestCount(), 4u);
  EXPECT_EQ(env_.sleeps().size(), 3u);  // no sleep after the last attempt
}

TEST_F(HttpClientTest, MaxAttemptsOneMeansNoRetry) {
  FakeHttpServer server([](const FakeRequest&) { return Reply(503, "", {{"Retry-After", "1"}}); });
  HttpClientOptions options = FastOptions();
  options.max_attempts = 1;
  HttpClient client = MakeClient(options);
  absl::StatusOr<Response> response = client.Send(Get(server.base_url() + "/"));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(response.status().message(), HasSubstr("1 attempt;"));
  EXPECT_EQ(server.RequestCount(), 1u);
  EXPECT_TRUE(env_.sleeps().empty());
}

// --- Final 4xx and StatusOf ------------------------------------------------------------------

TEST_F(HttpClientTest, ClientErrorsReturnedAtOnceAndMapped) {
  const std::string huudis_401 =
      R"({"data":null,"error":{"code":"UNAUTHORIZED","message":"access token expired"},"meta":{"requestId":"req_1"}})";
  struct Case {
    FakeResponse reply;
    absl::StatusCode code;
    std::string message;
  };
  std::vector<Case> cases = {
      {Reply(401, huudis_401), absl::StatusCode::kUnauthenticated, "HTTP 401: access token expired"},
      {Reply(403, Fixture("huudis.api-error.json")), absl::StatusCode::kPermissionDenied,
       "HTTP 403: member tokens cannot modify workspace members"},
      {Reply(404, Fixture("monocloud.problem.404.json")), absl::StatusCode::kNotFound, "HTTP 404: User not found"},
      {Reply(422, Fixture("monocloud.problem.422-validation.json")), absl::StatusCode::kFailedPrecondition,
       "HTTP 422: Request validation failed"},
  };
  cases[3].reply.content_type = "application/problem+json";
  for (const Case& c : cases) {
    SCOPED_TRACE(c.reply.status);
    FakeHttpServer server([&c](const FakeRequest&) { return c.reply; });
    HttpClient client = MakeClient();
    absl::StatusOr<Response> response = client.Send(Get(server.base_url() + "/x"));
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->status, c.reply.status);
    EXPECT_EQ(response->attempts, 1);
    EXPECT_EQ(server.RequestCount(), 1u);
    absl::Status status = StatusOf(*response);
    EXPECT_EQ(status.code(), c.code);
    EXPECT_EQ(status.message(), c.message);
  }
  EXPECT_TRUE(env_.sleeps().empty());
}

TEST(StatusOfTest, MapsStatusCodes) {
  auto code_of = [](int status) {
    Response r;
    r.status = status;
    return StatusOf(r).code();
  };
  EXPECT_EQ(code_of(200), absl::StatusCode::kOk);
  EXPECT_EQ(code_of(204), absl::StatusCode::kOk);
  EXPECT_EQ(code_of(299), absl::StatusCode::kOk);
  EXPECT_EQ(code_of(401), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code_of(403), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(code_of(404), absl::StatusCode::kNotFound);
  EXPECT_EQ(code_of(400), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(code_of(409), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(code_of(429), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(code_of(499), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(code_of(100), absl::StatusCode::kUnknown);
  EXPECT_EQ(code_of(304), absl::StatusCode::kUnknown);
  EXPECT_EQ(code_of(500), absl::StatusCode::kUnknown);
  EXPECT_EQ(code_of(0), absl::StatusCode::kUnknown);
}

TEST(StatusOfTest, MessageNeverCarriesTheRawBody) {
  Response r;
  r.status = 400;
  r.body = "<html>token=abcdef secret page</html>";
  EXPECT_EQ(StatusOf(r).message(), "HTTP 400");
  r.body = R"({"code":"X","token":"abcdef"})";  // JSON without a known text field
  EXPECT_EQ(StatusOf(r).message(), "HTTP 400");
  r.body = R"(["message", "not an object"])";
  EXPECT_EQ(StatusOf(r).message(), "HTTP 400");
  r.body = R"({"message": 42})";
  EXPECT_EQ(StatusOf(r).message(), "HTTP 400");
}

TEST(StatusOfTest, FieldPrecedenceAndProviderShapes) {
  Response r;
  r.status = 409;
  r.body = R"({"title":"Conflict","detail":"email taken","message":"top-level wins"})";
  EXPECT_EQ(StatusOf(r).message(), "HTTP 409: top-level wins");
  r.body = R"({"title":"Conflict","detail":"email taken"})";
  EXPECT_EQ(StatusOf(r).message(), "HTTP 409: email taken");
  r.body = R"({"title":"Conflict"})";
  EXPECT_EQ(StatusOf(r).message(), "HTTP 409: Conflict");
  r.body = R"({"title":"Conflict","error":{"message":"specific"}})";
  EXPECT_EQ(StatusOf(r).message(), "HTTP 409: specific");
  r.status = 504;
  r.body = Fixture("fusionauth.api-error.504-webhook-transaction.json");
  EXPECT_EQ(StatusOf(r).code(), absl::StatusCode::kUnknown);
  EXPECT_THAT(std::string(StatusOf(r).message()), HasSubstr("HTTP 504: One or more webhooks returned"));
}

TEST(StatusOfTest, TextTruncatedAt200BytesOnUtf8BoundaryAndControlCharsReplaced) {
  Response r;
  r.status = 422;
  r.body = R"({"detail":")" + std::string(199, 'a') + "\xc3\xa9" + std::string(50, 'b') + R"("})";  // é straddles 200
  std::string message(StatusOf(r).message());
  EXPECT_EQ(message, "HTTP 422: " + std::string(199, 'a'));
  r.body = R"({"detail":"line one\nline two\u0007"})";
  EXPECT_EQ(StatusOf(r).message(), "HTTP 422: line one line two ");
  r.body = R"({"detail":")" + std::string(300, 'x') + R"("})";
  EXPECT_EQ(StatusOf(r).message(), "HTTP 422: " + std::string(200, 'x'));
}

// --- Transport failures ----------------------------------------------------------------------

TEST_F(HttpClientTest, ConnectionRefusedRetriedThenUnavailable) {
  int closed_port;
  {
    FakeHttpServer gone([](const FakeRequest&) { return Reply(200); });
    closed_port = gone.port();
  }
  HttpClient client = MakeClient();
  absl::StatusOr<Response> response = client.Send(Get("http://127.0.0.1:" + std::to_string(closed_port) + "/"));
  ASSERT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_THAT(response.status().message(), HasSubstr("4 attempts"));
  EXPECT_THAT(env_.sleeps(), ElementsAre(milliseconds{50}, milliseconds{100}, milliseconds{200}));
}

TEST_F(HttpClientTest, ResetConnectionRetried) {
  FakeResponse reset;
  reset.reset_connection = true;
  FakeHttpServer server(Script({reset, reset, Reply(200, "after resets")}));
  HttpClient client = MakeClient();
  absl::StatusOr<Response> response = client.Send(Get(server.base_url() + "/"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "after resets");
  EXPECT_EQ(response->attempts, 3);
  EXPECT_EQ(server.RequestCount(), 3u);
  EXPECT_EQ(server.ConnectionCount(), 3u);  // a reset connection is never reused
}

TEST_F(HttpClientTest, SlowResponseBeyondAttemptTimeoutRetriedThenUnavailable) {
  FakeResponse slow = Reply(200, "too late");
  slow.delay = milliseconds{3000};
  FakeHttpServer server([slow](const FakeRequest&) { return slow; });
  HttpClientOptions options = FastOptions();
  options.attempt_timeout = milliseconds{200};
  options.max_attempts = 3;
  HttpClient client = MakeClient(options);
  auto start = steady_clock::now();
  absl::StatusOr<Response> response = client.Send(Get(server.base_url() + "/slow"));
  auto elapsed = steady_clock::now() - start;
  ASSERT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_THAT(std::string(response.status().message()), HasSubstr("imed out"));
  EXPECT_EQ(server.RequestCount(), 3u);
  EXPECT_EQ(env_.sleeps().size(), 2u);
  EXPECT_LT(elapsed, seconds{3});  // three 200 ms attempts, never the server's 3 s
}

// --- Limits ----------------------------------------------------------------------------------

TEST_F(HttpClientTest, BodyOverMaxResponseBytesIsResourceExhaustedWithoutRetry) {
  for (bool chunked : {false, true}) {
    SCOPED_TRACE(chunked ? "chunked" : "content-length");
    FakeResponse big = Reply(200, std::string(4097, 'x'));
    big.chunked = chunked;
    FakeHttpServer server([big](const FakeRequest&) { return big; });
    HttpClientOptions options = FastOptions();
    options.max_response_bytes = 4096;
    HttpClient client = MakeClient(options);
    absl::StatusOr<Response> response = client.Send(Get(server.base_url() + "/big"));
    EXPECT_EQ(response.status().code(), absl::StatusCode::kResourceExhausted) << response.status();
    EXPECT_THAT(std::string(response.status().message()), HasSubstr("4096 bytes"));
    EXPECT_EQ(server.RequestCount(), 1u);

    big.body.pop_back();  // exactly at the limit is fine
    server.SetHandler([big](const FakeRequest&) { return big; });
    response = client.Send(Get(server.base_url() + "/big"));
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->body.size(), 4096u);
  }
  EXPECT_TRUE(env_.sleeps().empty());
}

// --- Cancellation ----------------------------------------------------------------------------

TEST_F(HttpClientTest, InterruptedBackoffIsCancelled) {
  FakeHttpServer server([](const FakeRequest&) { return Reply(503); });
  env_.set_interrupt_sleeps(true);
  HttpClient client = MakeClient();
  absl::StatusOr<Response> response = client.Send(Get(server.base_url() + "/"));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kCancelled) << response.status();
  EXPECT_EQ(server.RequestCount(), 1u);
  EXPECT_EQ(env_.sleeps().size(), 1u);
}

TEST_F(HttpClientTest, CancelledBeforeSendSendsNothing) {
  FakeHttpServer server([](const FakeRequest&) { return Reply(200); });
  env_.set_cancelled(true);
  HttpClient client = MakeClient();
  absl::StatusOr<Response> response = client.Send(Get(server.base_url() + "/"));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(server.RequestCount(), 0u);
}

TEST(InterruptibleEnvironmentTest, InterruptDuringRetryAfterBackoffCancelsPromptly) {
  FakeHttpServer server([](const FakeRequest&) { return Reply(503, "", {{"Retry-After", "60"}}); });
  InterruptibleEnvironment env;
  HttpClientOptions options;
  options.max_retry_after = seconds{60};
  HttpClient client(options, env, "interrupt-test");
  Request request;
  request.url = server.base_url() + "/";
  auto result = std::async(std::launch::async, [&] { return client.Send(request); });
  // Interrupt once the client is (about to be) in its 60 s back-off.
  const auto deadline = steady_clock::now() + seconds{5};
  while (server.RequestCount() == 0 && steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds{5});
  ASSERT_EQ(server.RequestCount(), 1u);
  std::this_thread::sleep_for(milliseconds{50});
  auto interrupted = steady_clock::now();
  env.Interrupt();
  ASSERT_EQ(result.wait_for(seconds{5}), std::future_status::ready) << "Send still sleeping after Interrupt";
  EXPECT_LT(steady_clock::now() - interrupted, seconds{1});
  absl::StatusOr<Response> response = result.get();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kCancelled) << response.status();
  EXPECT_TRUE(env.Cancelled());
  EXPECT_EQ(server.RequestCount(), 1u);
}

TEST(InterruptibleEnvironmentTest, InterruptDuringSlowTransferCancelsWithinASecond) {
  FakeResponse slow = Reply(200, "slow");
  slow.delay = seconds{20};
  FakeHttpServer server([slow](const FakeRequest&) { return slow; });
  InterruptibleEnvironment env;
  HttpClientOptions options;
  options.attempt_timeout = seconds{30};
  HttpClient client(options, env, "interrupt-test");
  Request request;
  request.url = server.base_url() + "/slow";
  auto result = std::async(std::launch::async, [&] { return client.Send(request); });
  const auto deadline = steady_clock::now() + seconds{5};
  while (server.RequestCount() == 0 && steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds{5});
  ASSERT_EQ(server.RequestCount(), 1u);  // the transfer is in flight, the server sitting on it
  // Past libcurl's own early timers (happy eyeballs, 200 ms), so that nothing but the client's
  // cancellation check can end the wait.
  std::this_thread::sleep_for(milliseconds{400});
  auto interrupted = steady_clock::now();
  env.Interrupt();
  ASSERT_EQ(result.wait_for(seconds{5}), std::future_status::ready) << "transfer not aborted";
  // The client looks every 50 ms; libcurl alone would notice only about once a second.
  EXPECT_LT(steady_clock::now() - interrupted, milliseconds{500})
      << duration_cast<milliseconds>(steady_clock::now() - interrupted).count() << " ms";
  absl::StatusOr<Response> response = result.get();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kCancelled) << response.status();
}

TEST(FakeHttpServerTest, DelayedResponseDoesNotHoldUpOtherConnections) {
  FakeHttpServer server([](const FakeRequest& request) {
    FakeResponse r = Reply(200, request.path);
    if (request.path == "/slow") r.delay = seconds{20};
    return r;
  });
  InterruptibleEnvironment slow_env;
  HttpClient slow_client(HttpClientOptions{}, slow_env, "slow");
  Request slow;
  slow.url = server.base_url() + "/slow";
  auto pending = std::async(std::launch::async, [&] { return slow_client.Send(slow); });
  const auto deadline = steady_clock::now() + seconds{5};
  while (server.RequestCount() == 0 && steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds{5});
  ASSERT_EQ(server.RequestCount(), 1u);

  RecordingEnvironment env;
  HttpClient fast_client(HttpClientOptions{}, env, "fast");
  Request fast;
  fast.url = server.base_url() + "/fast";
  auto start = steady_clock::now();
  absl::StatusOr<Response> response = fast_client.Send(fast);
  EXPECT_LT(steady_clock::now() - start, seconds{2});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "/fast");
  EXPECT_EQ(pending.wait_for(milliseconds{0}), std::future_status::timeout);  // still waiting
  slow_env.Interrupt();
  EXPECT_EQ(pending.get().status().code(), absl::StatusCode::kCancelled);
}

TEST(InterruptibleEnvironmentTest, SleepsRandomAndInterrupts) {
  InterruptibleEnvironment env;
  EXPECT_FALSE(env.Cancelled());
  EXPECT_TRUE(env.Sleep(milliseconds{1}));
  EXPECT_TRUE(env.Sleep(milliseconds{-5}));
  for (int i = 0; i < 1000; ++i) {
    double r = env.Random();
    ASSERT_GE(r, 0.0);
    ASSERT_LT(r, 1.0);
  }
  auto before = SystemClock::Instance().Now();
  EXPECT_GE(env.Now(), before);
  env.Interrupt();
  EXPECT_TRUE(env.Cancelled());
  auto start = steady_clock::now();
  EXPECT_FALSE(env.Sleep(seconds{60}));  // returns at once, for good
  EXPECT_LT(steady_clock::now() - start, seconds{1});
}

// --- URLs and schemes ------------------------------------------------------------------------

TEST_F(HttpClientTest, OnlyHttpAndHttpsUrlsAccepted) {
  HttpClient client = MakeClient();
  for (const char* url : {"file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1/", "not a url", "http://",
                          "/relative/path", ""}) {
    SCOPED_TRACE(url);
    absl::StatusOr<Response> response = client.Send(Get(url));
    EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument) << response.status();
  }
  EXPECT_TRUE(env_.sleeps().empty());
  EXPECT_FALSE(client.warned_plaintext());
}

TEST_F(HttpClientTest, HeaderInjectionRefusedBeforeSending) {
  FakeHttpServer server([](const FakeRequest&) { return Reply(200); });
  HttpClient client = MakeClient();
  Request request = Get(server.base_url() + "/");
  request.headers = {{"Authorization", "Bearer x\r\nX-Injected: 1"}};
  EXPECT_EQ(client.Send(request).status().code(), absl::StatusCode::kInvalidArgument);
  request.headers = {{"Bad Name", "v"}};
  EXPECT_EQ(client.Send(request).status().code(), absl::StatusCode::kInvalidArgument);
  request.headers = {};
  request.method = "GE T";
  EXPECT_EQ(client.Send(request).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.RequestCount(), 0u);
}

TEST_F(HttpClientTest, PlaintextWarningLoggedOncePerClient) {
  FakeHttpServer server([](const FakeRequest&) { return Reply(200); });
  HttpClient client = MakeClient();
  EXPECT_FALSE(client.warned_plaintext());
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(client.Send(Get(server.base_url() + "/a?token=s3cr3t")).ok());
  ASSERT_TRUE(client.Send(Get(server.base_url() + "/b")).ok());
  std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(client.warned_plaintext());
  EXPECT_EQ(CountOf(logged, "plaintext http://"), 1u) << logged;
  EXPECT_THAT(logged, HasSubstr(R"("source":"test-source")"));
  EXPECT_THAT(logged, HasSubstr(server.base_url() + "/a"));
  EXPECT_THAT(logged, Not(HasSubstr("s3cr3t")));

  HttpClient another = MakeClient();  // per client, not per process
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(another.Send(Get(server.base_url() + "/c")).ok());
  EXPECT_EQ(CountOf(::testing::internal::GetCapturedStderr(), "plaintext http://"), 1u);
}

TEST_F(HttpClientTest, LogsAndErrorsNameTheUrlWithoutQueryOrUserInfo) {
  FakeHttpServer server([](const FakeRequest&) { return Reply(503); });
  HttpClientOptions options = FastOptions();
  options.max_attempts = 2;
  HttpClient client = MakeClient(options);
  std::string url = "http://alice:pa55word@127.0.0.1:" + std::to_string(server.port()) + "/v1/audit?api_key=s3cr3t#frag";
  ::testing::internal::CaptureStderr();
  absl::StatusOr<Response> response = client.Send(Get(url));
  std::string logged = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  std::string message(response.status().message());
  for (const std::string& text : {logged, message}) {
    EXPECT_THAT(text, HasSubstr("127.0.0.1:" + std::to_string(server.port()) + "/v1/audit"));
    EXPECT_THAT(text, Not(HasSubstr("s3cr3t")));
    EXPECT_THAT(text, Not(HasSubstr("pa55word")));
    EXPECT_THAT(text, Not(HasSubstr("alice")));
  }
  EXPECT_THAT(logged, HasSubstr("giving up"));
  // The credentials in the URL still reach the server, as Basic auth.
  ASSERT_GE(server.RequestCount(), 1u);
  EXPECT_THAT(server.Requests()[0].headers["authorization"], HasSubstr("Basic "));
}

// --- What reaches the server -----------------------------------------------------------------

TEST_F(HttpClientTest, RequestHeadersAndQueryReachTheServer) {
  FakeHttpServer server([](const FakeRequest&) { return Reply(200); });
  HttpClient client = MakeClient();
  Request request = Get(server.base_url() + "/v1/account/audit?limit=100&cursor=a%2Bb%3D&event=user%20disabled&x=1+2");
  request.headers = {{"Authorization", "Bearer tok_123"}, {"X-Workspace", "acc_1"}, {"X-Empty", ""}};
  ASSERT_TRUE(client.Send(request).ok());
  ASSERT_EQ(server.RequestCount(), 1u);
  FakeRequest got = server.Requests()[0];
  EXPECT_EQ(got.method, "GET");
  EXPECT_EQ(got.path, "/v1/account/audit");
  EXPECT_EQ(got.target, "/v1/account/audit?limit=100&cursor=a%2Bb%3D&event=user%20disabled&x=1+2");
  EXPECT_THAT(got.query, ElementsAre(Pair("cursor", "a+b="), Pair("event", "user disabled"), Pair("limit", "100"),
                                     Pair("x", "1 2")));
  EXPECT_EQ(got.headers["authorization"], "Bearer tok_123");
  EXPECT_EQ(got.headers["x-workspace"], "acc_1");
  EXPECT_EQ(got.headers.count("x-empty"), 1u);
  EXPECT_EQ(got.headers["x-empty"], "");
  EXPECT_EQ(got.headers["user-agent"], "membership-mirror");
  EXPECT_TRUE(got.body.empty());
  EXPECT_EQ(got.headers.count("content-type"), 0u);
}

TEST_F(HttpClientTest, UserAgentConfigurableAndOverridable) {
  FakeHttpServer server([](const FakeRequest&) { return Reply(200); });
  HttpClientOptions options = FastOptions();
  options.user_agent = "membership-mirror/0.1 (huudis-audit)";
  HttpClient client = MakeClient(options);
  ASSERT_TRUE(client.Send(Get(server.base_url() + "/")).ok());
  Request request = Get(server.base_url() + "/");
  request.headers = {{"User-Agent", "custom"}};
  ASSERT_TRUE(client.Send(request).ok());
  std::vector<FakeRequest> got = server.Requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].headers["user-agent"], "membership-mirror/0.1 (huudis-audit)");
  EXPECT_EQ(got[1].headers["user-agent"], "custom");
}

TEST_F(HttpClientTest, PostWithJsonBody) {
  FakeHttpServer server([](const FakeRequest& request) { return Reply(201, R"({"echo":)" + request.body + "}"); });
  HttpClient client = MakeClient();
  Request request;
  request.method = "POST";
  request.url = server.base_url() + "/api/user/search";
  request.headers = {{"Content-Type", "application/json"}, {"Authorization", "key"}};
  request.body = R"({"search":{"queryString":"*","numberOfResults":25}})";
  absl::StatusOr<Response> response = client.Send(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, R"({"echo":{"search":{"queryString":"*","numberOfResults":25}}})");
  FakeRequest got = server.Requests().at(0);
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.body, request.body);
  EXPECT_EQ(got.headers["content-type"], "application/json");
  EXPECT_EQ(got.headers["content-length"], std::to_string(request.body.size()));
  EXPECT_EQ(got.headers.count("expect"), 0u);
}

TEST_F(HttpClientTest, LargePostBodyWithoutContentTypeSentWithoutExpectOrFormType) {
  FakeHttpServer server([](const FakeRequest&) { return Reply(200); });
  HttpClient client = MakeClient();
  Request request;
  request.method = "POST";
  request.url = server.base_url() + "/upload";
  request.body = std::string(2 << 20, 'z');  // above libcurl's 100-continue threshold
  auto start = steady_clock::now();
  ASSERT_TRUE(client.Send(request).ok());
  EXPECT_LT(steady_clock::now() - start, milliseconds{900});  // no 1 s wait for 100 Continue
  FakeRequest got = server.Requests().at(0);
  EXPECT_EQ(got.body.size(), request.body.size());
  EXPECT_EQ(got.headers.count("expect"), 0u);
  EXPECT_EQ(got.headers.count("content-type"), 0u);  // not application/x-www-form-urlencoded
}

TEST_F(HttpClientTest, OtherMethods) {
  FakeHttpServer server([](const FakeRequest& request) { return Reply(200, "body of " + request.method); });
  HttpClient client = MakeClient();
  Request request = Get(server.base_url() + "/v1/users/usr_1");
  request.method = "DELETE";
  ASSERT_TRUE(client.Send(request).ok());
  request.method = "PATCH";
  request.body = R"({"name":"x"})";
  request.headers = {{"Content-Type", "application/merge-patch+json"}};
  ASSERT_TRUE(client.Send(request).ok());
  request.method = "PUT";
  request.body.clear();
  ASSERT_TRUE(client.Send(request).ok());
  request.method = "HEAD";
  request.headers.clear();
  absl::StatusOr<Response> head = client.Send(request);
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  request.method = "GET";
  absl::StatusOr<Response> get = client.Send(request);  // nothing of the HEAD or PATCH carries over
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->body, "body of GET");

  std::vector<FakeRequest> got = server.Requests();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].method, "DELETE");
  EXPECT_TRUE(got[0].body.empty());
  EXPECT_EQ(got[1].method, "PATCH");
  EXPECT_EQ(got[1].body, R"({"name":"x"})");
  EXPECT_EQ(got[1].headers["content-type"], "application/merge-patch+json");
  EXPECT_EQ(got[2].method, "PUT");
  EXPECT_EQ(got[2].headers["content-length"], "0");
  EXPECT_EQ(got[3].method, "HEAD");
  EXPECT_EQ(got[4].method, "GET");
  EXPECT_TRUE(got[4].body.empty());
  EXPECT_EQ(got[4].headers.count("content-type"), 0u);
}

TEST_F(HttpClientTest, KeepAliveReusesOneConnection) {
  FakeHttpServer server([](const FakeRequest& request) { return Reply(request.path == "/missing" ? 404 : 200); });
  HttpClient client = MakeClient();
  ASSERT_TRUE(client.Send(Get(server.base_url() + "/first")).ok());
  ASSERT_TRUE(client.Send(Get(server.base_url() + "/missing")).ok());
  ASSERT_TRUE(client.Send(Get(server.base_url() + "/third")).ok());
  EXPECT_EQ(server.RequestCount(), 3u);
  EXPECT_EQ(server.ConnectionCount(), 1u);
}

TEST_F(HttpClientTest, ServerClosingTheConnectionIsNotAnError) {
  FakeResponse closing = Reply(200, "bye");
  closing.close = true;
  FakeHttpServer server([closing](const FakeRequest&) { return closing; });
  HttpClient client = MakeClient();
  ASSERT_TRUE(client.Send(Get(server.base_url() + "/1")).ok());
  ASSERT_TRUE(client.Send(Get(server.base_url() + "/2")).ok());
  EXPECT_EQ(server.ConnectionCount(), 2u);
  EXPECT_TRUE(env_.sleeps().empty());
}

// --- HTTPS -----------------------------------------------------------------------------------

class HttpsTest : public HttpClientTest {
 protected:
  // One self-signed certificate for IP 127.0.0.1, made with the openssl command line.
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/mm-http-client-tls-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = new std::string(pattern);
    std::string command = "cd " + *dir_ +
                          " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
                          " -keyout key.pem -out cert.pem -days 2 -subj /CN=127.0.0.1"
                          " -addext subjectAltName=IP:127.0.0.1 >openssl.log 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << ReadFile(*dir_ + "/openssl.log");
  }
  static void TearDownTestSuite() {
    if (dir_ != nullptr) std::system(("rm -rf " + *dir_).c_str());
    delete dir_;
    dir_ = nullptr;
  }

  static std::string CertPath() { return *dir_ + "/cert.pem"; }

  static std::unique_ptr<FakeHttpServer> TlsServer() {
    return std::make_unique<FakeHttpServer>([](const FakeRequest&) { return Reply(200, "secret data"); },
                                            ReadFile(*dir_ + "/cert.pem"), ReadFile(*dir_ + "/key.pem"));
  }

  static std::string* dir_;
};

std::string* HttpsTest::dir_ = nullptr;

TEST_F(HttpsTest, TrustedThroughCaBundleFile) {
  auto server = TlsServer();
  ASSERT_EQ(server->base_url().rfind("https://127.0.0.1:", 0), 0u);
  HttpClientOptions options = FastOptions();
  options.ca_bundle_file = CertPath();
  HttpClient client = MakeClient(options);
  absl::StatusOr<Response> response = client.Send(Get(server->base_url() + "/v1/users"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "secret data");
  ASSERT_TRUE(client.Send(Get(server->base_url() + "/v1/users")).ok());
  EXPECT_EQ(server->ConnectionCount(), 1u);  // TLS keep-alive
  EXPECT_FALSE(client.warned_plaintext());
}

TEST_F(HttpsTest, UntrustedCertificateIsFailedPreconditionWithoutRetry) {
  auto server = TlsServer();
  HttpClient client = MakeClient();  // system trust store: does not know our certificate
  absl::StatusOr<Response> response = client.Send(Get(server->base_url() + "/v1/users"));
  ASSERT_EQ(response.status().code(), absl::StatusCode::kFailedPrecondition) << response.status();
  EXPECT_THAT(std::string(response.status().message()), HasSubstr("certificate"));
  EXPECT_EQ(server->ConnectionCount(), 1u);  // exactly one attempt
  EXPECT_EQ(server->RequestCount(), 0u);     // and nothing sent over it
  EXPECT_TRUE(env_.sleeps().empty());
}

TEST_F(HttpsTest, HostNameMismatchIsFailedPrecondition) {
  auto server = TlsServer();
  HttpClientOptions options = FastOptions();
  options.ca_bundle_file = CertPath();  // trusted, but issued for 127.0.0.1, not "localhost"
  HttpClient client = MakeClient(options);
  absl::StatusOr<Response> response = client.Send(Get("https://localhost:" + std::to_string(server->port()) + "/"));
  ASSERT_EQ(response.status().code(), absl::StatusCode::kFailedPrecondition) << response.status();
  EXPECT_EQ(server->RequestCount(), 0u);
  EXPECT_TRUE(env_.sleeps().empty());
}

TEST_F(HttpsTest, UnreadableCaBundleIsFailedPrecondition) {
  auto server = TlsServer();
  HttpClientOptions options = FastOptions();
  options.ca_bundle_file = *dir_ + "/no-such-bundle.pem";
  HttpClient client = MakeClient(options);
  absl::StatusOr<Response> response = client.Send(Get(server->base_url() + "/"));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kFailedPrecondition) << response.status();
  EXPECT_TRUE(env_.sleeps().empty());
}

}  // namespace
}  // namespace mm::http_client
