#include "ingress/http_server.h"

#include <utility>  // before asio: its awaitable.hpp uses std::exchange without including it

#include <algorithm>
#include <chrono>
#include <optional>
#include <string_view>
#include <type_traits>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "ingress/problem.h"

namespace mm::ingress {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
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

  absl::Status ConfigureTls();
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
  bool require_client_cert() const { return !options_.tls.client_ca_pem.empty(); }

  const HttpServerOptions options_;
  const HttpHandler handler_;
  std::atomic<int> connections_{0};
  std::atomic<int> in_flight_{0};  // requests handed to the handler, not yet answered
  std::atomic<bool> draining_{false};
  std::optional<ssl::context> tls_;  // set when the port serves TLS
  net::io_context ioc_;
  // A session waiting for its handler's answer has no I/O pending; without this guard the I/O
  // threads would return from run() during a drain and the answers posted later never be sent.
  net::executor_work_guard<net::io_context::executor_type> work_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_{acceptor_.get_executor()};  // after an accept error (Accept)
};

namespace {

// A plain 503 written to connections over the cap; no parsing, no handler.
const std::string& OverCapacityResponse() {
  static const std::string response = [] {
    std::string body = Problem(503, "too many connections; retry later").body;
    return absl::StrCat("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n",
                        "Retry-After: 1\r\nConnection: close\r\nContent-Length: ", body.size(),
                        "\r\n\r\n", body);
  }();
  return response;
}

bool IsHttpError(const beast::error_code& ec) {
  return ec.category() == make_error_code(http::error::end_of_stream).category();
}

// One connection, plain (beast::tcp_stream) or TLS (beast::ssl_stream<beast::tcp_stream>): the
// same HTTP logic over both; only the start (TLS handshake) and the close (close_notify) differ.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  // `stream_args` complete the stream's constructor after the socket: the ssl::context for TLS.
  template <class... StreamArgs>
  Session(HttpServer::Impl* server, bool over_capacity, tcp::socket socket, StreamArgs&... stream_args)
      : stream_(std::move(socket), stream_args...), server_(server), over_capacity_(over_capacity) {
    // Beast reads at most max(512, free capacity) bytes at a time: with an empty buffer a
    // webhook took two reads (plus the one that finds the socket drained). One page holds a
    // typical request whole; larger bodies still grow the buffer.
    buffer_.reserve(kReadBufferBytes);
  }

