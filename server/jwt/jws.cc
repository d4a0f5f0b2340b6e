#include "jwt/jws.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"

namespace mm::jwt {
namespace {

using nlohmann::json;

// Reasons are fixed strings: nothing of the token or the keys may reach logs or answers.
absl::Status Reject(const char* reason) { return absl::UnauthenticatedError(reason); }

struct Segments {
  std::string_view signing_input;  // "<header>.<payload>", as sent
  std::string header, payload, signature;
};

std::optional<Segments> Split(std::string_view token) {
  const size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) return std::nullopt;
  std::optional<std::string> header = Base64UrlDecode(token.substr(0, first));
  std::optional<std::string> payload = Base64UrlDecode(token.substr(first + 1, second - first - 1));
  std::optional<std::string> signature = Base64UrlDecode(token.substr(second + 1));
  if (!header || !payload || !signature) return std::nullopt;
  return Segments{token.substr(0, second), *std::move(header), *std::move(payload), *std::move(signature)};
}

std::optional<json> JsonObject(std::string_view text) {
  std::optional<json> doc = internal::ParseJsonUniqueNames(text);
  if (!doc || !doc->is_object()) return std::nullopt;
  return doc;
}

// exp and nbf (RFC 7519 §4.1.4, §4.1.5), in seconds since the epoch as doubles: NumericDate may
// have a fraction, and any JSON number compares without overflow.
absl::Status CheckTimes(const json& payload, TimePoint now, std::chrono::seconds leeway) {
  const double now_seconds = std::chrono::duration<double>(now.time_since_epoch()).count();
  const double slack = static_cast<double>(std::max<int64_t>(leeway.count(), 0));
  if (auto exp = payload.find("exp"); exp != payload.end()) {
    if (!exp->is_number()) return Reject("signature claim exp not a number");
    if (now_seconds >= exp->get<double>() + slack) return Reject("signature expired");
  }
  if (auto nbf = payload.find("nbf"); nbf != payload.end()) {
    if (!nbf->is_number()) return Reject("signature claim nbf not a number");
    if (now_seconds + slack < nbf->get<double>()) return Reject("signature not yet valid");
  }
  return absl::OkStatus();
}

bool IsUtf8(const std::string& text) {
  // nlohmann's dump checks UTF-8; its exception is caught here so that nothing throws further.
  try {
    (void)json(text).dump();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

}  // namespace

absl::StatusOr<VerifiedJws> VerifyCompactJws(std::string_view token, const KeySet& keys, TimePoint now,
                                             std::chrono::seconds leeway) {
  if (token.size() > kMaxTokenBytes) return Reject("signature token too long");
  std::optional<Segments> segments = Split(token);
  if (!segments) return Reject("signature token malformed");

  std::optional<json> header = JsonObject(segments->header);
  if (!header) return Reject("signature header not a JSON object");
  auto alg_member = header->find("alg");
  if (alg_member == header->end() || !alg_member->is_string()) return Reject("signature header missing alg");
  std::optional<Algorithm> alg = ParseAlgorithm(alg_member->get_ref<const std::string&>());
  if (!alg) return Reject("signature algorithm not allowed");
  if (header->contains("crit")) return Reject("signature header has crit");
  std::optional<std::string> kid;
  if (auto kid_member = header->find("kid"); kid_member != header->end()) {
    if (!kid_member->is_string()) return Reject("signature header kid not a string");
    kid = kid_member->get<std::string>();
  }
  std::optional<json> payload = JsonObject(segments->payload);
  if (!payload) return Reject("signature payload not a JSON object");

  if (absl::Status status = keys.VerifySignature(*alg, kid, segments->signing_input, segments->signature);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = CheckTimes(*payload, now, leeway); !status.ok()) return status;
  return VerifiedJws{*alg, kid.value_or(""), *std::move(header), *std::move(payload)};
}

absl::StatusOr<SigningKey> SigningKey::Hmac(Algorithm alg, std::string kid, std::string secret) {
  if (KeyTypeFor(alg) != KeyType::kHmacSecret) return absl::InvalidArgumentError("an HMAC key signs HS256/384/512 only");
  if (secret.empty()) return absl::InvalidArgumentError("empty HMAC secret");
  if (!IsUtf8(kid)) return absl::InvalidArgumentError("kid is not UTF-8");
  return SigningKey(alg, std::move(kid), std::move(secret), KeyType::kHmacSecret, nullptr);
}

absl::StatusOr<SigningKey> SigningKey::FromPrivateKeyPem(Algorithm alg, std::string kid, std::string_view pem) {
  if (KeyTypeFor(alg) == KeyType::kHmacSecret) {
    return absl::InvalidArgumentError("HS256/384/512 sign with a secret, not a private key");
  }
  if (!IsUtf8(kid)) return absl::InvalidArgumentError("kid is not UTF-8");
  absl::StatusOr<internal::Pkey> key = internal::PrivateKeyFromPem(pem);
  if (!key.ok()) return key.status();
  absl::StatusOr<KeyType> type = internal::UsableKeyType(key->get());
  if (!type.ok()) return type.status();
  if (*type != KeyTypeFor(alg)) {
    return absl::InvalidArgumentError(absl::StrCat("the private key does not fit ", std::string(AlgorithmName(alg))));
  }
  return SigningKey(alg, std::move(kid), "", *type, *std::move(key));
}

absl::StatusOr<std::string> SignCompactJws(const SigningKey& key, std::string_view payload_json) {
  if (!JsonObject(payload_json)) return absl::InvalidArgumentError("payload is not a JSON object");
  nlohmann::ordered_json header{{"alg", AlgorithmName(key.alg_)}, {"typ", "JWT"}};
  if (!key.kid_.empty()) header["kid"] = key.kid_;
  std::string token = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(payload_json);
  std::string signature;
  if (key.type_ == KeyType::kHmacSecret) {
    signature = internal::Hmac(key.alg_, key.secret_, token);
    if (signature.empty()) return absl::InternalError("signing failed");
  } else {
    absl::StatusOr<std::string> signed_bytes = internal::Sign(key.alg_, key.key_.get(), token);
    if (!signed_bytes.ok()) return signed_bytes.status();
    signature = *std::move(signed_bytes);
  }
  return token + "." + Base64UrlEncode(signature);
}

absl::StatusOr<json> PublicJwk(const SigningKey& key) {
  if (key.type_ == KeyType::kHmacSecret) return absl::InvalidArgumentError("an HMAC key has no public JWK");
  return internal::PublicJwk(key.key_.get(), key.type_, key.kid_, key.alg_);
}

}  // namespace mm::jwt
