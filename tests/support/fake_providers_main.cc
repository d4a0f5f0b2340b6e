// fake-providers: the fake Huudis, MonoCloud and FusionAuth APIs (fake_huudis.h,
// fake_monocloud.h, fake_fusionauth.h) as one process, for the local demo (scripts/setup) and
// for poking the pull sources by hand.
//
//   fake-providers --state FILE [--huudis-port P] [--monocloud-port P] [--fusionauth-port P]
//                  [--token-dir DIR]
//
// Listens on 127.0.0.1 (port 0, the default: any free port) and prints one JSON line per
// provider on stdout once it listens, e.g.
//   {"provider":"huudis","base_url":"http://127.0.0.1:43121/api"}
// The state FILE (tests/support/fake_providers.sample.json is a complete example) holds each
// provider's credential and data, in the field names each provider writes:
//   {"huudis": {"token", "path_prefix"?, "page_shape"?: "envelope"|"items",
//               "workspaces": [{"id", "name"?, "members": [<iam user>], "endUsers": [<end user>],
//                               "audit": [<CLI-shape entry, plus "shape"?: "cli"|"go">]}]},
//    "monocloud": {"api_key", "users": [{user_id, email, name, disabled, creation_time,
//                  last_updated}], "groups": [{"group_id", "name", "members": [user ids]}]},
//    "fusionauth": {"api_key", "tenants": [ids; the first is the default],
//                   "users": [{id, tenantId, email, fullName, active, insertInstant,
//                              lastUpdateInstant, registrations?, memberships?}]}}
// With --token-dir, DIR/huudis.token, DIR/monocloud.api-key and DIR/fusionauth.api-key, when
// they exist, replace the file's credentials; a credential in neither is generated and written
// there (mode 0600); without --token-dir the file must give all three. Admin endpoints under
// /_fake/ (listed in each fake's header) script the demo from a shell, without credentials.
// SIGTERM or SIGINT: exits 0.
// Exit code 2: bad arguments or state file; 1: cannot listen.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>  // before asio: its awaitable.hpp uses std::exchange without including it

#include <array>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/time.h"
#include "fake_fusionauth.h"
#include "fake_huudis.h"
#include "fake_monocloud.h"

namespace {

using nlohmann::json;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace mm::testing;

constexpr char kUsage[] =
    "usage: fake-providers --state FILE [--huudis-port P] [--monocloud-port P] [--fusionauth-port P]\n"
    "                      [--token-dir DIR]\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The fakes listen on port 0 (FakeHttpServer picks it); a fixed port asked for on the command
// line is a plain TCP relay in front of the fake's port, so the fake itself stays unchanged.
class Relay {
 public:
  Relay(net::io_context& ioc, int listen_port, int target_port)
      : acceptor_(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(listen_port))),
        target_(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(target_port)) {
    Accept();
  }
  int port() const { return acceptor_.local_endpoint().port(); }

 private:
  struct Pair : std::enable_shared_from_this<Pair> {
    explicit Pair(tcp::socket client) : a(std::move(client)), b(a.get_executor()) {}
    void Pump(tcp::socket& from, tcp::socket& to, std::array<char, 16384>& buffer) {
      from.async_read_some(net::buffer(buffer), [self = shared_from_this(), &from, &to, &buffer](
                                                    boost::system::error_code ec, size_t n) {
        if (ec) return self->Close();
        net::async_write(to, net::buffer(buffer.data(), n),
                         [self, &from, &to, &buffer](boost::system::error_code write_ec, size_t) {
                           if (write_ec) return self->Close();
                           self->Pump(from, to, buffer);
                         });
      });
    }
    void Close() {
      boost::system::error_code ignored;
      a.shutdown(tcp::socket::shutdown_both, ignored);
      b.shutdown(tcp::socket::shutdown_both, ignored);
      a.close(ignored);
      b.close(ignored);
    }
    tcp::socket a, b;
    std::array<char, 16384> a_to_b{}, b_to_a{};
  };

  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket client) {
      if (ec == net::error::operation_aborted) return;
      if (!ec) {
        auto pair = std::make_shared<Pair>(std::move(client));
        pair->b.async_connect(target_, [pair](boost::system::error_code connect_ec) {
          if (connect_ec) return pair->Close();
          pair->Pump(pair->a, pair->b, pair->a_to_b);
          pair->Pump(pair->b, pair->a, pair->b_to_a);
        });
      }
      Accept();
    });
  }

  tcp::acceptor acceptor_;
  tcp::endpoint target_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Trim(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  return text.substr(start);
}

