#pragma once
// Huudis webhook signatures (docs/providers.md §1.5).
//
// A delivery carries `Huudis-Signature: t=<unix seconds>,v1=<lowercase hex>` where
// v1 = HMAC-SHA256(key = signing secret, message = "<t>." + raw body bytes).
// Pure functions: no I/O, no clock of their own. Thread-safe.

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/time.h"

namespace mm::adapters {

// Default freshness window, either side of `now` (DESIGN §7 `MM_HUUDIS_TOLERANCE`).
inline constexpr std::chrono::seconds kHuudisDefaultTolerance{300};

// Verifies one signature header value against the raw body.
//
// Header syntax: parts separated by ',', each trimmed and split on its first '='. Exactly one
// `t` (base-10 integer, unix seconds) and at least one `v1` (hex, either case) are required;
// other keys and parts without '=' are ignored. The HMAC covers `t` exactly as written in the
// header. Several `v1` values are allowed: one matching is enough.
//
// Accepts when |now - t| <= tolerance (symmetric: future timestamps count too) and some `v1`
// equals the HMAC under some non-empty secret in `secrets` (several secrets = rotation). Empty
// secrets are skipped: anyone can compute an HMAC under an empty key.
//
// Returns OK or UNAUTHENTICATED with a short reason ("signature header missing t",
// "signature timestamp outside tolerance", "signature does not match", ...). The reason never
// contains the body, the header's signatures or the expected signature.
absl::Status VerifyHuudisSignature(std::string_view header_value, std::string_view raw_body,
                                   std::span<const std::string> secrets, TimePoint now,
                                   std::chrono::seconds tolerance = kHuudisDefaultTolerance);

// Produces the header value Huudis would send, "t=<unix_seconds>,v1=<lowercase hex>", for
// signing test deliveries (membershipctl, tests, fuzzing).
std::string MakeHuudisSignatureHeader(std::string_view secret, int64_t unix_seconds,
                                      std::string_view raw_body);

}  // namespace mm::adapters
