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
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <nlohmann/json.hpp>

#include "adapters/fusionauth_adapter.h"
#include "adapters/huudis_signature.h"
#include "jwt/jws.h"
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
bool IsSwitch(const std::string& name) {
  return name == "json" || name == "help" || name == "all" || name == "dry-run" || name == "pending" ||
         name == "all-workspaces" || name == "csv" || name == "include-non-billable";
}

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
    "  --tls-ca FILE        TLS (gRPC, and https:// URLs), trusting this CA [MM_TLS_CA_FILE];\n"
    "  --tls-cert/--tls-key FILE  with a client certificate for mTLS [MM_TLS_CERT_FILE, MM_TLS_KEY_FILE]\n"
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
       .deadline = std::chrono::milliseconds(std::stol(args.Get("timeout-ms", nullptr, "5000"))),
       .tls_ca_file = args.Get("tls-ca", "MM_TLS_CA_FILE", ""),
       .tls_cert_file = args.Get("tls-cert", "MM_TLS_CERT_FILE", ""),
       .tls_key_file = args.Get("tls-key", "MM_TLS_KEY_FILE", "")});
}

// HTTP commands (send-webhook, disable, enable) use the same TLS flags for https:// URLs.
client::HttpClientOptions HttpOptions(const Args& args) {
  return {.timeout = std::chrono::milliseconds(std::stol(args.Get("timeout-ms", nullptr, "5000"))),
          .tls_ca_file = args.Get("tls-ca", "MM_TLS_CA_FILE", ""),
          .tls_cert_file = args.Get("tls-cert", "MM_TLS_CERT_FILE", ""),
          .tls_key_file = args.Get("tls-key", "MM_TLS_KEY_FILE", "")};
}

int RpcFailed(const grpc::Status& s) {
  // gRPC codes are absl::StatusCode values, and Abseil names them ("INVALID_ARGUMENT").
  std::cerr << "membershipctl: " << absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code()))
            << ": " << s.error_message() << "\n";
  // NOT_FOUND is an answer ("no such user"), not a failure of the call.
  return s.error_code() == grpc::StatusCode::NOT_FOUND ? kNo : kFailed;
}

// Prints usage and returns kOk for --help, kUsage otherwise.
int Help(const Args& args, const char* text) {
  std::cout << text << "\n" << kCommonHelp;
  return args.Has("help") ? kOk : kUsage;
}

std::string Or(const std::string& s) { return s.empty() ? "-" : s; }

// --min-sequence N of the database reads (0 when absent; a bad number is a usage error).
uint64_t MinSequence(const Args& args) {
  return args.Has("min-sequence") ? std::stoull(args.flags.at("min-sequence")) : 0;
}
constexpr char kMinSequenceHelp[] =
    "  --min-sequence N: an answer reflecting at least change-log position N (a webhook\n"
    "  answer's `sequence`): read from the read replica once it has replayed N, else from the\n"
    "  primary; DEADLINE_EXCEEDED if the replica does not reach N within the deadline.\n";

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

// The headers and path that sign `body` as `provider` does, or a usage error (exit code in `error`).
struct SignedDelivery {
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;
};

std::optional<SignedDelivery> SignAsHuudis(const Args& args, const std::string& body) {
  std::string secret = args.Get("secret", "MM_HUUDIS_SECRET", "");
  if (secret.empty()) {
    std::string all = args.Get("", "MM_HUUDIS_SECRETS", "");
    secret = all.substr(0, all.find(','));
  }
  if (secret.empty()) {
    std::cerr << "membershipctl: no signing secret (--secret or MM_HUUDIS_SECRET)\n";
    return std::nullopt;
  }
  int64_t t = args.Has("timestamp")
                  ? std::stoll(args.flags.at("timestamp"))
                  : std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
  return SignedDelivery{"/webhooks/huudis",
                        {{"Huudis-Signature", adapters::MakeHuudisSignatureHeader(secret, t, body)}}};
}

