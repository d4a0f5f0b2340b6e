#include "pg_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "store/migrator.h"

extern char** environ;

namespace mm::testing {
namespace {

using namespace std::chrono_literals;

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string PgBin(const std::string& program) {
  return EnvOr("MM_PG_BIN", "/usr/lib/postgresql/15/bin") + "/" + program;
}

// Who runs the servers: `postgres` when we are root (PostgreSQL refuses root), else ourselves.
struct Owner {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
};
const Owner& ServerOwner() {
  static const Owner owner = [] {
    Owner o;
    o.uid = geteuid();
    o.gid = getegid();
    if (o.uid != 0) return o;
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) throw std::runtime_error("running as root but there is no `postgres` user to run PostgreSQL");
    o.switch_user = true;
    o.uid = pw->pw_uid;
    o.gid = pw->pw_gid;
    return o;
  }();
  return owner;
}

void ChownToOwner(const std::string& path) {
  const Owner& o = ServerOwner();
  if (o.switch_user && chown(path.c_str(), o.uid, o.gid) != 0) {
    throw std::runtime_error("chown " + path + ": " + std::strerror(errno));
  }
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  ChownToOwner(tmpl);
  return tmpl;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string Tail(const std::string& text, size_t n = 4000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

// A port nothing listens on now: bind port 0 and read what the kernel chose. Ports handed out
// before are not handed out again by this process (a stopped server keeps its port).
int FreePort() {
  static std::mutex mu;
  static std::set<int> handed_out;
  std::lock_guard lock(mu);
  for (int attempt = 0; attempt < 50; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    int port = -1;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    close(fd);
    if (port > 0 && handed_out.insert(port).second) return port;
  }
  throw std::runtime_error("no free port");
}

bool PortAccepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// Starts `argv` as the server owner, stdin from /dev/null, stdout and stderr into `out_path`
// (appended), in directory `cwd`, with no descriptor of ours but those (a postmaster started by
// pg_ctl must not hold the test's sockets) and no PG* variables (they would redirect libpq).
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path, const std::string& cwd) {
  std::vector<std::string> args = argv;
  std::vector<char*> c_argv;
  for (std::string& a : args) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "PG", 2) != 0) env_strings.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  const Owner& owner = ServerOwner();

  int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) throw std::runtime_error("open " + out_path + ": " + std::strerror(errno));
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = fork();
  if (pid < 0) {
    close(out);
    close(in);
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    close_range(3, ~0U, 0);
    if (owner.switch_user) {
      if (setgroups(0, nullptr) != 0 || setgid(owner.gid) != 0 || setuid(owner.uid) != 0) _exit(126);
    }
    if (chdir(cwd.c_str()) != 0) _exit(126);
    execve(c_argv[0], c_argv.data(), envp.data());
    _exit(127);
  }
  close(out);
  close(in);
  return pid;
}

// Runs `argv` to completion (see Spawn); throws with its output unless it exits 0 in time.
std::string Run(const std::vector<std::string>& argv, const std::string& dir,
                std::chrono::milliseconds timeout = 120s) {
  const std::string out_path = dir + "/command.out";
  std::filesystem::remove(out_path);
  pid_t pid = Spawn(argv, out_path, dir);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      throw std::runtime_error(argv[0] + " timed out:\n" + Tail(ReadWholeFile(out_path)));
    }
    std::this_thread::sleep_for(10ms);
  }
  std::string output = ReadWholeFile(out_path);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string command;
    for (const std::string& a : argv) command += a + " ";
    throw std::runtime_error(command + "failed (status " + std::to_string(status) + "):\n" + Tail(output));
  }
  return output;
}

void AppendFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::app);
  out << text;
  if (!out) throw std::runtime_error("cannot append to " + path);
}

void WriteFile(const std::string& path, const std::string& text) {
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
  }
  ChownToOwner(path);
}

std::string Quote(const std::string& value) {  // a postgresql.conf string literal
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

template <typename Pred>
bool PollUntil(std::chrono::milliseconds timeout, Pred done) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (done()) return true;
    } catch (const std::exception&) {
      // not reachable yet
    }
    std::this_thread::sleep_for(50ms);
  }
  try {
    return done();
  } catch (const std::exception&) {
    return false;
  }
}