  ~Session() { server_->connections_.fetch_sub(1); }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->Handshake();
      } else {
        self->Serve();
      }
    });
  }

 private:
  const HttpServerOptions& opts() const { return server_->options_; }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  // TLS only: the handshake gets the header deadline, so a silent client cannot hold a slot.
  void Handshake() {
    lowest().expires_after(opts().header_timeout);
    stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return self->Close();
      SSL* native = self->stream_.native_handle();
      self->client_cert_verified_ =
          SSL_get0_peer_certificate(native) != nullptr && SSL_get_verify_result(native) == X509_V_OK;
      self->Serve();
    });
  }

  void Serve() {
    if (!over_capacity_) return ReadHeader();
    // Over the cap: answer 503 so providers retry, without reading anything.
    WriteRaw(OverCapacityResponse(), [](Session& s, beast::error_code ec) { s.Close(!ec); });
  }

  // Writes bytes that are not a response message (100 Continue, the over-capacity 503).
  template <class Then>
  void WriteRaw(std::string_view bytes, Then then) {
    lowest().expires_after(opts().write_timeout);
    net::async_write(stream_, net::buffer(bytes.data(), bytes.size()),
                     [self = this->shared_from_this(), then](beast::error_code ec, size_t) {
                       then(*self, ec);
                     });
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(opts().max_header_bytes));
    parser_->body_limit(opts().max_body_bytes);
    lowest().expires_after(opts().header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    auto& header = parser_->get();
    keep_alive_ = header.keep_alive();
    if (auto length = parser_->content_length(); length && *length > opts().max_body_bytes) {
      // Refuse before reading: the sender learns at once and we never buffer the body.
      return WriteTooLarge();
    }
    auto expect = header[http::field::expect];
    if (!parser_->is_done() && beast::iequals(expect, "100-continue")) {
      return WriteRaw(kContinue, [](Session& s, beast::error_code wec) {
        if (wec) return s.Close();
        s.ReadBody();
      });
    }
    ReadBody();
  }

  void ReadBody() {
    lowest().expires_after(opts().body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return WriteTooLarge();
    }
    if (ec) return OnReadError(ec);
    lowest().expires_never();  // the handler answers; the writer always calls back
    request_ = parser_->release();
    if (server_->require_client_cert() && !client_cert_verified_ && !IsAnonymous(request_)) {
      return WriteProblem(401, "client certificate required", false);
    }
    if (server_->draining_.load()) {
      return WriteProblem(503, "shutting down; retry", true, "1");
    }
    server_->in_flight_.fetch_add(1);
    auto answered = std::make_shared<std::atomic<bool>>(false);
    // The handler's deadline: whichever comes first, its answer or a 503, is written.
    auto deadline = std::make_shared<net::steady_timer>(stream_.get_executor());
    deadline->expires_after(opts().handler_timeout);
    deadline->async_wait([self = this->shared_from_this(), answered](beast::error_code wait_ec) {
      if (wait_ec || answered->exchange(true)) return;
      self->server_->in_flight_.fetch_sub(1);
      self->WriteProblem(503, "no answer in time (the database may be slow or unreachable); retry", true, "5");
    });
    server_->handler_(request_, [self = this->shared_from_this(), answered, deadline](HttpResponse response) {
      if (answered->exchange(true)) return;  // exactly once: the handler's answer, or the deadline's
      net::post(self->stream_.get_executor(), [self, deadline, response = std::move(response)]() mutable {
        deadline->cancel();
        self->server_->in_flight_.fetch_sub(1);
        self->Write(std::move(response));
      });
    });
  }

  // Requests served without a client certificate under mTLS: GET on the probe paths.
  bool IsAnonymous(const HttpRequest& req) const {
    if (req.method() != http::verb::get) return false;
    std::string_view target(req.target().data(), req.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    for (const std::string& anonymous : opts().tls.anonymous_get_paths) {
      if (path == anonymous) return true;
    }
    return false;
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof) return Close(true);
    if (ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == ssl::error::stream_truncated) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      // Beast checks a declared Content-Length against the limit while parsing the header.
      return WriteTooLarge();
    }
    if (ec == http::error::header_limit) {
      return WriteProblem(431, "headers too large", true);
    }
    // Anything else the parser refused is a malformed request; a transport (TCP or TLS) error
    // leaves nothing to answer on.
    if (!IsHttpError(ec)) return Close();
    WriteProblem(400, "malformed HTTP request", true);
  }

  // 413, then a lingering close: the rest of the body is read and dropped, never buffered.
  void WriteTooLarge() {
    WriteProblem(413, absl::StrCat("body larger than ", opts().max_body_bytes, " bytes"), true);
  }

  // `retry_after`, when given, replaces Problem()'s default for the status.
  void WriteProblem(int status, const std::string& detail, bool close, const std::string& retry_after = "") {
    HttpResponse r = Problem(status, detail);
    r.close = close;
    // Answers given before the request was read whole: the sender may still be sending.
    linger_ = close && (status == 413 || status == 400 || status == 431);
    if (!retry_after.empty()) {
      std::erase_if(r.headers, [](const auto& h) { return h.first == "Retry-After"; });
      r.headers.emplace_back("Retry-After", retry_after);
    }
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
    lowest().expires_after(opts().write_timeout);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res, close](beast::error_code ec, size_t) {
                        if (!ec && close && self->linger_) return self->LingeringClose();
                        if (ec || close) return self->Close(!ec);
                        self->ReadHeader();
                      });
  }

  // Half-closes (the answer is followed by FIN), then reads and drops what the sender still
  // sends until it stops, pauses for linger_idle, or linger_time has passed; then closes. At the
  // TCP level also under TLS: no more TLS records are read or written (the sender has the whole
  // answer, delimited by Content-Length and Connection: close).
  void LingeringClose() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    linger_until_ = std::chrono::steady_clock::now() + opts().linger_time;
    Discard();
  }

  void Discard() {
    const auto left = linger_until_ - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return Close();
    lowest().expires_after(std::min<std::chrono::steady_clock::duration>(left, opts().linger_idle));
    discard_.resize(kReadBufferBytes * 4);
    lowest().async_read_some(net::buffer(discard_), [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Close();  // the sender is done (EOF), paused too long, or gone
      self->Discard();
    });
  }

  // `graceful`: the TLS session is intact, so say close_notify first (bounded by write_timeout).
  void Close([[maybe_unused]] bool graceful = false) {
    if constexpr (kTls) {
      if (graceful) {
        lowest().expires_after(opts().write_timeout);
        stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->Close(); });
        return;
      }
    }
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  static constexpr size_t kReadBufferBytes = 4096;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest request_;
  bool keep_alive_ = true;
  bool linger_ = false;  // close by LingeringClose after the answer being written
  std::chrono::steady_clock::time_point linger_until_{};
  std::string discard_;  // what LingeringClose reads, dropped
  bool client_cert_verified_ = false;
  HttpServer::Impl* server_;
  const bool over_capacity_;
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

