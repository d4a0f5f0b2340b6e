#pragma once
// The keys that FusionAuth webhook signatures (X-FusionAuth-Signature-JWT) are verified with
// (docs/design.md §3a): HMAC secrets (MM_FUSIONAUTH_HMAC_SECRETS) and public keys
// (MM_FUSIONAUTH_PUBLIC_KEYS_FILE), each optionally named by a kid.
//
// Built once at start, then only read: the const members are thread-safe, and copies share the
// (immutable) OpenSSL keys. Nothing here throws. Reasons in statuses name the problem and the
// key's place in the document, never a secret.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "jwt/algorithm.h"
#include "jwt/evp_keys.h"

namespace mm::jwt {

class KeySet {
 public:
  // One MM_FUSIONAUTH_HMAC_SECRETS entry, its bytes as they are (no trimming; the secret's UTF-8
  // bytes are the HMAC key, as FusionAuth uses them):
  //   "secret"       a plain secret;
  //   "kid:secret"   a secret named by the kid of its Key Master key: split on the FIRST ':', so
  //                  the secret may hold ':' but the kid cannot;
  //   ":secret"      (empty part before the first ':') a plain secret that starts with ':', the
  //                  whole entry, as membershipctl reads the setting too.
  // An empty entry or an empty secret after "kid:" is INVALID_ARGUMENT (anyone can compute an
  // HMAC under an empty key). Several entries may share a kid: each is tried.
  absl::Status AddHmacSecretEntry(std::string_view entry);
  // The same, given apart: an empty `kid` makes a plain secret. `secret` empty: INVALID_ARGUMENT.
  absl::Status AddHmacSecret(std::string kid, std::string secret);

  // A public-keys document (the contents of MM_FUSIONAUTH_PUBLIC_KEYS_FILE): a JSON object
  // (no member name twice in any object), one of
  //  (a) a JWKS, {"keys": [...]}, as FusionAuth serves at /.well-known/jwks.json. Each key is an
  //      object with kid (a non-empty string, required), kty RSA (n, e), EC (crv P-256/P-384/P-521,
  //      x, y of exactly the coordinate width) or OKP (crv Ed25519, x), values strict base64url.
  //      `use`, if present, must be "sig", else the key is skipped (not checked further);
  //      `alg`, if present, must be an algorithm of this key type and restricts the key to it.
  //      x5c, x5t, key_ops, ... are ignored (the key members are what counts). Refused: another
  //      kty (oct, ...), an unusable member, private key material (d, p, ...), a non-object.
  //  (b) FusionAuth's answer of GET /api/jwt/public-key, {"publicKeys": {"<kid>": "<PEM>", ...}}:
  //      each PEM one SubjectPublicKeyInfo ("BEGIN PUBLIC KEY") or one X.509 certificate ("BEGIN
  //      CERTIFICATE"; its public key is taken, its dates and issuer are not looked at). The
  //      one-key answer {"publicKey": "<PEM>"} (asked for by ?kid= or ?applicationId=) carries no
  //      kid, so it is refused, saying to use the answer without parameters.
  // Every key: RSA of 2048 to 16384 bits, EC P-256/P-384/P-521 (point checked), or Ed25519. The
  // kids must be unique, within the document and with the public keys already added. A document
  // that yields no key (all skipped, or none listed) is refused too: a file was configured.
  // On any problem: INVALID_ARGUMENT naming the key (its index, and its kid when it has one) and
  // the problem, and nothing of the document is added (a half-loaded key set is worse than a
  // startup error).
  absl::Status AddPublicKeys(std::string_view document);

  size_t hmac_secret_count() const { return hmac_secrets_.size(); }
  size_t public_key_count() const { return public_keys_.size(); }
  bool empty() const { return hmac_secrets_.empty() && public_keys_.empty(); }

  // The public keys as a JWKS document {"keys": [...]}, in the order added: each with kty and its
  // key members (minimal n and e; fixed-width EC coordinates), kid, use "sig", and alg when the
  // key was restricted to one. AddPublicKeys reads it back to the same keys.
  nlohmann::json PublicJwks() const;

  // The signature check of VerifyCompactJws (jws.h), exposed for it: whether `signature` is a
  // signature of `signing_input` under `alg` by a key of this set chosen by `kid` (nullopt: the
  // header had none) as jws.h describes. OK or UNAUTHENTICATED: "signature key unknown",
  // "signature algorithm does not fit the key", "signature has the wrong length", "signature does
  // not match".
  absl::Status VerifySignature(Algorithm alg, std::optional<std::string_view> kid, std::string_view signing_input,
                               std::string_view signature) const;

 private:
  struct HmacSecret {
    std::string kid;  // empty: a plain secret
    std::string secret;
  };
  struct PublicKey {
    std::string kid;
    KeyType type = KeyType::kRsa;
    std::optional<Algorithm> alg;  // the JWK's own "alg": the only one it may verify
    internal::Pkey key;
  };

  absl::Status VerifyHmac(Algorithm alg, std::optional<std::string_view> kid, std::string_view signing_input,
                          std::string_view signature) const;
  static bool Fits(const PublicKey& key, Algorithm alg);

  std::vector<HmacSecret> hmac_secrets_;
  std::vector<PublicKey> public_keys_;
};

}  // namespace mm::jwt
