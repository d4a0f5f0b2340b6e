#include "fake_http_server.h"

#include <utility>  // before asio: its awaitable.hpp uses std::exchange without including it

#include <atomic>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <type_traits>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace mm::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

// Large enough for any test upload; the fake is not where body limits are tested.
constexpr uint64_t kMaxRequestBodyBytes = 64 << 20;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view View(beast::string_view s) { return std::string_view(s.data(), s.size()); }

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1), true);
    out[std::move(key)] = std::move(value);
  }
  return out;
}

}  // namespace

std::string PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = HexValue(text[i + 1]), lo = HexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

// Owns the io_context. Sessions hold a plain pointer to it: every handler that could touch a
// session lives in ioc_, which is stopped and destroyed (with those handlers) first.
class FakeHttpServer::Impl {
 public:
  explicit Impl(Handler handler)
      : handler_(std::make_shared<Handler>(std::move(handler))),
        acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {}

  void ConfigureTls(const std::string& cert_chain_pem, const std::string& private_key_pem) {
    ssl::context context(ssl::context::tls_server);
    beast::error_code ec;
    context.use_certificate_chain(net::buffer(cert_chain_pem), ec);
    if (!ec) context.use_private_key(net::buffer(private_key_pem), ssl::context::pem, ec);
    if (ec) throw std::runtime_error("FakeHttpServer: TLS certificate or key: " + ec.message());
    tls_.emplace(std::move(context));
  }

  void Start() {
    port_ = acceptor_.local_endpoint().port();
    Accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }

  void Stop() {
    net::post(ioc_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }

  void Accept();

  void Record(const FakeRequest& request) {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
  }

  FakeResponse Answer(const FakeRequest& request) {
    std::shared_ptr<Handler> handler;
    {
      std::lock_guard lock(mu_);
      handler = handler_;
    }
    try {
      return (*handler)(request);
    } catch (const std::exception& e) {
      FakeResponse error;
      error.status = 500;
      error.body = std::string("{\"message\":\"FakeHttpServer handler threw: ") + e.what() + "\"}";
      return error;
    }
  }

  mutable std::mutex mu_;
  std::shared_ptr<Handler> handler_;    // guarded by mu_
  std::vector<FakeRequest> requests_;   // guarded by mu_
  std::atomic<size_t> connections_{0};
  std::optional<ssl::context> tls_;
  int port_ = 0;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

namespace {

// One connection, plain (beast::tcp_stream) or TLS (beast::ssl_stream<beast::tcp_stream>).
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  template <class... StreamArgs>
  Session(FakeHttpServer::Impl* server, tcp::socket socket, StreamArgs&... stream_args)
      : stream_(std::move(socket), stream_args...), timer_(stream_.get_executor()), server_(server) {}

  void Start() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->Close();
          self->Read();
        });
      } else {
        self->Read();
      }
    });
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void Read() {
    parser_.emplace();
    parser_->body_limit(kMaxRequestBodyBytes);
    http::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      self->OnRequest();
    });
  }

  void OnRequest() {
    http::request<http::string_body> req = parser_->release();
    keep_alive_ = req.keep_alive();
    head_ = req.method() == http::verb::head;
    FakeRequest request;
    request.method = std::string(View(req.method_string()));
    request.target = std::string(View(req.target()));
    std::string_view target(request.target);
    size_t question = target.find('?');
    request.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos) request.query = ParseQuery(target.substr(question + 1));
    for (const auto& field : req.base()) {
      std::string name = ToLower(View(field.name_string()));
      auto [it, inserted] = request.headers.emplace(name, std::string(View(field.value())));
      if (!inserted) it->second.append(", ").append(View(field.value()));
    }
    request.body = std::move(req.body());
    server_->Record(request);
    FakeResponse response = server_->Answer(request);
    if (response.delay > std::chrono::milliseconds::zero()) {
      timer_.expires_after(response.delay);
      timer_.async_wait([self = this->shared_from_this(), response = std::move(response)](beast::error_code ec) mutable {
        if (ec) return self->Close();
        self->Write(std::move(response));
      });
      return;
    }
    Write(std::move(response));
  }

  void Write(FakeResponse r) {
    if (r.reset_connection) {
      // SO_LINGER 0: close() sends a RST, as a crashed or overloaded peer would.
      beast::error_code ignored;
      lowest().socket().set_option(tcp::socket::linger(true, 0), ignored);
      lowest().socket().close(ignored);
      return;
    }
    bool close = r.close || !keep_alive_;
    if (!r.raw.empty()) {
      auto raw = std::make_shared<std::string>(std::move(r.raw));
      net::async_write(stream_, net::buffer(*raw), [self = this->shared_from_this(), raw, close](beast::error_code ec, size_t) {
        if (ec || close) return self->Close();
        self->Read();
      });
      return;
    }
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    if (!r.content_type.empty()) res->set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) res->insert(name, value);
    res->keep_alive(!close);
    if (head_) {
      res->content_length(r.body.size());
    } else if (r.chunked) {
      res->body() = std::move(r.body);
      res->chunked(true);
    } else {
      res->body() = std::move(r.body);
      res->prepare_payload();
    }
    http::async_write(stream_, *res, [self = this->shared_from_this(), res, close](beast::error_code ec, size_t) {
      if (ec || close) return self->Close();
      self->Read();
    });
  }

  void Close() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().socket().close(ignored);
  }

  Stream stream_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  bool head_ = false;
  FakeHttpServer::Impl* server_;
};

}  // namespace

void FakeHttpServer::Impl::Accept() {
  acceptor_.async_accept(ioc_, [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      connections_.fetch_add(1);
      if (tls_) {
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(this, std::move(socket), *tls_)->Start();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(this, std::move(socket))->Start();
      }
    }
    Accept();
  });
}

FakeHttpServer::FakeHttpServer(Handler handler) : impl_(std::make_unique<Impl>(std::move(handler))) {
  impl_->Start();
}

FakeHttpServer::FakeHttpServer(Handler handler, std::string cert_chain_pem, std::string private_key_pem)
    : impl_(std::make_unique<Impl>(std::move(handler))) {
  impl_->ConfigureTls(cert_chain_pem, private_key_pem);
  impl_->Start();
}

FakeHttpServer::~FakeHttpServer() { impl_->Stop(); }

int FakeHttpServer::port() const { return impl_->port_; }

std::string FakeHttpServer::base_url() const {
  return std::string(impl_->tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(impl_->port_);
}

void FakeHttpServer::SetHandler(Handler handler) {
  auto replacement = std::make_shared<Handler>(std::move(handler));
  std::lock_guard lock(impl_->mu_);
  impl_->handler_ = std::move(replacement);
}

std::vector<FakeRequest> FakeHttpServer::Requests() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->requests_;
}

size_t FakeHttpServer::RequestCount() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->requests_.size();
}

void FakeHttpServer::ClearRequests() {
  std::lock_guard lock(impl_->mu_);
  impl_->requests_.clear();
}

size_t FakeHttpServer::ConnectionCount() const { return impl_->connections_.load(); }

}  // namespace mm::testing
