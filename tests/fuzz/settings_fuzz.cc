// Fuzz target: settings (server/config/settings.h ParseSettings, with argv and environment).
// Input lines are the command line and the environment: a line NAME=value with NAME an
// MM_ variable is the environment, any other line an argument. Checks: the status contract,
// and the round trip of the documented rule that every flag has an environment twin: the same
// environment given as flags (their names read from SettingsHelp(), ahead of the arguments,
// which win over it as flags win over the environment) parses to the same settings.
// --huudis-secrets-file and --fusionauth-hmac-secrets-file are left out: they read the file they
// name.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/settings.h"
#include "fuzz_support.h"

namespace {

using mm::config::Settings;

void Put(std::string& out, const char* name, const std::string& v) { out += std::string(name) + "=" + v + "\n"; }
void Put(std::string& out, const char* name, bool v) { Put(out, name, std::string(v ? "1" : "0")); }
template <typename Number>
  requires std::is_arithmetic_v<Number>
void Put(std::string& out, const char* name, Number v) {
  Put(out, name, std::to_string(v));
}
template <typename Rep, typename Period>
void Put(std::string& out, const char* name, std::chrono::duration<Rep, Period> v) {
  Put(out, name, std::to_string(v.count()));
}
template <typename Rep, typename Period>
void Put(std::string& out, const char* name, const std::optional<std::chrono::duration<Rep, Period>>& v) {
  Put(out, name, v ? std::to_string(v->count()) : std::string("none"));
}
void Put(std::string& out, const char* name, const std::vector<std::string>& v) {
  std::string all;
  for (const std::string& item : v) all += "[" + item + "]";
  Put(out, name, all);
}
void Put(std::string& out, const char* name, const mm::config::TlsFiles& v) {
  Put(out, name, v.cert_file + "|" + v.key_file + "|" + v.client_ca_file);
}

// Every field of Settings, as text, for comparing two of them (Settings has no operator==).
std::string SettingsText(const Settings& s) {
  // A field added to Settings must be added here too (this size is x86-64 libstdc++'s).
  static_assert(sizeof(Settings) == 1104, "Settings changed: update SettingsText in tests/fuzz/settings_fuzz.cc");
  std::string out;
  Put(out, "database_url", s.database_url);
  Put(out, "database_listen_url", s.database_listen_url);
  Put(out, "database_read_url", s.database_read_url);
  Put(out, "database_read_max_wait", s.database_read_max_wait);
  Put(out, "database_transaction_pooling", s.database_transaction_pooling);
  Put(out, "http_listen", s.http_listen);
  Put(out, "grpc_listen", s.grpc_listen);
  Put(out, "huudis_secrets", s.huudis_secrets);
  Put(out, "callers_file", s.callers_file);
  Put(out, "insecure_no_auth", s.insecure_no_auth);
  Put(out, "unknown_users_active", s.unknown_users_active);
  Put(out, "huudis_tolerance", s.huudis_tolerance);
  Put(out, "max_clock_skew", s.max_clock_skew);
  Put(out, "max_body_bytes", s.max_body_bytes);
  Put(out, "log_level", s.log_level);
  Put(out, "http_threads", s.http_threads);
  Put(out, "max_connections", s.max_connections);
  Put(out, "header_timeout", s.header_timeout);
  Put(out, "body_timeout", s.body_timeout);
  Put(out, "shutdown_grace", s.shutdown_grace);
  Put(out, "request_timeout", s.request_timeout);
  Put(out, "db_connect_timeout", s.db_connect_timeout);
  Put(out, "db_statement_timeout", s.db_statement_timeout);
  Put(out, "writer_max_batch", s.writer_max_batch);
  Put(out, "writer_max_queue", s.writer_max_queue);
  Put(out, "poll_interval", s.poll_interval);
  Put(out, "db_read_threads", s.db_read_threads);
  Put(out, "db_read_queue", s.db_read_queue);
  Put(out, "max_sequence_waiters", s.max_sequence_waiters);
  Put(out, "max_watch_streams", s.max_watch_streams);
  Put(out, "changelog_retention", s.changelog_retention);
  Put(out, "seat_ledger_retention", s.seat_ledger_retention);
  Put(out, "prune_interval", s.prune_interval);
  Put(out, "grpc_tls", s.grpc_tls);
  Put(out, "http_tls", s.http_tls);
  Put(out, "huudis_api_url", s.huudis_api_url);
  Put(out, "huudis_api_token_file", s.huudis_api_token_file);
  Put(out, "huudis_workspaces", s.huudis_workspaces);
  Put(out, "huudis_audit_poll", s.huudis_audit_poll);
  Put(out, "huudis_audit_overlap", s.huudis_audit_overlap);
  Put(out, "reconcile_interval", s.reconcile_interval);
  Put(out, "reconcile_dry_run", s.reconcile_dry_run);
  Put(out, "monocloud_api_url", s.monocloud_api_url);
  Put(out, "monocloud_api_key_file", s.monocloud_api_key_file);
  Put(out, "monocloud_groups", s.monocloud_groups);
  Put(out, "monocloud_poll", s.monocloud_poll);
  Put(out, "fusionauth_api_url", s.fusionauth_api_url);
  Put(out, "fusionauth_api_key_file", s.fusionauth_api_key_file);
  Put(out, "fusionauth_tenants", s.fusionauth_tenants);
  Put(out, "fusionauth_hmac_secrets", s.fusionauth_hmac_secrets);
  Put(out, "fusionauth_public_keys_file", s.fusionauth_public_keys_file);
  Put(out, "fusionauth_keys_reload", s.fusionauth_keys_reload);
  Put(out, "fusionauth_registrations", s.fusionauth_registrations);
  Put(out, "fusionauth_groups", s.fusionauth_groups);
  Put(out, "fusionauth_allow_unsigned", s.fusionauth_allow_unsigned);
  Put(out, "fusionauth_basic_auth_file", s.fusionauth_basic_auth_file);
  Put(out, "fusionauth_recheck", s.fusionauth_recheck);
  Put(out, "source_ca_file", s.source_ca_file);
  Put(out, "source_connect_timeout", s.source_connect_timeout);
  Put(out, "source_timeout", s.source_timeout);
  Put(out, "source_page_size", s.source_page_size);
  Put(out, "source_retry_attempts", s.source_retry_attempts);
  Put(out, "source_retry_backoff", s.source_retry_backoff);
  return out;
}

// (environment name, flag) of every setting, from the --help text: "  --flag  [ENV]  default: ...".
const std::map<std::string, std::string>& FlagOfEnv() {
  static const std::map<std::string, std::string> flags = [] {
    std::map<std::string, std::string> out;
    const std::string help = mm::config::SettingsHelp();
    size_t at = 0;
    while ((at = help.find("\n  --", at)) != std::string::npos) {
      const size_t flag_begin = at + 5;
      const size_t flag_end = help.find("  [", flag_begin);
      const size_t env_end = help.find(']', flag_end);
      MM_FUZZ_CHECK(flag_end != std::string::npos && env_end != std::string::npos);
      out[help.substr(flag_end + 3, env_end - flag_end - 3)] = help.substr(flag_begin, flag_end - flag_begin);
      at = env_end;
    }
    MM_FUZZ_CHECK(out.size() > 40);
    return out;
  }();
  return flags;
}

// Settings that read the file they name when parsed, as (flag, environment name).
constexpr std::pair<std::string_view, std::string_view> kFileReading[] = {
    {"--huudis-secrets-file", "MM_HUUDIS_SECRETS_FILE"},
    {"--fusionauth-hmac-secrets-file", "MM_FUSIONAUTH_HMAC_SECRETS_FILE"},
};
bool ReadsAFile(std::string_view line) {
  for (const auto& [flag, env] : kFileReading) {
    if (line.starts_with(flag) || (line.starts_with(env) && line.substr(env.size()).starts_with("="))) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string_view rest = mm::fuzz::AsText(data, size);
  while (!rest.empty()) {
    const auto [line, after] = mm::fuzz::SplitFirst(rest, '\n');
    rest = after;
    const size_t eq = line.find('=');
    if (ReadsAFile(line)) continue;
    if (line.starts_with("MM_") && eq != std::string_view::npos) {
      // An environment value ends at a NUL, as it does in a real environment.
      const std::string_view value = line.substr(eq + 1);
      env[std::string(line.substr(0, eq))] = value.substr(0, value.find('\0'));
    } else {
      args.emplace_back(line);
    }
  }
  auto getenv = [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  absl::StatusOr<mm::config::ParsedCommandLine> parsed = mm::config::ParseSettings(args, getenv);
  if (!parsed.ok()) MM_FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);

  std::vector<std::string> as_flags;
  for (const auto& [name, value] : env) {
    auto flag = FlagOfEnv().find(name);
    if (flag != FlagOfEnv().end()) as_flags.push_back("--" + flag->second + "=" + value);
  }
  as_flags.insert(as_flags.end(), args.begin(), args.end());
  absl::StatusOr<mm::config::ParsedCommandLine> twin =
      mm::config::ParseSettings(as_flags, [](const char*) -> const char* { return nullptr; });
  MM_FUZZ_CHECK(parsed.ok() == twin.ok());
  if (parsed.ok()) {
    MM_FUZZ_CHECK(parsed->help == twin->help);
    MM_FUZZ_CHECK(SettingsText(parsed->settings) == SettingsText(twin->settings));
    mm::config::ValidateForServe(parsed->settings).IgnoreError();
  }
  return 0;
}
