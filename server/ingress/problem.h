#pragma once
// application/problem+json answers (RFC 9457) and the one mapping from absl::Status to HTTP.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "ingress/http_server.h"

namespace mm::ingress {

// {"type":"about:blank","title":<reason phrase>,"status":N,"detail":...}; 429 and 503 carry
// Retry-After.
HttpResponse Problem(int status, std::string_view detail);

// INVALID_ARGUMENT 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403, NOT_FOUND 404,
// RESOURCE_EXHAUSTED 429, UNAVAILABLE 503, FAILED_PRECONDITION 422, anything else 500.
int HttpStatusFor(const absl::Status& status);
HttpResponse ProblemFor(const absl::Status& status);

}  // namespace mm::ingress
