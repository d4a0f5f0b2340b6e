#pragma once
// Runs the real `membership-mirror serve` binary for end-to-end tests: HTTP and gRPC on port 0
// of 127.0.0.1, the ports read from its "listening" log line, stderr captured for assertions.
// The destructor kills a process that is still running.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mm::testing {

class ServiceProcess {
 public:
  struct Options {
    std::string binary;  // path of membership-mirror
    std::map<std::string, std::string> env;  // MM_* settings (listen addresses are added)
    bool wait_ready = true;  // wait for /readyz 200 before returning
  };

  static std::unique_ptr<ServiceProcess> Start(Options options);
  ~ServiceProcess();

  int http_port() const { return http_port_; }
  int grpc_port() const { return grpc_port_; }
  pid_t pid() const { return pid_; }  // e.g. to read /proc/<pid>/status
  std::string http_url() const { return "http://127.0.0.1:" + std::to_string(http_port_); }
  std::string grpc_target() const { return "127.0.0.1:" + std::to_string(grpc_port_); }

  void Signal(int sig);
  // Waits for exit up to `timeout`; returns the exit code, or -1 on timeout / signal death.
  int Wait(std::chrono::milliseconds timeout);
  std::string Log() const;
  // GET /metrics: the Prometheus text, or "" when it cannot be read.
  std::string MetricsText() const;
  // Waits until GET /readyz answers `status` (200 or 503), up to `timeout`.
  bool WaitReadyStatus(int status, std::chrono::milliseconds timeout) const;

 private:
  ServiceProcess() = default;
  void ReadLoop(int fd);

  pid_t pid_ = -1;
  int http_port_ = 0;
  int grpc_port_ = 0;
  int exit_code_ = -1;
  bool exited_ = false;
  mutable std::mutex mu_;
  std::string log_;
  std::thread reader_;
};

// CPU time (user + system) process `pid` has used so far, from /proc/<pid>/stat. Robust to a
// busy machine where wall-clock figures are not: compare CPU per call between two servers, or
// tell a spinning loop from an idle one.
double ProcessCpuSeconds(pid_t pid);

// The value of one series ("name" or "name{labels}") in Prometheus text; 0 if absent.
double MetricValue(const std::string& text, const std::string& series);

// The number in field `field` of /proc/<pid>/status as written there (kB for VmRSS and VmHWM,
// a count for Threads), or -1 when the field or the process is missing.
long long ProcessStatusValue(pid_t pid, const std::string& field);

// Open file descriptors of process `pid`: the entries of /proc/<pid>/fd (-1 if unreadable).
long long OpenFileCount(pid_t pid);

}  // namespace mm::testing
