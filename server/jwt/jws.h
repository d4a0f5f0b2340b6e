#pragma once
// Compact JWS (RFC 7515 §7.1), as FusionAuth signs webhooks with (X-FusionAuth-Signature-JWT;
// docs/design.md §3a, docs/providers.md §2.8): verification against a KeySet, and signing (for
// membershipctl, tests and benchmarks). Over OpenSSL 3's EVP API. Nothing here throws; every
// function is thread-safe (SigningKey and KeySet are immutable once made).

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "common/time.h"
#include "jwt/algorithm.h"
#include "jwt/evp_keys.h"
#include "jwt/key_set.h"

namespace mm::jwt {

struct VerifiedJws {
  Algorithm alg = Algorithm::kHS256;
  std::string kid;          // empty when the header had none (or an empty one)
  nlohmann::json header;    // the decoded protected header (an object)
  nlohmann::json payload;   // the decoded payload (an object)
};

inline constexpr size_t kMaxTokenBytes = 16 * 1024;

// Verifies a compact JWS "<b64url header>.<b64url payload>.<b64url signature>" against `keys`.
// Checks, in this order (the first failure answers):
//  1. at most kMaxTokenBytes                                    "signature token too long"
//  2. exactly three segments, each strict base64url (common/crypto.h Base64UrlDecode: no padding,
//     no '+' '/' or whitespace, no stray bits)                  "signature token malformed"
//  3. the header is a JSON object (no member name twice)        "signature header not a JSON object"
//     with a string alg                                         "signature header missing alg"
//     that ParseAlgorithm knows ("none" included in the refusal) "signature algorithm not allowed"
//     and no crit (no extension is understood)                  "signature header has crit"
//     and a kid, if any, that is a string                       "signature header kid not a string"
//  4. the payload is a JSON object (no member name twice)       "signature payload not a JSON object"
//  5. the signature, over the first two segments as sent, by the key KeySet::VerifySignature picks:
//     - HS*: with a kid, the HMAC secrets named by it, or if none is, every plain (unnamed) one
//       (FusionAuth puts its Key Master kid in the header even when the receiver was configured
//       with the plain secret); without a kid, every secret. Compared in constant time, every
//       candidate computed.
//     - RS*/PS*/ES*/EdDSA: with a kid, the public key of that kid; without, every public key that
//       fits. Fitting: RS*/PS* an RSA key, ES256/384/512 a P-256/P-384/P-521 key, EdDSA Ed25519,
//       and a JWK's own alg, if it had one, equal to the token's. HS* never uses a public key
//       (no key confusion), and the asymmetric algs never use an HMAC secret.
//                                            "signature key unknown" (no candidate / unknown kid)
//                                            "signature algorithm does not fit the key" (the kid's
//                                            key is of another type or alg)
//                                            "signature has the wrong length" (ES*: R||S is not
//                                            2 x 32/48/66 bytes)
//                                            "signature does not match"
//     RS*: RSASSA-PKCS1-v1_5; PS*: RSASSA-PSS, MGF1 with the same hash, salt length = hash length;
//     ES*: ECDSA over R||S (RFC 7518 §3.4); EdDSA: Ed25519 (RFC 8037).
//  6. claims exp and nbf, when present: numbers (NumericDate)    "signature claim exp/nbf not a number"
//     exp: refused once now >= exp + leeway                       "signature expired"
//     nbf: refused while now + leeway < nbf                       "signature not yet valid"
//     Absent is fine (FusionAuth sends neither). A negative leeway counts as 0.
// Other header members (typ, jku, x5u, jwk, ...) are ignored: keys come only from `keys`.
// Every failure is UNAUTHENTICATED with one of the reasons above, which never hold token bytes or
// key material.
absl::StatusOr<VerifiedJws> VerifyCompactJws(std::string_view token, const KeySet& keys, TimePoint now,
                                             std::chrono::seconds leeway);

// A key to sign with. Copies share the (immutable) OpenSSL key.
class SigningKey {
 public:
  // `alg` must be HS256/384/512 and `secret` non-empty; `kid` may be empty (no kid in the header)
  // and must be UTF-8. Else INVALID_ARGUMENT.
  static absl::StatusOr<SigningKey> Hmac(Algorithm alg, std::string kid, std::string secret);
  // A PEM private key (PKCS#8 "BEGIN PRIVATE KEY", or traditional "BEGIN RSA PRIVATE KEY" / "BEGIN
  // EC PRIVATE KEY"; not encrypted) for RS*/PS* (RSA of 2048 to 16384 bits), ES256/384/512
  // (P-256/P-384/P-521) or EdDSA (Ed25519). INVALID_ARGUMENT if it is unreadable, or its type does
  // not fit `alg` (HS* included), or `kid` is not UTF-8.
  static absl::StatusOr<SigningKey> FromPrivateKeyPem(Algorithm alg, std::string kid, std::string_view pem);

  Algorithm alg() const { return alg_; }
  const std::string& kid() const { return kid_; }

 private:
  friend absl::StatusOr<std::string> SignCompactJws(const SigningKey& key, std::string_view payload_json);
  friend absl::StatusOr<nlohmann::json> PublicJwk(const SigningKey& key);

  SigningKey(Algorithm alg, std::string kid, std::string secret, KeyType type, internal::Pkey key)
      : alg_(alg), kid_(std::move(kid)), secret_(std::move(secret)), type_(type), key_(std::move(key)) {}

  Algorithm alg_;
  std::string kid_;
  std::string secret_;  // HS*
  KeyType type_;
  internal::Pkey key_;  // the others
};

// The compact JWS of header {"alg": ..., "typ": "JWT", "kid": ...} (in that order, kid left out
// when empty: FusionAuth's header) and `payload_json` as given (its bytes are what is signed).
// ES* signatures are R||S, fixed width. INVALID_ARGUMENT if `payload_json` is not a JSON object;
// INTERNAL if OpenSSL fails to sign.
absl::StatusOr<std::string> SignCompactJws(const SigningKey& key, std::string_view payload_json);

// The public JWK of an asymmetric signing key, as a JWKS publishes it and KeySet::AddPublicKeys
// reads it: kty with n/e, crv/x/y or crv/x; kid (left out when empty); use "sig"; alg.
// INVALID_ARGUMENT for an HMAC key (it has no public half).
absl::StatusOr<nlohmann::json> PublicJwk(const SigningKey& key);

}  // namespace mm::jwt
