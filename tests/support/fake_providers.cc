#include "fake_providers.h"

#include <algorithm>
#include <random>
#include <utility>

#include "common/crypto.h"

namespace mm::testing {

namespace {

bool StartsWith(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// Finds the first armed fault matching `path` (and `page_index`, when not negative), counts it
// down and returns a copy of it.
template <class Fault>
std::optional<Fault> Take(std::vector<Fault>& faults, std::string_view path, int page_index) {
  for (auto it = faults.begin(); it != faults.end(); ++it) {
    if (it->remaining == 0 || !StartsWith(path, it->prefix)) continue;
    if (page_index >= 0 && it->page_index != page_index) continue;
    Fault taken = *it;
    if (it->remaining > 0 && --it->remaining == 0) faults.erase(it);
    return taken;
  }
  return std::nullopt;
}

}  // namespace

FakeProvider::FakeProvider(std::string credential, bool admin_endpoints, const Clock* clock)
    : admin_endpoints_(admin_endpoints),
      clock_(clock != nullptr ? clock : &SystemClock::Instance()),
      credential_(std::move(credential)) {}

FakeProvider::~FakeProvider() { StopServer(); }

void FakeProvider::StartServer() {
  server_ = std::make_unique<FakeHttpServer>([this](const FakeRequest& request) { return Dispatch(request); });
}

void FakeProvider::StopServer() { server_.reset(); }

std::string FakeProvider::base_url() const { return server_->base_url(); }

int FakeProvider::port() const { return server_->port(); }

void FakeProvider::SetCredential(std::string credential) {
  std::lock_guard lock(mu_);
  credential_ = std::move(credential);
}

void FakeProvider::FailNext(std::string path_prefix, int n, int status, int retry_after_seconds) {
  if (n <= 0) return;
  std::lock_guard lock(mu_);
  failures_.push_back({std::move(path_prefix), n, status, retry_after_seconds, -1, {}});
}

void FakeProvider::FailPage(std::string path_prefix, int page_index, int status, int times) {
  if (times == 0) return;
  std::lock_guard lock(mu_);
  page_faults_.push_back({std::move(path_prefix), times < 0 ? -1 : times, status, -1, page_index, {}});
}

void FakeProvider::DelayNext(std::string path_prefix, int n, std::chrono::milliseconds delay) {
  if (n <= 0) return;
  std::lock_guard lock(mu_);
  delays_.push_back({std::move(path_prefix), n, 0, -1, -1, delay});
}

void FakeProvider::ClearFaults() {
  std::lock_guard lock(mu_);
  failures_.clear();
  page_faults_.clear();
  delays_.clear();
}

std::vector<FakeRequest> FakeProvider::Requests() const { return server_->Requests(); }

size_t FakeProvider::RequestCount(std::string_view path_prefix) const {
  std::vector<FakeRequest> requests = server_->Requests();
  return static_cast<size_t>(std::count_if(requests.begin(), requests.end(), [&](const FakeRequest& r) {
    return StartsWith(r.path, path_prefix);
  }));
}

void FakeProvider::ClearRequests() { server_->ClearRequests(); }

bool FakeProvider::CredentialIs(std::string_view presented) const {
  std::lock_guard lock(mu_);
  return !credential_.empty() && ConstantTimeEquals(presented, credential_);
}

std::optional<int> FakeProvider::PageFault(std::string_view path, int page_index) {
  std::lock_guard lock(mu_);
  if (auto fault = Take(page_faults_, path, page_index)) return fault->status;
  return std::nullopt;
}

FakeResponse FakeProvider::Dispatch(const FakeRequest& request) {
  if (StartsWith(request.path, "/_fake/")) {
    if (admin_endpoints_) return Admin(request);
    return Error(404, "admin endpoints are not enabled on this fake", request);
  }
  std::optional<CountedFault> delay, failure;
  {
    std::lock_guard lock(mu_);
    delay = Take(delays_, request.path, -1);
    failure = Take(failures_, request.path, -1);
  }
  FakeResponse response;
  if (failure) {
    response = Error(failure->status, "injected fault", request);
    if (failure->retry_after_seconds >= 0) {
      response.headers.emplace_back("Retry-After", std::to_string(failure->retry_after_seconds));
    }
  } else {
    response = Serve(request);
  }
  if (delay) response.delay += delay->delay;
  return response;
}

// --- Helpers. ---

std::string MakeUlid(TimePoint t) {
  static constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  auto millis = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
  std::string out(26, '0');
  for (int i = 9; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kCrockford[millis & 31];
    millis >>= 5;
  }
  std::string random = RandomHex(10);  // 80 bits
  uint64_t hi = std::stoull(random.substr(0, 10), nullptr, 16);  // 40 bits
  uint64_t lo = std::stoull(random.substr(10), nullptr, 16);     // 40 bits
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(10 + i)] = kCrockford[hi & 31];
    hi >>= 5;
    out[static_cast<size_t>(18 + i)] = kCrockford[lo & 31];
    lo >>= 5;
  }
  return out;
}

std::string MakeUuid() {
  std::string hex = RandomHex(16);
  hex[12] = '4';
  hex[16] = "89ab"[std::stoi(hex.substr(16, 1), nullptr, 16) & 3];
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

TimePoint TruncateToMillis(TimePoint t) {
  return std::chrono::floor<std::chrono::milliseconds>(t);
}

std::string FormatRfc3339Millis(TimePoint t) {
  std::string text = FormatRfc3339(TruncateToMillis(t));  // "...:27.402000Z"
  return text.substr(0, text.size() - 4) + "Z";
}

std::string EncodeCursorToken(std::string_view text) { return Base64UrlEncode(text); }

std::optional<std::string> DecodeCursorToken(std::string_view token) {
  if (token.empty()) return std::nullopt;
  return Base64UrlDecode(token);
}

std::optional<int> ParseSmallInt(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

std::string_view StatusReason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
  }
}

}  // namespace mm::testing
