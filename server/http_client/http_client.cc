#include "http_client/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>  // std::once_flag, std::call_once
#include <random>

#include <nlohmann/json.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"

namespace mm::http_client {
namespace {

using std::chrono::milliseconds;

// How often a running transfer looks at RetryEnvironment::Cancelled(). libcurl's own progress
// callback can go quiet for a second on a stalled connection; our poll loop bounds the wait.
constexpr int kCancelPollMillis = 50;
constexpr size_t kMaxProblemTextBytes = 200;
// Error bodies are small; a large body is data, not a problem report, and is not parsed.
constexpr size_t kMaxProblemBodyBytes = 64 << 10;

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

struct UrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};

// The parts of a request URL the client needs before sending.
struct ParsedUrl {
  bool plaintext = false;
  std::string loggable;  // scheme://host[:port]/path: no user-info, query or fragment
};

std::optional<std::string> UrlPart(CURLU* url, CURLUPart part) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, 0) != CURLUE_OK || value == nullptr) return std::nullopt;
  std::string copy(value);
  curl_free(value);
  return copy;
}

absl::StatusOr<ParsedUrl> ParseUrl(const std::string& text) {
  std::unique_ptr<CURLU, UrlDeleter> url(curl_url());
  if (url == nullptr) return absl::ResourceExhaustedError("out of memory parsing a URL");
  if (CURLUcode code = curl_url_set(url.get(), CURLUPART_URL, text.c_str(), 0); code != CURLUE_OK) {
    // The URL itself is not echoed: it may carry credentials in its query or user-info.
    return absl::InvalidArgumentError(absl::StrCat("malformed URL: ", curl_url_strerror(code)));
  }
  std::optional<std::string> scheme = UrlPart(url.get(), CURLUPART_SCHEME);
  if (!scheme || (*scheme != "http" && *scheme != "https")) {
    return absl::InvalidArgumentError(
        absl::StrCat("URL scheme '", scheme.value_or(""), "' is not allowed: only http and https"));
  }
  std::optional<std::string> host = UrlPart(url.get(), CURLUPART_HOST);
  if (!host || host->empty()) return absl::InvalidArgumentError("URL has no host");
  ParsedUrl parsed;
  parsed.plaintext = *scheme == "http";
  parsed.loggable = absl::StrCat(*scheme, "://", *host);
  if (std::optional<std::string> port = UrlPart(url.get(), CURLUPART_PORT)) {
    absl::StrAppend(&parsed.loggable, ":", *port);
  }
  absl::StrAppend(&parsed.loggable, UrlPart(url.get(), CURLUPART_PATH).value_or("/"));
  return parsed;
}

bool HasForbiddenByte(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// RFC 9110 token characters, for methods and header names.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return absl::ascii_isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos;
  });
}

absl::Status ValidateRequest(const Request& request) {
  if (!IsToken(request.method)) return absl::InvalidArgumentError("HTTP method must be a non-empty token");
  for (const auto& [name, value] : request.headers) {
    // The header name may be echoed; the value never is (it may be a credential).
    if (!IsToken(name)) return absl::InvalidArgumentError(absl::StrCat("invalid request header name '", name, "'"));
    if (HasForbiddenByte(value)) {
      return absl::InvalidArgumentError(absl::StrCat("request header '", name, "' contains CR, LF or NUL"));
    }
  }
  return absl::OkStatus();
}

// Abseil 20220623 on bookworm has its own string_view, so absl::AsciiStrToLower takes no std::string_view.
std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return out;
}

bool HasHeader(const Request& request, std::string_view lower_name) {
  return std::any_of(request.headers.begin(), request.headers.end(),
                     [&](const auto& h) { return ToLower(h.first) == lower_name; });
}

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// What one attempt collects; the libcurl callbacks write into it.
struct Transfer {
  size_t max_body_bytes = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool too_large = false;
  char error[CURL_ERROR_SIZE] = {};