std::optional<SignedDelivery> SignAsFusionAuth(const Args& args, const std::string& body) {
  std::string private_key_file = args.Get("private-key", "", "");
  std::string alg_name = args.Get("alg", "", private_key_file.empty() ? "HS256" : "RS256");
  std::optional<jwt::Algorithm> alg = jwt::ParseAlgorithm(alg_name);
  if (!alg) {
    std::cerr << "membershipctl: unknown --alg " << alg_name << "\n";
    return std::nullopt;
  }
  std::string kid = args.Get("kid", "MM_FUSIONAUTH_KID", "");
  absl::StatusOr<jwt::SigningKey> key = absl::InvalidArgumentError("no key");
  if (!private_key_file.empty()) {
    std::ifstream in(private_key_file, std::ios::binary);
    if (!in) {
      std::cerr << "membershipctl: cannot read " << private_key_file << "\n";
      return std::nullopt;
    }
    std::stringstream pem;
    pem << in.rdbuf();
    key = jwt::SigningKey::FromPrivateKeyPem(*alg, kid, pem.str());
  } else {
    std::string secret = args.Get("secret", "MM_FUSIONAUTH_SECRET", "");
    if (secret.empty()) {
      // The first entry of the server's own setting, `secret` or `kid:secret`.
      std::string all = args.Get("", "MM_FUSIONAUTH_HMAC_SECRETS", "");
      secret = all.substr(0, all.find(','));
      if (size_t colon = secret.find(':'); colon != std::string::npos && colon > 0) {
        if (kid.empty()) kid = secret.substr(0, colon);
        secret = secret.substr(colon + 1);
      }
    }
    if (secret.empty()) {
      std::cerr << "membershipctl: no signing key (--secret, MM_FUSIONAUTH_SECRET or --private-key FILE)\n";
      return std::nullopt;
    }
    key = jwt::SigningKey::Hmac(*alg, kid, secret);
  }
  if (!key.ok()) {
    std::cerr << "membershipctl: " << key.status().message() << "\n";
    return std::nullopt;
  }
  absl::StatusOr<std::string> token = adapters::MakeFusionAuthSignatureHeader(*key, body);
  if (!token.ok()) {
    std::cerr << "membershipctl: " << token.status().message() << "\n";
    return std::nullopt;
  }
  return SignedDelivery{"/webhooks/fusionauth", {{std::string(adapters::FusionAuthAdapter::kSignatureHeader), *token}}};
}

