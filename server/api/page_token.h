#pragma once
// Opaque page tokens for keyset pagination: base64url of {"after": <last key>, "q": <hash of
// the query>}. The hash binds a token to the request that produced it, so a token replayed
// with another account or role filter is INVALID_ARGUMENT rather than a silently wrong page.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/time.h"

namespace mm::api {

std::string MakePageToken(const std::string& after_key, const std::string& query);
// The `after` key of `token` ("" for an empty token = first page).
absl::StatusOr<std::string> ReadPageToken(const std::string& token, const std::string& query);

// A keyset key that starts with a time: the time and the strings after it.
struct TimeKey {
  TimePoint at{};
  std::vector<std::string> parts;
};
// The key as a token's `after`: [micros, parts...].
std::string EncodeTimeKey(const TimeKey& key);
// The key EncodeTimeKey wrote with `parts` strings; nullopt for "" (the first page).
// INVALID_ARGUMENT for anything else.
absl::StatusOr<std::optional<TimeKey>> DecodeTimeKey(const std::string& after, size_t parts);

}  // namespace mm::api
