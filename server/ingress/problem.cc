#include "ingress/problem.h"

#include <boost/beast/http/status.hpp>
#include <nlohmann/json.hpp>

namespace mm::ingress {

HttpResponse Problem(int status, std::string_view detail) {
  auto reason = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
  if (status == 413) reason = "Content Too Large";  // RFC 9110's name; Beast has the older one
  nlohmann::ordered_json body;
  body["type"] = "about:blank";
  body["title"] = std::string(reason.data(), reason.size());
  body["status"] = status;
  body["detail"] = detail;
  HttpResponse r;
  r.status = status;
  r.content_type = "application/problem+json";
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // Overload answers tell providers when to come back (they retry on 429/5xx).
  if (status == 429) r.headers.emplace_back("Retry-After", "1");
  if (status == 503) r.headers.emplace_back("Retry-After", "5");
  return r;
}

int HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument: return 400;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kFailedPrecondition: return 422;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

HttpResponse ProblemFor(const absl::Status& status) {
  return Problem(HttpStatusFor(status), std::string(status.message()));
}

}  // namespace mm::ingress
