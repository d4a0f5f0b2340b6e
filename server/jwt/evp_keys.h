#pragma once
// OpenSSL and JSON plumbing shared by key_set.cc and jws.cc: not part of the interface of
// server/jwt/ (use key_set.h and jws.h). Every function is thread-safe, never throws, and leaves
// the calling thread's OpenSSL error queue as it found it (ErrorQueueMark).

#include <openssl/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "jwt/algorithm.h"

namespace mm::jwt::internal {

// An EVP_PKEY shared by copies of a KeySet or SigningKey. Never modified after it was made, so
// that threads may use it at once (openssl-threads(7)).
using Pkey = std::shared_ptr<EVP_PKEY>;

// RSA moduli accepted, in bits. 16384 is the most OpenSSL verifies with (OPENSSL_RSA_MAX_MODULUS_BITS).
inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMaxRsaBits = 16384;

// Drops, when it goes, whatever OpenSSL errors were queued on this thread while it lived: a
// failed parse or verification must not leave errors behind for the next TLS call to trip over.
class ErrorQueueMark {
 public:
  ErrorQueueMark();
  ~ErrorQueueMark();
  ErrorQueueMark(const ErrorQueueMark&) = delete;
  ErrorQueueMark& operator=(const ErrorQueueMark&) = delete;
};

// What `key` can be used for: RSA (kMinRsaBits..kMaxRsaBits, odd modulus, odd public exponent
// above 1), EC on P-256/P-384/P-521 (named curve, public point checked), or Ed25519. Anything
// else (RSA-PSS-only keys, other curves, Ed448, DSA, ...): INVALID_ARGUMENT with a reason.
absl::StatusOr<KeyType> UsableKeyType(EVP_PKEY* key);

// The public key of a JWK's key members (RFC 7518 §6): kty "RSA" (n, e), "EC" (crv P-256/P-384/
// P-521, x, y: each exactly the coordinate width), "OKP" (crv Ed25519, x: 32 bytes). Values are
// strict base64url. A private member ("d", "p", ...) is refused: a public-keys file must not hold
// private keys. Other members are not looked at. INVALID_ARGUMENT with a reason on any problem.
absl::StatusOr<Pkey> PublicKeyFromJwk(const nlohmann::json& jwk);
// One PEM block, nothing but whitespace around it: "BEGIN PUBLIC KEY" (SubjectPublicKeyInfo) or
// "BEGIN CERTIFICATE" (X.509: its public key; validity dates and issuer are not looked at).
absl::StatusOr<Pkey> PublicKeyFromPem(std::string_view pem);
// One PEM private key: PKCS#8 "BEGIN PRIVATE KEY" or traditional "BEGIN RSA/EC PRIVATE KEY".
// Encrypted keys are refused (no passphrase is ever asked for).
absl::StatusOr<Pkey> PrivateKeyFromPem(std::string_view pem);
// The key members of the public half of `key` (of UsableKeyType `type`), as PublicKeyFromJwk reads
// them: {"kty","n","e"}, {"kty","crv","x","y"} or {"kty","crv","x"}, minimal-length n and e,
// fixed-width EC coordinates.
absl::StatusOr<nlohmann::json> PublicJwkMembers(EVP_PKEY* key, KeyType type);
// PublicJwkMembers plus "kid" (left out when empty), "use": "sig" and "alg" (when given): the JWK
// a JWKS publishes for the key.
absl::StatusOr<nlohmann::json> PublicJwk(EVP_PKEY* key, KeyType type, std::string_view kid,
                                         std::optional<Algorithm> alg);

// HMAC-SHA-256/384/512 for HS256/384/512 (raw bytes); "" for any other alg.
std::string Hmac(Algorithm alg, std::string_view secret, std::string_view message);
// Whether `signature` (as the JWS carries it: R||S for ES*) is `key`'s signature of `input` under
// `alg`. The caller has checked that `key` fits `alg`.
bool VerifySignature(Algorithm alg, EVP_PKEY* key, std::string_view input, std::string_view signature);
// `key`'s signature of `input` under `alg`, as a JWS carries it (R||S, fixed width, for ES*).
absl::StatusOr<std::string> Sign(Algorithm alg, EVP_PKEY* key, std::string_view input);

// Parses JSON text (RFC 8259, UTF-8 checked); nullopt if it is not JSON, or if some object has a
// member name twice (RFC 7515 §5.2 lets a JWS parser refuse those: no question which one counts).
std::optional<nlohmann::json> ParseJsonUniqueNames(std::string_view text);

}  // namespace mm::jwt::internal
