#include "ingress/http_server.h"

#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace mm::ingress {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Owns the io_context. Sessions hold a plain pointer to it: every handler that could touch a
// session lives in ioc_, which is destroyed (with those handlers) before the counters below.
class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        ioc_(options_.threads),
        work_(net::make_work_guard(ioc_)),
        acceptor_(net::make_strand(ioc_)) {}

  absl::StatusOr<int> Bind();
  void Accept();
  void Run() { ioc_.run(); }
  void CloseAcceptor() {
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
  }
  void StopIo() {
    work_.reset();
    ioc_.stop();
  }

  const HttpServerOptions options_;
  const HttpHandler handler_;
  std::atomic<int> connections_{0};
  std::atomic<int> in_flight_{0};  // requests handed to the handler, not yet answered
  std::atomic<bool> draining_{false};
  net::io_context ioc_;
  // A session waiting for its handler's answer has no I/O pending; without this guard the I/O
  // threads would return from run() during a drain and the answers posted later never be sent.
  net::executor_work_guard<net::io_context::executor_type> work_;
  tcp::acceptor acceptor_;
};

namespace {

std::string ProblemBody(int status, std::string_view title, std::string_view detail) {
  return absl::StrCat("{\"type\":\"about:blank\",\"title\":\"", std::string(title),
                      "\",\"status\":", status, ",\"detail\":\"", std::string(detail), "\"}");
}

// A plain 503 written to connections over the cap; no parsing, no handler.
const std::string& OverCapacityResponse() {
  static const std::string response = [] {
    std::string body = ProblemBody(503, "Service Unavailable", "too many connections; retry later");
    return absl::StrCat("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n",
                        "Retry-After: 1\r\nConnection: close\r\nContent-Length: ", body.size(),
                        "\r\n\r\n", body);
  }();
  return response;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl* server)
      : stream_(std::move(socket)), server_(server) {}

  ~Session() { server_->connections_.fetch_sub(1); }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

 private:
  const HttpServerOptions& opts() const { return server_->options_; }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(opts().max_header_bytes));
    parser_->body_limit(opts().max_body_bytes);
    stream_.expires_after(opts().header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    auto& header = parser_->get();
    keep_alive_ = header.keep_alive();
    if (auto length = parser_->content_length(); length && *length > opts().max_body_bytes) {
      // Refuse before reading: the sender learns at once and we never buffer the body.
      return WriteProblem(413, "Content Too Large",
                          absl::StrCat("body larger than ", opts().max_body_bytes, " bytes"), true);
    }
    auto expect = header[http::field::expect];
    if (!parser_->is_done() && beast::iequals(expect, "100-continue")) {
      stream_.expires_after(opts().write_timeout);
      net::async_write(stream_, net::buffer(kContinue),
                       [self = shared_from_this()](beast::error_code wec, size_t) {
                         if (wec) return self->Close();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(opts().body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return WriteProblem(413, "Content Too Large",
                          absl::StrCat("body larger than ", opts().max_body_bytes, " bytes"), true);
    }
    if (ec) return OnReadError(ec);
    stream_.expires_never();  // the handler answers; the writer always calls back
    request_ = parser_->release();
    if (server_->draining_.load()) {
      return WriteProblem(503, "Service Unavailable", "shutting down; retry", true, "1");
    }
    server_->in_flight_.fetch_add(1);
    auto answered = std::make_shared<std::atomic<bool>>(false);
    server_->handler_(request_, [self = shared_from_this(), answered](HttpResponse response) {
      if (answered->exchange(true)) return;  // exactly once, even if a handler errs
      net::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->server_->in_flight_.fetch_sub(1);
        self->Write(std::move(response));
      });
    });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::eof) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      // Beast checks a declared Content-Length against the limit while parsing the header.
      return WriteProblem(413, "Content Too Large",
                          absl::StrCat("body larger than ", opts().max_body_bytes, " bytes"), true);
    }
    if (ec == http::error::header_limit) {
      return WriteProblem(431, "Request Header Fields Too Large", "headers too large", true);
    }
    // Anything else the parser refused is a malformed request.
    WriteProblem(400, "Bad Request", "malformed HTTP request", true);
  }

  void WriteProblem(int status, std::string_view title, std::string detail, bool close,
                    std::string retry_after = "") {
    HttpResponse r;
    r.status = status;
    r.content_type = "application/problem+json";
    r.body = ProblemBody(status, title, detail);
    r.close = close;
    if (!retry_after.empty()) r.headers.emplace_back("Retry-After", retry_after);
    Write(std::move(r));
  }

  void Write(HttpResponse r) {
    bool close = r.close || !keep_alive_ || server_->draining_.load();
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    res->set(http::field::server, "membership-mirror");
    res->set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) res->set(name, value);
    res->body() = std::move(r.body);
    res->keep_alive(!close);
    res->prepare_payload();
    stream_.expires_after(opts().write_timeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, close](beast::error_code ec, size_t) {
                        if (ec || close) return self->Close();
                        self->ReadHeader();
                      });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest request_;
  bool keep_alive_ = true;
  HttpServer::Impl* server_;
};

// Parses "host:port" (IPv6 as "[::1]:port").
absl::StatusOr<tcp::endpoint> ParseEndpoint(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return absl::InvalidArgumentError("listen address needs host:port");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  auto address = net::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad listen host '", host, "'"));
  int port = std::stoi(listen.substr(colon + 1));
  return tcp::endpoint(address, static_cast<unsigned short>(port));
}

}  // namespace

absl::StatusOr<int> HttpServer::Impl::Bind() {
  auto endpoint = ParseEndpoint(options_.listen);
  if (!endpoint.ok()) return endpoint.status();
  beast::error_code ec;
  acceptor_.open(endpoint->protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(*endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen, ": ", ec.message()));
  }
  return acceptor_.local_endpoint().port();
}

void HttpServer::Impl::Accept() {
  acceptor_.async_accept(
      net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
        if (!ec) {
          int open = connections_.fetch_add(1) + 1;
          if (open > options_.max_connections) {
            // Over the cap: answer 503 so providers retry, without reading anything.
            auto sock = std::make_shared<tcp::socket>(std::move(socket));
            net::async_write(*sock, net::buffer(OverCapacityResponse()),
                             [sock, this](beast::error_code, size_t) {
                               beast::error_code ignored;
                               sock->shutdown(tcp::socket::shutdown_both, ignored);
                               sock->close(ignored);
                               connections_.fetch_sub(1);
                             });
          } else {
            std::make_shared<Session>(std::move(socket), this)->Start();
          }
        }
        Accept();
      });
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Start() {
  auto port = impl_->Bind();
  if (!port.ok()) return port.status();
  port_ = *port;
  impl_->Accept();
  for (int i = 0; i < impl_->options_.threads; ++i) {
    threads_.emplace_back([impl = impl_.get()] { impl->Run(); });
  }
  return absl::OkStatus();
}

int HttpServer::open_connections() const { return impl_->connections_.load(); }
bool HttpServer::draining() const { return impl_->draining_.load(); }

bool HttpServer::Drain(std::chrono::milliseconds grace) {
  impl_->draining_.store(true);
  impl_->CloseAcceptor();
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return impl_->in_flight_.load() == 0;
}

void HttpServer::Stop() {
  if (threads_.empty()) return;
  impl_->draining_.store(true);
  impl_->CloseAcceptor();
  impl_->StopIo();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

}  // namespace mm::ingress