  void Reset() {
    body.clear();
    headers.clear();
    too_large = false;
    error[0] = '\0';
  }
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (transfer->body.size() + n > transfer->max_body_bytes) {
    transfer->too_large = true;
    return 0;  // anything but n aborts the transfer with CURLE_WRITE_ERROR
  }
  transfer->body.append(data, n);
  return n;
}

// Called once per header line, CRLF included, for every response of the transfer.
size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    // A new status line: a 100 Continue (or any interim response) came before; keep only the last.
    transfer->headers.clear();
    return n;
  }
  if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
    // obs-fold continuation: part of the previous value.
    if (!transfer->headers.empty()) {
      std::string_view more = TrimBlanks(line);
      if (!more.empty()) transfer->headers.back().second.append(" ").append(more);
    }
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return n;  // the blank line, or junk
  transfer->headers.emplace_back(ToLower(line.substr(0, colon)),
                                 std::string(TrimBlanks(line.substr(colon + 1))));
  return n;
}

enum class Failure { kRetryable, kTls, kInvalid, kOther };

Failure Classify(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:  // handshake cut off; a verification failure has its own code
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    // The scheme was checked before sending, so this is a reply that is not HTTP ("Received
    // HTTP/0.9 when not allowed"): a broken server or proxy, like a cut-off reply.
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Failure::kRetryable;
    case CURLE_PEER_FAILED_VERIFICATION:  // untrusted, expired, wrong name (CURLE_SSL_CACERT too)
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
      return Failure::kTls;
    case CURLE_URL_MALFORMAT:
      return Failure::kInvalid;
    default:
      return Failure::kOther;
  }
}

// Replaces control characters (a problem text ends up in logs) and cuts at a UTF-8 boundary.
std::string CleanProblemText(std::string_view text) {
  if (text.size() > kMaxProblemTextBytes) {
    size_t cut = kMaxProblemTextBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut);
  }
  std::string out(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  }
  return out;
}

std::optional<std::string> ProblemText(const std::string& body) {
  if (body.empty() || body.size() > kMaxProblemBodyBytes) return std::nullopt;
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return std::nullopt;
  auto string_at = [](const nlohmann::json& object, const char* key) -> std::optional<std::string> {
    auto it = object.find(key);
    if (it == object.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) return std::nullopt;
    return it->get<std::string>();
  };
  if (auto text = string_at(json, "message")) return text;
  if (auto text = string_at(json, "detail")) return text;
  if (auto error = json.find("error"); error != json.end() && error->is_object()) {
    if (auto text = string_at(*error, "message")) return text;  // Huudis {data, error, meta}
  }
  if (auto text = string_at(json, "title")) return text;
  // FusionAuth: {"generalErrors": [{"code": ..., "message": ...}], "fieldErrors": {...}}
  if (auto general = json.find("generalErrors");
      general != json.end() && general->is_array() && !general->empty() && general->front().is_object()) {
    return string_at(general->front(), "message");
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string_view> Response::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return std::string_view(value);
  }
  return std::nullopt;
}

// The libcurl handles of one client. The easy handle runs inside a multi handle so that a
// transfer can be watched for cancellation at a bounded interval; the multi handle's
// connection cache keeps connections alive between requests.
class HttpClient::Impl {
 public:
  Impl() {
    InitCurlOnce();
    easy_ = curl_easy_init();
    multi_ = curl_multi_init();
    if (multi_ != nullptr) curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, 4L);
  }
  ~Impl() {
    if (easy_ != nullptr) curl_easy_cleanup(easy_);
    if (multi_ != nullptr) curl_multi_cleanup(multi_);
  }

  bool ok() const { return easy_ != nullptr && multi_ != nullptr; }

  // Sets every option for `request`; options of an earlier request do not carry over.
  absl::Status Prepare(const Request& request, const HttpClientOptions& options);

  struct Outcome {
    CURLcode code = CURLE_OK;
    bool cancelled = false;
    long status = 0;
  };
  // Runs one attempt of the prepared request until it ends or `env` is cancelled.
  absl::StatusOr<Outcome> Perform(const RetryEnvironment& env);

  // What the current attempt received. A member, not a local of Send: libcurl keeps pointers to
  // it (callback data, error buffer) until the next Prepare.
  Transfer& transfer() { return transfer_; }

 private:
  CURL* easy_ = nullptr;
  CURLM* multi_ = nullptr;
  Slist headers_;
  Transfer transfer_;
};

