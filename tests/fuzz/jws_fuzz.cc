// Fuzz target: compact JWS verification (server/jwt/jws.h VerifyCompactJws) against a fixed key
// set: the FusionAuth test vector's HMAC secret as a plain secret (so that the vector's token, a
// seed, verifies), a secret named by a kid, and a JWKS of the RSA (no alg: RS* and PS*), EC P-256
// and Ed25519 keys below, made by openssl for this file and used nowhere else. Checks:
// 1. any input as a token: a refusal is UNAUTHENTICATED with one of the reasons jws.h documents;
//    an accepted token is within kMaxTokenBytes, verifies again to the same result, says in its
//    header the alg and kid the result gives, is refused by an empty key set, and is refused with
//    the first character of its signature changed;
// 2. the input as a payload, when SignCompactJws takes it (a JSON object): signed by one of the
//    keys (chosen by the input's size), it verifies back to the same alg, kid and payload (the
//    encoder round trip), unless its exp/nbf claims refuse it at the fuzz clock.

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "jwt/jws.h"
#include "jwt/key_set.h"

namespace {

using mm::jwt::Algorithm;

constexpr char kRsaPrivateKey[] = R"pem(-----BEGIN PRIVATE KEY-----
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQC4vhrddPbobJM/
tVXzTOY2SH4Ec4/p5839ScxgY+wTB2SLSGOUSbaCEWdv5ga1v+75Q1WGp/fIoSfM
W4jTy2NVN5B9vvKPXzxbaVUI0nKaGa62RImNMKfRfjDc8sLHYsomyoE/82qB0WqD
2UTXtfDCQQznw8NaZgrRJhsD+sAVGPTrd5Xui1+eKhlbeSDdb5o9vjfpsRh2ZK3N
Bef0y2ieN6RTdNa9wujFxPHH2ukzlsdt+cf/E2Zp31cLc6WVGfuUXLDYqG1xwaeX
xXdnf3IVGX17ylSQnyI4blp4xqiB4gaE0xR5sJHoHF11rgTMVZjTeSFS0OQrl8YT
5gHpPlhjAgMBAAECggEADzEiFqEDAHthPOVyea0sTaPdED+lwreBuUXKBtX6UiXf
yKzKWr9L2o4holJZR4JOxA4bjxTqXupfUlvna62qvJWMdJK9vp8dxwScutRKtIDO
w1Ig7GZNmDNXQ4W6qvIx3n1bojP04VNxZDThoOPnNj1qmSqAVF0JoBTENvapUgxI
XHU+4GQkG1yxp+SndItYexTlqkT4fEv09ueIW+CNliUKbUre+q0apMnWU3e0vM9T
I2vMUF7E276d8852jWv7jxpcytWTWvt4WcUPV3deXIR5CRRO7HzgDTt5NUzrUroT
xzSz6c8rMT/+09UJERWygnj90ew8M1/41htfjtaBRQKBgQDrUBAbIeA8TFGg30yR
KHR1FxqkKJc2SEphzuzO/nZS1Xwiz7u6FfyYKX+TD2YPgylNW3yT/Hveo3ro/Y9U
UHOKz3KjtPenzSrbHlatpejpkcino1MDy9ymudC0cCKMXnKsSjyQmuYJlSYs2uud
qOx/Wf5DY2v9lzRVWyE3O2mW3wKBgQDI++mqXaM5bAmzTByOSDAwWvGnONYmAlLD
hcM2NCZ5O8GQT0gQe7VSmKqg2hhzO3xEO1fprS4jKoRnQDztwz6soGYY2Az0OZTG
Cm5Ba7qABmxRNF61pdTdFgysBmIoXPWVANiTGAzjJ9XrG8VDNQt5aPkd6g1m2jBA
i/SPmJmC/QKBgQDCr5UDvb1WZhZLMTSaDIx9q8Xg96xTvu+7iIYopCOlWPfBnXlF
9pbsFbl1JJJeVzg+xmiFz6l0hHFWfyKssXtG52eDxl/4Nykz7R/tv4y6YmFPQTOX
un0ufCIOh5At7p6VqT3+rgmQ+BODnQS/hllU7FIP0xwvzYAA9sq+datgpQKBgQCn
KtCJgWS36CKRXScLOQPL1HjWq7GC37/THLjnpqyxfYBb9XVtMFf6oTyamYxom/ua
DPnsRLzxRvXlo0qKQDErCCajV2A+6n3R0u8tvtrajX0edb6ou4u3cBWOJ6kRBXDG
RHPetMxTS9jjuq9yXPZ0P1mlBf2rpKMprL73iOd2SQKBgQDdAwPXcSCDrbCW3f7v
HRkXURGlwWzYJx9aBX/9R+7jdzSKUtgu6LkTGz10Lx2xk+//3uIxOWH7iWRs3T2L
/Y5i/+ZQcBjxzME+Azb+eHxbd0EGQIs/Z+VkirlBpkuAtinIlhlwUMXajzm3Yj/d
6p+sSJET1/kLh4OSErKPbkI8hg==
-----END PRIVATE KEY-----
)pem";
constexpr char kEcPrivateKey[] = R"pem(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXW0Qd6DmnHJGgu0W
yNQOxqtInmrJE+X3fd5D4cSSZ6ehRANCAARvvnH6OpmqmvK4ROwWIgUiFPJC0cZ9
QAs0qIcW8/UAgD7b8Y4fGmdfH+ZJjqc91ieI9NmoriAdneF3tS4xGOFM
-----END PRIVATE KEY-----
)pem";
constexpr char kEd25519PrivateKey[] = R"pem(-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIM6qBJBGdCO3+rme2/bFM3iqeHs1qj6ygSywQGeeckyr
-----END PRIVATE KEY-----
)pem";