std::string LocalUrl(const std::string& host, int port, const std::string& dbname) {
  return "postgresql://postgres@" + host + ":" + std::to_string(port) + "/" + dbname;
}

pqxx::result QueryAt(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url + "?connect_timeout=5");
  pqxx::nontransaction txn(conn);
  return txn.exec(sql);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// PgServer

void PgServer::InitDirectory() {
  dir_ = MakeTempDir("mm-pg");
  data_dir_ = dir_ + "/data";
  const std::string run = dir_ + "/run";
  if (mkdir(run.c_str(), 0700) != 0) throw std::runtime_error("mkdir " + run + " failed");
  ChownToOwner(run);
  port_ = FreePort();
}

std::unique_ptr<PgServer> PgServer::StartPrimary(Options options) {
  std::unique_ptr<PgServer> server(new PgServer());
  server->database_ = options.database;
  server->InitDirectory();
  Run({PgBin("initdb"), "-D", server->data_dir_, "-U", "postgres", "-A", "trust", "-E", "UTF8",
       "--locale=C.UTF-8", "--no-sync"},
      server->dir_);
  // Shared by every standby made from this primary (pg_basebackup copies postgresql.conf);
  // the port and socket directory are per server, on the command line (Start).
  AppendFile(server->data_dir_ + "/postgresql.conf",
             "\n# tests/support/pg_cluster.cc\n"
             "listen_addresses = '127.0.0.1'\n"
             "max_connections = " + std::to_string(options.max_connections) + "\n"
             "shared_buffers = '32MB'\n"
             "wal_level = replica\n"
             "max_wal_senders = 10\n"
             "wal_keep_size = '256MB'\n"
             "hot_standby = on\n"
             "fsync = on\n"
             "synchronous_commit = on\n"
             "log_line_prefix = '%m [%p] %a '\n");
  server->Start();
  if (!options.database.empty()) {
    server->Query("CREATE DATABASE " + options.database, "postgres");
    if (options.migrate) {
      auto migrations = store::PrepareMigrations(store::EmbeddedMigrationSources());
      if (!migrations.ok()) throw std::runtime_error(std::string(migrations.status().message()));
      auto report = store::ApplyMigrations(server->url(), *migrations);
      if (!report.ok()) throw std::runtime_error(std::string(report.status().message()));
    }
  }
  if (!options.synchronous_standby_names.empty()) {
    server->Query("ALTER SYSTEM SET synchronous_standby_names = " + Quote(options.synchronous_standby_names),
                  "postgres");
    server->Query("SELECT pg_reload_conf()", "postgres");
  }
  return server;
}

std::unique_ptr<PgServer> PgServer::StartStandby(PgServer& primary, StandbyOptions options) {
  std::unique_ptr<PgServer> server(new PgServer());
  server->database_ = primary.database_;
  server->InitDirectory();
  Run({PgBin("pg_basebackup"), "-h", primary.host(), "-p", std::to_string(primary.port()), "-U", "postgres",
       "-D", server->data_dir_, "-R", "-X", "stream", "-c", "fast", "--no-sync"},
      server->dir_);
  server->upstream_host_ = primary.host();
  server->upstream_port_ = primary.port();
  // Overrides the primary_conninfo that -R wrote: the same, with our application_name. A
  // copied synchronous_standby_names would make the standby, once promoted, wait on every
  // commit for a standby of its own that does not exist: it starts asynchronous.
  server->AppendConfig("primary_conninfo = " +
                       Quote("host=" + primary.host() + " port=" + std::to_string(primary.port()) +
                             " user=postgres application_name=" + options.application_name) +
                       "\nsynchronous_standby_names = ''\n");
  server->Start();
  if (options.synchronous) {
    if (primary.Scalar("SHOW synchronous_standby_names", "postgres").empty()) {
      primary.Query("ALTER SYSTEM SET synchronous_standby_names = " + Quote("\"" + options.application_name + "\""),
                    "postgres");
      primary.Query("SELECT pg_reload_conf()", "postgres");
    }
    primary.WaitSyncStandby(options.application_name, 30s);
  } else {
    // Streaming, at least: the standby is attached before the test goes on.
    if (!PollUntil(30s, [&] {
          return primary.Scalar("SELECT count(*) FROM pg_stat_replication WHERE application_name = '" +
                                    options.application_name + "' AND state = 'streaming'",
                                "postgres") == "1";
        })) {
      throw std::runtime_error("standby " + options.application_name + " did not start streaming:\n" +
                               Tail(server->Log()));
    }
  }
  return server;
}

