#pragma once
// Minimal blocking HTTP/1.1 client for tools and tests (membershipctl send-webhook, end-to-end
// tests): one request per connection, Content-Length framing, http:// and https:// URLs. The
// timeout bounds the whole exchange (connect, TLS handshake, write, read).

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

struct HttpClientOptions {
  std::chrono::milliseconds timeout{10000};
  // https:// only. The server's certificate is verified against `tls_ca_file` (PEM; empty: the
  // system's trusted CAs) and must name the URL's host (DNS name or IP address).
  std::string tls_ca_file{};
  // A client certificate and its key (PEM), for servers that ask for one (mTLS).
  std::string tls_cert_file{};
  std::string tls_key_file{};
};

// `url` is http://host:port/path or https://host:port/path.
absl::StatusOr<HttpReply> HttpRequest(const std::string& method, const std::string& url,
                                      const std::vector<std::pair<std::string, std::string>>& headers,
                                      const std::string& body, const HttpClientOptions& options);

absl::StatusOr<HttpReply> HttpRequest(const std::string& method, const std::string& url,
                                      const std::vector<std::pair<std::string, std::string>>& headers,
                                      const std::string& body,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace mm::client
