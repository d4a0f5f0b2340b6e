// server/jwt/: compact JWS verification and signing, and the key sets it verifies with (HMAC
// secrets, JWKS documents, FusionAuth's {"publicKeys": {kid: PEM}}). Keys are made by the openssl
// command line into a temporary directory, so that the PEM files and the signatures checked here
// come from outside this code too; the HS256 vector is tests/fixtures/fusionauth.signature-test-vector.json.

#include "jwt/jws.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "jwt/key_set.h"


namespace mm::jwt {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using std::chrono::seconds;

const TimePoint kNow = FromUnixSeconds(1780478129);
constexpr seconds kLeeway{300};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, std::string_view content) {
  std::ofstream(path, std::ios::binary) << content;
}

// "<b64url header>.<b64url payload>" of texts as given.
std::string SigningInput(std::string_view header, std::string_view payload) {
  return Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
}

// A token with any header and payload text, HS256-signed with `secret` (made here, not by
// SignCompactJws, so that malformed headers can be signed too).
std::string Hs256(std::string_view header, std::string_view payload, std::string_view secret) {
  const std::string input = SigningInput(header, payload);
  return input + "." + Base64UrlEncode(HmacSha256(secret, input));
}

// The token's three segments.
std::vector<std::string> Segments(const std::string& token) {
  std::vector<std::string> out;
  std::stringstream in(token);
  for (std::string part; std::getline(in, part, '.');) out.push_back(part);
  return out;
}

std::string Join(const std::vector<std::string>& segments) {
  std::string out;
  for (size_t i = 0; i < segments.size(); ++i) out += (i ? "." : "") + segments[i];
  return out;
}

// A refusal: UNAUTHENTICATED, the reason expected, and nothing of the token in it.
void ExpectRefused(const absl::StatusOr<VerifiedJws>& result, std::string_view reason, const std::string& token) {
  SCOPED_TRACE(std::string(reason));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << result.status();
  const std::string message(result.status().message());
  EXPECT_THAT(message, HasSubstr(std::string(reason)));
  EXPECT_LT(message.size(), 60u) << message;
  for (const std::string& segment : Segments(token)) {
    if (segment.size() >= 6) {
      EXPECT_THAT(message, ::testing::Not(HasSubstr(segment)));
    }
  }
}

void ExpectInvalid(const absl::Status& status, std::string_view reason) {
  SCOPED_TRACE(std::string(reason));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(std::string(reason)));
}

absl::StatusOr<VerifiedJws> Verify(const std::string& token, const KeySet& keys, TimePoint now = kNow) {
  return VerifyCompactJws(token, keys, now, kLeeway);
}

std::string Sign(const absl::StatusOr<SigningKey>& key, std::string_view payload = R"({"sub":"dana"})") {
  EXPECT_TRUE(key.ok()) << key.status();
  if (!key.ok()) return "";
  absl::StatusOr<std::string> token = SignCompactJws(*key, payload);
  EXPECT_TRUE(token.ok()) << token.status();
  return token.ok() ? *token : "";
}

KeySet Secrets(std::initializer_list<std::string_view> entries) {
  KeySet keys;
  for (std::string_view entry : entries) EXPECT_TRUE(keys.AddHmacSecretEntry(entry).ok()) << entry;
  return keys;
}

KeySet Document(const json& document) {
  KeySet keys;
  absl::Status status = keys.AddPublicKeys(document.dump());
  EXPECT_TRUE(status.ok()) << status;
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Keys made by `openssl`, each when a test first asks for it (ctest runs every test in a process
// of its own: making all of them for each would cost seconds a test), into a directory of the
// process's own that goes at exit.

class Keys : public ::testing::Environment {
 public:
  void TearDown() override {
    if (!Dir().empty()) std::filesystem::remove_all(Dir());
  }

  // The file `name` in the key directory, made first if need be: "<key>.pem" (private, PKCS#8),
  // "<key>.pub" (SubjectPublicKeyInfo), and rsa.crt, rsa.trad, p256.trad, rsa.enc, rsa.pkcs1pub.
  static std::string Path(const std::string& name) {
    const std::string path = Dir() + "/" + name;
    if (std::filesystem::exists(path)) return path;
    static const std::map<std::string, std::string> kGenerate{
        {"rsa", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048"},
        {"rsa2", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048"},
        {"rsa3", "-algorithm RSA -pkeyopt rsa_keygen_bits:3072"},
        {"rsa1024", "-algorithm RSA -pkeyopt rsa_keygen_bits:1024"},
        {"p256", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256"},
        {"p256b", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256"},
        {"p384", "-algorithm EC -pkeyopt ec_paramgen_curve:P-384"},
        {"p521", "-algorithm EC -pkeyopt ec_paramgen_curve:P-521"},
        {"secp256k1", "-algorithm EC -pkeyopt ec_paramgen_curve:secp256k1"},
        {"ed25519", "-algorithm ed25519"},
        {"ed448", "-algorithm ed448"},
    };
    const std::string stem = name.substr(0, name.find('.'));
    const std::string extension = name.substr(stem.size());
    if (extension == ".pem" && kGenerate.contains(stem)) {
      Run("openssl genpkey " + kGenerate.at(stem) + " -out " + path);
    } else if (extension == ".pub") {
      Run("openssl pkey -in " + Path(stem + ".pem") + " -pubout -out " + path);
    } else if (name == "rsa.crt") {
      Run("openssl req -x509 -new -key " + Path("rsa.pem") + " -subj /CN=mm-jwt-test -days 1 -out " + path);
    } else if (name == "rsa.trad") {
      Run("openssl rsa -in " + Path("rsa.pem") + " -traditional -out " + path);
    } else if (name == "p256.trad") {
      Run("openssl ec -in " + Path("p256.pem") + " -out " + path);
    } else if (name == "rsa.enc") {
      Run("openssl pkey -in " + Path("rsa.pem") + " -aes256 -passout pass:secret -out " + path);
    } else if (name == "rsa.pkcs1pub") {
      Run("openssl rsa -in " + Path("rsa.pem") + " -RSAPublicKey_out -out " + path);
    }
    return path;  // anything else: a scratch file of the test's own
  }
  static std::string Pem(const std::string& name) { return ReadFile(Path(name)); }
  static void Run(const std::string& command) {
    ASSERT_EQ(std::system((command + " 2>/dev/null").c_str()), 0) << command;
  }
  static absl::StatusOr<SigningKey> Private(Algorithm alg, const std::string& name, const std::string& kid) {
    return SigningKey::FromPrivateKeyPem(alg, kid, Pem(name + ".pem"));
  }

 private:
  static const std::string& Dir() {
    static const std::string dir = [] {
      char pattern[] = "/tmp/mm-jwt-test-XXXXXX";
      return std::string(mkdtemp(pattern) != nullptr ? pattern : "");
    }();
    return dir;
  }
};
[[maybe_unused]] const auto* const kKeys = ::testing::AddGlobalTestEnvironment(new Keys);

// ---------------------------------------------------------------------------------------------

TEST(AlgorithmTest, NamesRoundTripAndNoneIsNotOne) {
  for (std::string_view name : {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                "ES256", "ES384", "ES512", "EdDSA"}) {
    std::optional<Algorithm> alg = ParseAlgorithm(name);
    ASSERT_TRUE(alg.has_value()) << name;
    EXPECT_EQ(AlgorithmName(*alg), name);
  }
  for (std::string_view name : {"none", "None", "", "hs256", "HS256 ", "ES256K", "Ed25519", "RSA-OAEP", "HS1"}) {
    EXPECT_EQ(ParseAlgorithm(name), std::nullopt) << name;
  }
}

TEST(Base64UrlTest, EncodesWithoutPaddingAndDecodesOnlyTheCanonicalForm) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff\xfe"), "-__-");
  EXPECT_EQ(Base64UrlDecode(""), "");
  EXPECT_EQ(Base64UrlDecode("Zg"), "f");
  EXPECT_EQ(Base64UrlDecode("Zm8"), "fo");
  EXPECT_EQ(Base64UrlDecode("-__-"), "\xfb\xff\xfe");
  for (std::string_view bad : {"Zg==", "Zm8=", "+//+", "Zm 9v", "Zm9v\n", "Z", "Zm9vY", "Zh", "Zm9", "Zm%v"}) {
    EXPECT_EQ(Base64UrlDecode(bad), std::nullopt) << bad;  // Zh, Zm9: stray bits in the last character
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); n += 7) EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(all.substr(0, n))), all.substr(0, n));
}

// ---------------------------------------------------------------------------------------------
// The FusionAuth HS256 vector.

class FusionAuthVectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string text = ReadFile(std::string(MM_FIXTURES_DIR) + "/fusionauth.signature-test-vector.json");
    ASSERT_FALSE(text.empty()) << "fixture missing";
    const json vector = json::parse(text);
    secret_ = vector.at("hmacSecretUtf8").get<std::string>();
    token_ = vector.at("headers").at("X-FusionAuth-Signature-JWT").get<std::string>();
    header_ = vector.at("jwtHeader");
    payload_ = vector.at("jwtPayload");
    kid_ = header_.at("kid").get<std::string>();
  }
  std::string secret_, token_, kid_;
  json header_, payload_;
};

