#include "http_post.h"

#include <utility>  // before asio: its awaitable.hpp uses std::exchange without including it

#include <string_view>
#include <type_traits>

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace mm::client {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

struct Url {
  bool tls = false;
  std::string host;      // without IPv6 brackets
  std::string hostport;  // as written, for the Host header
  std::string port;
  std::string target;
};

absl::StatusOr<Url> ParseUrl(const std::string& url) {
  Url out;
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    out.tls = true;
    rest = url.substr(8);
  } else {
    return absl::InvalidArgumentError("only http:// and https:// URLs: " + url);
  }
  size_t slash = rest.find('/');
  out.hostport = rest.substr(0, slash);
  out.target = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = out.hostport.rfind(':');
  if (colon != std::string::npos && out.hostport.find(']', colon) != std::string::npos) {
    colon = std::string::npos;  // "[::1]" without a port
  }
  out.host = colon == std::string::npos ? out.hostport : out.hostport.substr(0, colon);
  out.port = colon == std::string::npos ? (out.tls ? "443" : "80") : out.hostport.substr(colon + 1);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  return out;
}

// Runs one asynchronous operation to completion; the stream's deadline bounds it (the
// synchronous calls of Beast ignore tcp_stream deadlines).
template <class Start>
beast::error_code Await(net::io_context& ioc, Start start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

// Connect, TLS handshake (TLS streams only), write the request, read the answer: the same over
// a plain and a TLS stream.
template <class Stream>
absl::StatusOr<HttpReply> Exchange(net::io_context& ioc, Stream& stream,
                                   const tcp::resolver::results_type& endpoints,
                                   http::request<http::string_body>& req,
                                   std::chrono::milliseconds timeout) {
  beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
  auto failed = [](const char* step, const beast::error_code& ec) {
    return absl::UnavailableError(std::string(step) + ": " + ec.message());
  };
  lowest.expires_after(timeout);  // one deadline for the whole exchange
  if (auto ec = Await(ioc, [&](auto done) { lowest.async_connect(endpoints, done); })) {
    return failed("connect", ec);
  }
  if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
    if (auto ec = Await(ioc, [&](auto done) { stream.async_handshake(ssl::stream_base::client, done); })) {
      return failed("TLS handshake", ec);
    }
  }
  if (auto ec = Await(ioc, [&](auto done) { http::async_write(stream, req, done); })) {
    return failed("write", ec);
  }
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  if (auto ec = Await(ioc, [&](auto done) { http::async_read(stream, buffer, res, done); })) {
    return failed("read", ec);
  }
  HttpReply reply;
  reply.status = static_cast<int>(res.result_int());
  reply.content_type = std::string(res[http::field::content_type]);
  reply.body = std::move(res.body());
  for (const auto& field : res) {
    reply.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  // One request per connection: close without waiting for anything more (TLS included).
  beast::error_code ignored;
  lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
  lowest.close();
  return reply;
}

// A TLS client context: TLS 1.2+, the server verified against the CA file (or the system's),
// an optional client certificate.
absl::Status ConfigureTls(ssl::context& context, const HttpClientOptions& options) {
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  if (options.tls_ca_file.empty()) {
    context.set_default_verify_paths(ec);
  } else {
    context.load_verify_file(options.tls_ca_file, ec);
  }
  if (ec) return absl::InvalidArgumentError("TLS CA file " + options.tls_ca_file + ": " + ec.message());
  if (!options.tls_cert_file.empty()) {
    context.use_certificate_chain_file(options.tls_cert_file, ec);
    if (ec) return absl::InvalidArgumentError("TLS certificate " + options.tls_cert_file + ": " + ec.message());
    context.use_private_key_file(options.tls_key_file, ssl::context::pem, ec);
    if (ec) return absl::InvalidArgumentError("TLS key " + options.tls_key_file + ": " + ec.message());
  }
  context.set_verify_mode(ssl::verify_peer);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<HttpReply> HttpRequest(const std::string& method, const std::string& url,
                                      const std::vector<std::pair<std::string, std::string>>& headers,
                                      const std::string& body, const HttpClientOptions& options) {
  auto parsed = ParseUrl(url);
  if (!parsed.ok()) return parsed.status();
  http::request<http::string_body> req{http::string_to_verb(method), parsed->target, 11};
  req.set(http::field::host, parsed->hostport);
  req.set(http::field::user_agent, "membershipctl");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();

  net::io_context ioc;
  beast::error_code ec;
  tcp::resolver::results_type endpoints = tcp::resolver(ioc).resolve(parsed->host, parsed->port, ec);
  absl::StatusOr<HttpReply> reply = absl::UnavailableError("resolve: " + ec.message());
  if (!ec && !parsed->tls) {
    beast::tcp_stream stream(ioc);
    reply = Exchange(ioc, stream, endpoints, req, options.timeout);
  } else if (!ec) {
    ssl::context context(ssl::context::tls_client);
    if (absl::Status s = ConfigureTls(context, options); !s.ok()) return s;
    beast::ssl_stream<beast::tcp_stream> stream(ioc, context);
    // The certificate must name the host: a DNS name (also sent as SNI) or an IP address.
    stream.set_verify_callback(ssl::host_name_verification(parsed->host));
    net::ip::make_address(parsed->host, ec);
    if (ec) SSL_set_tlsext_host_name(stream.native_handle(), parsed->host.c_str());
    reply = Exchange(ioc, stream, endpoints, req, options.timeout);
  }
  if (!reply.ok()) {
    return absl::Status(reply.status().code(),
                        "HTTP " + method + " " + url + ": " + std::string(reply.status().message()));
  }
  return reply;
}

absl::StatusOr<HttpReply> HttpRequest(const std::string& method, const std::string& url,
                                      const std::vector<std::pair<std::string, std::string>>& headers,
                                      const std::string& body, std::chrono::milliseconds timeout) {
  HttpClientOptions options;
  options.timeout = timeout;
  return HttpRequest(method, url, headers, body, options);
}

}  // namespace mm::client
