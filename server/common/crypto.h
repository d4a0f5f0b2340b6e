#pragma once
// Small, dependency-free wrappers over OpenSSL for the primitives webhook verification and caller
// authentication need. All functions are thread-safe.

#include <optional>
#include <string>
#include <string_view>

namespace mm {

// The SHA-2 hashes HMACs are made with here.
enum class ShaBits { k256, k384, k512 };
// Raw HMAC-SHA-256/384/512 (32/48/64 bytes) of `message` keyed with `key` (an empty key is a key
// of no bytes, as RFC 2104 has it); "" only if OpenSSL fails.
std::string HmacSha(ShaBits bits, std::string_view key, std::string_view message);
// HmacSha(ShaBits::k256, ...).
std::string HmacSha256(std::string_view key, std::string_view message);
// Raw 32-byte SHA-256 digest.
std::string Sha256(std::string_view data);

std::string HexEncode(std::string_view bytes);  // lowercase
// nullopt on odd length or a non-hex character (either case accepted).
std::optional<std::string> HexDecode(std::string_view hex);

std::string Base64Encode(std::string_view bytes);
// Accepts standard and URL-safe alphabets, with or without padding.
std::optional<std::string> Base64Decode(std::string_view text);

// base64url without padding (RFC 4648 §5, as JOSE uses it: RFC 7515 §2).
std::string Base64UrlEncode(std::string_view bytes);
// The strict inverse of Base64UrlEncode: only A-Z a-z 0-9 '-' '_', no padding, no whitespace,
// a length that is not 1 mod 4, and zero unused bits in the last character, so that every byte
// string has exactly one encoding this accepts. nullopt otherwise. "" decodes to "".
std::optional<std::string> Base64UrlDecode(std::string_view text);

// `bytes` random bytes from the OpenSSL CSPRNG, hex-encoded (unique ids, tokens).
std::string RandomHex(size_t bytes);

// Compares in time that depends only on the lengths, never on where the inputs differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace mm