TEST_F(FusionAuthVectorTest, VerifiesWithThePlainSecret) {
  absl::StatusOr<VerifiedJws> verified = Verify(token_, Secrets({secret_}));
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->alg, Algorithm::kHS256);
  EXPECT_EQ(verified->kid, kid_);
  EXPECT_EQ(verified->header, header_);
  EXPECT_EQ(verified->payload, payload_);
}

TEST_F(FusionAuthVectorTest, VerifiesWithTheSecretNamedByItsKid) {
  EXPECT_EQ(kid_, "I57_jH8Z_3E9uuqEHd_w1jjQD5w");
  EXPECT_TRUE(Verify(token_, Secrets({kid_ + ":" + secret_})).ok());
  // A plain secret beside it does not matter; a wrong secret under the kid is not rescued by it.
  EXPECT_TRUE(Verify(token_, Secrets({"other-secret", kid_ + ":" + secret_})).ok());
  ExpectRefused(Verify(token_, Secrets({secret_, kid_ + ":other-secret"})), "signature does not match", token_);
}

TEST_F(FusionAuthVectorTest, FailsWithAnotherSecret) {
  ExpectRefused(Verify(token_, Secrets({"J5qelAtwZCAMEHZYythNVw5jXzQteUm9z9dFgVeeD8T"})), "signature does not match",
                token_);
  ExpectRefused(Verify(token_, Secrets({secret_ + " "})), "signature does not match", token_);
  // Named for another kid: not tried for this one, and there is no plain secret to fall back on.
  ExpectRefused(Verify(token_, Secrets({"other-kid:" + secret_})), "signature key unknown", token_);
  ExpectRefused(Verify(token_, KeySet()), "signature key unknown", token_);
}

TEST_F(FusionAuthVectorTest, SigningReproducesTheVector) {
  // FusionAuth's header is {"alg","typ","kid"} in that order, which SignCompactJws writes too.
  EXPECT_EQ(Sign(SigningKey::Hmac(Algorithm::kHS256, kid_, secret_), payload_.dump()), token_);
}

// ---------------------------------------------------------------------------------------------
// HMAC secrets.

TEST(HmacSecretEntryTest, EmptySecretsAreRefused) {
  KeySet keys;
  ExpectInvalid(keys.AddHmacSecretEntry(""), "empty HMAC secret");
  ExpectInvalid(keys.AddHmacSecretEntry("kid:"), "empty HMAC secret");
  ExpectInvalid(keys.AddHmacSecret("kid", ""), "empty HMAC secret");
  EXPECT_EQ(keys.hmac_secret_count(), 0u);
  EXPECT_TRUE(keys.empty());
}

TEST(HmacSecretEntryTest, SplitsOnTheFirstColonAndALeadingColonIsPartOfAPlainSecret) {
  KeySet keys = Secrets({"k1:s:with:colons", ":leading", "plain"});
  EXPECT_EQ(keys.hmac_secret_count(), 3u);
  EXPECT_FALSE(keys.empty());
  EXPECT_TRUE(Verify(Sign(SigningKey::Hmac(Algorithm::kHS256, "k1", "s:with:colons")), keys).ok());
  EXPECT_TRUE(Verify(Sign(SigningKey::Hmac(Algorithm::kHS256, "", ":leading")), keys).ok());
  EXPECT_TRUE(Verify(Sign(SigningKey::Hmac(Algorithm::kHS256, "unnamed-kid", ":leading")), keys).ok());
  EXPECT_TRUE(Verify(Sign(SigningKey::Hmac(Algorithm::kHS256, "", "s:with:colons")), keys).ok());  // no kid: all
  // The named secret is not a plain one: under another kid it is not tried.
  const std::string token = Sign(SigningKey::Hmac(Algorithm::kHS256, "k2", "s:with:colons"));
  ExpectRefused(Verify(token, keys), "signature does not match", token);
}