absl::Status HttpClient::Impl::Prepare(const Request& request, const HttpClientOptions& options) {
  Transfer& transfer = transfer_;
  curl_easy_reset(easy_);  // keeps live connections, the DNS and TLS session caches
  headers_.reset();
  transfer.max_body_bytes = options.max_response_bytes;

  CURLcode code = CURLE_OK;
  auto set = [&](CURLoption option, auto value) {
    if (code == CURLE_OK) code = curl_easy_setopt(easy_, option, value);
  };
  set(CURLOPT_URL, request.url.c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  set(CURLOPT_FOLLOWLOCATION, 0L);
  set(CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for DNS timeouts: we are multi-threaded
  set(CURLOPT_SSL_VERIFYPEER, 1L);
  set(CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options.ca_bundle_file.empty()) set(CURLOPT_CAINFO, options.ca_bundle_file.c_str());
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, options.connect_timeout.count())));
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, options.attempt_timeout.count())));
  set(CURLOPT_TCP_KEEPALIVE, 1L);
  set(CURLOPT_USERAGENT, options.user_agent.c_str());  // a User-Agent in request.headers wins
  set(CURLOPT_ACCEPT_ENCODING, "");                     // every encoding libcurl can decode
  set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_response_bytes));
  set(CURLOPT_WRITEFUNCTION, &OnBody);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&transfer));
  set(CURLOPT_HEADERFUNCTION, &OnHeader);
  set(CURLOPT_HEADERDATA, static_cast<void*>(&transfer));
  set(CURLOPT_ERRORBUFFER, transfer.error);

  const std::string& method = request.method;
  bool sends_body = !request.body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
  if (method == "HEAD") {
    set(CURLOPT_NOBODY, 1L);
  } else if (sends_body) {
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    set(CURLOPT_POSTFIELDS, request.body.c_str());  // not copied: `request` outlives Send
    if (method != "POST") set(CURLOPT_CUSTOMREQUEST, method.c_str());
  } else if (method == "GET") {
    set(CURLOPT_HTTPGET, 1L);
  } else {
    set(CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  curl_slist* list = nullptr;
  auto append = [&](const std::string& line) {
    if (curl_slist* next = curl_slist_append(list, line.c_str())) {
      list = next;
      return true;
    }
    return false;
  };
  bool appended = true;
  for (const auto& [name, value] : request.headers) {
    // "Name;" is libcurl's way to send a header with an empty value ("Name:" would remove it).
    appended = appended && append(value.empty() ? absl::StrCat(name, ";") : absl::StrCat(name, ": ", value));
  }
  // Without these libcurl would add a form Content-Type to bodies the caller did not label, and
  // stall a large POST for a second waiting for a 100 Continue.
  if (sends_body && !HasHeader(request, "content-type")) appended = appended && append("Content-Type:");
  if (sends_body && !HasHeader(request, "expect")) appended = appended && append("Expect:");
  headers_.reset(list);
  if (!appended) return absl::ResourceExhaustedError("out of memory building request headers");
  set(CURLOPT_HTTPHEADER, headers_.get());
  if (code != CURLE_OK) {
    return absl::InternalError(absl::StrCat("libcurl refused an option: ", curl_easy_strerror(code)));
  }
  return absl::OkStatus();
}

absl::StatusOr<HttpClient::Impl::Outcome> HttpClient::Impl::Perform(const RetryEnvironment& env) {
  if (CURLMcode added = curl_multi_add_handle(multi_, easy_); added != CURLM_OK) {
    return absl::InternalError(absl::StrCat("libcurl: ", curl_multi_strerror(added)));
  }
  Outcome outcome;
  CURLMcode mcode = CURLM_OK;
  while (true) {
    int running = 0;
    mcode = curl_multi_perform(multi_, &running);
    if (mcode != CURLM_OK || running == 0) break;
    if (env.Cancelled()) {
      outcome.cancelled = true;
      break;
    }
    mcode = curl_multi_poll(multi_, nullptr, 0, kCancelPollMillis, nullptr);
    if (mcode != CURLM_OK) break;
  }
  if (!outcome.cancelled && mcode == CURLM_OK) {
    int queued = 0;
    bool done = false;
    while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
      if (message->msg == CURLMSG_DONE && message->easy_handle == easy_) {
        outcome.code = message->data.result;
        done = true;
      }
    }
    if (!done) mcode = CURLM_INTERNAL_ERROR;
  }
  // Removing an unfinished transfer aborts it and closes its connection.
  curl_multi_remove_handle(multi_, easy_);
  if (!outcome.cancelled && mcode != CURLM_OK) {
    return absl::InternalError(absl::StrCat("libcurl: ", curl_multi_strerror(mcode)));
  }
  if (!outcome.cancelled && outcome.code == CURLE_OK) {
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &outcome.status);
  }
  return outcome;
}