// tests/fixtures/fusionauth.signature-test-vector.json
constexpr char kVectorSecret[] = "J5qelAtwZCAMEHZYythNVw5jXzQteUm9z9dFgVeeD8S";
constexpr char kNamedKid[] = "fuzz-hmac";
constexpr char kNamedSecret[] = "fuzz-secret-0123456789abcdef0123";
constexpr std::chrono::seconds kLeeway{300};

const std::set<std::string> kReasons{
    "signature token too long",      "signature token malformed",
    "signature header not a JSON object", "signature header missing alg",
    "signature algorithm not allowed", "signature header has crit",
    "signature header kid not a string", "signature payload not a JSON object",
    "signature key unknown",          "signature algorithm does not fit the key",
    "signature has the wrong length", "signature does not match",
    "signature claim exp not a number", "signature claim nbf not a number",
    "signature expired",              "signature not yet valid",
};

// The fixture's own keys: a failure here is a broken harness, reported as a failed check.
template <typename T>
T Must(absl::StatusOr<T> value) {
  MM_FUZZ_CHECK(value.ok());
  return *std::move(value);
}

struct Fixture {
  mm::jwt::KeySet keys;
  std::vector<mm::jwt::SigningKey> signers;

  Fixture() {
    const mm::jwt::SigningKey rsa =
        Must(mm::jwt::SigningKey::FromPrivateKeyPem(Algorithm::kRS256, "fuzz-rsa", kRsaPrivateKey));
    const mm::jwt::SigningKey ec =
        Must(mm::jwt::SigningKey::FromPrivateKeyPem(Algorithm::kES256, "fuzz-ec", kEcPrivateKey));
    const mm::jwt::SigningKey ed =
        Must(mm::jwt::SigningKey::FromPrivateKeyPem(Algorithm::kEdDSA, "fuzz-ed", kEd25519PrivateKey));
    nlohmann::json rsa_jwk = Must(mm::jwt::PublicJwk(rsa));
    rsa_jwk.erase("alg");
    const nlohmann::json jwks{
        {"keys", {rsa_jwk, Must(mm::jwt::PublicJwk(ec)), Must(mm::jwt::PublicJwk(ed))}}};
    MM_FUZZ_CHECK(keys.AddPublicKeys(jwks.dump()).ok());
    MM_FUZZ_CHECK(keys.AddHmacSecretEntry(kVectorSecret).ok());
    MM_FUZZ_CHECK(keys.AddHmacSecretEntry(std::string(kNamedKid) + ":" + kNamedSecret).ok());
    signers = {rsa,
               ec,
               ed,
               Must(mm::jwt::SigningKey::FromPrivateKeyPem(Algorithm::kPS256, "fuzz-rsa", kRsaPrivateKey)),
               Must(mm::jwt::SigningKey::Hmac(Algorithm::kHS256, kNamedKid, kNamedSecret)),
               Must(mm::jwt::SigningKey::Hmac(Algorithm::kHS512, "", kVectorSecret))};
  }
};