TEST(HmacTest, RoundTripsForEachHash) {
  KeySet keys = Secrets({"old-secret", "kid-b:new-secret"});
  for (Algorithm alg : {Algorithm::kHS256, Algorithm::kHS384, Algorithm::kHS512}) {
    SCOPED_TRACE(std::string(AlgorithmName(alg)));
    for (const auto& [kid, secret] : {std::pair{"", "old-secret"}, std::pair{"kid-b", "new-secret"}}) {
      const std::string token = Sign(SigningKey::Hmac(alg, kid, secret));
      absl::StatusOr<VerifiedJws> verified = Verify(token, keys);
      ASSERT_TRUE(verified.ok()) << verified.status();
      EXPECT_EQ(verified->alg, alg);
      EXPECT_EQ(verified->kid, kid);
      EXPECT_EQ(verified->header.value("typ", ""), "JWT");
      EXPECT_EQ(verified->payload, json({{"sub", "dana"}}));
      EXPECT_EQ(Base64UrlDecode(Segments(token)[2])->size(), alg == Algorithm::kHS256 ? 32u : alg == Algorithm::kHS384 ? 48u : 64u);
    }
    const std::string wrong = Sign(SigningKey::Hmac(alg, "", "third-secret"));
    ExpectRefused(Verify(wrong, keys), "signature does not match", wrong);
  }
}

// ---------------------------------------------------------------------------------------------
// Public keys: each asymmetric algorithm, by PEM and by JWKS.

struct AsymmetricCase {
  Algorithm alg;
  std::string key;  // the file name in the key directory
};

std::vector<AsymmetricCase> AsymmetricCases() {
  return {{Algorithm::kRS256, "rsa"},  {Algorithm::kRS384, "rsa"},  {Algorithm::kRS512, "rsa3"},
          {Algorithm::kPS256, "rsa"},  {Algorithm::kPS384, "rsa3"}, {Algorithm::kPS512, "rsa"},
          {Algorithm::kES256, "p256"}, {Algorithm::kES384, "p384"}, {Algorithm::kES512, "p521"},
          {Algorithm::kEdDSA, "ed25519"}};
}

TEST(AsymmetricTest, RoundTripsThroughAPemDocumentAndAJwks) {
  for (const AsymmetricCase& c : AsymmetricCases()) {
    SCOPED_TRACE(std::string(AlgorithmName(c.alg)) + " " + c.key);
    absl::StatusOr<SigningKey> key = Keys::Private(c.alg, c.key, c.key + "-kid");
    ASSERT_TRUE(key.ok()) << key.status();
    const std::string token = Sign(key, R"({"request_body_sha256":"abc="})");
    if (const size_t width = c.alg == Algorithm::kES256 ? 32 : c.alg == Algorithm::kES384 ? 48 : c.alg == Algorithm::kES512 ? 66 : 0) {
      EXPECT_EQ(Base64UrlDecode(Segments(token)[2])->size(), 2 * width);  // R||S, fixed width
    }

    const KeySet by_pem = Document({{"publicKeys", {{c.key + "-kid", Keys::Pem(c.key + ".pub")}}}});
    EXPECT_EQ(by_pem.public_key_count(), 1u);
    absl::StatusOr<VerifiedJws> verified = Verify(token, by_pem);
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_EQ(verified->alg, c.alg);
    EXPECT_EQ(verified->kid, c.key + "-kid");
    EXPECT_EQ(verified->payload.value("request_body_sha256", ""), "abc=");

    absl::StatusOr<json> jwk = PublicJwk(*key);
    ASSERT_TRUE(jwk.ok()) << jwk.status();
    EXPECT_EQ(jwk->value("kid", ""), c.key + "-kid");
    EXPECT_EQ(jwk->value("use", ""), "sig");
    EXPECT_EQ(jwk->value("alg", ""), AlgorithmName(c.alg));
    EXPECT_FALSE(jwk->contains("d"));
    const KeySet by_jwks = Document({{"keys", {*jwk}}});
    EXPECT_TRUE(Verify(token, by_jwks).ok()) << Verify(token, by_jwks).status();
    // The key set publishes the same JWK it read.
    EXPECT_EQ(by_jwks.PublicJwks(), json({{"keys", {*jwk}}}));

    // Without a kid in the header: every key that fits is tried.
    absl::StatusOr<SigningKey> unnamed = Keys::Private(c.alg, c.key, "");
    const std::string no_kid = Sign(unnamed);
    absl::StatusOr<VerifiedJws> unnamed_verified = Verify(no_kid, by_jwks);
    ASSERT_TRUE(unnamed_verified.ok()) << unnamed_verified.status();
    EXPECT_FALSE(unnamed_verified->header.contains("kid"));
    EXPECT_EQ(unnamed_verified->kid, "");
    EXPECT_TRUE(Verify(no_kid, by_pem).ok());
    // Another message's signature does not fit this one.
    std::vector<std::string> parts = Segments(token);
    parts[2] = Segments(Sign(key, R"({"request_body_sha256":"abd="})"))[2];
    ExpectRefused(Verify(Join(parts), by_pem), "signature does not match", Join(parts));
  }
}

TEST(AsymmetricTest, CertificatesAndTraditionalPemKeysWork) {
  const KeySet by_cert = Document({{"publicKeys", {{"rsa-kid", Keys::Pem("rsa.crt")}}}});
  EXPECT_TRUE(Verify(Sign(Keys::Private(Algorithm::kRS256, "rsa", "rsa-kid")), by_cert).ok());
  EXPECT_TRUE(Verify(Sign(SigningKey::FromPrivateKeyPem(Algorithm::kPS256, "rsa-kid", Keys::Pem("rsa.trad"))), by_cert).ok());
  const KeySet ec = Document({{"publicKeys", {{"ec", Keys::Pem("p256.pub")}}}});
  EXPECT_TRUE(Verify(Sign(SigningKey::FromPrivateKeyPem(Algorithm::kES256, "ec", Keys::Pem("p256.trad"))), ec).ok());
}

