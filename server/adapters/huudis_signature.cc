#include "adapters/huudis_signature.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <system_error>
#include <vector>

#include "absl/status/statusor.h"
#include "common/crypto.h"

namespace mm::adapters {
namespace {

using std::chrono::seconds;

// Bounds that keep FromUnixSeconds and the skew arithmetic (microseconds in int64) far from
// overflow: about 35,000 years either way. Anything beyond is simply not fresh.
constexpr int64_t kMaxAbsUnixSeconds = int64_t{1} << 40;
constexpr seconds kMaxTolerance{int64_t{1} << 40};

struct ParsedHeader {
  std::string_view timestamp_text;  // `t` as written: the HMAC covers these exact bytes
  int64_t timestamp = 0;
  std::vector<std::string> signatures;  // decoded `v1` values
};

// Reasons are fixed strings: nothing from the request may leak into logs or answers.
absl::Status Reject(const char* reason) { return absl::UnauthenticatedError(reason); }

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

std::optional<int64_t> ParseDecimal(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

absl::StatusOr<ParsedHeader> ParseHeader(std::string_view value) {
  ParsedHeader parsed;
  std::optional<std::string_view> timestamp_text;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = std::min(value.find(',', start), value.size());
    std::string_view part = Trim(value.substr(start, comma - start));
    start = comma + 1;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = Trim(part.substr(0, eq));
    std::string_view val = Trim(part.substr(eq + 1));
    if (key == "t") {
      // Two timestamps would leave it ambiguous which one the signer meant.
      if (timestamp_text.has_value()) return Reject("signature header has several t");
      timestamp_text = val;
    } else if (key == "v1") {
      std::optional<std::string> decoded = HexDecode(val);
      if (!decoded.has_value() || decoded->empty()) return Reject("signature header v1 is not hex");
      parsed.signatures.push_back(*std::move(decoded));
    }
  }
  if (!timestamp_text.has_value()) return Reject("signature header missing t");
  if (parsed.signatures.empty()) return Reject("signature header missing v1");
  std::optional<int64_t> timestamp = ParseDecimal(*timestamp_text);
  if (!timestamp.has_value()) return Reject("signature header t is not an integer");
  parsed.timestamp_text = *timestamp_text;
  parsed.timestamp = *timestamp;
  return parsed;
}

bool IsFresh(int64_t timestamp, TimePoint now, seconds tolerance) {
  if (timestamp > kMaxAbsUnixSeconds || timestamp < -kMaxAbsUnixSeconds) return false;
  const seconds window = std::clamp(tolerance, seconds{0}, kMaxTolerance);
  const auto skew = now - FromUnixSeconds(timestamp);
  return skew >= -window && skew <= window;
}

std::string SignedPayload(std::string_view timestamp_text, std::string_view raw_body) {
  std::string payload;
  payload.reserve(timestamp_text.size() + 1 + raw_body.size());
  payload.append(timestamp_text).append(".").append(raw_body);
  return payload;
}

}  // namespace

absl::Status VerifyHuudisSignature(std::string_view header_value, std::string_view raw_body,
                                   std::span<const std::string> secrets, TimePoint now,
                                   seconds tolerance) {
  if (std::all_of(secrets.begin(), secrets.end(), [](const auto& s) { return s.empty(); })) {
    return Reject("no signing secret configured");
  }
  absl::StatusOr<ParsedHeader> parsed = ParseHeader(header_value);
  if (!parsed.ok()) return parsed.status();
  // Freshness first: it is cheap, and a replayed old delivery should not cost an HMAC per secret.
  if (!IsFresh(parsed->timestamp, now, tolerance)) {
    return Reject("signature timestamp outside tolerance");
  }
  const std::string payload = SignedPayload(parsed->timestamp_text, raw_body);
  bool matched = false;
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    const std::string expected = HmacSha256(secret, payload);
    // No early exit: the work done does not depend on which secret or signature matched.
    for (const std::string& signature : parsed->signatures) {
      matched |= ConstantTimeEquals(expected, signature);
    }
  }
  return matched ? absl::OkStatus() : Reject("signature does not match");
}

std::string MakeHuudisSignatureHeader(std::string_view secret, int64_t unix_seconds,
                                      std::string_view raw_body) {
  const std::string timestamp_text = std::to_string(unix_seconds);
  return "t=" + timestamp_text +
         ",v1=" + HexEncode(HmacSha256(secret, SignedPayload(timestamp_text, raw_body)));
}

}  // namespace mm::adapters
