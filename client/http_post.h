#pragma once
// Minimal blocking HTTP/1.1 POST for tools and tests (membershipctl send-webhook, end-to-end
// tests): one request per connection, Content-Length framing.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace mm::client {

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// `url` is http://host:port/path.
absl::StatusOr<HttpReply> HttpRequest(const std::string& method, const std::string& url,
                                      const std::vector<std::pair<std::string, std::string>>& headers,
                                      const std::string& body,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace mm::client
