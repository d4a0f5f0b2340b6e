#include "config/settings.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
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

Apply Seconds(int64_t min, int64_t max, std::chrono::seconds Settings::*field) {
  return Int(min, max, [field](Settings& s, int64_t n) { s.*field = std::chrono::seconds(n); });
}

Apply Text(std::string Settings::*field) {
  return [field](const std::string& v, Settings& s) {
    s.*field = v;
    return absl::OkStatus();
  };
}

Apply List(std::vector<std::string> Settings::*field) {
  return [field](const std::string& v, Settings& s) {
    s.*field = SplitCommaList(v);
    return absl::OkStatus();
  };
}

// A file of secrets, comma- or newline-separated, added to those given directly.
Apply SecretsFile(std::vector<std::string> Settings::*field) {
  return [field](const std::string& v, Settings& s) -> absl::Status {
    std::ifstream in(v);
    if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", v));
    std::stringstream text;
    text << in.rdbuf();
    std::string all = text.str();
    for (char& c : all) {
      if (c == '\n') c = ',';
    }
    for (std::string& secret : SplitCommaList(all)) (s.*field).push_back(std::move(secret));
    return absl::OkStatus();
  };
}

absl::StatusOr<bool> ParseBool(const std::string& v) {
  if (v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  return absl::InvalidArgumentError("must be 0 or 1");
}

Apply Bool(bool Settings::*field) {
  return [field](const std::string& v, Settings& s) -> absl::Status {
    absl::StatusOr<bool> b = ParseBool(v);
    if (!b.ok()) return b.status();
    s.*field = *b;
    return absl::OkStatus();
  };
}

// A pull source's base URL: http or https, host present; a trailing '/' is dropped.
Apply BaseUrl(std::string Settings::*field) {
  return [field](const std::string& v, Settings& s) -> absl::Status {
    std::string url = v;
    while (!url.empty() && url.back() == '/') url.pop_back();
    if (url.empty()) {
      s.*field = "";
      return absl::OkStatus();
    }
    size_t scheme = url.find("://");
    std::string name = scheme == std::string::npos ? "" : url.substr(0, scheme);
    if (name != "http" && name != "https") return absl::InvalidArgumentError("must be an http:// or https:// URL");
    if (url.size() == scheme + 3 || url[scheme + 3] == '/') return absl::InvalidArgumentError("URL has no host");
    if (url.find_first_of("?#", scheme) != std::string::npos) {
      return absl::InvalidArgumentError("a base URL has no query or fragment");
    }
    if (url.find('@', scheme) != std::string::npos) {
      return absl::InvalidArgumentError("credentials do not belong in the URL: use the credential file");
    }
    s.*field = url;
    return absl::OkStatus();
  };
}

Apply Listen(std::string Settings::*field) {
  return [field](const std::string& v, Settings& s) {
    s.*field = v;
    return CheckHostPort(v);
  };
}

Apply TlsPath(TlsFiles Settings::*port, std::string TlsFiles::*file) {
  return [port, file](const std::string& v, Settings& s) {
    (s.*port).*file = v;  // empty = not set
    return absl::OkStatus();
  };
}

const std::vector<Spec>& Specs() {
  static const std::vector<Spec> specs = {
      {"database-url", "MM_DATABASE_URL", "(required)",
       "libpq connection string or URI of the PostgreSQL database",
       [](const std::string& v, Settings& s) { s.database_url = v; return absl::OkStatus(); }},
      {"database-pool-mode", "MM_DATABASE_POOL_MODE", "session",
       "how MM_DATABASE_URL reaches PostgreSQL: session (directly, or a pooler's session mode) | "
       "transaction (PgBouncer pool_mode=transaction: statements are sent unnamed, not prepared; "
       "statement_timeout is not SET per session, so set it on the role; LISTEN and the pull-source "
       "lock use MM_DATABASE_LISTEN_URL)",
       [](const std::string& v, Settings& s) -> absl::Status {
         if (v != "session" && v != "transaction") {
           return absl::InvalidArgumentError("must be 'session' or 'transaction'");
         }
         s.database_transaction_pooling = v == "transaction";
         return absl::OkStatus();
       }},
      {"database-listen-url", "MM_DATABASE_LISTEN_URL", "(MM_DATABASE_URL)",
       "connection with a session of its own, for LISTEN (the change follower) and the pull-source "
       "leader lock: a direct one when MM_DATABASE_URL goes through a transaction pooler. Without it, "
       "under MM_DATABASE_POOL_MODE=transaction the follower polls every MM_POLL_INTERVAL_MS and pull "
       "sources cannot run",
       [](const std::string& v, Settings& s) { s.database_listen_url = v; return absl::OkStatus(); }},
      {"database-read-url", "MM_DATABASE_READ_URL", "(none: reads use MM_DATABASE_URL)",
       "libpq connection string or URI of a streaming read replica (a hot standby of MM_DATABASE_URL's "
       "database) for the database-backed read RPCs (GetUser, memberships, seats, AdminService lists): a "
       "read without min_sequence is answered there even if it is behind; one with min_sequence there once "
       "the replica has replayed it, else by MM_DATABASE_URL; an unreachable replica sends reads to "
       "MM_DATABASE_URL. Writes, the change log, the cache, WatchChanges and replays always use "
       "MM_DATABASE_URL. MM_DATABASE_POOL_MODE applies to it too",
       Text(&Settings::database_read_url)},
      {"database-read-max-wait-ms", "MM_DATABASE_READ_MAX_WAIT_MS", "1000",
       "how long a read with min_sequence waits on a database worker for the read replica to replay that "
       "sequence (polling its change_log_head, and at most half of the call's remaining deadline) before "
       "MM_DATABASE_URL answers it; 0: the primary answers at once when the replica is behind",
       Millis(0, 10000, &Settings::database_read_max_wait)},
      {"http-listen", "MM_HTTP_LISTEN", "0.0.0.0:8080", "webhook/operator/health HTTP address",
       Listen(&Settings::http_listen)},
      {"grpc-listen", "MM_GRPC_LISTEN", "0.0.0.0:50051", "gRPC API address",
       Listen(&Settings::grpc_listen)},
      {"huudis-secrets", "MM_HUUDIS_SECRETS", "(none)",
       "comma-separated Huudis signing secrets (whsec_...); any may match (rotation). Prefer "
       "the environment or --huudis-secrets-file: flags show up in process listings",
       List(&Settings::huudis_secrets)},
      {"huudis-secrets-file", "MM_HUUDIS_SECRETS_FILE", "(none)",
       "file holding Huudis signing secrets, comma- or newline-separated", SecretsFile(&Settings::huudis_secrets)},
      {"callers-file", "MM_CALLERS_FILE", "(none)",
       "JSON list of API callers: [{\"name\",\"token_sha256\",\"scopes\":[...]}]",
       [](const std::string& v, Settings& s) { s.callers_file = v; return absl::OkStatus(); }},
      {"insecure-no-auth", "MM_INSECURE_NO_AUTH", "0",
       "1: development only — callers need no token (announced loudly at start)",
       Bool(&Settings::insecure_no_auth)},
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
      {"max-clock-skew-seconds", "MM_MAX_CLOCK_SKEW_SECONDS", "300",
       "how far past its receive time an event's fact time may be; later ones are taken as the "
       "receive time (counted in mm_fact_times_clamped_total)",
       Int(0, 86400, [](Settings& s, int64_t n) { s.max_clock_skew = std::chrono::seconds(n); })},
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
      {"request-timeout-ms", "MM_REQUEST_TIMEOUT_MS", "15000",
       "longest an HTTP request waits for its answer (a webhook for its commit) before 503 + Retry-After",
       Millis(100, 600000, &Settings::request_timeout)},
      {"db-connect-timeout-seconds", "MM_DB_CONNECT_TIMEOUT_SECONDS", "5",
       "connect timeout of every database connection (unless the URL sets connect_timeout)",
       Seconds(1, 600, &Settings::db_connect_timeout)},
      {"db-statement-timeout-ms", "MM_DB_STATEMENT_TIMEOUT_MS", "30000",
       "statement_timeout of every database connection; a round trip unanswered 5 s past it has its "
       "connection dropped (a silent database is noticed, not waited on)",
       Millis(100, 3600000, &Settings::db_statement_timeout)},
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
      {"max-sequence-waiters", "MM_MAX_SEQUENCE_WAITERS", "10000",
       "calls waiting at once for a min_sequence; more get RESOURCE_EXHAUSTED",
       Int(1, 10000000, [](Settings& s, int64_t n) { s.max_sequence_waiters = static_cast<size_t>(n); })},
      {"max-watch-streams", "MM_MAX_WATCH_STREAMS", "1000",
       "WatchChanges streams open at once; more get RESOURCE_EXHAUSTED",
       Int(1, 1000000, [](Settings& s, int64_t n) { s.max_watch_streams = static_cast<int>(n); })},
      {"changelog-retention-seconds", "MM_CHANGELOG_RETENTION_SECONDS", "2592000",
       "how long change-log rows are kept for WatchChanges (30 days); older ones are pruned",
       Int(1, int64_t{10} * 365 * 24 * 3600,
           [](Settings& s, int64_t n) { s.changelog_retention = std::chrono::seconds(n); })},
      {"seat-ledger-retention-days", "MM_SEAT_LEDGER_RETENTION_DAYS", "400",
       "how far back seat counts and usage can be asked for; older ledger rows are folded into the"
       " base (0: keep everything)",
       Int(0, 36500, [](Settings& s, int64_t n) {
         s.seat_ledger_retention =
             n == 0 ? std::nullopt : std::optional<std::chrono::seconds>(std::chrono::seconds(n * 86400));
       })},
      {"prune-interval-ms", "MM_PRUNE_INTERVAL_MS", "3600000",
       "how often the change log and the seat ledger are pruned",
       Millis(100, int64_t{24} * 3600 * 1000, &Settings::prune_interval)},
      {"grpc-tls-cert-file", "MM_GRPC_TLS_CERT_FILE", "(none: plaintext)",
       "PEM certificate chain of the gRPC port (leaf first); serves gRPC over TLS",
       TlsPath(&Settings::grpc_tls, &TlsFiles::cert_file)},
      {"grpc-tls-key-file", "MM_GRPC_TLS_KEY_FILE", "(none)",
       "PEM private key of --grpc-tls-cert-file (required with it)",
       TlsPath(&Settings::grpc_tls, &TlsFiles::key_file)},
      {"grpc-tls-client-ca-file", "MM_GRPC_TLS_CLIENT_CA_FILE", "(none)",
       "PEM CA bundle: gRPC clients must present a certificate it signed (mTLS; needs TLS)",
       TlsPath(&Settings::grpc_tls, &TlsFiles::client_ca_file)},
      {"http-tls-cert-file", "MM_HTTP_TLS_CERT_FILE", "(none: plaintext)",
       "PEM certificate chain of the HTTP port (leaf first); serves HTTPS (TLS 1.2+)",
       TlsPath(&Settings::http_tls, &TlsFiles::cert_file)},
      {"http-tls-key-file", "MM_HTTP_TLS_KEY_FILE", "(none)",
       "PEM private key of --http-tls-cert-file (required with it)",
       TlsPath(&Settings::http_tls, &TlsFiles::key_file)},
      {"http-tls-client-ca-file", "MM_HTTP_TLS_CLIENT_CA_FILE", "(none)",
       "PEM CA bundle: HTTP clients need a certificate it signed (mTLS; needs TLS), except for "
       "GET /healthz, /readyz and /metrics (probes carry none); others get 401",
       TlsPath(&Settings::http_tls, &TlsFiles::client_ca_file)},
      {"huudis-api-url", "MM_HUUDIS_API_URL", "(none: off)",
       "pull sources huudis-audit and huudis-lists: the Huudis API base URL the documented paths "
       "are appended to, e.g. https://huudis.com/api",
       BaseUrl(&Settings::huudis_api_url)},
      {"huudis-api-token-file", "MM_HUUDIS_API_TOKEN_FILE", "(none)",
       "file holding the Huudis admin bearer token (read at every run; required with the URL)",
       Text(&Settings::huudis_api_token_file)},
      {"huudis-workspaces", "MM_HUUDIS_WORKSPACES", "(none)",
       "comma-separated Huudis workspace ids (acc_...) to pull (required with the URL)",
       List(&Settings::huudis_workspaces)},
      {"huudis-audit-poll-seconds", "MM_HUUDIS_AUDIT_POLL_SECONDS", "30", "audit-log poll interval",
       Seconds(1, 86400, &Settings::huudis_audit_poll)},
      {"huudis-audit-overlap-seconds", "MM_HUUDIS_AUDIT_OVERLAP_SECONDS", "60",
       "how far before its watermark each audit poll reads again (entries read twice are duplicates)",
       Seconds(0, 86400, &Settings::huudis_audit_overlap)},
      {"reconcile-interval-seconds", "MM_RECONCILE_INTERVAL_SECONDS", "900",
       "interval of the full-listing reconcile runs (huudis-lists, the fusionauth-users sweep)",
       Seconds(1, 7 * 86400, &Settings::reconcile_interval)},
      {"reconcile-dry-run", "MM_RECONCILE_DRY_RUN", "0",
       "1: listing sources (huudis-lists, monocloud, fusionauth-users) report drift without applying it",
       Bool(&Settings::reconcile_dry_run)},
      {"monocloud-api-url", "MM_MONOCLOUD_API_URL", "(none: off)",
       "pull source monocloud: the tenant's base URL, e.g. https://acme.monocloud.com",
       BaseUrl(&Settings::monocloud_api_url)},
      {"monocloud-api-key-file", "MM_MONOCLOUD_API_KEY_FILE", "(none)",
       "file holding the MonoCloud API key (required with the URL)", Text(&Settings::monocloud_api_key_file)},
      {"monocloud-groups", "MM_MONOCLOUD_GROUPS", "(none)",
       "comma-separated MonoCloud group ids, each mirrored as a workspace", List(&Settings::monocloud_groups)},
      {"monocloud-poll-seconds", "MM_MONOCLOUD_POLL_SECONDS", "60", "MonoCloud poll interval",
       Seconds(1, 86400, &Settings::monocloud_poll)},
      {"fusionauth-api-url", "MM_FUSIONAUTH_API_URL", "(none: off)",
       "pull source fusionauth-users: the FusionAuth base URL, e.g. https://auth.example.com",
       BaseUrl(&Settings::fusionauth_api_url)},
      {"fusionauth-api-key-file", "MM_FUSIONAUTH_API_KEY_FILE", "(none)",
       "file holding the FusionAuth API key (required with the URL)", Text(&Settings::fusionauth_api_key_file)},
      {"fusionauth-tenants", "MM_FUSIONAUTH_TENANTS", "(none: every tenant; one sweep, no tenant header)",
       "comma-separated FusionAuth tenant ids: webhooks of other tenants are stored and ignored, and the "
       "sweep runs per tenant",
       List(&Settings::fusionauth_tenants)},
      {"fusionauth-hmac-secrets", "MM_FUSIONAUTH_HMAC_SECRETS", "(none)",
       "comma-separated FusionAuth webhook HMAC keys (HS256/384/512), each `secret` or `kid:secret`; a kid "
       "picks its secret, else every plain secret is tried (rotation). Prefer the environment or the file",
       List(&Settings::fusionauth_hmac_secrets)},
      {"fusionauth-hmac-secrets-file", "MM_FUSIONAUTH_HMAC_SECRETS_FILE", "(none)",
       "file holding FusionAuth HMAC keys, comma- or newline-separated", SecretsFile(&Settings::fusionauth_hmac_secrets)},
      {"fusionauth-public-keys-file", "MM_FUSIONAUTH_PUBLIC_KEYS_FILE", "(none)",
       "FusionAuth webhook public keys (RS/PS/ES/EdDSA) by kid: a JWKS document (/.well-known/jwks.json) or "
       "the answer of /api/jwt/public-key ({\"publicKeys\": {kid: PEM}})",
       Text(&Settings::fusionauth_public_keys_file)},
      {"fusionauth-keys-reload-seconds", "MM_FUSIONAUTH_KEYS_RELOAD_SECONDS", "10",
       "how often the FusionAuth public-keys file is checked for a change, which is then loaded without a "
       "restart (a file that does not load leaves the keys as they were); 0: read at start only",
       Seconds(0, 3600, &Settings::fusionauth_keys_reload)},
      {"fusionauth-memberships", "MM_FUSIONAUTH_MEMBERSHIPS", "registrations,groups",
       "which FusionAuth relations are memberships: registrations (of applications), groups, or both",
       [](const std::string& v, Settings& s) -> absl::Status {
         s.fusionauth_registrations = s.fusionauth_groups = false;
         for (const std::string& kind : SplitCommaList(v)) {
           if (kind == "registrations") {
             s.fusionauth_registrations = true;
           } else if (kind == "groups") {
             s.fusionauth_groups = true;
           } else {
             return absl::InvalidArgumentError("must be registrations, groups or registrations,groups");
           }
         }
         return absl::OkStatus();
       }},
      {"fusionauth-allow-unsigned", "MM_FUSIONAUTH_ALLOW_UNSIGNED", "0",
       "1: accept unsigned FusionAuth webhooks (FusionAuth before 1.48) that carry the HTTP Basic "
       "credentials of MM_FUSIONAUTH_BASIC_AUTH_FILE",
       Bool(&Settings::fusionauth_allow_unsigned)},
      {"fusionauth-basic-auth-file", "MM_FUSIONAUTH_BASIC_AUTH_FILE", "(none)",
       "file holding `user:password`, the webhook's HTTP Basic credentials (with MM_FUSIONAUTH_ALLOW_UNSIGNED)",
       Text(&Settings::fusionauth_basic_auth_file)},
      {"fusionauth-recheck-seconds", "MM_FUSIONAUTH_RECHECK_SECONDS", "5",
       "delay before re-reading a user after the mirror applied a FusionAuth deactivate or reactivate",
       Seconds(1, 3600, &Settings::fusionauth_recheck)},
      {"source-ca-file", "MM_SOURCE_CA_FILE", "(none: system CAs)",
       "PEM CA bundle the pull sources verify providers' certificates with (private CAs)",
       Text(&Settings::source_ca_file)},
      {"source-connect-timeout-ms", "MM_SOURCE_CONNECT_TIMEOUT_MS", "5000", "connect timeout of pull-source requests",
       Millis(100, 600000, &Settings::source_connect_timeout)},
      {"source-timeout-ms", "MM_SOURCE_TIMEOUT_MS", "30000",
       "time allowed for one attempt of a pull-source request (connect, TLS, send, receive)",
       Millis(100, 600000, &Settings::source_timeout)},
      {"source-page-size", "MM_SOURCE_PAGE_SIZE", "100", "items asked for per listing page (Huudis allows 100)",
       Int(1, 1000, [](Settings& s, int64_t n) { s.source_page_size = static_cast<int>(n); })},
      {"source-retry-attempts", "MM_SOURCE_RETRY_ATTEMPTS", "5",
       "attempts of a pull-source request answered 429/5xx or failing in transport, the first included",
       Int(1, 20, [](Settings& s, int64_t n) { s.source_retry_attempts = static_cast<int>(n); })},
      {"source-retry-backoff-ms", "MM_SOURCE_RETRY_BACKOFF_MS", "500",
       "first back-off between attempts (doubling, with full jitter, up to 30 s; Retry-After wins)",
       Millis(10, 60000, &Settings::source_retry_backoff)},
  };
  return specs;
}

// "MM_GRPC_TLS_KEY_FILE (--grpc-tls-key-file)": how errors name a setting checked after parsing.
std::string Named(std::string_view env) {
  for (const Spec& spec : Specs()) {
    if (env == spec.env) return absl::StrCat(spec.env, " (--", spec.flag, ")");
  }
  return std::string(env);
}

// The three settings of one port's TLS, by their environment names.
struct TlsNames {
  std::string cert, key, client_ca;
};

TlsNames NamesFor(const char* port) {  // port: "GRPC" or "HTTP"
  return {Named(absl::StrCat("MM_", port, "_TLS_CERT_FILE")),
          Named(absl::StrCat("MM_", port, "_TLS_KEY_FILE")),
          Named(absl::StrCat("MM_", port, "_TLS_CLIENT_CA_FILE"))};
}

absl::Status CheckTlsPairing(const TlsFiles& files, const TlsNames& names) {
  if (!files.cert_file.empty() && files.key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(names.key, " is required with ", names.cert));
  }
  if (files.cert_file.empty() && !files.key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(names.cert, " is required with ", names.key));
  }
  if (files.cert_file.empty() && !files.client_ca_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(names.client_ca, " needs TLS: set ", names.cert, " and ", names.key));
  }
  return absl::OkStatus();
}