// The signatures are the standard ones: what the openssl command line signs verifies here, and
// what is signed here verifies with the openssl command line.
TEST(AsymmetricTest, AgreesWithTheOpensslCommandLine) {
  const std::string input = SigningInput(R"({"alg":"PS256","kid":"k"})", R"({"sub":"x"})");
  WriteFile(Keys::Path("input"), input);
  const std::string pss = " -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha256";
  Keys::Run("openssl dgst -sha256 -sign " + Keys::Path("rsa.pem") + pss + " -out " + Keys::Path("sig") + " " +
            Keys::Path("input"));
  const KeySet keys = Document({{"publicKeys", {{"k", Keys::Pem("rsa.pub")}, {"e", Keys::Pem("ed25519.pub")}}}});
  const std::string token = input + "." + Base64UrlEncode(ReadFile(Keys::Path("sig")));
  EXPECT_TRUE(Verify(token, keys).ok()) << Verify(token, keys).status();

  // And the other way, PS256 (salt = hash length, checked exactly by saltlen:digest) and EdDSA.
  const std::string mine = Sign(Keys::Private(Algorithm::kPS256, "rsa", "k"));
  std::vector<std::string> parts = Segments(mine);
  WriteFile(Keys::Path("input2"), parts[0] + "." + parts[1]);
  WriteFile(Keys::Path("sig2"), *Base64UrlDecode(parts[2]));
  Keys::Run("openssl dgst -sha256 -verify " + Keys::Path("rsa.pub") + pss + " -signature " + Keys::Path("sig2") + " " +
            Keys::Path("input2"));
  const std::string ed = Sign(Keys::Private(Algorithm::kEdDSA, "ed25519", "e"));
  parts = Segments(ed);
  WriteFile(Keys::Path("input3"), parts[0] + "." + parts[1]);
  WriteFile(Keys::Path("sig3"), *Base64UrlDecode(parts[2]));
  Keys::Run("openssl pkeyutl -verify -pubin -inkey " + Keys::Path("ed25519.pub") + " -rawin -in " +
            Keys::Path("input3") + " -sigfile " + Keys::Path("sig3"));
}

TEST(AsymmetricTest, RotationAcceptsEitherPublishedKeyAndNotAThird) {
  absl::StatusOr<SigningKey> a = Keys::Private(Algorithm::kRS256, "rsa", "key-a");
  absl::StatusOr<SigningKey> b = Keys::Private(Algorithm::kES256, "p256", "key-b");
  const KeySet keys = Document({{"keys", {*PublicJwk(*a), *PublicJwk(*b)}}});
  EXPECT_EQ(keys.public_key_count(), 2u);
  EXPECT_TRUE(Verify(Sign(a), keys).ok());
  EXPECT_TRUE(Verify(Sign(b), keys).ok());
  const std::string stranger = Sign(Keys::Private(Algorithm::kRS256, "rsa2", "key-c"));
  ExpectRefused(Verify(stranger, keys), "signature key unknown", stranger);
  const std::string impostor = Sign(Keys::Private(Algorithm::kRS256, "rsa2", "key-a"));
  ExpectRefused(Verify(impostor, keys), "signature does not match", impostor);
  const std::string impostor_ec = Sign(Keys::Private(Algorithm::kES256, "p256b", "key-b"));
  ExpectRefused(Verify(impostor_ec, keys), "signature does not match", impostor_ec);
  const std::string no_kid = Sign(Keys::Private(Algorithm::kRS256, "rsa2", ""));
  ExpectRefused(Verify(no_kid, keys), "signature does not match", no_kid);
  // The published set reads back to the same keys.
  KeySet again;
  ASSERT_TRUE(again.AddPublicKeys(keys.PublicJwks().dump()).ok());
  EXPECT_EQ(again.public_key_count(), 2u);
  EXPECT_TRUE(Verify(Sign(a), again).ok());
}

// ---------------------------------------------------------------------------------------------
// The alg must fit the key.

TEST(KeyFitTest, AnHs256TokenKeyedWithTheRsaPublicKeyIsRefused) {
  // The classic confusion: HS256 with the public key's text (PEM, or the JWKS) as the secret.
  const std::string pem = Keys::Pem("rsa.pub");
  const KeySet pem_keys = Document({{"publicKeys", {{"rsa-kid", pem}}}});
  absl::StatusOr<SigningKey> rsa = Keys::Private(Algorithm::kRS256, "rsa", "rsa-kid");
  const KeySet jwks_keys = Document({{"keys", {*PublicJwk(*rsa)}}});
  for (const std::string& secret : {pem, jwks_keys.PublicJwks().dump(), PublicJwk(*rsa)->dump()}) {
    for (const KeySet* keys : {&pem_keys, &jwks_keys}) {
      const std::string token = Sign(SigningKey::Hmac(Algorithm::kHS256, "rsa-kid", secret));
      ExpectRefused(Verify(token, *keys), "signature key unknown", token);
      const std::string no_kid = Sign(SigningKey::Hmac(Algorithm::kHS256, "", secret));
      ExpectRefused(Verify(no_kid, *keys), "signature key unknown", no_kid);
    }
  }
  // With an HMAC secret configured as well, it is only that secret that HS256 is checked with.
  KeySet both = pem_keys;
  ASSERT_TRUE(both.AddHmacSecretEntry("real-secret").ok());
  const std::string token = Sign(SigningKey::Hmac(Algorithm::kHS256, "rsa-kid", pem));
  ExpectRefused(Verify(token, both), "signature does not match", token);
  EXPECT_TRUE(Verify(Sign(SigningKey::Hmac(Algorithm::kHS256, "rsa-kid", "real-secret")), both).ok());
}

TEST(KeyFitTest, TheAlgMustFitTheKeyTheKidNames) {
  const KeySet keys = Document({{"publicKeys",
                                 {{"rsa", Keys::Pem("rsa.pub")},
                                  {"p256", Keys::Pem("p256.pub")},
                                  {"p384", Keys::Pem("p384.pub")},
                                  {"ed", Keys::Pem("ed25519.pub")}}}});
  struct Case {
    Algorithm alg;
    std::string key, kid;
  };
  for (const Case& c : std::vector<Case>{{Algorithm::kRS256, "rsa", "p256"},
                                         {Algorithm::kPS256, "rsa", "ed"},
                                         {Algorithm::kES256, "p256", "p384"},
                                         {Algorithm::kES384, "p384", "p256"},
                                         {Algorithm::kES256, "p256", "rsa"},
                                         {Algorithm::kEdDSA, "ed25519", "p256"}}) {
    SCOPED_TRACE(std::string(AlgorithmName(c.alg)) + " as " + c.kid);
    const std::string token = Sign(Keys::Private(c.alg, c.key, c.kid));
    ExpectRefused(Verify(token, keys), "signature algorithm does not fit the key", token);
  }
  // Without a kid, only the keys that fit are tried: ES384 finds the P-384 key among the others.
  EXPECT_TRUE(Verify(Sign(Keys::Private(Algorithm::kES384, "p384", "")), keys).ok());
  const std::string p256_as_es256 = Sign(Keys::Private(Algorithm::kES256, "p256b", ""));
  ExpectRefused(Verify(p256_as_es256, keys), "signature does not match", p256_as_es256);
}

