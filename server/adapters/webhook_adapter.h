#pragma once
// A provider adapter turns one webhook delivery (headers + raw body bytes) into a ProviderEvent.
// Adapters are pure: no I/O, no storage, no clock of their own (`now` is passed in), so they
// are table-tested against tests/fixtures/ and fuzzed. Thread-safe: Decode is const.

#include <functional>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/time.h"
#include "domain/events.h"

namespace mm::adapters {

// Case-insensitive request header lookup supplied by the ingress. Returns the first value.
using HeaderLookup = std::function<std::optional<std::string_view>(std::string_view name)>;

class WebhookAdapter {
 public:
  virtual ~WebhookAdapter() = default;

  // Verifies, then parses, in that order (DESIGN §3):
  // - UNAUTHENTICATED: missing, malformed, stale or non-matching signature. The message names
  //   the reason but never echoes the body or the signature material.
  // - INVALID_ARGUMENT: authentic, but the body is not JSON or has no usable envelope
  //   (id, type). Answered 400; nothing stored.
  // - OK: a ProviderEvent with `received_at = now` and `raw_body` = the exact bytes. A known type
  //   with unusable `data` comes back OK with `dead_letter_reason` set; an unknown type comes back
  //   OK with `ignored = true`. Neither is an error: the event is authentic and must be stored.
  virtual absl::StatusOr<domain::ProviderEvent> Decode(const HeaderLookup& headers,
                                                       std::string_view raw_body,
                                                       TimePoint now) const = 0;
};

}  // namespace mm::adapters