// The credential: DIR/<file> if it exists, else the state file's, else a new one written to
// DIR/<file>.
std::string Credential(const json& section, const char* key, const std::optional<std::string>& token_dir,
                       const char* file, const char* generated_prefix) {
  if (token_dir) {
    std::string path = *token_dir + "/" + file;
    if (std::ifstream in(path); in) {
      std::string value = Trim(ReadFile(path));
      if (value.empty()) throw UsageError(path + " is empty");
      return value;
    }
  }
  if (section.contains(key)) {
    if (!section[key].is_string() || section[key].get<std::string>().empty()) {
      throw UsageError(std::string(key) + " must be a non-empty string");
    }
    return section[key].get<std::string>();
  }
  if (!token_dir) throw UsageError(std::string("no ") + key + " in the state file and no --token-dir");
  std::string value = generated_prefix + mm::RandomHex(24);
  std::string path = *token_dir + "/" + file;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ::write(fd, value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    if (fd >= 0) ::close(fd);
    throw UsageError("cannot write " + path);
  }
  ::close(fd);
  return value;
}

// --- State file readers: field names as the providers write them. ---

std::string Str(const json& object, const char* key, const std::string& fallback = "") {
  if (!object.contains(key) || object[key].is_null()) return fallback;
  if (!object[key].is_string()) throw UsageError(std::string(key) + " must be a string");
  return object[key].get<std::string>();
}

bool Bool(const json& object, const char* key, bool fallback) {
  if (!object.contains(key)) return fallback;
  if (!object[key].is_boolean()) throw UsageError(std::string(key) + " must be true or false");
  return object[key].get<bool>();
}

int64_t Int(const json& object, const char* key, int64_t fallback) {
  if (!object.contains(key)) return fallback;
  if (!object[key].is_number_integer()) throw UsageError(std::string(key) + " must be an integer");
  return object[key].get<int64_t>();
}

mm::TimePoint Time(const json& object, const char* key) {
  std::optional<mm::TimePoint> t = mm::ParseRfc3339(Str(object, key));
  if (!t) throw UsageError(std::string(key) + " must be an RFC 3339 time");
  return *t;
}

std::optional<mm::TimePoint> OptionalTime(const json& object, const char* key) {
  if (!object.contains(key) || object[key].is_null()) return std::nullopt;
  return Time(object, key);
}

const json& Array(const json& object, const char* key) {
  static const json kEmpty = json::array();
  if (!object.contains(key)) return kEmpty;
  if (!object[key].is_array()) throw UsageError(std::string(key) + " must be an array");
  return object[key];
}

void LoadHuudis(FakeHuudis& huudis, const json& section) {
  for (const json& w : Array(section, "workspaces")) {
    std::string account = Str(w, "id");
    if (account.empty()) throw UsageError("huudis workspace without id");
    huudis.AddWorkspace(account, Str(w, "name"));
    for (const json& m : Array(w, "members")) {
      HuudisMember member;
      member.id = Str(m, "id");
      member.email = Str(m, "email");
      member.name = Str(m, "name");
      member.role = Str(m, "role", "member");
      member.joined_at = Time(m, "joinedAt");
      member.email_verified = Bool(m, "emailVerified", true);
      member.last_login_at = OptionalTime(m, "lastLoginAt");
      member.created_at = OptionalTime(m, "createdAt");
      member.is_you = Bool(m, "isYou", false);
      for (const json& g : Array(m, "groups")) member.groups.push_back({Str(g, "id"), Str(g, "name")});
      huudis.UpsertMember(account, std::move(member));
    }
    for (const json& u : Array(w, "endUsers")) {
      HuudisEndUser user;
      user.id = Str(u, "id");
      user.email = Str(u, "email");
      user.name = Str(u, "name");
      user.disabled = Bool(u, "disabled", false);
      user.first_sign_in_at = Time(u, "firstSignInAt");
      user.email_verified = Bool(u, "emailVerified", true);
      user.created_at = OptionalTime(u, "createdAt");
      user.last_login_at = OptionalTime(u, "lastLoginAt");
      user.client_count = static_cast<int>(Int(u, "clientCount", 1));
      huudis.UpsertEndUser(account, std::move(user));
    }
    for (const json& a : Array(w, "audit")) {
      HuudisAuditEntry entry;
      entry.id = Str(a, "id");
      entry.event_type = Str(a, "eventType");
      entry.outcome = Str(a, "outcome", "success");
      entry.created_at = Time(a, "createdAt");
      entry.ip_address = Str(a, "ipAddress", entry.ip_address);
      if (a.contains("metadata")) entry.metadata = a["metadata"];
      entry.actor = Str(a, "actor");
      entry.resource = Str(a, "resource");
      std::string shape = Str(a, "shape", "cli");
      if (shape != "cli" && shape != "go") throw UsageError("audit shape must be cli or go");
      entry.shape = shape == "go" ? HuudisAuditShape::kGo : HuudisAuditShape::kCli;
      huudis.AddAuditEntry(account, std::move(entry));
    }
  }
}

