#include "http_post.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace mm::client {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

absl::StatusOr<HttpReply> HttpRequest(const std::string& method, const std::string& url,
                                      const std::vector<std::pair<std::string, std::string>>& headers,
                                      const std::string& body, std::chrono::milliseconds timeout) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return absl::InvalidArgumentError("only http:// URLs: " + url);
  std::string rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  std::string target = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = hostport.rfind(':');
  std::string host = colon == std::string::npos ? hostport : hostport.substr(0, colon);
  std::string port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
  try {
    net::io_context ioc;
    net::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    stream.connect(resolver.resolve(host, port));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, hostport);
    req.set(http::field::user_agent, "membershipctl");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    HttpReply reply;
    reply.status = static_cast<int>(res.result_int());
    reply.content_type = std::string(res[http::field::content_type]);
    reply.body = std::move(res.body());
    for (const auto& field : res) {
      reply.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    beast::error_code ignored;
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    return reply;
  } catch (const std::exception& e) {
    return absl::UnavailableError(std::string("HTTP ") + method + " " + url + ": " + e.what());
  }
}

}  // namespace mm::client
