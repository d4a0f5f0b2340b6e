#include "jwt/evp_keys.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <array>
#include <cctype>
#include <climits>
#include <set>
#include <vector>

#include "common/crypto.h"

namespace mm::jwt::internal {
namespace {

using nlohmann::json;

// Owners of the OpenSSL objects used here.
struct Free {
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
  void operator()(X509* p) const { X509_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

Pkey Share(EVP_PKEY* key) { return Pkey(key, Free()); }

const unsigned char* Bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

absl::Status Invalid(std::string_view reason) {
  return absl::InvalidArgumentError(absl::string_view(reason.data(), reason.size()));
}

const EVP_MD* Digest(Algorithm alg) {
  switch (alg) {
    case Algorithm::kHS256:
    case Algorithm::kRS256:
    case Algorithm::kPS256:
    case Algorithm::kES256:
      return EVP_sha256();
    case Algorithm::kHS384:
    case Algorithm::kRS384:
    case Algorithm::kPS384:
    case Algorithm::kES384:
      return EVP_sha384();
    case Algorithm::kHS512:
    case Algorithm::kRS512:
    case Algorithm::kPS512:
    case Algorithm::kES512:
      return EVP_sha512();
    case Algorithm::kEdDSA:
      return nullptr;  // Ed25519 hashes by itself (RFC 8032)
  }
  return nullptr;
}

bool IsPss(Algorithm alg) {
  return alg == Algorithm::kPS256 || alg == Algorithm::kPS384 || alg == Algorithm::kPS512;
}

// RS*: PKCS #1 v1.5. PS*: PSS, MGF1 with the same hash, salt as long as the hash (RFC 7518 §3.5;
// when verifying, RSA_PSS_SALTLEN_DIGEST also requires exactly that length).
bool ConfigurePadding(Algorithm alg, EVP_PKEY_CTX* ctx) {
  if (KeyTypeFor(alg) != KeyType::kRsa) return true;
  if (!IsPss(alg)) return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
  return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, Digest(alg)) == 1;
}

// R||S (each `width` bytes, big-endian) to the DER ECDSA-Sig-Value OpenSSL verifies.
std::optional<std::string> RawToDer(std::string_view raw, size_t width) {
  if (raw.size() != 2 * width) return std::nullopt;
  Owned<ECDSA_SIG> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(Bytes(raw), static_cast<int>(width), nullptr);
  BIGNUM* s = BN_bin2bn(Bytes(raw) + width, static_cast<int>(width), nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(der_len));
  OPENSSL_free(der);
  return out;
}

// The DER ECDSA-Sig-Value OpenSSL signs to R||S, each `width` bytes.
std::optional<std::string> DerToRaw(std::string_view der, size_t width) {
  const unsigned char* p = Bytes(der);
  Owned<ECDSA_SIG> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return std::nullopt;
  std::string out(2 * width, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), o, static_cast<int>(width)) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), o + width, static_cast<int>(width)) < 0) {
    return std::nullopt;
  }
  return out;
}

std::string BnBytes(const BIGNUM* bn) {
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

Owned<BIGNUM> GetBn(const EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return nullptr;
  return Owned<BIGNUM>(bn);
}

struct Curve {
  KeyType type;
  std::string_view jwk_name;      // JWK "crv" (RFC 7518 §6.2.1.1)
  const char* openssl_name;       // OpenSSL group name
  std::string_view openssl_alias;  // the NIST name OpenSSL also reports for it
  size_t width;                   // coordinate bytes
};
constexpr std::array<Curve, 3> kCurves{{
    {KeyType::kEcP256, "P-256", "prime256v1", "P-256", 32},
    {KeyType::kEcP384, "P-384", "secp384r1", "P-384", 48},
    {KeyType::kEcP521, "P-521", "secp521r1", "P-521", 66},
}};

const Curve* CurveOf(KeyType type) {
  for (const Curve& curve : kCurves) {
    if (curve.type == type) return &curve;
  }
  return nullptr;
}

// A string member of a JWK, or nullopt if absent or not a string.
std::optional<std::string> StringMember(const json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// A base64url member of a JWK: present, a string, strict base64url, not empty.
absl::StatusOr<std::string> BytesMember(const json& jwk, const char* name) {
  std::optional<std::string> text = StringMember(jwk, name);
  if (!text) return Invalid(std::string("missing or non-string ") + name);
  std::optional<std::string> bytes = Base64UrlDecode(*text);
  if (!bytes || bytes->empty()) return Invalid(std::string(name) + " is not base64url");
  return *std::move(bytes);
}

absl::StatusOr<Pkey> FromData(const char* type, OSSL_PARAM_BLD* builder) {
  Owned<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(builder));
  Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 || key == nullptr) {
    return Invalid("key members do not make a key");
  }
  return Share(key);
}

