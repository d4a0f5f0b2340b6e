#include "config/settings.h"

#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace mm::config {
namespace {

using Apply = std::function<absl::Status(const std::string& value, Settings& s)>;

struct Spec {
  const char* flag;  // without leading dashes
  const char* env;
  const char* default_text;  // for --help
  const char* help;
  Apply apply;
};

absl::StatusOr<int64_t> ParseInt(const std::string& v, int64_t min, int64_t max) {
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || ptr != v.data() + v.size()) {
    return absl::InvalidArgumentError(absl::StrCat("'", v, "' is not an integer"));
  }
  if (out < min || out > max) {
    return absl::InvalidArgumentError(absl::StrCat(v, " is outside ", min, "..", max));
  }
  return out;
}

std::vector<std::string> SplitCommaList(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream in(v);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t b = item.find_first_not_of(" \t\r\n"), e = item.find_last_not_of(" \t\r\n");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

absl::Status CheckHostPort(const std::string& v) {
  size_t colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat("'", v, "' is not host:port"));
  }
  return ParseInt(v.substr(colon + 1), 0, 65535).status();
}

Apply Int(int64_t min, int64_t max, std::function<void(Settings&, int64_t)> set) {
  return [=](const std::string& v, Settings& s) -> absl::Status {
    auto n = ParseInt(v, min, max);
    if (!n.ok()) return n.status();
    set(s, *n);
    return absl::OkStatus();
  };
}

Apply Millis(int64_t min, int64_t max, std::chrono::milliseconds Settings::*field) {
  return Int(min, max, [field](Settings& s, int64_t n) { s.*field = std::chrono::milliseconds(n); });
}

Apply Listen(std::string Settings::*field) {
  return [field](const std::string& v, Settings& s) {
    s.*field = v;
    return CheckHostPort(v);
  };
}

const std::vector<Spec>& Specs() {
  static const std::vector<Spec> specs = {
      {"database-url", "MM_DATABASE_URL", "(required)",
       "libpq connection string or URI of the PostgreSQL database",
       [](const std::string& v, Settings& s) { s.database_url = v; return absl::OkStatus(); }},
      {"http-listen", "MM_HTTP_LISTEN", "0.0.0.0:8080", "webhook/operator/health HTTP address",
       Listen(&Settings::http_listen)},
      {"grpc-listen", "MM_GRPC_LISTEN", "0.0.0.0:50051", "gRPC API address",
       Listen(&Settings::grpc_listen)},
      {"huudis-secrets", "MM_HUUDIS_SECRETS", "(none)",
       "comma-separated Huudis signing secrets (whsec_...); any may match (rotation). Prefer "
       "the environment or --huudis-secrets-file: flags show up in process listings",
       [](const std::string& v, Settings& s) {
         s.huudis_secrets = SplitCommaList(v);
         return absl::OkStatus();
       }},
      {"huudis-secrets-file", "MM_HUUDIS_SECRETS_FILE", "(none)",
       "file holding Huudis signing secrets, comma- or newline-separated",
       [](const std::string& v, Settings& s) -> absl::Status {
         std::ifstream in(v);
         if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", v));
         std::stringstream text;
         text << in.rdbuf();
         std::string all = text.str();
         for (char& c : all) {
           if (c == '\n') c = ',';
         }
         for (std::string& secret : SplitCommaList(all)) s.huudis_secrets.push_back(std::move(secret));
         return absl::OkStatus();
       }},
      {"callers-file", "MM_CALLERS_FILE", "(none)",
       "JSON list of API callers: [{\"name\",\"token_sha256\",\"scopes\":[...]}]",
       [](const std::string& v, Settings& s) { s.callers_file = v; return absl::OkStatus(); }},
      {"insecure-no-auth", "MM_INSECURE_NO_AUTH", "0",
       "1: development only — callers need no token (announced loudly at start)",
       [](const std::string& v, Settings& s) -> absl::Status {
         if (v != "0" && v != "1" && v != "true" && v != "false") {
           return absl::InvalidArgumentError("must be 0 or 1");
         }
         s.insecure_no_auth = v == "1" || v == "true";
         return absl::OkStatus();
       }},
      {"unknown-users", "MM_UNKNOWN_USERS", "active",
       "answer for users the mirror never heard of: active | inactive (fail closed)",
       [](const std::string& v, Settings& s) -> absl::Status {
         if (v != "active" && v != "inactive") {
           return absl::InvalidArgumentError("must be 'active' or 'inactive'");
         }
         s.unknown_users_active = v == "active";
         return absl::OkStatus();
       }},
      {"huudis-tolerance", "MM_HUUDIS_TOLERANCE", "300",
       "Huudis signature timestamp window in seconds, either way",
       Int(1, 86400, [](Settings& s, int64_t n) { s.huudis_tolerance = std::chrono::seconds(n); })},
      {"max-body-bytes", "MM_MAX_BODY_BYTES", "1048576", "largest webhook body accepted (413 above)",
       Int(1, 64 << 20, [](Settings& s, int64_t n) { s.max_body_bytes = static_cast<size_t>(n); })},
      {"log-level", "MM_LOG_LEVEL", "info", "debug | info | warn | error",
       [](const std::string& v, Settings& s) -> absl::Status {
         if (v != "debug" && v != "info" && v != "warn" && v != "error") {
           return absl::InvalidArgumentError("must be debug, info, warn or error");
         }
         s.log_level = v;
         return absl::OkStatus();
       }},
      {"http-threads", "MM_HTTP_THREADS", "2", "HTTP I/O threads",
       Int(1, 64, [](Settings& s, int64_t n) { s.http_threads = static_cast<int>(n); })},
      {"max-connections", "MM_MAX_CONNECTIONS", "1024",
       "concurrent HTTP connections; more are answered 503 and closed",
       Int(1, 1 << 20, [](Settings& s, int64_t n) { s.max_connections = static_cast<int>(n); })},
      {"header-timeout-ms", "MM_HEADER_TIMEOUT_MS", "10000",
       "time allowed to receive a request's headers (also the keep-alive idle limit)",
       Millis(100, 600000, &Settings::header_timeout)},
      {"body-timeout-ms", "MM_BODY_TIMEOUT_MS", "30000", "time allowed to receive a request body",
       Millis(100, 600000, &Settings::body_timeout)},
      {"shutdown-grace-ms", "MM_SHUTDOWN_GRACE_MS", "20000",
       "on SIGTERM, how long in-flight work may take before exit",
       Millis(0, 600000, &Settings::shutdown_grace)},
      {"writer-max-batch", "MM_WRITER_MAX_BATCH", "512", "events per group-commit transaction",
       Int(1, 100000, [](Settings& s, int64_t n) { s.writer_max_batch = static_cast<size_t>(n); })},
      {"writer-max-queue", "MM_WRITER_MAX_QUEUE", "20000",
       "events waiting for commit before new webhooks get 429",
       Int(1, 10000000, [](Settings& s, int64_t n) { s.writer_max_queue = static_cast<size_t>(n); })},
      {"poll-interval-ms", "MM_POLL_INTERVAL_MS", "250",
       "change-log poll interval when no notification arrives",
       Millis(10, 60000, &Settings::poll_interval)},
      {"db-read-threads", "MM_DB_READ_THREADS", "4",
       "database worker threads (each with its own connection) for DB-backed RPCs",
       Int(1, 256, [](Settings& s, int64_t n) { s.db_read_threads = static_cast<int>(n); })},
      {"db-read-queue", "MM_DB_READ_QUEUE", "1000",
       "DB-backed requests waiting for a worker before new ones get RESOURCE_EXHAUSTED",
       Int(1, 1000000, [](Settings& s, int64_t n) { s.db_read_queue = static_cast<size_t>(n); })},
  };
  return specs;
}

}  // namespace

