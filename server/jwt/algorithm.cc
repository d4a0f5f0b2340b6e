#include "jwt/algorithm.h"

#include <array>
#include <utility>

namespace mm::jwt {
namespace {

constexpr std::array<std::pair<Algorithm, std::string_view>, 13> kNames{{
    {Algorithm::kHS256, "HS256"}, {Algorithm::kHS384, "HS384"}, {Algorithm::kHS512, "HS512"},
    {Algorithm::kRS256, "RS256"}, {Algorithm::kRS384, "RS384"}, {Algorithm::kRS512, "RS512"},
    {Algorithm::kPS256, "PS256"}, {Algorithm::kPS384, "PS384"}, {Algorithm::kPS512, "PS512"},
    {Algorithm::kES256, "ES256"}, {Algorithm::kES384, "ES384"}, {Algorithm::kES512, "ES512"},
    {Algorithm::kEdDSA, "EdDSA"},
}};

}  // namespace

std::optional<Algorithm> ParseAlgorithm(std::string_view name) {
  for (const auto& [alg, alg_name] : kNames) {
    if (alg_name == name) return alg;
  }
  return std::nullopt;
}

std::string_view AlgorithmName(Algorithm alg) {
  for (const auto& [known, name] : kNames) {
    if (known == alg) return name;
  }
  return "unknown";  // only for a value cast from outside the enum
}

KeyType KeyTypeFor(Algorithm alg) {
  switch (alg) {
    case Algorithm::kHS256:
    case Algorithm::kHS384:
    case Algorithm::kHS512:
      return KeyType::kHmacSecret;
    case Algorithm::kRS256:
    case Algorithm::kRS384:
    case Algorithm::kRS512:
    case Algorithm::kPS256:
    case Algorithm::kPS384:
    case Algorithm::kPS512:
      return KeyType::kRsa;
    case Algorithm::kES256:
      return KeyType::kEcP256;
    case Algorithm::kES384:
      return KeyType::kEcP384;
    case Algorithm::kES512:
      return KeyType::kEcP521;
    case Algorithm::kEdDSA:
      return KeyType::kEd25519;
  }
  return KeyType::kHmacSecret;  // unreachable for enum values; HMAC keys fit no other alg
}

size_t EcCoordinateBytes(Algorithm alg) {
  switch (KeyTypeFor(alg)) {
    case KeyType::kEcP256:
      return 32;
    case KeyType::kEcP384:
      return 48;
    case KeyType::kEcP521:
      return 66;
    default:
      return 0;
  }
}

}  // namespace mm::jwt