const Fixture& TheFixture() {
  static const Fixture* fixture = new Fixture();
  return *fixture;
}

bool Same(const mm::jwt::VerifiedJws& a, const mm::jwt::VerifiedJws& b) {
  return a.alg == b.alg && a.kid == b.kid && a.header == b.header && a.payload == b.payload;
}

absl::StatusOr<mm::jwt::VerifiedJws> Verify(std::string_view token, const mm::jwt::KeySet& keys) {
  return mm::jwt::VerifyCompactJws(token, keys, mm::fuzz::Now(), kLeeway);
}

void CheckRefusal(const absl::Status& status) {
  MM_FUZZ_CHECK(status.code() == absl::StatusCode::kUnauthenticated);
  MM_FUZZ_CHECK(kReasons.contains(std::string(status.message())));
}

void CheckToken(std::string_view token, const Fixture& fixture) {
  absl::StatusOr<mm::jwt::VerifiedJws> verified = Verify(token, fixture.keys);
  if (!verified.ok()) {
    CheckRefusal(verified.status());
    return;
  }
  MM_FUZZ_CHECK(token.size() <= mm::jwt::kMaxTokenBytes);
  absl::StatusOr<mm::jwt::VerifiedJws> again = Verify(token, fixture.keys);
  MM_FUZZ_CHECK(again.ok() && Same(*verified, *again));
  MM_FUZZ_CHECK(verified->header.is_object() && verified->payload.is_object());
  MM_FUZZ_CHECK(verified->header.value("alg", "") == mm::jwt::AlgorithmName(verified->alg));
  MM_FUZZ_CHECK(verified->header.value("kid", "") == verified->kid);
  absl::StatusOr<mm::jwt::VerifiedJws> keyless = Verify(token, mm::jwt::KeySet());
  MM_FUZZ_CHECK(!keyless.ok() && keyless.status().message() == "signature key unknown");
  // Exactly two dots (three segments); the signature segment is not empty.
  const size_t last_dot = token.rfind('.');
  MM_FUZZ_CHECK(last_dot != std::string_view::npos && last_dot + 1 < token.size());
  std::string changed(token);
  changed[last_dot + 1] = changed[last_dot + 1] == 'A' ? 'B' : 'A';
  absl::StatusOr<mm::jwt::VerifiedJws> forged = Verify(changed, fixture.keys);
  MM_FUZZ_CHECK(!forged.ok());
  CheckRefusal(forged.status());
}

void CheckSigned(std::string_view payload, const Fixture& fixture) {
  const mm::jwt::SigningKey& signer = fixture.signers[payload.size() % fixture.signers.size()];
  absl::StatusOr<std::string> token = mm::jwt::SignCompactJws(signer, payload);
  if (!token.ok()) {
    MM_FUZZ_CHECK(token.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  const nlohmann::json parsed = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  MM_FUZZ_CHECK(parsed.is_object());
  absl::StatusOr<mm::jwt::VerifiedJws> verified = Verify(*token, fixture.keys);
  if (token->size() > mm::jwt::kMaxTokenBytes) {
    MM_FUZZ_CHECK(!verified.ok() && verified.status().message() == "signature token too long");
    return;
  }
  if (!verified.ok()) {
    // Only its own time claims may refuse a token signed here.
    const std::string reason(verified.status().message());
    MM_FUZZ_CHECK(parsed.contains("exp") || parsed.contains("nbf"));
    MM_FUZZ_CHECK(reason == "signature expired" || reason == "signature not yet valid" ||
                  reason == "signature claim exp not a number" || reason == "signature claim nbf not a number");
    return;
  }
  MM_FUZZ_CHECK(verified->alg == signer.alg() && verified->kid == signer.kid());
  MM_FUZZ_CHECK(verified->payload == parsed);
  CheckToken(*token, fixture);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Fixture& fixture = TheFixture();
  const std::string_view input = mm::fuzz::AsText(data, size);
  CheckToken(input, fixture);
  CheckSigned(input, fixture);
  return 0;
}