absl::Status HttpServer::Impl::ConfigureTls() {
  const HttpTlsOptions& tls = options_.tls;
  if (tls.cert_chain_pem.empty()) return absl::OkStatus();
  ssl::context context(ssl::context::tls_server);
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                      ssl::context::no_compression | ssl::context::single_dh_use);
  SSL_CTX* native = context.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  beast::error_code ec;
  context.use_certificate_chain(net::buffer(tls.cert_chain_pem), ec);
  if (!ec) context.use_private_key(net::buffer(tls.private_key_pem), ssl::context::pem, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("TLS certificate or key: ", ec.message()));
  if (!tls.client_ca_pem.empty()) {
    context.add_certificate_authority(net::buffer(tls.client_ca_pem), ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("TLS client CA: ", ec.message()));
    // Name the acceptable CAs in the certificate request, so clients pick the right certificate.
    X509_STORE* store = SSL_CTX_get_cert_store(native);
    STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
    for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
      if (X509* ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i)); ca != nullptr) {
        SSL_CTX_add_client_CA(native, ca);
      }
    }
    // Verify a certificate when one is presented, but do not demand one: probes carry none
    // (requests without one are answered 401 by the session, probe paths excepted).
    context.set_verify_mode(ssl::verify_peer);
    static constexpr unsigned char kSessionContext[] = "membership-mirror";
    SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  }
  tls_.emplace(std::move(context));
  return absl::OkStatus();
}

void HttpServer::Impl::Accept() {
  acceptor_.async_accept(
      net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
        if (ec) {
          // Out of file descriptors (EMFILE, ENFILE) or kernel memory: the connection stays in
          // the backlog and accepting again would fail at once, in a loop that spins a core.
          // Wait a little instead; the server keeps serving the connections it has.
          static log::RateLimit limit(1, std::chrono::seconds(10));
          if (uint64_t suppressed = 0; limit.Allow(suppressed)) {
            log::Error("cannot accept connections; retrying every 100 ms",
                       {{"error", ec.message()}, {"failures_not_logged", std::to_string(suppressed)}});
          }
          accept_retry_.expires_after(std::chrono::milliseconds(100));
          accept_retry_.async_wait([this](beast::error_code wait_ec) {
            if (!wait_ec && acceptor_.is_open()) Accept();
          });
          return;
        }
        {
          // Over the cap the session answers 503 (after the TLS handshake, if any) and closes.
          bool over_capacity = connections_.fetch_add(1) + 1 > options_.max_connections;
          if (tls_) {
            std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
                this, over_capacity, std::move(socket), *tls_)
                ->Start();
          } else {
            std::make_shared<Session<beast::tcp_stream>>(this, over_capacity, std::move(socket))->Start();
          }
        }
        Accept();
      });
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Start() {
  if (absl::Status tls = impl_->ConfigureTls(); !tls.ok()) return tls;
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