HttpClient::HttpClient(HttpClientOptions options, RetryEnvironment& env, std::string name)
    : options_(std::move(options)),
      env_(env),
      name_(std::move(name)),
      policy_(RetryPolicyOptions{options_.initial_backoff, options_.max_backoff, options_.max_retry_after}),
      impl_(std::make_unique<Impl>()) {}

HttpClient::~HttpClient() = default;

absl::StatusOr<Response> HttpClient::Send(const Request& request) {
  if (absl::Status valid = ValidateRequest(request); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(name_, ": ", valid.message()));
  }
  absl::StatusOr<ParsedUrl> url = ParseUrl(request.url);
  if (!url.ok()) return absl::InvalidArgumentError(absl::StrCat(name_, ": ", url.status().message()));
  const std::string what = absl::StrCat(name_, ": ", request.method, " ", url->loggable);
  if (!impl_->ok()) return absl::InternalError(absl::StrCat(what, ": libcurl could not make a handle"));
  if (url->plaintext && !warned_plaintext_) {
    warned_plaintext_ = true;
    log::Warn("plaintext http:// source URL: credentials and data cross the network unencrypted",
              {{"source", name_}, {"url", url->loggable}});
  }

  if (absl::Status prepared = impl_->Prepare(request, options_); !prepared.ok()) {
    return absl::Status(prepared.code(), absl::StrCat(what, ": ", prepared.message()));
  }
  Transfer& transfer = impl_->transfer();
  const int max_attempts = std::max(1, options_.max_attempts);
  for (int attempt = 1;; ++attempt) {
    if (env_.Cancelled()) return absl::CancelledError(absl::StrCat(what, ": cancelled (shutting down)"));
    transfer.Reset();
    absl::StatusOr<Impl::Outcome> outcome = impl_->Perform(env_);
    if (!outcome.ok()) return absl::Status(outcome.status().code(), absl::StrCat(what, ": ", outcome.status().message()));
    if (outcome->cancelled) return absl::CancelledError(absl::StrCat(what, ": cancelled (shutting down)"));
    if (transfer.too_large || outcome->code == CURLE_FILESIZE_EXCEEDED) {
      return absl::ResourceExhaustedError(
          absl::StrCat(what, ": response body larger than ", options_.max_response_bytes, " bytes"));
    }

    std::string reason;  // why this attempt is retried
    milliseconds delay{0};
    if (outcome->code == CURLE_OK) {
      int status = static_cast<int>(outcome->status);
      if (!IsRetryableStatus(status)) {
        Response response;
        response.status = status;
        response.body = std::move(transfer.body);
        response.headers = std::move(transfer.headers);
        response.attempts = attempt;
        return response;
      }
      reason = absl::StrCat("HTTP ", status);
      if (attempt < max_attempts) {
        std::optional<std::string_view> retry_after;
        for (const auto& [name, value] : transfer.headers) {
          if (name == "retry-after") {
            retry_after = value;
            break;
          }
        }
        delay = policy_.DelayAfterStatus(attempt - 1, status, retry_after, env_.Now(), env_.Random());
      }
    } else {
      std::string detail = transfer.error[0] != '\0' ? std::string(transfer.error) : curl_easy_strerror(outcome->code);
      switch (Classify(outcome->code)) {
        case Failure::kRetryable:
          break;
        case Failure::kTls:
          return absl::FailedPreconditionError(absl::StrCat(what, ": TLS verification failed: ", detail));
        case Failure::kInvalid:
          return absl::InvalidArgumentError(absl::StrCat(what, ": ", detail));
        case Failure::kOther:
          return absl::InternalError(absl::StrCat(what, ": ", detail));
      }
      reason = detail;
      if (attempt < max_attempts) delay = policy_.Backoff(attempt - 1, env_.Random());
    }

    if (attempt >= max_attempts) {
      log::Warn("outbound request failed; giving up",
                {{"source", name_},
                 {"method", request.method},
                 {"url", url->loggable},
                 {"attempts", std::to_string(attempt)},
                 {"last_error", reason}});
      return absl::UnavailableError(absl::StrCat(what, ": giving up after ", attempt, " attempt",
                                                 attempt == 1 ? "" : "s", "; last: ", reason));
    }
    log::Debug("outbound request failed; retrying",
               {{"source", name_},
                {"method", request.method},
                {"url", url->loggable},
                {"attempt", std::to_string(attempt)},
                {"error", reason},
                {"delay_ms", std::to_string(delay.count())}});
    if (!env_.Sleep(delay)) return absl::CancelledError(absl::StrCat(what, ": cancelled (shutting down)"));
  }
}