absl::StatusOr<Pkey> RsaFromJwk(const json& jwk) {
  absl::StatusOr<std::string> n = BytesMember(jwk, "n");
  if (!n.ok()) return n.status();
  absl::StatusOr<std::string> e = BytesMember(jwk, "e");
  if (!e.ok()) return e.status();
  // Far beyond kMaxRsaBits: refused before any arithmetic.
  if (n->size() > kMaxRsaBits / 8 + 1 || e->size() > kMaxRsaBits / 8 + 1) return Invalid("RSA key too large");
  Owned<BIGNUM> n_bn(BN_bin2bn(Bytes(*n), static_cast<int>(n->size()), nullptr));
  Owned<BIGNUM> e_bn(BN_bin2bn(Bytes(*e), static_cast<int>(e->size()), nullptr));
  Owned<OSSL_PARAM_BLD> builder(OSSL_PARAM_BLD_new());
  if (!n_bn || !e_bn || !builder || OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get()) != 1) {
    return Invalid("RSA members do not make a key");
  }
  return FromData("RSA", builder.get());
}

absl::StatusOr<Pkey> EcFromJwk(const json& jwk) {
  std::optional<std::string> crv = StringMember(jwk, "crv");
  const Curve* curve = nullptr;
  for (const Curve& c : kCurves) {
    if (crv && *crv == c.jwk_name) curve = &c;
  }
  if (curve == nullptr) return Invalid("EC crv must be P-256, P-384 or P-521");
  absl::StatusOr<std::string> x = BytesMember(jwk, "x");
  if (!x.ok()) return x.status();
  absl::StatusOr<std::string> y = BytesMember(jwk, "y");
  if (!y.ok()) return y.status();
  if (x->size() != curve->width || y->size() != curve->width) return Invalid("EC x or y has the wrong length");
  const std::string point = "\x04" + *x + *y;  // SEC 1 uncompressed point
  Owned<OSSL_PARAM_BLD> builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->openssl_name, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return Invalid("EC members do not make a key");
  }
  absl::StatusOr<Pkey> key = FromData("EC", builder.get());
  if (!key.ok()) return Invalid("EC point is not on the curve");
  return key;
}

absl::StatusOr<Pkey> OkpFromJwk(const json& jwk) {
  if (StringMember(jwk, "crv") != "Ed25519") return Invalid("OKP crv must be Ed25519");
  absl::StatusOr<std::string> x = BytesMember(jwk, "x");
  if (!x.ok()) return x.status();
  if (x->size() != 32) return Invalid("Ed25519 x has the wrong length");
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, Bytes(*x), x->size());
  if (key == nullptr) return Invalid("Ed25519 x does not make a key");
  return Share(key);
}

// Never asks for a passphrase (the default callback would read the terminal).
int NoPassphrase(char*, int, int, void*) { return -1; }

bool OnlySpace(std::string_view s) {
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  return s;
}

// Runs `read` on a memory BIO over `pem`; the PEM must be exactly one block with nothing but
// whitespace after it.
template <typename T>
Owned<T> ReadOnePem(std::string_view pem, T* (*read)(BIO*)) {
  if (pem.size() > INT_MAX) return nullptr;
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  Owned<T> result(read(bio.get()));
  if (!result) return nullptr;
  char* rest = nullptr;
  const long rest_size = BIO_get_mem_data(bio.get(), &rest);
  if (rest_size > 0 && !OnlySpace(std::string_view(rest, static_cast<size_t>(rest_size)))) return nullptr;
  return result;
}

EVP_PKEY* ReadPublicKey(BIO* bio) { return PEM_read_bio_PUBKEY(bio, nullptr, NoPassphrase, nullptr); }
X509* ReadCertificate(BIO* bio) { return PEM_read_bio_X509(bio, nullptr, NoPassphrase, nullptr); }
EVP_PKEY* ReadPrivateKey(BIO* bio) { return PEM_read_bio_PrivateKey(bio, nullptr, NoPassphrase, nullptr); }

}  // namespace

ErrorQueueMark::ErrorQueueMark() { ERR_set_mark(); }
ErrorQueueMark::~ErrorQueueMark() { ERR_pop_to_mark(); }