int SendWebhook(const Args& args) {
  if (args.Has("help") || args.positional.size() != 1) {
    std::cout << "usage: membershipctl send-webhook FILE [--provider huudis|fusionauth] [signing flags]\n"
                 "  Signs FILE's bytes as the provider does and POSTs them to its webhook path.\n"
                 "  Exit 0 on a 2xx answer, 1 otherwise.\n"
                 "  huudis (default): Huudis-Signature: t=...,v1=HMAC-SHA256, to <http>/webhooks/huudis.\n"
                 "    --secret S       or MM_HUUDIS_SECRET (the first of MM_HUUDIS_SECRETS also works)\n"
                 "    --timestamp T    the signature time, unix seconds (default now)\n"
                 "  fusionauth: X-FusionAuth-Signature-JWT, a JWT whose request_body_sha256 claim is\n"
                 "  base64(SHA-256(body)), to <http>/webhooks/fusionauth.\n"
                 "    --secret S       HMAC key, or MM_FUSIONAUTH_SECRET (the first of\n"
                 "                     MM_FUSIONAUTH_HMAC_SECRETS also works, `kid:secret` included)\n"
                 "    --private-key F  PEM private key (RSA, EC or Ed25519) instead of a secret\n"
                 "    --alg A          HS256 (default with a secret) | HS384 | HS512 | RS256 (default\n"
                 "                     with a key) | RS384 | RS512 | PS256 | PS384 | PS512 | ES256 |\n"
                 "                     ES384 | ES512 | EdDSA\n"
                 "    --kid K          the key id put in the JWT header (or MM_FUSIONAUTH_KID)\n\n"
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
  std::string provider = args.Get("provider", "", "huudis");
  std::optional<SignedDelivery> delivery;
  if (provider == "huudis") {
    delivery = SignAsHuudis(args, body);
  } else if (provider == "fusionauth") {
    delivery = SignAsFusionAuth(args, body);
  } else {
    std::cerr << "membershipctl: --provider must be huudis or fusionauth\n";
    return kUsage;
  }
  if (!delivery) return kUsage;
  delivery->headers.emplace_back("Content-Type", "application/json");
  std::string url = args.Get("http", "MM_HTTP_URL", "http://127.0.0.1:8080") + delivery->path;
  auto reply = client::HttpRequest("POST", url, delivery->headers, body, HttpOptions(args));
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


int User(const Args& args) {
  if (args.Has("help") || args.positional.size() != 1) {
    return Help(args,
                (std::string("usage: membershipctl user USER_ID [--min-sequence N]\n"
                             "  The user's state with provenance: which event, from which provider, set it.\n"
                             "  Exit 0 if found, 1 if never seen.\n") +
                 kMinSequenceHelp).c_str());
  }
  v1::GetUserRequest request;
  request.set_user_id(args.positional[0]);
  request.set_min_sequence(MinSequence(args));
  v1::User u;
  grpc::Status s = Client(args).GetUser(request, &u);
  if (!s.ok()) return RpcFailed(s);
  if (args.Has("json")) {
    std::cout << ToJson(u) << "\n";
    return kOk;
  }
  std::cout << u.user_id() << "  " << v1::UserState_Name(u.state()) << "\n"
            << "  email / name:          " << Or(u.email()) << " / " << Or(u.name()) << "\n"
            << "  disabled at / by:      " << Time(u.disabled_at(), u.has_disabled_at()) << " / " << Or(u.disabled_by()) << "\n"
            << "  disabled reason:       " << Or(u.disabled_reason()) << "\n"
            << "  enabled at:            " << Time(u.enabled_at(), u.has_enabled_at()) << "\n"
            << "  sessions valid after:  " << Time(u.sessions_valid_after(), u.has_sessions_valid_after()) << "\n"
            << "  set by event:          " << Or(u.last_event_id()) << " (" << Or(u.last_event_type()) << ", "
            << Or(u.provider()) << ")\n"
            << "  updated at:            " << Time(u.updated_at(), u.has_updated_at()) << "\n";
  return kOk;
}

// Pages through a list RPC: `fetch(token, response)` fills one page; `print` prints it.
// With --all follows next_page_token to the end; otherwise prints the token to continue.
template <typename Response, typename Fetch, typename Print>
int Paged(const Args& args, Fetch fetch, Print print) {
  std::string token = args.Get("page-token", nullptr, "");
  do {
    Response page;
    grpc::Status s = fetch(token, &page);
    if (!s.ok()) return RpcFailed(s);
    if (args.Has("json")) {
      std::cout << ToJson(page) << "\n";
    } else {
      print(page);
    }
    token = page.next_page_token();
    if (!token.empty() && !args.Has("all") && !args.Has("json")) {
      std::cout << "(more: --page-token " << token << ", or --all)\n";
    }
  } while (!token.empty() && args.Has("all"));
  return kOk;
}

void PrintMembership(const v1::Membership& m, bool by_account) {
  std::cout << (by_account ? m.user_id() : m.account_id()) << "\t" << m.role() << "\t"
            << (by_account ? Or(m.user_email()) : Or(m.account_name())) << "\t"
            << Time(m.joined_at(), m.has_joined_at()) << "\n";
}

constexpr char kPagingHelp[] =
    "  --page-size N (default 100, max 1000), --page-token T, --all (every page)\n"
    "  --min-sequence N: every page reflects at least change-log position N (see `user --help`)\n";

int Members(const Args& args) {
  if (args.Has("help") || args.positional.size() != 1) {
    return Help(args, (std::string("usage: membershipctl members ACCOUNT_ID [--role ROLE]\n"
                                   "  Present members of a workspace, by user id: USER ROLE EMAIL JOINED_AT.\n") +
                       kPagingHelp).c_str());
  }
  auto client = Client(args);
  int page_size = std::stoi(args.Get("page-size", nullptr, "0"));
  return Paged<v1::ListMembersResponse>(
      args,
      [&](const std::string& token, v1::ListMembersResponse* page) {
        v1::ListMembersRequest request;
        request.set_min_sequence(MinSequence(args));
        request.set_account_id(args.positional[0]);
        request.set_role(args.Get("role", nullptr, ""));
        request.set_page_size(page_size);
        request.set_page_token(token);
        return client.ListMembers(request, page);
      },
      [](const v1::ListMembersResponse& page) {
        for (const auto& m : page.members()) PrintMembership(m, true);
      });
}

int Memberships(const Args& args) {
  if (args.Has("help") || args.positional.size() != 1) {
    return Help(args, (std::string("usage: membershipctl memberships USER_ID\n"
                                   "  Workspaces the user belongs to: ACCOUNT ROLE ACCOUNT_NAME JOINED_AT.\n") +
                       kPagingHelp).c_str());
  }
  auto client = Client(args);
  int page_size = std::stoi(args.Get("page-size", nullptr, "0"));
  return Paged<v1::ListUserMembershipsResponse>(
      args,
      [&](const std::string& token, v1::ListUserMembershipsResponse* page) {
        v1::ListUserMembershipsRequest request;
        request.set_min_sequence(MinSequence(args));
        request.set_user_id(args.positional[0]);
        request.set_page_size(page_size);
        request.set_page_token(token);
        return client.ListUserMemberships(request, page);
      },
      [](const v1::ListUserMembershipsResponse& page) {
        for (const auto& m : page.memberships()) PrintMembership(m, false);
      });
}

std::string Roles(const v1::SeatCount& c, const char* between, const char* is) {
  std::map<std::string, int64_t> roles(c.by_role().begin(), c.by_role().end());
  std::string out;
  for (const auto& [role, n] : roles) out += (out.empty() ? "" : between) + role + is + std::to_string(n);
  return out;
}

void PrintSeats(const v1::SeatCount& c) {
  std::cout << c.account_id() << "\ttotal " << c.total() << "\tbillable " << c.billable() << "\t"
            << Roles(c, ", ", " ") << "\n";
}

// A time flag: RFC 3339, or a date (YYYY-MM-DD, midnight UTC: a billing boundary).
std::optional<google::protobuf::Timestamp> TimeFlag(const Args& args, const std::string& name) {
  std::string text = args.Get(name, nullptr, "");
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') text += "T00:00:00Z";
  std::optional<TimePoint> t = ParseRfc3339(text);
  if (!t) {
    std::cerr << "membershipctl: --" << name << " must be an RFC 3339 time or a date (YYYY-MM-DD)\n";
    return std::nullopt;
  }
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(ToUnixMicros(*t));
}

// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
std::string Csv(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string Fixed(double v, int digits) {
  std::ostringstream out;
  out.precision(digits);
  out << std::fixed << v;
  return out.str();
}

// The workspaces a command runs for: ACCOUNT_ID, or with --all-workspaces every workspace the
// mirror knows (SeatService.ListSeatCounts, by account id). Calls `run` for each in order and
// stops at the first failure.
int ForWorkspaces(const Args& args, const client::MembershipClient& client,
                  const std::function<grpc::Status(const std::string&)>& run) {
  if (!args.Has("all-workspaces")) {
    grpc::Status s = run(args.positional[0]);
    return s.ok() ? kOk : RpcFailed(s);
  }
  std::string token;
  do {
    v1::ListSeatCountsRequest request;
    request.set_page_size(1000);
    request.set_page_token(token);
    v1::ListSeatCountsResponse page;
    grpc::Status s = client.ListSeatCounts(request, &page);
    if (!s.ok()) return RpcFailed(s);
    for (const auto& c : page.seat_counts()) {
      if (grpc::Status r = run(c.account_id()); !r.ok()) return RpcFailed(r);
    }
    token = page.next_page_token();
  } while (!token.empty());
  return kOk;
}

// ACCOUNT_ID or --all-workspaces, not both.
bool OneOrAllWorkspaces(const Args& args) {
  return args.positional.size() == (args.Has("all-workspaces") ? 0u : 1u);
}

constexpr char kWorkspacesHelp[] =
    "  TIME is RFC 3339 (2026-11-01T00:00:00Z) or a date (2026-11-01, midnight UTC).\n"
    "  --all-workspaces: every workspace, by account id, one line each (--json: one object a\n"
    "  line); --csv: CSV with a header, for a billing run. Before the oldest time the seat\n"
    "  ledger keeps, the call fails with OUT_OF_RANGE naming it.\n"
    "  --min-sequence N: each answer reflects at least change-log position N (see `user --help`).\n";

int Seats(const Args& args) {
  if (args.Has("help") || !OneOrAllWorkspaces(args)) {
    return Help(args, (std::string("usage: membershipctl seats ACCOUNT_ID [--as-of TIME]\n"
                                   "       membershipctl seats --all-workspaces [--as-of TIME] [--csv]\n"
                                   "  Seat counts of a workspace: total, billable (users neither disabled nor\n"
                                   "  deleted) and per role, now or as they were at --as-of (every seat change\n"
                                   "  with a fact time at or before it). An unknown workspace has zero seats.\n") +
                       kWorkspacesHelp).c_str());
  }
  std::optional<google::protobuf::Timestamp> as_of;
  if (args.Has("as-of") && !(as_of = TimeFlag(args, "as-of"))) return kUsage;
  const bool csv = args.Has("csv");
  if (csv) std::cout << "account_id,as_of,total,billable,by_role,sequence\n";
  auto client = Client(args);
  return ForWorkspaces(args, client, [&](const std::string& account) {
    v1::GetSeatCountRequest request;
    request.set_account_id(account);
    request.set_min_sequence(MinSequence(args));
    if (as_of) *request.mutable_as_of() = *as_of;
    v1::SeatCount count;
    grpc::Status s = client.GetSeatCount(request, &count);
    if (!s.ok()) return s;
    if (csv) {
      std::cout << Csv(account) << "," << (as_of ? google::protobuf::util::TimeUtil::ToString(*as_of) : "") << ","
                << count.total() << "," << count.billable() << "," << Csv(Roles(count, ";", "=")) << ","
                << count.sequence() << "\n";
    } else if (args.Has("json")) {
      std::cout << ToJson(count) << "\n";
    } else {
      PrintSeats(count);
    }
    return s;
  });
}

int SeatCounts(const Args& args) {
  if (args.Has("help") || !args.positional.empty()) {
    return Help(args, (std::string("usage: membershipctl seat-counts\n"
                                   "  Seat counts of every workspace now, by account id (billing runs; for\n"
                                   "  counts at a past time: seats --all-workspaces --as-of TIME).\n") +
                       kPagingHelp).c_str());
  }
  auto client = Client(args);
  int page_size = std::stoi(args.Get("page-size", nullptr, "0"));
  return Paged<v1::ListSeatCountsResponse>(
      args,
      [&](const std::string& token, v1::ListSeatCountsResponse* page) {
        v1::ListSeatCountsRequest request;
        request.set_min_sequence(MinSequence(args));
        request.set_page_size(page_size);
        request.set_page_token(token);
        return client.ListSeatCounts(request, page);
      },
      [](const v1::ListSeatCountsResponse& page) {
        for (const auto& c : page.seat_counts()) PrintSeats(c);
      });
}

// --from and --to, both required, for seat-usage and seat-changes.
bool ReadFromTo(const Args& args, google::protobuf::Timestamp& from, google::protobuf::Timestamp& to) {
  if (!args.Has("from") || !args.Has("to")) {
    std::cerr << "membershipctl: --from and --to are required\n";
    return false;
  }
  auto f = TimeFlag(args, "from"), t = TimeFlag(args, "to");
  if (!f || !t) return false;
  from = *f;
  to = *t;
  return true;
}

int SeatUsage(const Args& args) {
  if (args.Has("help") || !OneOrAllWorkspaces(args)) {
    return Help(args, (std::string("usage: membershipctl seat-usage ACCOUNT_ID --from TIME --to TIME\n"
                                   "       membershipctl seat-usage --all-workspaces --from TIME --to TIME [--csv]\n"
                                   "  Billable seats over [from, to) (SeatService.GetSeatUsage): seat-days (billable\n"
                                   "  seat-seconds / 86400), the time-weighted mean, the minimum and maximum, and\n"
                                   "  the counts at the start and just before the end.\n") +
                       kWorkspacesHelp).c_str());
  }
  google::protobuf::Timestamp from, to;
  if (!ReadFromTo(args, from, to)) return kUsage;
  const bool csv = args.Has("csv");
  if (csv) {
    std::cout << "account_id,start,end,billable_seat_seconds,billable_seat_days,mean_billable,min_billable,"
                 "max_billable,start_billable,end_billable,sequence\n";
  }
  auto client = Client(args);
  return ForWorkspaces(args, client, [&](const std::string& account) {
    v1::GetSeatUsageRequest request;
    request.set_account_id(account);
    request.set_min_sequence(MinSequence(args));
    *request.mutable_start() = from;
    *request.mutable_end() = to;
    v1::SeatUsage u;
    grpc::Status s = client.GetSeatUsage(request, &u);
    if (!s.ok()) return s;
    const std::string seconds = Fixed(u.billable_seat_seconds(), 6), days = Fixed(u.billable_seat_seconds() / 86400, 6);
    const std::string start = Time(u.start(), true), end = Time(u.end(), true);
    if (csv) {
      std::cout << Csv(account) << "," << start << "," << end << "," << seconds << "," << days << ","
                << Fixed(u.mean_billable(), 6) << "," << u.min_billable() << "," << u.max_billable() << ","
                << u.start_billable() << "," << u.end_billable() << "," << u.sequence() << "\n";
    } else if (args.Has("json")) {
      std::cout << ToJson(u) << "\n";
    } else {
      std::cout << account << "\t" << start << " .. " << end << "\tseat-days " << days << "\tmean "
                << Fixed(u.mean_billable(), 3) << "\tmin " << u.min_billable() << "\tmax " << u.max_billable()
                << "\tstart " << u.start_billable() << "\tend " << u.end_billable() << "\n";
    }
    return s;
  });
}

int SeatChanges(const Args& args) {
  if (args.Has("help") || args.positional.size() != 1) {
    return Help(args, (std::string("usage: membershipctl seat-changes ACCOUNT_ID --from TIME --to TIME\n"
                                   "         [--include-non-billable]\n"
                                   "  Seat changes of a workspace in [from, to), oldest first (SeatService.\n"
                                   "  ListSeatChanges): AT USER ROLE BILLABLE_DELTA MEMBER_DELTA EVENT_ID. Only\n"
                                   "  changes of billable seats unless --include-non-billable. TIME as for seats.\n") +
                       kPagingHelp).c_str());
  }
  google::protobuf::Timestamp from, to;
  if (!ReadFromTo(args, from, to)) return kUsage;
  auto client = Client(args);
  int page_size = std::stoi(args.Get("page-size", nullptr, "0"));
  return Paged<v1::ListSeatChangesResponse>(
      args,
      [&](const std::string& token, v1::ListSeatChangesResponse* page) {
        v1::ListSeatChangesRequest request;
        request.set_min_sequence(MinSequence(args));
        request.set_account_id(args.positional[0]);
        *request.mutable_start() = from;
        *request.mutable_end() = to;
        request.set_include_non_billable(args.Has("include-non-billable"));
        request.set_page_size(page_size);
        request.set_page_token(token);
        return client.ListSeatChanges(request, page);
      },
      [](const v1::ListSeatChangesResponse& page) {
        if (page.changes().empty()) std::cout << "no seat changes\n";
        auto sign = [](int32_t d) { return (d > 0 ? "+" : "") + std::to_string(d); };
        for (const auto& c : page.changes()) {
          std::cout << Time(c.at(), true) << "\t" << c.user_id() << "\t" << c.role() << "\t" << sign(c.delta())
                    << "\t" << sign(c.member_delta()) << "\t" << c.event_id() << "\n";
        }
      });
}

// disable / enable through the operator HTTP API (token sent as X-API-Key).
int OperatorAction(const Args& args, const std::string& action) {
  if (args.Has("help") || args.positional.size() != 1) {
    return Help(args, action == "disable"
                          ? "usage: membershipctl disable USER_ID [--reason TEXT]\n"
                            "  Disables a user now (operator override, scope users:write): every\n"
                            "  replica answers IsUserActive=false and sessions issued before now stay\n"
                            "  revoked. Exit 0 on success, 1 if the user was never seen.\n"
                          : "usage: membershipctl enable USER_ID\n"
                            "  Enables a user again (operator override, scope users:write). Sessions\n"
                            "  issued before the last disable stay revoked.\n");
  }
  std::string body;
  if (args.Has("reason")) body = nlohmann::json{{"reason", args.flags.at("reason")}}.dump();
  std::string url = args.Get("http", "MM_HTTP_URL", "http://127.0.0.1:8080") + "/v1/users/" +
                    args.positional[0] + "/" + action;
  auto reply = client::HttpRequest("POST", url,
                                   {{"Content-Type", "application/json"}, {"X-API-Key", Token(args)}}, body,
                                   HttpOptions(args));
  if (!reply.ok()) {
    std::cerr << "membershipctl: " << reply.status().message() << "\n";
    return kFailed;
  }
  if (reply->status != 200) {
    std::cerr << "membershipctl: HTTP " << reply->status << " " << reply->body << "\n";
    return reply->status == 404 ? kNo : kFailed;
  }
  if (args.Has("json")) {
    std::cout << reply->body << "\n";
  } else {
    auto user = nlohmann::json::parse(reply->body, nullptr, false);
    std::cout << args.positional[0] << ": " << (user.value("disabled", false) ? "disabled" : "enabled")
              << " (event " << user.value("last_event_id", std::string("-")) << ")\n";
  }
  return kOk;
}

std::string Ago(const google::protobuf::Timestamp& t, int64_t now) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  int64_t s = now - t.seconds();
  std::string when = FormatRfc3339(FromUnixSeconds(t.seconds()));
  when = when.substr(0, 19) + "Z";
  if (s < 0) return when;
  return when + " (" + std::to_string(s) + "s ago)";
}

int Sources(const Args& args) {
  if (args.Has("help") || !args.positional.empty()) {
    return Help(args, "usage: membershipctl sources\n"
                      "  Every pull source (huudis-audit, huudis-lists, monocloud, fusionauth-users)\n"
                      "  per workspace, group or tenant: status, last attempt and success, watermark,\n"
                      "  lag, events committed, drift of the last run, last error, and which replica\n"
                      "  pulled (AdminService.ListSources, scope admin). --min-sequence N as for `user`.\n");
  }
  v1::ListSourcesRequest request;
  request.set_min_sequence(MinSequence(args));
  v1::ListSourcesResponse response;
  grpc::Status s = Client(args).ListSources(request, &response);
  if (!s.ok()) return RpcFailed(s);
  if (args.Has("json")) {
    std::cout << ToJson(response) << "\n";
    return kOk;
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  if (response.sources().empty()) std::cout << "no pull source configured or seen\n";
  for (const v1::SourceStatus& src : response.sources()) {
    std::cout << src.source() << (src.scope().empty() ? "" : " " + src.scope()) << ": " << src.status()
              << (src.configured() ? "" : " (not configured on this replica)") << "\n"
              << "  last attempt " << Ago(src.last_attempt_at(), now) << ", last success "
              << Ago(src.last_success_at(), now) << "\n";
    if (src.has_watermark()) std::cout << "  watermark " << Ago(src.watermark(), now) << "\n";
    if (src.has_lag()) std::cout << "  lag " << src.lag().seconds() << "s\n";
    std::cout << "  events " << src.events_yielded() << ", last run drift " << src.last_run_drift()
              << (src.puller().empty() ? "" : ", pulled by " + src.puller()) << "\n";
    if (!src.last_error().empty()) std::cout << "  last error: " << src.last_error() << "\n";
  }
  return kOk;
}

void PrintDeadLetter(const v1::DeadLetter& d) {
  std::cout << d.provider() << "\t" << d.event_id() << "\t" << d.event_type() << "\t"
            << Time(d.received_at(), d.has_received_at()) << "\t" << d.reason() << "\n";
  if (d.replay_attempts() > 0) {
    std::cout << "  replayed " << d.replay_attempts() << "x, last " << Time(d.replayed_at(), d.has_replayed_at())
              << ": " << d.replay_outcome() << (d.replay_reason().empty() ? "" : " (" + d.replay_reason() + ")")
              << "\n";
  }
}

int DeadLetters(const Args& args) {
  const std::string verb = args.positional.empty() ? "" : args.positional[0];
  if (args.Has("help") || (verb != "list" && verb != "replay") || (verb == "list" && args.positional.size() != 1)) {
    return Help(args, (std::string(
                           "usage: membershipctl dead-letters list [--provider P] [--reason TEXT] [--pending]\n"
                           "       membershipctl dead-letters replay EVENT_ID... [--provider P] [--dry-run]\n"
                           "       membershipctl dead-letters replay --reason TEXT [--provider P] [--dry-run] [--all]\n"
                           "  Authentic events the mirror stored but could not apply (AdminService, scope admin):\n"
                           "  list prints PROVIDER EVENT_ID TYPE RECEIVED_AT REASON, oldest first, and what\n"
                           "  replays did; --pending only those not yet applied. replay runs stored bodies\n"
                           "  through today's rules: by ids (at most 100), or by filter, 100 pending letters a\n"
                           "  page (--all: every page). --dry-run says what would happen and writes nothing.\n"
                           "  A letter is never deleted; one that applies is not replayed again.\n") +
                       kPagingHelp).c_str());
  }
  auto client = Client(args);
  int page_size = std::stoi(args.Get("page-size", nullptr, "0"));
  if (verb == "list") {
    return Paged<v1::ListDeadLettersResponse>(
        args,
        [&](const std::string& token, v1::ListDeadLettersResponse* page) {
          v1::ListDeadLettersRequest request;
        request.set_min_sequence(MinSequence(args));
          request.set_provider(args.Get("provider", nullptr, ""));
          request.set_reason(args.Get("reason", nullptr, ""));
          request.set_pending_only(args.Has("pending"));
          request.set_page_size(page_size);
          request.set_page_token(token);
          return client.ListDeadLetters(request, page);
        },
        [](const v1::ListDeadLettersResponse& page) {
          if (page.dead_letters().empty()) std::cout << "no dead letters\n";
          for (const auto& d : page.dead_letters()) PrintDeadLetter(d);
        });
  }
  const std::vector<std::string> ids(args.positional.begin() + 1, args.positional.end());
  if (ids.empty() && !args.Has("reason") && !args.Has("provider")) {
    std::cerr << "membershipctl: name event ids, or a --reason or --provider filter\n";
    return kUsage;
  }
  int applied = 0, failed = 0;
  const int code = Paged<v1::ReplayDeadLettersResponse>(
      args,
      [&](const std::string& token, v1::ReplayDeadLettersResponse* page) {
        v1::ReplayDeadLettersRequest request;
        for (const std::string& id : ids) request.add_event_ids(id);
        request.set_provider(args.Get("provider", nullptr, ""));
        request.set_reason(args.Get("reason", nullptr, ""));
        request.set_dry_run(args.Has("dry-run"));
        request.set_page_size(page_size);
        request.set_page_token(token);
        return client.ReplayDeadLetters(request, page);
      },
      [&](const v1::ReplayDeadLettersResponse& page) {
        for (const auto& r : page.results()) {
          std::cout << r.provider() << "\t" << r.event_id() << "\t" << r.outcome()
                    << (r.reason().empty() ? "" : "\t" + r.reason()) << "\n";
          (r.outcome() == "dead_lettered" ? failed : applied) += 1;
        }
        if (page.results().empty()) std::cout << "no dead letters to replay\n";
        if (page.dry_run()) std::cout << "(dry run: nothing written)\n";
      });
  if (code != kOk) return code;
  return failed > 0 ? kNo : kOk;
}

int History(const Args& args) {
  if (args.Has("help") || args.positional.size() != 1) {
    return Help(args, (std::string("usage: membershipctl history USER_ID\n"
                                   "  Every stored event that named the user, oldest fact first:\n"
                                   "  FACT_TIME PROVIDER EVENT_ID TYPE OUTCOME [REASON] (AdminService.ListUserEvents,\n"
                                   "  scope admin). Events stored before migration 0003 are not listed.\n") +
                       kPagingHelp).c_str());
  }
  auto client = Client(args);
  int page_size = std::stoi(args.Get("page-size", nullptr, "0"));
  return Paged<v1::ListUserEventsResponse>(
      args,
      [&](const std::string& token, v1::ListUserEventsResponse* page) {
        v1::ListUserEventsRequest request;
        request.set_min_sequence(MinSequence(args));
        request.set_user_id(args.positional[0]);
        request.set_page_size(page_size);
        request.set_page_token(token);
        return client.ListUserEvents(request, page);
      },
      [](const v1::ListUserEventsResponse& page) {
        if (page.events().empty()) std::cout << "no stored events name this user\n";
        for (const auto& e : page.events()) {
          std::cout << Time(e.fact_time(), e.has_fact_time()) << "\t" << e.provider() << "\t" << e.event_id() << "\t"
                    << e.event_type() << "\t" << e.outcome()
                    << (e.dead_letter_reason().empty() ? "" : "\t" + e.dead_letter_reason()) << "\n";
        }
      });
}

struct Command {
  const char* name;
  const char* summary;
  std::function<int(const Args&)> run;
};

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"is-active", "is a user active now? (UserService.IsUserActive)", IsActive},
      {"user", "a user's state and why (UserService.GetUser)", User},
      {"members", "members of a workspace (MembershipService.ListMembers)", Members},
      {"memberships", "workspaces of a user (MembershipService.ListUserMemberships)", Memberships},
      {"seats", "seat counts of a workspace (SeatService.GetSeatCount)", Seats},
      {"seat-counts", "seat counts of every workspace (SeatService.ListSeatCounts)", SeatCounts},
      {"seat-usage", "seat-days and mean seats over a period (SeatService.GetSeatUsage)", SeatUsage},
      {"seat-changes", "seat changes of a workspace in a period (SeatService.ListSeatChanges)", SeatChanges},
      {"disable", "disable a user now (operator API)", [](const Args& a) { return OperatorAction(a, "disable"); }},
      {"enable", "enable a user again (operator API)", [](const Args& a) { return OperatorAction(a, "enable"); }},
      {"send-webhook", "sign a JSON file as Huudis does and POST it", SendWebhook},
      {"sources", "pull sources: status, lag, drift (AdminService.ListSources)", Sources},
      {"dead-letters", "list or replay events that could not be applied (AdminService)", DeadLetters},
      {"history", "every stored event that named a user (AdminService.ListUserEvents)", History},
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