absl::StatusOr<ParsedCommandLine> ParseSettings(
    const std::vector<std::string>& args, const std::function<const char*(const char*)>& getenv) {
  ParsedCommandLine out;
  // Environment first, flags override; each keyed by spec index so order of application is
  // the table's (e.g. secrets from the variable and from the file add up).
  std::map<size_t, std::pair<std::string, std::string>> values;  // index -> (source, value)
  const auto& specs = Specs();
  for (size_t i = 0; i < specs.size(); ++i) {
    if (const char* v = getenv(specs[i].env); v != nullptr) values[i] = {specs[i].env, v};
  }
  for (size_t a = 0; a < args.size(); ++a) {
    const std::string& arg = args[a];
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    size_t index = specs.size();
    for (size_t i = 0; i < specs.size(); ++i) {
      if (name == specs[i].flag) index = i;
    }
    if (index == specs.size()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    if (!has_value) {
      if (a + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++a];
    }
    values[index] = {"--" + name, value};
  }
  for (const auto& [index, source_value] : values) {
    absl::Status s = specs[index].apply(source_value.second, out.settings);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid ", source_value.first, ": ", std::string(s.message())));
    }
  }
  return out;
}

std::string SettingsHelp() {
  std::string text = "Settings (flag, environment twin, default):\n";
  for (const Spec& s : Specs()) {
    absl::StrAppend(&text, "  --", s.flag, "  [", s.env, "]  default: ", s.default_text, "\n      ",
                    s.help, "\n");
  }
  return text;
}

absl::Status ValidateForServe(const Settings& s) {
  if (s.database_url.empty()) {
    return absl::InvalidArgumentError("MM_DATABASE_URL (--database-url) is required");
  }
  if (s.callers_file.empty() && !s.insecure_no_auth) {
    return absl::InvalidArgumentError(
        "no callers: set MM_CALLERS_FILE (--callers-file), or MM_INSECURE_NO_AUTH=1 for "
        "development only");
  }
  return absl::OkStatus();
}

}  // namespace mm::config