absl::StatusOr<KeyType> UsableKeyType(EVP_PKEY* key) {
  if (key == nullptr) return Invalid("no key");
  ErrorQueueMark mark;
  if (EVP_PKEY_is_a(key, "RSA")) {
    const int bits = EVP_PKEY_get_bits(key);
    if (bits < kMinRsaBits) return Invalid("RSA key under 2048 bits");
    if (bits > kMaxRsaBits) return Invalid("RSA key over 16384 bits");
    Owned<BIGNUM> n = GetBn(key, OSSL_PKEY_PARAM_RSA_N);
    Owned<BIGNUM> e = GetBn(key, OSSL_PKEY_PARAM_RSA_E);
    // An even modulus is no RSA modulus; e = 1 would make every message its own signature.
    if (!n || !e || !BN_is_odd(n.get()) || !BN_is_odd(e.get()) || BN_is_one(e.get()) ||
        BN_num_bits(e.get()) > 256) {
      return Invalid("RSA key has an unusable modulus or exponent");
    }
    return KeyType::kRsa;
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    char name[64] = {};
    size_t name_len = 0;
    if (EVP_PKEY_get_group_name(key, name, sizeof name, &name_len) != 1) {
      return Invalid("EC key without a named curve");
    }
    const std::string_view group(name, name_len);
    for (const Curve& curve : kCurves) {
      if (group != curve.openssl_name && group != curve.openssl_alias) continue;
      Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
      if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) return Invalid("EC public key is not a valid point");
      return curve.type;
    }
    return Invalid("EC key on a curve other than P-256, P-384 or P-521");
  }
  if (EVP_PKEY_is_a(key, "ED25519")) return KeyType::kEd25519;
  return Invalid("unsupported key type (RSA, EC P-256/P-384/P-521 or Ed25519 only)");
}

absl::StatusOr<Pkey> PublicKeyFromJwk(const json& jwk) {
  ErrorQueueMark mark;
  if (!jwk.is_object()) return Invalid("not a JSON object");
  for (const char* private_member : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (jwk.contains(private_member)) {
      return Invalid(std::string("holds private or secret key material (") + private_member + ")");
    }
  }
  std::optional<std::string> kty = StringMember(jwk, "kty");
  if (!kty) return Invalid("missing or non-string kty");
  if (*kty == "RSA") return RsaFromJwk(jwk);
  if (*kty == "EC") return EcFromJwk(jwk);
  if (*kty == "OKP") return OkpFromJwk(jwk);
  return Invalid("unsupported kty (RSA, EC or OKP only)");
}

absl::StatusOr<Pkey> PublicKeyFromPem(std::string_view pem) {
  ErrorQueueMark mark;
  const std::string_view text = TrimLeft(pem);
  Owned<EVP_PKEY> key;
  if (text.starts_with("-----BEGIN PUBLIC KEY-----")) {
    key = ReadOnePem(text, ReadPublicKey);
  } else if (text.starts_with("-----BEGIN CERTIFICATE-----")) {
    if (Owned<X509> cert = ReadOnePem(text, ReadCertificate)) key.reset(X509_get_pubkey(cert.get()));
  } else {
    return Invalid("not a PEM public key (BEGIN PUBLIC KEY) or certificate (BEGIN CERTIFICATE)");
  }
  if (!key) return Invalid("PEM unreadable, or more than one PEM block");
  return Share(key.release());
}

absl::StatusOr<Pkey> PrivateKeyFromPem(std::string_view pem) {
  ErrorQueueMark mark;
  const std::string_view text = TrimLeft(pem);
  if (!text.starts_with("-----BEGIN ")) return Invalid("not a PEM private key");
  Owned<EVP_PKEY> key = ReadOnePem(text, ReadPrivateKey);
  if (!key) return Invalid("PEM private key unreadable (or encrypted, or more than one PEM block)");
  return Share(key.release());
}

