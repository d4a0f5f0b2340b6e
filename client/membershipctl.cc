// membershipctl: the command-line client of membership-mirror.
//
// Exit codes: 0 success (for is-active: the user is active); 1 the answer is "no" (is-active:
// not active; send-webhook: a non-2xx answer); 2 usage error; 3 the call failed (unreachable,
// unauthenticated, ...).

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "adapters/huudis_signature.h"
#include "common/time.h"
#include "http_post.h"
#include "membership_client.h"

namespace mm::ctl {
namespace {

namespace v1 = membership::v1;
constexpr int kOk = 0, kNo = 1, kUsage = 2, kFailed = 3;

// Flags as --name=value or --name value; positional arguments in order.
struct Args {
  std::map<std::string, std::string> flags;
  std::vector<std::string> positional;
  bool Has(const std::string& name) const { return flags.contains(name); }
  std::string Get(const std::string& name, const char* env, const std::string& fallback) const {
    if (auto it = flags.find(name); it != flags.end()) return it->second;
    if (env != nullptr) {
      if (const char* v = std::getenv(env); v != nullptr && *v != '\0') return v;
    }
    return fallback;
  }
};

// Flags that take no value.
bool IsSwitch(const std::string& name) { return name == "json" || name == "help"; }

bool Parse(const std::vector<std::string>& raw, Args& out, std::string& error) {
  for (size_t i = 0; i < raw.size(); ++i) {
    const std::string& a = raw[i];
    if (a == "-h") {
      out.flags["help"] = "1";
    } else if (a.rfind("--", 0) == 0) {
      std::string name = a.substr(2), value = "1";
      if (size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      } else if (!IsSwitch(name)) {
        if (i + 1 >= raw.size()) {
          error = "flag --" + name + " needs a value";
          return false;
        }
        value = raw[++i];
      }
      out.flags[name] = value;
    } else {
      out.positional.push_back(a);
    }
  }
  return true;
}

constexpr char kCommonHelp[] =
    "common flags:\n"
    "  --grpc HOST:PORT     gRPC address [MM_GRPC_ADDR] (default 127.0.0.1:50051)\n"
    "  --http URL           HTTP base URL [MM_HTTP_URL] (default http://127.0.0.1:8080)\n"
    "  --token TOKEN        bearer token [MM_TOKEN]; or --token-file FILE [MM_TOKEN_FILE]\n"
    "  --timeout-ms N       per-call deadline (default 5000)\n"
    "  --json               machine-readable output\n";

std::string Token(const Args& args) {
  std::string token = args.Get("token", "MM_TOKEN", "");
  if (!token.empty()) return token;
  std::string file = args.Get("token-file", "MM_TOKEN_FILE", "");
  if (file.empty()) return "";
  std::ifstream in(file);
  std::getline(in, token);
  return token;
}

client::MembershipClient Client(const Args& args) {
  return client::MembershipClient(
      {.target = args.Get("grpc", "MM_GRPC_ADDR", "127.0.0.1:50051"),
       .token = Token(args),
       .deadline = std::chrono::milliseconds(std::stol(args.Get("timeout-ms", nullptr, "5000")))});
}

int RpcFailed(const grpc::Status& s) {
  std::cerr << "membershipctl: " << s.error_code() << " " << s.error_message() << "\n";
  return kFailed;
}

std::string Time(const google::protobuf::Timestamp& t, bool set) {
  return set ? google::protobuf::util::TimeUtil::ToString(t) : "-";
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

int IsActive(const Args& args) {
  if (args.Has("help") || args.positional.size() != 1) {
    std::cout << "usage: membershipctl is-active USER_ID [--issued-at RFC3339] [--min-sequence N]\n"
                 "  Asks whether USER_ID may use the service now. --issued-at: the access token's\n"
                 "  issue time (a token from before the last disable is not active).\n"
                 "  --min-sequence: wait until the replica has applied this change-log position.\n"
                 "  Exit 0 if active, 1 if not.\n\n"
              << kCommonHelp;
    return args.Has("help") ? kOk : kUsage;
  }
  v1::IsUserActiveRequest request;
  request.set_user_id(args.positional[0]);
  if (args.Has("issued-at")) {
    auto t = ParseRfc3339(args.flags.at("issued-at"));
    if (!t) {
      std::cerr << "membershipctl: --issued-at is not an RFC 3339 time\n";
      return kUsage;
    }
    *request.mutable_token_issued_at() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(ToUnixMicros(*t));
  }
  if (args.Has("min-sequence")) request.set_min_sequence(std::stoull(args.flags.at("min-sequence")));
  v1::IsUserActiveResponse response;
  grpc::Status s = Client(args).IsUserActive(request, &response);
  if (!s.ok()) return RpcFailed(s);
  if (args.Has("json")) {
    std::cout << ToJson(response) << "\n";
  } else {
    std::cout << response.user_id() << ": " << (response.active() ? "active" : "NOT active") << " ("
              << v1::UserState_Name(response.state()) << ")\n"
              << "  state changed at:      " << Time(response.state_changed_at(), response.has_state_changed_at()) << "\n"
              << "  disabled reason:       " << (response.disabled_reason().empty() ? "-" : response.disabled_reason()) << "\n"
              << "  sessions valid after:  " << Time(response.sessions_valid_after(), response.has_sessions_valid_after()) << "\n"
              << "  sequence:              " << response.sequence() << " (fresh as of "
              << Time(response.fresh_as_of(), response.has_fresh_as_of()) << ")\n";
  }
  return response.active() ? kOk : kNo;
}

int SendWebhook(const Args& args) {
  if (args.Has("help") || args.positional.size() != 1) {
    std::cout << "usage: membershipctl send-webhook FILE [--secret S] [--timestamp UNIX_SECONDS]\n"
                 "  Signs FILE's bytes as Huudis does (Huudis-Signature: t=...,v1=HMAC-SHA256)\n"
                 "  and POSTs them to <http>/webhooks/huudis. The secret comes from --secret or\n"
                 "  MM_HUUDIS_SECRET (the first of MM_HUUDIS_SECRETS also works).\n"
                 "  Exit 0 on a 2xx answer, 1 otherwise.\n\n"
              << kCommonHelp;
    return args.Has("help") ? kOk : kUsage;
  }
  std::ifstream in(args.positional[0], std::ios::binary);
  if (!in) {
    std::cerr << "membershipctl: cannot read " << args.positional[0] << "\n";
    return kUsage;
  }
  std::stringstream content;
  content << in.rdbuf();
  std::string body = content.str();
  std::string secret = args.Get("secret", "MM_HUUDIS_SECRET", "");
  if (secret.empty()) {
    std::string all = args.Get("", "MM_HUUDIS_SECRETS", "");
    secret = all.substr(0, all.find(','));
  }
  if (secret.empty()) {
    std::cerr << "membershipctl: no signing secret (--secret or MM_HUUDIS_SECRET)\n";
    return kUsage;
  }
  int64_t t = args.Has("timestamp")
                  ? std::stoll(args.flags.at("timestamp"))
                  : std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
  std::string url = args.Get("http", "MM_HTTP_URL", "http://127.0.0.1:8080") + "/webhooks/huudis";
  auto reply = client::HttpRequest(
      "POST", url,
      {{"Content-Type", "application/json"},
       {"Huudis-Signature", adapters::MakeHuudisSignatureHeader(secret, t, body)}},
      body);
  if (!reply.ok()) {
    std::cerr << "membershipctl: " << reply.status().message() << "\n";
    return kFailed;
  }
  if (args.Has("json")) {
    std::cout << reply->body << "\n";
  } else {
    std::cout << "HTTP " << reply->status << " " << reply->body << "\n";
  }
  return reply->status >= 200 && reply->status < 300 ? kOk : kNo;
}

struct Command {
  const char* name;
  const char* summary;
  std::function<int(const Args&)> run;
};

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"is-active", "is a user active now? (UserService.IsUserActive)", IsActive},
      {"send-webhook", "sign a JSON file as Huudis does and POST it", SendWebhook},
  };
  return commands;
}