absl::Status StatusOf(const Response& response) {
  int status = response.status;
  if (status >= 200 && status <= 299) return absl::OkStatus();
  std::string message = absl::StrCat("HTTP ", status);
  if (std::optional<std::string> text = ProblemText(response.body)) {
    absl::StrAppend(&message, ": ", CleanProblemText(*text));
  }
  switch (status) {
    case 401:
      return absl::UnauthenticatedError(message);
    case 403:
      return absl::PermissionDeniedError(message);
    case 404:
      return absl::NotFoundError(message);
    default:
      if (status >= 400 && status <= 499) return absl::FailedPreconditionError(message);
      return absl::UnknownError(message);
  }
}

// --- InterruptibleEnvironment ----------------------------------------------------------------

struct InterruptibleEnvironment::State {
  absl::Mutex mu;
  std::atomic<bool> cancelled{false};  // set under mu (sleepers await it), read without
  std::mt19937_64 random ABSL_GUARDED_BY(mu);
};

InterruptibleEnvironment::InterruptibleEnvironment() : state_(std::make_unique<State>()) {
  std::random_device seed;
  std::seed_seq seq{seed(), seed(), seed(), seed()};
  state_->random.seed(seq);
}

InterruptibleEnvironment::~InterruptibleEnvironment() = default;

void InterruptibleEnvironment::Interrupt() {
  absl::MutexLock lock(&state_->mu);
  state_->cancelled.store(true);
}

bool InterruptibleEnvironment::Sleep(milliseconds d) {
  // A year is longer than any sensible delay and keeps now() + d far from overflowing.
  d = std::clamp(d, milliseconds{0}, milliseconds{std::chrono::hours{24 * 365}});
  absl::MutexLock lock(&state_->mu);
  const bool cancelled = state_->mu.AwaitWithTimeout(
      absl::Condition(+[](State* s) { return s->cancelled.load(); }, state_.get()), absl::FromChrono(d));
  return !cancelled;
}

bool InterruptibleEnvironment::Cancelled() const { return state_->cancelled.load(); }

double InterruptibleEnvironment::Random() {
  absl::MutexLock lock(&state_->mu);
  double r = std::generate_canonical<double, 53>(state_->random);
  return r < 1.0 ? r : std::nextafter(1.0, 0.0);  // generate_canonical may round up to 1
}

TimePoint InterruptibleEnvironment::Now() const { return SystemClock::Instance().Now(); }

}  // namespace mm::http_client