struct OpenSslFree {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Bio = std::unique_ptr<BIO, OpenSslFree>;
using Cert = std::unique_ptr<X509, OpenSslFree>;
using Key = std::unique_ptr<EVP_PKEY, OpenSslFree>;

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The reason of OpenSSL's last error, and a clean error queue.
std::string OpenSslReason() {
  const char* text = ERR_reason_error_string(ERR_peek_last_error());
  std::string reason = text != nullptr ? text : "unknown error";
  ERR_clear_error();
  return reason;
}

}  // namespace

absl::StatusOr<std::string> ReadSettingFile(const std::string& path, const std::string& name) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", name, ": cannot read ", path, ": ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

namespace {

// Every certificate of a PEM bundle; an error if there is none or one does not parse.
absl::StatusOr<std::vector<Cert>> ParseCertificates(const std::string& pem, const std::string& path,
                                                    const std::string& name) {
  Bio bio = MemoryBio(pem);
  std::vector<Cert> certs;
  ERR_clear_error();
  while (Cert cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    certs.push_back(std::move(cert));
  }
  unsigned long last = ERR_peek_last_error();
  bool clean_end = ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  if (!clean_end || certs.empty()) {
    std::string reason = OpenSslReason();
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", name, ": ", path, " is not a PEM certificate (", reason, ")"));
  }
  ERR_clear_error();
  return certs;
}

absl::StatusOr<TlsPem> LoadTls(const TlsFiles& files, const TlsNames& names) {
  if (absl::Status s = CheckTlsPairing(files, names); !s.ok()) return s;
  TlsPem out;
  if (!files.enabled()) return out;
  auto cert_chain = ReadSettingFile(files.cert_file, names.cert);
  if (!cert_chain.ok()) return cert_chain.status();
  auto certs = ParseCertificates(*cert_chain, files.cert_file, names.cert);
  if (!certs.ok()) return certs.status();

  auto private_key = ReadSettingFile(files.key_file, names.key);
  if (!private_key.ok()) return private_key.status();
  Bio key_bio = MemoryBio(*private_key);
  // No passphrase prompt: an encrypted key is refused rather than waiting on a terminal.
  Key key{PEM_read_bio_PrivateKey(key_bio.get(), nullptr,
                                  [](char*, int, int, void*) { return 0; }, nullptr)};
  if (!key) {
    std::string reason = OpenSslReason();
    return absl::InvalidArgumentError(absl::StrCat("invalid ", names.key, ": ", files.key_file,
                                                   " is not an unencrypted PEM private key (",
                                                   reason, ")"));
  }
  if (X509_check_private_key(certs->front().get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("invalid ", names.key, ": ", files.key_file,
                                                   " is not the key of the certificate in ",
                                                   files.cert_file));
  }
  out.cert_chain = std::move(*cert_chain);
  out.private_key = std::move(*private_key);

  if (!files.client_ca_file.empty()) {
    auto client_ca = ReadSettingFile(files.client_ca_file, names.client_ca);
    if (!client_ca.ok()) return client_ca.status();
    if (auto cas = ParseCertificates(*client_ca, files.client_ca_file, names.client_ca); !cas.ok()) {
      return cas.status();
    }
    out.client_ca = std::move(*client_ca);
  }
  return out;
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
  if (s.database_transaction_pooling && s.database_listen_url.empty() &&
      (!s.huudis_api_url.empty() || !s.monocloud_api_url.empty() || !s.fusionauth_api_url.empty())) {
    return absl::InvalidArgumentError(
        "MM_DATABASE_POOL_MODE=transaction with a pull source needs MM_DATABASE_LISTEN_URL: the source's "
        "leader lock is a session advisory lock, which a transaction pooler cannot hold");
  }
  if (s.callers_file.empty() && !s.insecure_no_auth) {
    return absl::InvalidArgumentError(
        "no callers: set MM_CALLERS_FILE (--callers-file), or MM_INSECURE_NO_AUTH=1 for "
        "development only");
  }
  if (s.fusionauth_allow_unsigned && s.fusionauth_basic_auth_file.empty()) {
    return absl::InvalidArgumentError(
        "MM_FUSIONAUTH_ALLOW_UNSIGNED=1 needs MM_FUSIONAUTH_BASIC_AUTH_FILE: unsigned webhooks are accepted only "
        "with its credentials");
  }
  if (absl::Status tls = CheckTlsPairing(s.grpc_tls, NamesFor("GRPC")); !tls.ok()) return tls;
  if (absl::Status tls = CheckTlsPairing(s.http_tls, NamesFor("HTTP")); !tls.ok()) return tls;
  struct SourceNeeds {
    const std::string& url;
    const char* url_env;
    const std::string& credential;
    const char* credential_env;
    const std::vector<std::string>* scopes;  // must not be empty, when given
    const char* scopes_env;
  };
  for (const SourceNeeds& n : {SourceNeeds{s.huudis_api_url, "MM_HUUDIS_API_URL", s.huudis_api_token_file,
                                           "MM_HUUDIS_API_TOKEN_FILE", &s.huudis_workspaces, "MM_HUUDIS_WORKSPACES"},
                               SourceNeeds{s.monocloud_api_url, "MM_MONOCLOUD_API_URL", s.monocloud_api_key_file,
                                           "MM_MONOCLOUD_API_KEY_FILE", nullptr, nullptr},
                               SourceNeeds{s.fusionauth_api_url, "MM_FUSIONAUTH_API_URL", s.fusionauth_api_key_file,
                                           "MM_FUSIONAUTH_API_KEY_FILE", nullptr, nullptr}}) {
    if (n.url.empty()) continue;
    if (n.credential.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(Named(n.credential_env), " is required with ", Named(n.url_env)));
    }
    if (n.scopes != nullptr && n.scopes->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(Named(n.scopes_env), " is required with ", Named(n.url_env)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TlsPem> LoadGrpcTls(const Settings& settings) {
  return LoadTls(settings.grpc_tls, NamesFor("GRPC"));
}

absl::StatusOr<TlsPem> LoadHttpTls(const Settings& settings) {
  return LoadTls(settings.http_tls, NamesFor("HTTP"));
}

}  // namespace mm::config