TEST(KeyFitTest, AJwksAlgRestrictsTheKey) {
  absl::StatusOr<SigningKey> rs256 = Keys::Private(Algorithm::kRS256, "rsa", "rsa");
  const KeySet keys = Document({{"keys", {*PublicJwk(*rs256)}}});  // alg RS256
  EXPECT_TRUE(Verify(Sign(rs256), keys).ok());
  for (Algorithm other : {Algorithm::kRS512, Algorithm::kPS256}) {
    const std::string token = Sign(Keys::Private(other, "rsa", "rsa"));
    ExpectRefused(Verify(token, keys), "signature algorithm does not fit the key", token);
    const std::string no_kid = Sign(Keys::Private(other, "rsa", ""));
    ExpectRefused(Verify(no_kid, keys), "signature key unknown", no_kid);
  }
  // Without its alg the JWK fits every RSA algorithm.
  json jwk = *PublicJwk(*rs256);
  jwk.erase("alg");
  const KeySet open = Document({{"keys", {jwk}}});
  for (Algorithm alg : {Algorithm::kRS384, Algorithm::kPS512}) EXPECT_TRUE(Verify(Sign(Keys::Private(alg, "rsa", "rsa")), open).ok());
}

// ---------------------------------------------------------------------------------------------
// Token refusals, in the order VerifyCompactJws checks.

class RefusalTest : public ::testing::Test {
 protected:
  static constexpr char kSecret[] = "refusal-secret";
  KeySet keys_ = Secrets({kSecret});
  std::string Signed(std::string_view header, std::string_view payload = R"({"sub":"x"})") const {
    return Hs256(header, payload, kSecret);
  }
  void Refused(const std::string& token, std::string_view reason) const {
    ExpectRefused(Verify(token, keys_), reason, token);
  }
};

TEST_F(RefusalTest, AlgNone) {
  const std::string input = SigningInput(R"({"alg":"none","typ":"JWT"})", R"({"sub":"x"})");
  Refused(input + ".", "signature algorithm not allowed");
  Refused(Signed(R"({"alg":"none"})"), "signature algorithm not allowed");
  Refused(Signed(R"({"alg":"NONE"})"), "signature algorithm not allowed");
  Refused(Signed(R"({"alg":"HS1"})"), "signature algorithm not allowed");
}

TEST_F(RefusalTest, EveryFlippedBitIsNoticed) {
  const std::string token = Signed(R"({"alg":"HS256","typ":"JWT"})");
  ASSERT_TRUE(Verify(token, keys_).ok());
  for (size_t segment = 0; segment < 3; ++segment) {
    std::vector<std::string> parts = Segments(token);
    std::string bytes = *Base64UrlDecode(parts[segment]);
    for (size_t bit = 0; bit < bytes.size() * 8; bit += 5) {
      std::string flipped = bytes;
      flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
      parts[segment] = Base64UrlEncode(flipped);
      const absl::StatusOr<VerifiedJws> result = Verify(Join(parts), keys_);
      ASSERT_FALSE(result.ok()) << "segment " << segment << " bit " << bit;
      EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
    }
  }
  std::vector<std::string> parts = Segments(token);
  parts[2][0] = parts[2][0] == 'A' ? 'B' : 'A';
  Refused(Join(parts), "signature does not match");
}

TEST_F(RefusalTest, SegmentsAndBase64url) {
  const std::string token = Signed(R"({"alg":"HS256"})");
  ASSERT_TRUE(Verify(token, keys_).ok());
  const std::vector<std::string> parts = Segments(token);
  for (const std::string& bad :
       {std::string(), std::string("."), std::string(".."), std::string("..."), token.substr(0, token.size() - 1),
        token.substr(0, token.rfind('.')), parts[0] + "." + parts[1], token + ".", token + "." + parts[2],
        "." + token, parts[0] + ".." + parts[2], token + "=", parts[0] + "=." + parts[1] + "." + parts[2],
        parts[0] + "." + parts[1] + "==." + parts[2], " " + token, token + " ", token + "\n",
        parts[0] + "." + parts[1] + ".+" + parts[2].substr(1), parts[0] + "." + parts[1] + "./" + parts[2].substr(1),
        parts[0] + "." + parts[1] + "." + parts[2].substr(0, 10) + "*" + parts[2].substr(11)}) {
    SCOPED_TRACE(bad);
    const absl::StatusOr<VerifiedJws> result = Verify(bad, keys_);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(std::string(result.status().message()),
                ::testing::AnyOf(HasSubstr("signature token malformed"), HasSubstr("signature does not match"),
                                 // an empty segment is the base64url of "": no JSON
                                 HasSubstr("not a JSON object")));
  }
  Refused(parts[0] + "." + parts[1], "signature token malformed");
  Refused(token + "." + parts[2], "signature token malformed");
  Refused(token + "=", "signature token malformed");
  // A signature in base64 with '+' and '/' instead of '-' and '_' (a common signer mistake).
  std::string standard = parts[2];
  for (char& c : standard) c = c == '-' ? '+' : c == '_' ? '/' : c;
  if (standard != parts[2]) Refused(parts[0] + "." + parts[1] + "." + standard, "signature token malformed");
}