void LoadMonoCloud(FakeMonoCloud& monocloud, const json& section) {
  for (const json& u : Array(section, "users")) {
    MonoCloudUser user;
    user.user_id = Str(u, "user_id");
    user.email = Str(u, "email");
    user.name = Str(u, "name");
    user.disabled = Bool(u, "disabled", false);
    user.creation_time = Int(u, "creation_time", 0);
    user.last_updated = Int(u, "last_updated", 0);
    monocloud.UpsertUser(std::move(user));
  }
  for (const json& g : Array(section, "groups")) {
    std::string id = Str(g, "group_id");
    if (id.empty()) throw UsageError("monocloud group without group_id");
    monocloud.AddGroup(id, Str(g, "name"));
    for (const json& member : Array(g, "members")) {
      if (!member.is_string() || !monocloud.AssignToGroup(id, member.get<std::string>())) {
        throw UsageError("monocloud group " + id + ": members must name users of the file");
      }
    }
  }
}

void LoadFusionAuth(FakeFusionAuth& fusionauth, const json& section) {
  for (const json& t : Array(section, "tenants")) {
    if (!t.is_string()) throw UsageError("fusionauth tenants must be strings");
    fusionauth.AddTenant(t.get<std::string>());
  }
  for (const json& u : Array(section, "users")) {
    FusionAuthUser user;
    user.id = Str(u, "id");
    user.tenant_id = Str(u, "tenantId");
    user.email = Str(u, "email");
    user.username = Str(u, "username");
    user.full_name = Str(u, "fullName");
    user.active = Bool(u, "active", true);
    user.verified = Bool(u, "verified", true);
    user.insert_instant = Int(u, "insertInstant", 0);
    user.last_update_instant = Int(u, "lastUpdateInstant", 0);
    if (u.contains("registrations")) user.registrations = u["registrations"];
    if (u.contains("memberships")) user.memberships = u["memberships"];
    fusionauth.UpsertUser(std::move(user));
  }
}

const json& Section(const json& state, const char* name) {
  static const json kEmpty = json::object();
  if (!state.contains(name)) return kEmpty;
  if (!state[name].is_object()) throw UsageError(std::string(name) + " must be an object");
  return state[name];
}

int ParsePort(const std::string& text) {
  std::optional<int> port = ParseSmallInt(text);
  if (!port || *port > 65535) throw UsageError("not a port: " + text);
  return *port;
}

