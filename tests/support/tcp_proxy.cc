#include "tcp_proxy.h"

#include <utility>  // before asio: its awaitable.hpp uses std::exchange without including it
#include <array>
#include <future>
#include <mutex>
#include <set>

#include <boost/asio.hpp>

namespace mm::testing {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class TcpProxy::Impl {
 public:
  Impl(std::string host, int port)
      : target_(net::ip::make_address(host), static_cast<unsigned short>(port)),
        acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {}

  struct Pair : std::enable_shared_from_this<Pair> {
    explicit Pair(net::io_context& ioc) : client(ioc), server(ioc) {}
    tcp::socket client, server;
    std::array<char, 16384> up{}, down{};
    void Close() {
      boost::system::error_code ignored;
      client.close(ignored);
      server.close(ignored);
    }
  };

  void Accept() {
    auto pair = std::make_shared<Pair>(ioc_);
    acceptor_.async_accept(pair->client, [this, pair](boost::system::error_code ec) {
      if (ec) return;
      if (down_.load()) {
        pair->Close();
      } else if (blackhole_.load()) {
        pairs_.insert(pair);
        Swallow(pair, pair->client, pair->up);
      } else {
        pair->server.async_connect(target_, [this, pair](boost::system::error_code cec) {
          if (cec) return pair->Close();
          pairs_.insert(pair);
          Pump(pair, pair->client, pair->server, pair->up);
          Pump(pair, pair->server, pair->client, pair->down);
        });
      }
      Accept();
    });
  }

  // Reads and drops what `from` sends, for as long as it stays open.
  void Swallow(std::shared_ptr<Pair> pair, tcp::socket& from, std::array<char, 16384>& buf) {
    from.async_read_some(net::buffer(buf), [this, pair, &from, &buf](boost::system::error_code ec, size_t) {
      if (ec) {
        pair->Close();
        pairs_.erase(pair);
        return;
      }
      Swallow(pair, from, buf);
    });
  }

  void Pump(std::shared_ptr<Pair> pair, tcp::socket& from, tcp::socket& to,
            std::array<char, 16384>& buf) {
    from.async_read_some(net::buffer(buf), [this, pair, &from, &to, &buf](boost::system::error_code ec, size_t n) {
      if (ec) {
        pair->Close();
        pairs_.erase(pair);
        return;
      }
      if (blackhole_.load()) return Swallow(pair, from, buf);  // this byte and all after: dropped
      net::async_write(to, net::buffer(buf.data(), n), [this, pair, &from, &to, &buf](boost::system::error_code wec, size_t) {
        if (wec) {
          pair->Close();
          pairs_.erase(pair);
          return;
        }
        Pump(pair, from, to, buf);
      });
    });
  }

  void CloseAll() {
    for (const auto& p : pairs_) p->Close();
    pairs_.clear();
  }

  net::io_context ioc_;
  tcp::endpoint target_;
  tcp::acceptor acceptor_;
  std::atomic<bool> down_{false};
  std::atomic<bool> blackhole_{false};
  std::set<std::shared_ptr<Pair>> pairs_;  // touched only on the io thread
};

TcpProxy::TcpProxy(std::string target_host, int target_port)
    : impl_(std::make_unique<Impl>(std::move(target_host), target_port)) {
  port_ = impl_->acceptor_.local_endpoint().port();
  impl_->Accept();
  thread_ = std::thread([this] { impl_->ioc_.run(); });
}

TcpProxy::~TcpProxy() {
  net::post(impl_->ioc_, [this] {
    impl_->acceptor_.close();
    impl_->CloseAll();
  });
  impl_->ioc_.stop();
  thread_.join();
}

void TcpProxy::SetDown(bool down) {
  impl_->down_.store(down);
  if (down) {
    std::promise<void> done;
    net::post(impl_->ioc_, [this, &done] {
      impl_->CloseAll();
      done.set_value();
    });
    done.get_future().wait();
  }
}

void TcpProxy::SetBlackhole(bool blackhole) {
  impl_->blackhole_.store(blackhole);
  if (!blackhole) {
    std::promise<void> done;
    net::post(impl_->ioc_, [this, &done] {
      impl_->CloseAll();  // the swallowed ones are useless now; clients reconnect
      done.set_value();
    });
    done.get_future().wait();
  }
}

}  // namespace mm::testing
