#pragma once
// JWS "alg" values (RFC 7518 §3, RFC 8037 §3.1) that server/jwt/ signs and verifies, and what each
// needs of its key. "none" is not one of them: an unsigned token is never accepted.

#include <cstddef>
#include <optional>
#include <string_view>

namespace mm::jwt {

enum class Algorithm { kHS256, kHS384, kHS512, kRS256, kRS384, kRS512, kPS256, kPS384, kPS512, kES256, kES384, kES512, kEdDSA };

// "HS256", "RS384", "PS512", "ES256", "EdDSA", ... (case-sensitive, as RFC 7515 §4.1.1 says).
// "none" and anything else: nullopt.
std::optional<Algorithm> ParseAlgorithm(std::string_view name);
// The registered name: ParseAlgorithm(AlgorithmName(alg)) == alg.
std::string_view AlgorithmName(Algorithm alg);

// The only kind of key each algorithm may be used with (RFC 7518 §3.1; RFC 8037 §3.1).
enum class KeyType { kHmacSecret, kRsa, kEcP256, kEcP384, kEcP521, kEd25519 };
KeyType KeyTypeFor(Algorithm alg);

// ES256/384/512: the width of R and of S in the JWS signature R||S (RFC 7518 §3.4); 0 otherwise.
size_t EcCoordinateBytes(Algorithm alg);

}  // namespace mm::jwt