void PgServer::WaitSyncStandby(const std::string& application_name, std::chrono::milliseconds timeout) const {
  if (!PollUntil(timeout, [&] {
        return Scalar("SELECT sync_state FROM pg_stat_replication WHERE application_name = '" + application_name + "'",
                      "postgres") == "sync";
      })) {
    throw std::runtime_error("standby " + application_name + " did not become synchronous:\n" + Tail(Log()));
  }
}

PgServer::~PgServer() {
  if (!data_dir_.empty() && std::filesystem::exists(data_dir_ + "/postmaster.pid")) {
    try {
      Stop(StopMode::kImmediate);
    } catch (const std::exception&) {
      // The directory goes anyway; a leftover server dies when its data directory is gone.
    }
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::string PgServer::url(const std::string& dbname) const {
  return LocalUrl(host(), port_, dbname.empty() ? database_ : dbname);
}

pqxx::result PgServer::Query(const std::string& sql, const std::string& dbname) const {
  return QueryAt(url(dbname), sql);
}

std::string PgServer::Scalar(const std::string& sql, const std::string& dbname) const {
  pqxx::result r = Query(sql, dbname);
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].as<std::string>();
}

bool PgServer::InRecovery() const { return Scalar("SELECT pg_is_in_recovery()", "postgres") == "t"; }

void PgServer::WaitCaughtUp(std::chrono::milliseconds timeout) const {
  if (upstream_port_ == 0) throw std::runtime_error("WaitCaughtUp on a server that follows nobody");
  const std::string lsn =
      QueryAt(LocalUrl(upstream_host_, upstream_port_, "postgres"), "SELECT pg_current_wal_lsn()")[0][0].as<std::string>();
  if (!PollUntil(timeout, [&] {
        return Scalar("SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'::pg_lsn", "postgres") == "t";
      })) {
    throw std::runtime_error("standby on port " + std::to_string(port_) + " did not replay up to " + lsn + ":\n" +
                             Tail(Log()));
  }
}

void PgServer::Promote(std::chrono::milliseconds timeout) {
  Run({PgBin("pg_ctl"), "-D", data_dir_, "-w", "-t", "60", "promote"}, dir_);
  if (!PollUntil(timeout, [&] { return !InRecovery(); })) {
    throw std::runtime_error("server on port " + std::to_string(port_) + " still in recovery after promote:\n" +
                             Tail(Log()));
  }
  upstream_port_ = 0;
}

void PgServer::Stop(StopMode mode) {
  Run({PgBin("pg_ctl"), "-D", data_dir_, "-m", mode == StopMode::kFast ? "fast" : "immediate", "-w", "-t", "60",
       "stop"},
      dir_);
  running_ = false;
}

void PgServer::Start() {
  Run({PgBin("pg_ctl"), "-D", data_dir_, "-l", dir_ + "/postgres.log", "-w", "-t", "60", "-o",
       "-p " + std::to_string(port_) + " -k " + dir_ + "/run", "start"},
      dir_);
  running_ = true;
}

void PgServer::AppendConfig(const std::string& text) const {
  AppendFile(data_dir_ + "/postgresql.auto.conf", text);
}

void PgServer::RestartAsStandbyOf(const PgServer& primary, StandbyOptions options) {
  if (running_) Stop(StopMode::kFast);
  WriteFile(data_dir_ + "/standby.signal", "");
  AppendConfig("primary_conninfo = " +
               Quote("host=" + primary.host() + " port=" + std::to_string(primary.port()) +
                     " user=postgres application_name=" + options.application_name) +
               "\nrecovery_target_timeline = 'latest'\n");
  upstream_host_ = primary.host();
  upstream_port_ = primary.port();
  Start();
}

void PgServer::SetDefaultReadOnly(bool read_only) {
  pqxx::connection conn(url("postgres") + "?connect_timeout=5");
  pqxx::nontransaction txn(conn);
  txn.exec("SET default_transaction_read_only = off");  // this session may change it either way
  txn.exec(std::string("ALTER SYSTEM SET default_transaction_read_only = ") + (read_only ? "on" : "off"));
  txn.exec("SELECT pg_reload_conf()");
}

std::string PgServer::Log() const { return ReadWholeFile(dir_ + "/postgres.log"); }

// ---------------------------------------------------------------------------------------------
// PgBouncerProcess

std::unique_ptr<PgBouncerProcess> PgBouncerProcess::Start(Options options) {
  std::unique_ptr<PgBouncerProcess> p(new PgBouncerProcess());
  p->options_ = std::move(options);
  p->dir_ = MakeTempDir("mm-pgbouncer");
  p->port_ = FreePort();
  WriteFile(p->dir_ + "/userlist.txt", "\"postgres\" \"\"\n");
  p->WriteConfig();
  p->pid_ = Spawn({EnvOr("MM_PGBOUNCER", "/usr/sbin/pgbouncer"), p->dir_ + "/pgbouncer.ini"},
                  p->dir_ + "/pgbouncer.log", p->dir_);
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!PortAccepts(p->port_)) {
    int status = 0;
    if (waitpid(p->pid_, &status, WNOHANG) == p->pid_) {
      p->pid_ = -1;
      throw std::runtime_error("pgbouncer exited at start:\n" + Tail(p->Log()));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("pgbouncer did not listen on " + std::to_string(p->port_) + ":\n" + Tail(p->Log()));
    }
    std::this_thread::sleep_for(20ms);
  }
  return p;
}