TEST_F(RefusalTest, HeaderAndPayloadMustBeJsonObjects) {
  Refused(Signed("not json"), "signature header not a JSON object");
  Refused(Signed(R"(["alg","HS256"])"), "signature header not a JSON object");
  Refused(Signed(R"("HS256")"), "signature header not a JSON object");
  Refused(Signed(R"({"alg":"HS256")"), "signature header not a JSON object");
  Refused(Signed(R"({"alg":"HS256","alg":"HS256"})"), "signature header not a JSON object");  // a name twice
  Refused(Signed(R"({"typ":"JWT"})"), "signature header missing alg");
  Refused(Signed(R"({"alg":256})"), "signature header missing alg");
  Refused(Signed(R"({"alg":"HS256","crit":["exp"]})"), "signature header has crit");
  Refused(Signed(R"({"alg":"HS256","crit":[]})"), "signature header has crit");
  Refused(Signed(R"({"alg":"HS256","kid":7})"), "signature header kid not a string");
  Refused(Signed(R"({"alg":"HS256"})", R"(["sub"])"), "signature payload not a JSON object");
  Refused(Signed(R"({"alg":"HS256"})", "sub"), "signature payload not a JSON object");
  Refused(Signed(R"({"alg":"HS256"})", ""), "signature payload not a JSON object");
  Refused(Signed(R"({"alg":"HS256"})", R"({"a":1,"a":2})"), "signature payload not a JSON object");
  Refused(Signed(R"({"alg":"HS256"})", "{\"a\":\"\xff\"}"), "signature payload not a JSON object");  // not UTF-8
  // Unknown members (typ, jku, x5u, an embedded jwk) change nothing: keys come from the key set.
  EXPECT_TRUE(Verify(Signed(R"({"alg":"HS256","typ":"whatever","jku":"https://evil.example/jwks","jwk":{}})"), keys_).ok());
}

TEST_F(RefusalTest, OversizedTokens) {
  // The largest token within the limit verifies; one byte more (or much more) does not.
  std::string within;
  for (size_t pad = kMaxTokenBytes * 3 / 4 - 100;; ++pad) {
    std::string token = Signed(R"({"alg":"HS256"})", json({{"p", std::string(pad, 'x')}}).dump());
    if (token.size() > kMaxTokenBytes) {
      Refused(token, "signature token too long");
      break;
    }
    within = std::move(token);
  }
  EXPECT_GE(within.size(), kMaxTokenBytes - 4);
  EXPECT_TRUE(Verify(within, keys_).ok());
  Refused(std::string(1 << 20, 'a'), "signature token too long");
}

TEST_F(RefusalTest, EcSignaturesMustBeRawRAndSOfTheRightWidth) {
  const KeySet keys = Document({{"publicKeys", {{"ec", Keys::Pem("p256.pub")}}}});
  const std::string token = Sign(Keys::Private(Algorithm::kES256, "p256", "ec"));
  ASSERT_TRUE(Verify(token, keys).ok());
  std::vector<std::string> parts = Segments(token);
  const std::string raw = *Base64UrlDecode(parts[2]);
  for (const std::string& bad : {raw + '\0', raw.substr(1), raw.substr(0, 32), raw + raw, std::string()}) {
    parts[2] = Base64UrlEncode(bad);
    ExpectRefused(Verify(Join(parts), keys), "signature has the wrong length", Join(parts));
  }
  // The DER form OpenSSL signs to, as a careless signer would send it.
  const std::string input = parts[0] + "." + parts[1];
  WriteFile(Keys::Path("ec-input"), input);
  Keys::Run("openssl dgst -sha256 -sign " + Keys::Path("p256.pem") + " -out " + Keys::Path("ec-der") + " " +
            Keys::Path("ec-input"));
  const std::string der = ReadFile(Keys::Path("ec-der"));
  ASSERT_FALSE(der.empty());
  parts[2] = Base64UrlEncode(der);
  const absl::StatusOr<VerifiedJws> result = Verify(Join(parts), keys);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(RefusalTest, ExpAndNbfHoldWithinTheLeeway) {
  const int64_t now = 1780478129;
  auto at = [&](const json& claims) { return Signed(R"({"alg":"HS256"})", claims.dump()); };
  EXPECT_TRUE(Verify(at({{"exp", now + 10}}), keys_).ok());
  EXPECT_TRUE(Verify(at({{"exp", now - 299}}), keys_).ok());  // within the leeway
  Refused(at({{"exp", now - 300}}), "signature expired");
  Refused(at({{"exp", now - 100000}}), "signature expired");
  Refused(at({{"exp", 1.5}}), "signature expired");
  EXPECT_TRUE(Verify(at({{"exp", 1e300}}), keys_).ok());
  EXPECT_TRUE(Verify(at({{"nbf", now - 10}}), keys_).ok());
  EXPECT_TRUE(Verify(at({{"nbf", now + 300}}), keys_).ok());  // within the leeway
  Refused(at({{"nbf", now + 301}}), "signature not yet valid");
  Refused(at({{"nbf", 1e300}}), "signature not yet valid");
  Refused(at({{"exp", "tomorrow"}}), "signature claim exp not a number");
  Refused(at({{"nbf", nullptr}}), "signature claim nbf not a number");
  // No leeway, and a negative one, which counts as none.
  const std::string token = at({{"exp", now - 1}});
  ExpectRefused(VerifyCompactJws(token, keys_, kNow, seconds{0}), "signature expired", token);
  EXPECT_TRUE(VerifyCompactJws(at({{"exp", now + 1}}), keys_, kNow, seconds{-1000}).ok());
  const std::string at_now = at({{"exp", now}});
  ExpectRefused(VerifyCompactJws(at_now, keys_, kNow, seconds{-1000}), "signature expired", at_now);
  // The signature is checked first: a forged expired token says it does not match.
  Refused(Hs256(R"({"alg":"HS256"})", json({{"exp", now - 1000}}).dump(), "other"), "signature does not match");
}

TEST_F(RefusalTest, UnknownKids) {
  const KeySet keys = Document({{"publicKeys", {{"known", Keys::Pem("rsa.pub")}}}});
  const std::string token = Sign(Keys::Private(Algorithm::kRS256, "rsa", "unknown"));
  ExpectRefused(Verify(token, keys), "signature key unknown", token);
  const std::string empty_kid = Signed(R"({"alg":"RS256","kid":""})");  // an empty kid names no key either
  ExpectRefused(Verify(empty_kid, keys), "signature key unknown", empty_kid);
  ExpectRefused(Verify(token, KeySet()), "signature key unknown", token);
}

// ---------------------------------------------------------------------------------------------
// Loading public keys.

TEST(PublicKeysTest, RsaUnder2048BitsIsRefused) {
  KeySet keys;
  ExpectInvalid(keys.AddPublicKeys(json({{"publicKeys", {{"small", Keys::Pem("rsa1024.pub")}}}}).dump()),
                "RSA key under 2048 bits");
  ExpectInvalid(keys.AddPublicKeys(json({{"publicKeys", {{"small", Keys::Pem("rsa1024.pub")}}}}).dump()),
                "publicKeys \"small\"");
  // The JWK of the same key (made from a 2048-bit one's shape: n cut to 1024 bits).
  absl::StatusOr<SigningKey> big = Keys::Private(Algorithm::kRS256, "rsa", "k");
  json jwk = *PublicJwk(*big);
  jwk["n"] = Base64UrlEncode(Base64UrlDecode(jwk["n"].get<std::string>())->substr(0, 128));
  ExpectInvalid(keys.AddPublicKeys(json({{"keys", {jwk}}}).dump()), "RSA key under 2048 bits");
  EXPECT_EQ(keys.public_key_count(), 0u);
  ExpectInvalid(Keys::Private(Algorithm::kRS256, "rsa1024", "k").status(), "RSA key under 2048 bits");
}

TEST(PublicKeysTest, KeysForAnotherUseAreSkipped) {
  absl::StatusOr<SigningKey> rsa = Keys::Private(Algorithm::kRS256, "rsa", "sig-key");
  json enc = *PublicJwk(*Keys::Private(Algorithm::kRS256, "rsa2", "enc-key"));
  enc["use"] = "enc";
  enc["alg"] = "RSA-OAEP";  // not checked: the key is skipped
  json no_use = *PublicJwk(*Keys::Private(Algorithm::kES256, "p256", "no-use"));
  no_use.erase("use");
  KeySet keys = Document({{"keys", {enc, *PublicJwk(*rsa), no_use}}});
  EXPECT_EQ(keys.public_key_count(), 2u);
  EXPECT_TRUE(Verify(Sign(rsa), keys).ok());
  const std::string by_enc_key = Sign(Keys::Private(Algorithm::kRS256, "rsa2", "enc-key"));
  ExpectRefused(Verify(by_enc_key, keys), "signature key unknown", by_enc_key);
  // A document of nothing but skipped keys holds no key: refused.
  KeySet none;
  ExpectInvalid(none.AddPublicKeys(json({{"keys", {enc}}}).dump()), "no signature key");
  ExpectInvalid(none.AddPublicKeys(R"({"keys":[]})"), "no signature key");
  ExpectInvalid(none.AddPublicKeys(R"({"publicKeys":{}})"), "no signature key");
}

TEST(PublicKeysTest, MalformedDocumentsAreRefusedWhole) {
  absl::StatusOr<SigningKey> rsa = Keys::Private(Algorithm::kRS256, "rsa", "rsa");
  absl::StatusOr<SigningKey> ec = Keys::Private(Algorithm::kES256, "p256", "ec");
  const json good_rsa = *PublicJwk(*rsa), good_ec = *PublicJwk(*ec);
  auto without = [](json jwk, const char* member) {
    jwk.erase(member);
    return jwk;
  };
  auto with = [](json jwk, const char* member, json value) {
    jwk[member] = std::move(value);
    return jwk;
  };
  const std::string x = good_ec["x"].get<std::string>();
  const std::string short_x = Base64UrlEncode(Base64UrlDecode(x)->substr(0, 31));
  const std::string bad_point = Base64UrlEncode(std::string(31, '\0') + '\x01');
  const std::vector<std::pair<std::string, std::string>> cases{
      {"not json", "not JSON"},
      {R"({"keys":[] )", "not JSON"},
      {"[]", "not a JSON object"},
      {R"({"keys":{}})", "keys is not an array"},
      {R"({"keys":"x"})", "keys is not an array"},
      {R"({"keys":[1]})", "keys[0]: not a JSON object"},
      {json({{"keys", {good_rsa, without(good_ec, "y")}}}).dump(), "keys[1] (kid \"ec\"): missing or non-string y"},
      {json({{"keys", {good_rsa, good_rsa}}}).dump(), "keys[1] (kid \"rsa\"): kid used twice"},
      {json({{"keys", {without(good_rsa, "kid")}}}).dump(), "keys[0]: missing kid"},
      {json({{"keys", {with(good_rsa, "kid", "")}}}).dump(), "keys[0]: missing kid"},
      {json({{"keys", {with(good_rsa, "kid", 5)}}}).dump(), "keys[0]: missing kid"},
      {json({{"keys", {with(good_rsa, "use", 1)}}}).dump(), "use is not a string"},
      {json({{"keys", {json{{"kty", "oct"}, {"kid", "h"}, {"k", "c2VjcmV0"}}}}}).dump(), "private or secret key"},
      {json({{"keys", {json{{"kty", "oct"}, {"kid", "h"}}}}}).dump(), "unsupported kty"},
      {json({{"keys", {without(good_rsa, "kty")}}}).dump(), "missing or non-string kty"},
      {json({{"keys", {with(good_rsa, "d", "AQAB")}}}).dump(), "private or secret key material (d)"},
      {json({{"keys", {with(good_rsa, "alg", "ES256")}}}).dump(), "alg does not fit the key type"},
      {json({{"keys", {with(good_ec, "alg", "ES384")}}}).dump(), "alg does not fit the key type"},
      {json({{"keys", {with(good_rsa, "alg", "none")}}}).dump(), "alg is not a JWS algorithm"},
      {json({{"keys", {with(good_rsa, "alg", "RSA-OAEP")}}}).dump(), "alg is not a JWS algorithm"},
      {json({{"keys", {with(good_rsa, "n", "AQAB=")}}}).dump(), "n is not base64url"},
      {json({{"keys", {with(good_rsa, "e", "")}}}).dump(), "e is not base64url"},
      {json({{"keys", {with(good_rsa, "e", "AAE")}}}).dump(), "unusable modulus or exponent"},  // e = 1
      {json({{"keys", {with(good_ec, "crv", "secp256k1")}}}).dump(), "EC crv must be"},
      {json({{"keys", {with(good_ec, "crv", "P-384")}}}).dump(), "wrong length"},
      {json({{"keys", {with(good_ec, "x", short_x)}}}).dump(), "wrong length"},
      {json({{"keys", {with(with(good_ec, "x", bad_point), "y", bad_point)}}}).dump(), "EC point"},
      {json({{"keys", {json{{"kty", "OKP"}, {"crv", "Ed448"}, {"kid", "e"}, {"x", x}}}}}).dump(), "OKP crv must be Ed25519"},
      {json({{"keys", {json{{"kty", "OKP"}, {"crv", "Ed25519"}, {"kid", "e"}, {"x", "AQAB"}}}}}).dump(), "wrong length"},
      {R"({"keys":[],"publicKeys":{}})", "holds both"},
      {R"({"publicKeys":[]})", "publicKeys is not an object"},
      {R"({"publicKeys":{"k":5}})", "publicKeys \"k\": not a PEM string"},
      {R"({"publicKeys":{"":"x"}})", "publicKeys: empty kid"},
      {R"({"publicKeys":{"k":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}})", "PEM unreadable"},
      {json({{"publicKeys", {{"k", Keys::Pem("rsa.pkcs1pub")}}}}).dump(), "not a PEM public key"},
      {json({{"publicKeys", {{"k", Keys::Pem("rsa.pem")}}}}).dump(), "not a PEM public key"},
      {json({{"publicKeys", {{"k", Keys::Pem("rsa.pub") + "trailing"}}}}).dump(), "more than one PEM block"},
      {json({{"publicKeys", {{"k", Keys::Pem("rsa.pub") + Keys::Pem("rsa2.pub")}}}}).dump(), "more than one PEM block"},
      {json({{"publicKeys", {{"k", Keys::Pem("secp256k1.pub")}}}}).dump(), "curve other than"},
      {json({{"publicKeys", {{"k", Keys::Pem("ed448.pub")}}}}).dump(), "unsupported key type"},
      {"{\"publicKeys\":{\"k\":" + json(Keys::Pem("rsa.pub")).dump() + ",\"k\":" + json(Keys::Pem("rsa.pub")).dump() + "}}",
       "not JSON (or some member name appears twice)"},
      {json({{"publicKey", Keys::Pem("rsa.pub")}}).dump(), "a single publicKey has no kid"},
      {R"({"other":1})", "neither a JWKS"},
  };
  for (const auto& [document, reason] : cases) {
    SCOPED_TRACE(document.substr(0, 200));
    KeySet keys = Document({{"keys", {*PublicJwk(*Keys::Private(Algorithm::kRS256, "rsa2", "preloaded"))}}});
    ExpectInvalid(keys.AddPublicKeys(document), reason);
    EXPECT_EQ(keys.public_key_count(), 1u);  // nothing of the refused document was added
  }
  // A kid must also be new to the key set; and the first key of a refused document stays out.
  KeySet keys = Document({{"keys", {good_rsa}}});
  ExpectInvalid(keys.AddPublicKeys(json({{"publicKeys", {{"rsa", Keys::Pem("rsa2.pub")}}}}).dump()), "kid used twice");
  ExpectInvalid(keys.AddPublicKeys(json({{"keys", {good_ec, with(good_ec, "kid", "rsa")}}}).dump()), "kid used twice");
  EXPECT_EQ(keys.public_key_count(), 1u);
  const std::string ec_token = Sign(ec);
  ExpectRefused(Verify(ec_token, keys), "signature key unknown", ec_token);
  // x5c and other members are ignored.
  EXPECT_EQ(Document({{"keys", {with(with(good_ec, "x5c", {"MIIB..."}), "key_ops", {"verify"})}}}).public_key_count(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Signing keys.

TEST(SigningKeyTest, RefusesKeysThatDoNotFitTheAlg) {
  ExpectInvalid(SigningKey::Hmac(Algorithm::kRS256, "k", "secret").status(), "HS256/384/512 only");
  ExpectInvalid(SigningKey::Hmac(Algorithm::kHS256, "k", "").status(), "empty HMAC secret");
  ExpectInvalid(SigningKey::Hmac(Algorithm::kHS256, "\xff", "secret").status(), "kid is not UTF-8");
  ExpectInvalid(Keys::Private(Algorithm::kHS256, "rsa", "k").status(), "not a private key");
  ExpectInvalid(Keys::Private(Algorithm::kRS256, "p256", "k").status(), "does not fit RS256");
  ExpectInvalid(Keys::Private(Algorithm::kES384, "p256", "k").status(), "does not fit ES384");
  ExpectInvalid(Keys::Private(Algorithm::kEdDSA, "rsa", "k").status(), "does not fit EdDSA");
  ExpectInvalid(Keys::Private(Algorithm::kES256, "ed25519", "k").status(), "does not fit ES256");
  ExpectInvalid(Keys::Private(Algorithm::kEdDSA, "ed448", "k").status(), "unsupported key type");
  ExpectInvalid(SigningKey::FromPrivateKeyPem(Algorithm::kRS256, "k", Keys::Pem("rsa.enc")).status(), "encrypted");
  ExpectInvalid(SigningKey::FromPrivateKeyPem(Algorithm::kRS256, "k", Keys::Pem("rsa.pub")).status(), "unreadable");
  ExpectInvalid(SigningKey::FromPrivateKeyPem(Algorithm::kRS256, "k", "").status(), "not a PEM private key");
  ExpectInvalid(PublicJwk(*SigningKey::Hmac(Algorithm::kHS256, "k", "s")).status(), "no public JWK");
  ExpectInvalid(SignCompactJws(*SigningKey::Hmac(Algorithm::kHS256, "k", "s"), "[1]").status(), "not a JSON object");
}

TEST(SigningKeyTest, HeaderIsAlgTypKid) {
  const std::string token = Sign(SigningKey::Hmac(Algorithm::kHS512, "my-kid", "s"), R"({"a":1})");
  EXPECT_EQ(Base64UrlDecode(Segments(token)[0]), R"({"alg":"HS512","typ":"JWT","kid":"my-kid"})");
  EXPECT_EQ(Base64UrlDecode(Segments(token)[1]), R"({"a":1})");
  const std::string no_kid = Sign(Keys::Private(Algorithm::kEdDSA, "ed25519", ""));
  EXPECT_EQ(Base64UrlDecode(Segments(no_kid)[0]), R"({"alg":"EdDSA","typ":"JWT"})");
}

TEST(ConcurrencyTest, OneKeySetVerifiesOnManyThreads) {
  absl::StatusOr<SigningKey> rsa = Keys::Private(Algorithm::kPS256, "rsa", "rsa");
  absl::StatusOr<SigningKey> ec = Keys::Private(Algorithm::kES256, "p256", "ec");
  KeySet keys = Document({{"keys", {*PublicJwk(*rsa), *PublicJwk(*ec)}}});
  ASSERT_TRUE(keys.AddHmacSecretEntry("s").ok());
  const std::vector<std::string> tokens{Sign(rsa), Sign(ec), Sign(SigningKey::Hmac(Algorithm::kHS256, "", "s"))};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        for (const std::string& token : tokens) failures += !Verify(token, keys).ok();
        failures += Verify(tokens[0] + "x", keys).ok();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace mm::jwt