absl::StatusOr<json> PublicJwkMembers(EVP_PKEY* key, KeyType type) {
  ErrorQueueMark mark;
  if (type == KeyType::kRsa) {
    Owned<BIGNUM> n = GetBn(key, OSSL_PKEY_PARAM_RSA_N);
    Owned<BIGNUM> e = GetBn(key, OSSL_PKEY_PARAM_RSA_E);
    if (!n || !e) return Invalid("RSA key without n or e");
    return json{{"kty", "RSA"}, {"n", Base64UrlEncode(BnBytes(n.get()))}, {"e", Base64UrlEncode(BnBytes(e.get()))}};
  }
  if (type == KeyType::kEd25519) {
    std::string x(32, '\0');
    size_t x_len = x.size();
    if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(x.data()), &x_len) != 1 || x_len != 32) {
      return Invalid("Ed25519 key without its public value");
    }
    return json{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", Base64UrlEncode(x)}};
  }
  const Curve* curve = CurveOf(type);
  if (curve == nullptr) return Invalid("an HMAC secret has no public JWK");
  Owned<BIGNUM> x = GetBn(key, OSSL_PKEY_PARAM_EC_PUB_X);
  Owned<BIGNUM> y = GetBn(key, OSSL_PKEY_PARAM_EC_PUB_Y);
  std::string x_bytes(curve->width, '\0'), y_bytes(curve->width, '\0');
  const int width = static_cast<int>(curve->width);
  if (!x || !y || BN_bn2binpad(x.get(), reinterpret_cast<unsigned char*>(x_bytes.data()), width) != width ||
      BN_bn2binpad(y.get(), reinterpret_cast<unsigned char*>(y_bytes.data()), width) != width) {
    return Invalid("EC key without its public point");
  }
  return json{{"kty", "EC"},
              {"crv", std::string(curve->jwk_name)},
              {"x", Base64UrlEncode(x_bytes)},
              {"y", Base64UrlEncode(y_bytes)}};
}

absl::StatusOr<json> PublicJwk(EVP_PKEY* key, KeyType type, std::string_view kid, std::optional<Algorithm> alg) {
  absl::StatusOr<json> jwk = PublicJwkMembers(key, type);
  if (!jwk.ok()) return jwk;
  if (!kid.empty()) (*jwk)["kid"] = std::string(kid);
  (*jwk)["use"] = "sig";
  if (alg) (*jwk)["alg"] = std::string(AlgorithmName(*alg));
  return jwk;
}

std::string Hmac(Algorithm alg, std::string_view secret, std::string_view message) {
  switch (alg) {
    case Algorithm::kHS256:
      return HmacSha(ShaBits::k256, secret, message);
    case Algorithm::kHS384:
      return HmacSha(ShaBits::k384, secret, message);
    case Algorithm::kHS512:
      return HmacSha(ShaBits::k512, secret, message);
    default:
      return "";
  }
}

bool VerifySignature(Algorithm alg, EVP_PKEY* key, std::string_view input, std::string_view signature) {
  if (key == nullptr || KeyTypeFor(alg) == KeyType::kHmacSecret) return false;
  ErrorQueueMark mark;
  std::optional<std::string> der;
  if (const size_t width = EcCoordinateBytes(alg); width != 0) {
    der = RawToDer(signature, width);
    if (!der) return false;
    signature = *der;
  }
  Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pkey_ctx = nullptr;  // owned by ctx
  return ctx && EVP_DigestVerifyInit(ctx.get(), &pkey_ctx, Digest(alg), nullptr, key) == 1 &&
         ConfigurePadding(alg, pkey_ctx) &&
         EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(input), input.size()) == 1;
}

absl::StatusOr<std::string> Sign(Algorithm alg, EVP_PKEY* key, std::string_view input) {
  if (key == nullptr || KeyTypeFor(alg) == KeyType::kHmacSecret) return Invalid("not an asymmetric key");
  ErrorQueueMark mark;
  Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pkey_ctx = nullptr;  // owned by ctx
  size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pkey_ctx, Digest(alg), nullptr, key) != 1 ||
      !ConfigurePadding(alg, pkey_ctx) || EVP_DigestSign(ctx.get(), nullptr, &size, Bytes(input), input.size()) != 1) {
    return absl::InternalError("signing failed");
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, Bytes(input),
                     input.size()) != 1) {
    return absl::InternalError("signing failed");
  }
  signature.resize(size);
  if (const size_t width = EcCoordinateBytes(alg); width != 0) {
    std::optional<std::string> raw = DerToRaw(signature, width);
    if (!raw) return absl::InternalError("signing failed");
    return *std::move(raw);
  }
  return signature;
}

std::optional<json> ParseJsonUniqueNames(std::string_view text) {
  std::vector<std::set<std::string>> names;  // of each object being parsed, innermost last
  bool duplicate = false;
  auto check = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        names.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!names.empty()) names.pop_back();
        break;
      case json::parse_event_t::key:
        if (!names.empty() && parsed.is_string() && !names.back().insert(parsed.get_ref<const std::string&>()).second) {
          duplicate = true;
        }
        break;
      default:
        break;
    }
    return true;
  };
  json doc = json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/false);
  if (doc.is_discarded() || duplicate) return std::nullopt;
  return doc;
}

}  // namespace mm::jwt::internal
