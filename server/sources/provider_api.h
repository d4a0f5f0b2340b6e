#pragma once
// Calls of a provider's REST API from a pull source: the client's retries and errors
// (http_client/http_client.h) plus what every source needs around them.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "http_client/http_client.h"
#include "sources/source.h"

namespace mm::sources {

// Sends `request` through ctx.http. A 2xx is the Response; any other final status is
// http_client::StatusOf's error (UNAUTHENTICATED for 401, NOT_FOUND for 404, ...); transport
// failures after the client's retries are its UNAVAILABLE, shutdown CANCELLED.
absl::StatusOr<http_client::Response> Call(SourceContext& ctx, const http_client::Request& request);
// Call with a GET of `url`.
absl::StatusOr<http_client::Response> Get(SourceContext& ctx, std::string url,
                                          std::vector<std::pair<std::string, std::string>> headers);

// `base` (a configured base URL, with or without a trailing '/') followed by `path` ("/v1/...").
std::string JoinUrl(std::string_view base, std::string_view path);

// Percent-encodes a query value or path segment (RFC 3986 unreserved characters stay).
std::string UrlEncode(std::string_view value);

}  // namespace mm::sources
