#pragma once
// A TCP proxy on 127.0.0.1:<port 0> in front of PostgreSQL, so a test can make the database
// "go away" for one service without touching the server other tests share: SetDown(true)
// resets every proxied connection and refuses new ones; SetDown(false) lets them through again.
// SetBlackhole(true) is the nastier failure: every connection stays open, bytes sent are
// accepted and dropped, nothing is ever answered (a database behind a network that silently
// swallows packets; TCP itself looks healthy); new connections are accepted and treated alike.
// SetBlackhole(false) closes the swallowed connections and lets new ones through again.

#include <atomic>
#include <string>
#include <memory>
#include <thread>

namespace mm::testing {

class TcpProxy {
 public:
  TcpProxy(std::string target_host, int target_port);
  ~TcpProxy();
  int port() const { return port_; }
  void SetDown(bool down);
  void SetBlackhole(bool blackhole);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace mm::testing
