#pragma once
// Reading fields of provider JSON (nlohmann-json) the way every adapter does: required ids,
// tolerant optional values, times that must be representable. Payloads grow and vary
// (reference fixtures in tests/fixtures/), so an optional field that is missing, null or of
// another JSON type counts as absent; a value the mirror could not store (NUL) too.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "common/time.h"

namespace mm::adapters {

// A webhook body that must be a JSON object: INVALID_ARGUMENT "body is not JSON" (including
// numbers beyond a double) or "body is not a JSON object" otherwise.
absl::StatusOr<nlohmann::json> ParseJsonObjectBody(std::string_view raw_body);

// Reads a string that must be present, non-empty, at most `max_bytes` long and free of NUL.
// Returns what is wrong with it ("<label><key> missing", "... is empty", ...), or nullopt
// with `out` set.
std::optional<std::string> ReadRequiredString(const nlohmann::json& object, std::string_view label,
                                              std::string_view key, size_t max_bytes, std::string& out);

// The string at `key`, or nullopt if missing, null, not a string or holding NUL. An empty key
// reads nothing.
std::optional<std::string> OptionalString(const nlohmann::json& object, std::string_view key);

// A time field: absent (missing or null) is nullopt; present, it must be an RFC 3339 string of
// a representable instant (1970..9999), else `problem` says so (DESIGN §5a: a dead letter).
struct TimeField {
  std::optional<TimePoint> value;
  std::optional<std::string> problem;
};
TimeField ReadTime(const nlohmann::json& object, std::string_view label, std::string_view key);

// The same for a time given as a number of seconds or milliseconds since the epoch
// (MonoCloud's epoch seconds, FusionAuth's instants in milliseconds).
enum class EpochUnit { kSeconds, kMillis };
TimeField ReadEpochTime(const nlohmann::json& object, std::string_view label, std::string_view key, EpochUnit unit);

// A boolean, or nullopt if missing or of another type.
std::optional<bool> OptionalBool(const nlohmann::json& object, std::string_view key);

}  // namespace mm::adapters
