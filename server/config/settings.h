#pragma once
// Every setting of `membership-mirror serve`, each a flag with an environment twin
// (DESIGN §7): `--database-url` / MM_DATABASE_URL. A flag wins over its environment variable,
// which wins over the default. Secrets come from the environment or from files, never flags'
// echo: they are never printed or logged.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mm::config {

// The TLS files of one port (paths as configured). No certificate: plaintext. A client CA
// turns on mutual TLS: client certificates are verified against it.
struct TlsFiles {
  std::string cert_file;       // PEM certificate chain, leaf first
  std::string key_file;        // PEM private key of the leaf
  std::string client_ca_file;  // PEM CA certificate(s) that sign client certificates
  bool enabled() const { return !cert_file.empty(); }
};

// The contents of TlsFiles, read and checked (every PEM parses, the key matches the
// certificate). Empty `cert_chain` = plaintext; empty `client_ca` = no client certificates.
struct TlsPem {
  std::string cert_chain;
  std::string private_key;
  std::string client_ca;
  bool enabled() const { return !cert_chain.empty(); }
};

struct Settings {
  std::string database_url;
  // A connection with a session of its own (LISTEN, the pull-source leader lock); empty = the
  // database URL. Needed when that one goes through a transaction pooler.
  std::string database_listen_url;
  // A streaming read replica for the DB-backed read RPCs (store/replica_router.h); empty = none,
  // every read goes to database_url. Writes, the change log, the cache and the snapshot always
  // use database_url.
  std::string database_read_url;
  // How long a read with min_sequence waits for the replica's replay before the primary answers.
  std::chrono::milliseconds database_read_max_wait{1000};
  std::string http_listen = "0.0.0.0:8080";
  std::string grpc_listen = "0.0.0.0:50051";
  std::vector<std::string> huudis_secrets;
  std::string callers_file;
  bool insecure_no_auth = false;
  bool unknown_users_active = true;
  bool database_transaction_pooling = false;  // MM_DATABASE_POOL_MODE=transaction
  std::chrono::seconds huudis_tolerance{300};
  std::chrono::seconds max_clock_skew{300};
  size_t max_body_bytes = 1048576;
  std::string log_level = "info";
  int http_threads = 2;
  int max_connections = 1024;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds shutdown_grace{20000};
  std::chrono::milliseconds request_timeout{15000};
  std::chrono::seconds db_connect_timeout{5};
  std::chrono::milliseconds db_statement_timeout{30000};
  size_t writer_max_batch = 512;
  size_t writer_max_queue = 20000;
  std::chrono::milliseconds poll_interval{250};
  int db_read_threads = 4;
  size_t db_read_queue = 1000;
  size_t max_sequence_waiters = 10000;
  int max_watch_streams = 1000;
  std::chrono::seconds changelog_retention{30 * 24 * 3600};
  // Seat-ledger retention (docs/design.md §4b): nullopt keeps everything.
  std::optional<std::chrono::seconds> seat_ledger_retention{std::chrono::seconds(400 * 86400)};
  std::chrono::milliseconds prune_interval{3600 * 1000};
  TlsFiles grpc_tls;  // MM_GRPC_TLS_{CERT,KEY,CLIENT_CA}_FILE
  TlsFiles http_tls;  // MM_HTTP_TLS_{CERT,KEY,CLIENT_CA}_FILE

  // Pull sources (DESIGN §3b); a source runs when its base URL is set.
  std::string huudis_api_url;
  std::string huudis_api_token_file;
  std::vector<std::string> huudis_workspaces;
  std::chrono::seconds huudis_audit_poll{30};
  std::chrono::seconds huudis_audit_overlap{60};
  std::chrono::seconds reconcile_interval{900};
  bool reconcile_dry_run = false;
  std::string monocloud_api_url;
  std::string monocloud_api_key_file;
  std::vector<std::string> monocloud_groups;
  std::chrono::seconds monocloud_poll{60};
  std::string fusionauth_api_url;
  std::string fusionauth_api_key_file;
  std::vector<std::string> fusionauth_tenants;
  // FusionAuth webhooks (docs/design.md "FusionAuth webhooks").
  std::vector<std::string> fusionauth_hmac_secrets;  // `secret` or `kid:secret`
  std::string fusionauth_public_keys_file;
  std::chrono::seconds fusionauth_keys_reload{10};  // 0: read at start only
  bool fusionauth_registrations = true;
  bool fusionauth_groups = true;
  bool fusionauth_allow_unsigned = false;
  std::string fusionauth_basic_auth_file;
  std::chrono::seconds fusionauth_recheck{5};
  std::string source_ca_file;
  std::chrono::milliseconds source_connect_timeout{5000};
  std::chrono::milliseconds source_timeout{30000};
  int source_page_size = 100;
  int source_retry_attempts = 5;
  std::chrono::milliseconds source_retry_backoff{500};
};

struct ParsedCommandLine {
  Settings settings;
  bool help = false;
};

// Parses `args` (after the subcommand) and the environment (via `getenv`, injectable for
// tests). INVALID_ARGUMENT names the offending flag or variable and what is wrong.
absl::StatusOr<ParsedCommandLine> ParseSettings(
    const std::vector<std::string>& args,
    const std::function<const char*(const char*)>& getenv);

// The `--help` text: every flag, its environment twin, default and meaning.
std::string SettingsHelp();

// Checks that need the whole set (e.g. serve needs a database URL, a TLS certificate needs
// its key, a pull source's URL needs its credential file). Reads no file.
absl::Status ValidateForServe(const Settings& settings);

// The contents of the file a setting names; INVALID_ARGUMENT "invalid <name>: cannot read <path>: <why>".
absl::StatusOr<std::string> ReadSettingFile(const std::string& path, const std::string& name);

// Reads and checks the TLS files of the gRPC or the HTTP port, so that a bad file is an error
// at start, not at the first connection: INVALID_ARGUMENT naming the setting (e.g.
// MM_GRPC_TLS_KEY_FILE) for a missing pair, an unreadable file, a PEM that does not parse or a
// key that does not match the certificate.
absl::StatusOr<TlsPem> LoadGrpcTls(const Settings& settings);
absl::StatusOr<TlsPem> LoadHttpTls(const Settings& settings);

}  // namespace mm::config
