#include "service_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <regex>
#include <stdexcept>

#include "http_post.h"
#include "test_database.h"

extern char** environ;

namespace mm::testing {

namespace {

// Under tests/topology/through_pgbouncer.sh: a service whose database is on the test server
// reaches it through that script's PgBouncer (transaction pooling) instead, with the direct
// URL as MM_DATABASE_LISTEN_URL in its `listen` mode. A URL to anything else (a proxy the
// test put in between) is left alone.
void RouteThroughPgBouncer(std::map<std::string, std::string>& env) {
  const char* bouncer = std::getenv("MM_TEST_PGBOUNCER_URL");
  auto url = env.find("MM_DATABASE_URL");
  if (bouncer == nullptr || url == env.end()) return;
  const std::string direct = url->second;
  const size_t slash = direct.rfind('/');
  if (slash == std::string::npos) return;
  const std::string dbname = direct.substr(slash + 1, direct.find('?', slash) - slash - 1);
  if (WithDatabase(AdminDatabaseUrl(), dbname) != direct) return;
  url->second = WithDatabase(bouncer, dbname);
  env.try_emplace("MM_DATABASE_POOL_MODE", "transaction");
  const char* mode = std::getenv("MM_TEST_PGBOUNCER_LISTEN");
  if (mode != nullptr && std::string(mode) == "listen") env.try_emplace("MM_DATABASE_LISTEN_URL", direct);
}

}  // namespace

std::unique_ptr<ServiceProcess> ServiceProcess::Start(Options options) {
  RouteThroughPgBouncer(options.env);
  options.env.try_emplace("MM_HTTP_LISTEN", "127.0.0.1:0");
  options.env.try_emplace("MM_GRPC_LISTEN", "127.0.0.1:0");
  // The "listening" line the harness reads is logged at info.
  options.env["MM_LOG_LEVEL"] = "info";
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::unique_ptr<ServiceProcess> p(new ServiceProcess());

  // Build argv/envp before fork: only async-signal-safe calls after it.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "MM_", 3) != 0) env_strings.emplace_back(*e);  // no stray MM_* leaks in
  }
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string serve = "serve";
  char* argv[] = {options.binary.data(), serve.data(), nullptr};

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(fds[1], STDERR_FILENO);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execve(argv[0], argv, envp.data());
    _exit(127);
  }
  close(fds[1]);
  p->pid_ = pid;
  p->reader_ = std::thread([raw = p.get(), fd = fds[0]] { raw->ReadLoop(fd); });

  // The "listening" line carries the ports chosen for port 0.
  static const std::regex kListening(R"re("msg":"listening","http_port":"(\d+)","grpc_port":"(\d+)")re");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch m;
    std::string log = p->Log();
    if (std::regex_search(log, m, kListening)) {
      p->http_port_ = std::stoi(m[1]);
      p->grpc_port_ = std::stoi(m[2]);
      break;
    }
    if (p->Wait(std::chrono::milliseconds(0)) != -1 || p->exited_) {
      throw std::runtime_error("membership-mirror exited at start:\n" + p->Log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (p->grpc_port_ == 0) throw std::runtime_error("membership-mirror did not listen:\n" + p->Log());
  if (options.wait_ready && !p->WaitReadyStatus(200, std::chrono::seconds(20))) {
    throw std::runtime_error("membership-mirror did not become ready:\n" + p->Log());
  }
  return p;
}

void ServiceProcess::ReadLoop(int fd) {
  char buf[4096];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    std::lock_guard lock(mu_);
    log_.append(buf, static_cast<size_t>(n));
  }
  close(fd);
}

ServiceProcess::~ServiceProcess() {
  if (!exited_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
  if (reader_.joinable()) reader_.join();
}

void ServiceProcess::Signal(int sig) { kill(pid_, sig); }

int ServiceProcess::Wait(std::chrono::milliseconds timeout) {
  if (exited_) return exit_code_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      return exit_code_;
    }
    if (timeout.count() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  return -1;
}

std::string ServiceProcess::Log() const {
  std::lock_guard lock(mu_);
  return log_;
}

bool ServiceProcess::WaitReadyStatus(int status, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto reply = client::HttpRequest("GET", http_url() + "/readyz", {}, "", std::chrono::seconds(2));
    if (reply.ok() && reply->status == status) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after the last ')'.
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long long ProcessStatusValue(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      std::istringstream s(line.substr(field.size() + 1));
      long long value = -1;
      s >> value;
      return value;
    }
  }
  return -1;
}

long long OpenFileCount(pid_t pid) {
  std::error_code ec;
  long long n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

std::string ServiceProcess::MetricsText() const {
  auto reply = client::HttpRequest("GET", http_url() + "/metrics", {}, "");
  return reply.ok() && reply->status == 200 ? reply->body : "";
}

double MetricValue(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::strtod(text.c_str() + at + series.size() + 2, nullptr);
}

}  // namespace mm::testing