void PgBouncerProcess::WriteConfig() const {
  std::ostringstream ini;
  ini << "; tests/support/pg_cluster.cc\n"
      << "[databases]\n"
      << options_.dbname << " = host=" << options_.target_host << " port=" << options_.target_port
      << " dbname=" << options_.dbname << "\n"
      << "[pgbouncer]\n"
      << "listen_addr = 127.0.0.1\n"
      << "listen_port = " << port_ << "\n"
      << "unix_socket_dir = " << dir_ << "\n"
      << "pidfile = " << dir_ << "/pgbouncer.pid\n"
      << "auth_type = trust\n"
      << "auth_file = " << dir_ << "/userlist.txt\n"
      << "admin_users = postgres\n"
      << "pool_mode = " << options_.pool_mode << "\n"
      << "default_pool_size = " << options_.default_pool_size << "\n"
      << "max_client_conn = " << options_.max_client_conn << "\n"
      << "ignore_startup_parameters = extra_float_digits\n";
  WriteFile(dir_ + "/pgbouncer.ini", ini.str());
}

PgBouncerProcess::~PgBouncerProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + 5s;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) != pid_) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::string PgBouncerProcess::url(const std::string& dbname) const {
  return LocalUrl("127.0.0.1", port_, dbname.empty() ? options_.dbname : dbname);
}

std::string PgBouncerProcess::Admin(const std::string& command) const {
  return Run({PgBin("psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", url("pgbouncer") + "?connect_timeout=5", "-c",
              command},
             dir_, 30s);
}

void PgBouncerProcess::Pause() { Admin("PAUSE"); }
void PgBouncerProcess::Resume() { Admin("RESUME"); }

void PgBouncerProcess::Retarget(const std::string& host, int port) {
  options_.target_host = host;
  options_.target_port = port;
  WriteConfig();
  Admin("RELOAD");
}

std::string PgBouncerProcess::Log() const { return ReadWholeFile(dir_ + "/pgbouncer.log"); }

}  // namespace mm::testing