int Usage(std::ostream& out, int code) {
  out << "usage: membershipctl <command> [flags]   (membershipctl <command> --help)\n\ncommands:\n";
  for (const Command& c : Commands()) out << "  " << c.name << std::string(14 - std::string(c.name).size(), ' ') << c.summary << "\n";
  out << "\n" << kCommonHelp;
  return code;
}

}  // namespace
}  // namespace mm::ctl

int main(int argc, char** argv) {
  using namespace mm::ctl;
  std::vector<std::string> raw(argv + 1, argv + argc);
  if (raw.empty()) return Usage(std::cerr, kUsage);
  if (raw[0] == "--help" || raw[0] == "-h" || raw[0] == "help") return Usage(std::cout, kOk);
  for (const Command& c : Commands()) {
    if (raw[0] != c.name) continue;
    Args args;
    std::string error;
    if (!Parse({raw.begin() + 1, raw.end()}, args, error)) {
      std::cerr << "membershipctl: " << error << "\n";
      return kUsage;
    }
    try {
      return c.run(args);
    } catch (const std::exception& e) {  // std::stoi and friends on bad numbers
      std::cerr << "membershipctl: bad argument: " << e.what() << "\n";
      return kUsage;
    }
  }
  std::cerr << "membershipctl: unknown command '" << raw[0] << "'\n";
  return Usage(std::cerr, kUsage);
}
