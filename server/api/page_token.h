#pragma once
// Opaque page tokens for keyset pagination: base64url of {"after": <last key>, "q": <hash of
// the query>}. The hash binds a token to the request that produced it, so a token replayed
// with another account or role filter is INVALID_ARGUMENT rather than a silently wrong page.

#include <string>

#include "absl/status/statusor.h"

namespace mm::api {

std::string MakePageToken(const std::string& after_key, const std::string& query);
// The `after` key of `token` ("" for an empty token = first page).
absl::StatusOr<std::string> ReadPageToken(const std::string& token, const std::string& query);

}  // namespace mm::api
