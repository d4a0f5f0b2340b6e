#include "jwt/key_set.h"

#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"

namespace mm::jwt {
namespace {

using nlohmann::json;

absl::Status Invalid(std::string_view reason) {
  return absl::InvalidArgumentError(absl::string_view(reason.data(), reason.size()));
}
absl::Status Reject(const char* reason) { return absl::UnauthenticatedError(reason); }

// A kid as a reason may show it: escaped, and cut short (kids are public, but come from a file).
std::string Quoted(std::string_view kid) {
  constexpr size_t kMaxShown = 64;
  const std::string_view shown = kid.substr(0, kMaxShown);
  return absl::StrCat("\"", absl::CHexEscape(absl::string_view(shown.data(), shown.size())),
                      kid.size() > kMaxShown ? "...\"" : "\"");
}

}  // namespace

absl::Status KeySet::AddHmacSecretEntry(std::string_view entry) {
  if (entry.empty()) return Invalid("empty HMAC secret");
  const size_t colon = entry.find(':');
  if (colon == std::string_view::npos || colon == 0) return AddHmacSecret("", std::string(entry));
  if (colon + 1 == entry.size()) return Invalid("empty HMAC secret after kid:");
  return AddHmacSecret(std::string(entry.substr(0, colon)), std::string(entry.substr(colon + 1)));
}

absl::Status KeySet::AddHmacSecret(std::string kid, std::string secret) {
  if (secret.empty()) return Invalid("empty HMAC secret");
  hmac_secrets_.push_back({std::move(kid), std::move(secret)});
  return absl::OkStatus();
}

absl::Status KeySet::AddPublicKeys(std::string_view document) {
  std::optional<json> doc = internal::ParseJsonUniqueNames(document);
  if (!doc) return Invalid("not JSON (or some member name appears twice)");
  if (!doc->is_object()) return Invalid("not a JSON object");

  std::set<std::string> kids;
  for (const PublicKey& key : public_keys_) kids.insert(key.kid);
  std::vector<PublicKey> added;
  // One key, read from its place `where`; kid and alg already checked as strings.
  auto add = [&](const std::string& where, std::string kid, std::optional<Algorithm> alg,
                 absl::StatusOr<internal::Pkey> key) -> absl::Status {
    if (!key.ok()) return Invalid(absl::StrCat(where, ": ", key.status().message()));
    absl::StatusOr<KeyType> type = internal::UsableKeyType(key->get());
    if (!type.ok()) return Invalid(absl::StrCat(where, ": ", type.status().message()));
    if (alg && KeyTypeFor(*alg) != *type) return Invalid(absl::StrCat(where, ": alg does not fit the key type"));
    if (!kids.insert(kid).second) return Invalid(absl::StrCat(where, ": kid used twice"));
    added.push_back({std::move(kid), *type, alg, *std::move(key)});
    return absl::OkStatus();
  };

  const bool jwks = doc->contains("keys"), answer = doc->contains("publicKeys");
  if (jwks && answer) return Invalid("holds both keys (a JWKS) and publicKeys (FusionAuth's API answer)");
  if (jwks) {
    const json& keys = (*doc)["keys"];
    if (!keys.is_array()) return Invalid("keys is not an array");
    for (size_t i = 0; i < keys.size(); ++i) {
      const json& jwk = keys[i];
      std::string where = absl::StrCat("keys[", i, "]");
      if (!jwk.is_object()) return Invalid(absl::StrCat(where, ": not a JSON object"));
      if (auto use = jwk.find("use"); use != jwk.end()) {
        if (!use->is_string()) return Invalid(absl::StrCat(where, ": use is not a string"));
        if (use->get_ref<const std::string&>() != "sig") continue;  // an encryption key: not ours
      }
      auto kid = jwk.find("kid");
      if (kid == jwk.end() || !kid->is_string() || kid->get_ref<const std::string&>().empty()) {
        return Invalid(absl::StrCat(where, ": missing kid (or not a non-empty string)"));
      }
      absl::StrAppend(&where, " (kid ", Quoted(kid->get_ref<const std::string&>()), ")");
      std::optional<Algorithm> alg;
      if (auto alg_member = jwk.find("alg"); alg_member != jwk.end()) {
        if (alg_member->is_string()) alg = ParseAlgorithm(alg_member->get_ref<const std::string&>());
        if (!alg) return Invalid(absl::StrCat(where, ": alg is not a JWS algorithm this service verifies"));
      }
      if (absl::Status status = add(where, kid->get<std::string>(), alg, internal::PublicKeyFromJwk(jwk));
          !status.ok()) {
        return status;
      }
    }
  } else if (answer) {
    const json& pems = (*doc)["publicKeys"];
    if (!pems.is_object()) return Invalid("publicKeys is not an object");
    for (const auto& [kid, pem] : pems.items()) {
      const std::string where = absl::StrCat("publicKeys ", Quoted(kid));
      if (kid.empty()) return Invalid("publicKeys: empty kid");
      if (!pem.is_string()) return Invalid(absl::StrCat(where, ": not a PEM string"));
      if (absl::Status status =
              add(where, kid, std::nullopt, internal::PublicKeyFromPem(pem.get_ref<const std::string&>()));
          !status.ok()) {
        return status;
      }
    }
  } else if (doc->contains("publicKey")) {
    return Invalid(
        "a single publicKey has no kid: use the answer of GET /api/jwt/public-key without parameters "
        "({\"publicKeys\": {kid: PEM}}) or /.well-known/jwks.json");
  } else {
    return Invalid("neither a JWKS ({\"keys\": [...]}) nor {\"publicKeys\": {kid: PEM}}");
  }
  if (added.empty()) return Invalid("no signature key in the document");
  for (PublicKey& key : added) public_keys_.push_back(std::move(key));
  return absl::OkStatus();
}

json KeySet::PublicJwks() const {
  json keys = json::array();
  for (const PublicKey& key : public_keys_) {
    absl::StatusOr<json> jwk = internal::PublicJwk(key.key.get(), key.type, key.kid, key.alg);
    if (jwk.ok()) keys.push_back(*std::move(jwk));  // always: the key was read the same way
  }
  return json{{"keys", std::move(keys)}};
}

bool KeySet::Fits(const PublicKey& key, Algorithm alg) {
  return key.type == KeyTypeFor(alg) && (!key.alg || *key.alg == alg);
}

absl::Status KeySet::VerifySignature(Algorithm alg, std::optional<std::string_view> kid,
                                     std::string_view signing_input, std::string_view signature) const {
  if (KeyTypeFor(alg) == KeyType::kHmacSecret) return VerifyHmac(alg, kid, signing_input, signature);
  std::vector<const PublicKey*> candidates;
  if (kid) {
    for (const PublicKey& key : public_keys_) {
      if (key.kid == *kid) candidates.push_back(&key);  // at most one: kids are unique
    }
    if (candidates.empty()) return Reject("signature key unknown");
    if (!Fits(*candidates.front(), alg)) return Reject("signature algorithm does not fit the key");
  } else {
    for (const PublicKey& key : public_keys_) {
      if (Fits(key, alg)) candidates.push_back(&key);
    }
    if (candidates.empty()) return Reject("signature key unknown");
  }
  if (const size_t width = EcCoordinateBytes(alg); width != 0 && signature.size() != 2 * width) {
    return Reject("signature has the wrong length");
  }
  // Public keys and signatures are no secrets: stopping at the first match tells nothing.
  for (const PublicKey* key : candidates) {
    if (internal::VerifySignature(alg, key->key.get(), signing_input, signature)) return absl::OkStatus();
  }
  return Reject("signature does not match");
}

absl::Status KeySet::VerifyHmac(Algorithm alg, std::optional<std::string_view> kid, std::string_view signing_input,
                                std::string_view signature) const {
  // With a kid: the secrets named by it, else the plain ones (FusionAuth names its Key Master key
  // even to a receiver given the plain secret). Without: all of them.
  std::vector<const HmacSecret*> candidates;
  if (kid) {
    for (const HmacSecret& secret : hmac_secrets_) {
      if (secret.kid == *kid) candidates.push_back(&secret);
    }
    if (candidates.empty()) {
      for (const HmacSecret& secret : hmac_secrets_) {
        if (secret.kid.empty()) candidates.push_back(&secret);
      }
    }
  } else {
    for (const HmacSecret& secret : hmac_secrets_) candidates.push_back(&secret);
  }
  if (candidates.empty()) return Reject("signature key unknown");
  bool matched = false;
  // No early exit: the work done does not depend on which secret matched, or how closely.
  for (const HmacSecret* secret : candidates) {
    const std::string mac = internal::Hmac(alg, secret->secret, signing_input);
    matched |= !mac.empty() && ConstantTimeEquals(mac, signature);  // "": HMAC failed, never a match
  }
  return matched ? absl::OkStatus() : Reject("signature does not match");
}

}  // namespace mm::jwt