int Run(int argc, char** argv) {
  int huudis_port = 0, monocloud_port = 0, fusionauth_port = 0;
  std::string state_path;
  std::optional<std::string> token_dir;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (i + 1 >= argc) throw UsageError("missing value after " + arg);
    std::string value = argv[++i];
    if (arg == "--huudis-port") {
      huudis_port = ParsePort(value);
    } else if (arg == "--monocloud-port") {
      monocloud_port = ParsePort(value);
    } else if (arg == "--fusionauth-port") {
      fusionauth_port = ParsePort(value);
    } else if (arg == "--state") {
      state_path = value;
    } else if (arg == "--token-dir") {
      token_dir = value;
    } else {
      throw UsageError("unknown argument " + arg);
    }
  }
  if (state_path.empty()) throw UsageError("--state is required");
  json state = json::parse(ReadFile(state_path), nullptr, false);
  if (!state.is_object()) throw UsageError(state_path + " is not a JSON object");
  const json& huudis_state = Section(state, "huudis");
  const json& monocloud_state = Section(state, "monocloud");
  const json& fusionauth_state = Section(state, "fusionauth");

  // Every thread started from here on inherits the blocked signals; the main thread takes them
  // with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  FakeHuudis::Options huudis_options;
  huudis_options.token = Credential(huudis_state, "token", token_dir, "huudis.token", "hud_");
  huudis_options.path_prefix = Str(huudis_state, "path_prefix", "/api");
  std::string shape = Str(huudis_state, "page_shape", "envelope");
  if (shape != "envelope" && shape != "items") throw UsageError("huudis page_shape must be envelope or items");
  huudis_options.page_shape = shape == "items" ? HuudisPageShape::kItems : HuudisPageShape::kEnvelope;
  huudis_options.admin_endpoints = true;
  FakeMonoCloud::Options monocloud_options;
  monocloud_options.api_key = Credential(monocloud_state, "api_key", token_dir, "monocloud.api-key", "mc_");
  monocloud_options.admin_endpoints = true;
  FakeFusionAuth::Options fusionauth_options;
  fusionauth_options.api_key = Credential(fusionauth_state, "api_key", token_dir, "fusionauth.api-key", "fa_");
  const json& tenants = Array(fusionauth_state, "tenants");
  if (!tenants.empty() && tenants[0].is_string()) fusionauth_options.tenant_id = tenants[0].get<std::string>();
  fusionauth_options.admin_endpoints = true;

  std::unique_ptr<FakeHuudis> huudis;
  std::unique_ptr<FakeMonoCloud> monocloud;
  std::unique_ptr<FakeFusionAuth> fusionauth;
  try {
    huudis = std::make_unique<FakeHuudis>(huudis_options);
    monocloud = std::make_unique<FakeMonoCloud>(monocloud_options);
    fusionauth = std::make_unique<FakeFusionAuth>(fusionauth_options);
  } catch (const std::runtime_error& e) {
    std::cerr << "fake-providers: cannot listen: " << e.what() << "\n";
    return 1;
  }
  try {
    LoadHuudis(*huudis, huudis_state);
    LoadMonoCloud(*monocloud, monocloud_state);
    LoadFusionAuth(*fusionauth, fusionauth_state);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }

  net::io_context ioc;
  std::vector<std::unique_ptr<Relay>> relays;
  auto listen = [&](int wanted, int fake_port) {
    if (wanted == 0) return fake_port;
    try {
      relays.push_back(std::make_unique<Relay>(ioc, wanted, fake_port));
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error("127.0.0.1:" + std::to_string(wanted) + ": " + e.what());
    }
    return relays.back()->port();
  };
  int huudis_listen = 0, monocloud_listen = 0, fusionauth_listen = 0;
  try {
    huudis_listen = listen(huudis_port, huudis->port());
    monocloud_listen = listen(monocloud_port, monocloud->port());
    fusionauth_listen = listen(fusionauth_port, fusionauth->port());
  } catch (const std::runtime_error& e) {
    std::cerr << "fake-providers: cannot listen: " << e.what() << "\n";
    return 1;
  }
  std::thread relay_thread;
  if (!relays.empty()) relay_thread = std::thread([&ioc] { ioc.run(); });

  auto url = [](int port) { return "http://127.0.0.1:" + std::to_string(port); };
  std::cout << json{{"provider", "huudis"}, {"base_url", url(huudis_listen) + huudis_options.path_prefix}}.dump()
            << "\n"
            << json{{"provider", "monocloud"}, {"base_url", url(monocloud_listen)}}.dump() << "\n"
            << json{{"provider", "fusionauth"}, {"base_url", url(fusionauth_listen)}}.dump() << std::endl;

  int received = 0;
  sigwait(&signals, &received);
  std::cerr << "fake-providers: signal " << received << ", stopping\n";
  ioc.stop();
  if (relay_thread.joinable()) relay_thread.join();
  relays.clear();
  huudis.reset();
  monocloud.reset();
  fusionauth.reset();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "fake-providers: " << e.what() << "\n" << kUsage;
    return 2;
  }
}
