// Settings (DESIGN §7): defaults, environment twins, flags over environment, errors that name
// the flag or variable. The environment is a fake passed to ParseSettings; the real one is
// never read or written.

#include "config/settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace mm::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using Env = std::map<std::string, std::string>;

// Parses with a fake environment holding `env`.
absl::StatusOr<ParsedCommandLine> Parse(const std::vector<std::string>& args, const Env& env = {}) {
  return ParseSettings(args, [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

Settings ParseOk(const std::vector<std::string>& args, const Env& env = {}) {
  absl::StatusOr<ParsedCommandLine> parsed = Parse(args, env);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? parsed->settings : Settings{};
}

// Expects INVALID_ARGUMENT whose message names `name` (the flag or variable at fault).
void ExpectInvalid(const std::vector<std::string>& args, const Env& env, const std::string& name) {
  absl::StatusOr<ParsedCommandLine> parsed = Parse(args, env);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
      << "args: " << ::testing::PrintToString(args) << " env: " << ::testing::PrintToString(env);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(name));
}

// A file in the test's temporary directory, removed at the end of the test.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& content)
      : path_(std::filesystem::path(::testing::TempDir()) / name) {
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(SettingsTest, Defaults) {
  absl::StatusOr<ParsedCommandLine> parsed = Parse({});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_FALSE(parsed->help);
  const Settings& s = parsed->settings;
  EXPECT_EQ(s.database_url, "");
  EXPECT_EQ(s.http_listen, "0.0.0.0:8080");
  EXPECT_EQ(s.grpc_listen, "0.0.0.0:50051");
  EXPECT_THAT(s.huudis_secrets, IsEmpty());
  EXPECT_EQ(s.callers_file, "");
  EXPECT_FALSE(s.insecure_no_auth);
  EXPECT_TRUE(s.unknown_users_active);
  EXPECT_EQ(s.huudis_tolerance, std::chrono::seconds(300));
  EXPECT_EQ(s.max_body_bytes, 1048576u);
  EXPECT_EQ(s.log_level, "info");
  EXPECT_EQ(s.writer_max_batch, 512u);
  EXPECT_EQ(s.writer_max_queue, 20000u);
}

TEST(SettingsTest, EnvironmentTwinsSetEverySetting) {
  Settings s = ParseOk({}, {{"MM_DATABASE_URL", "postgresql://db/mm"},
                            {"MM_HTTP_LISTEN", "127.0.0.1:9000"},
                            {"MM_GRPC_LISTEN", "[::1]:9001"},
                            {"MM_HUUDIS_SECRETS", "whsec_a, whsec_b ,,"},
                            {"MM_CALLERS_FILE", "/etc/mm/callers.json"},
                            {"MM_INSECURE_NO_AUTH", "1"},
                            {"MM_UNKNOWN_USERS", "inactive"},
                            {"MM_HUUDIS_TOLERANCE", "60"},
                            {"MM_MAX_BODY_BYTES", "2048"},
                            {"MM_LOG_LEVEL", "debug"},
                            {"MM_HTTP_THREADS", "4"},
                            {"MM_MAX_CONNECTIONS", "10"},
                            {"MM_HEADER_TIMEOUT_MS", "1000"},
                            {"MM_BODY_TIMEOUT_MS", "2000"},
                            {"MM_SHUTDOWN_GRACE_MS", "0"},
                            {"MM_WRITER_MAX_BATCH", "64"},
                            {"MM_WRITER_MAX_QUEUE", "100"},
                            {"MM_POLL_INTERVAL_MS", "10"}});
  EXPECT_EQ(s.database_url, "postgresql://db/mm");
  EXPECT_EQ(s.http_listen, "127.0.0.1:9000");
  EXPECT_EQ(s.grpc_listen, "[::1]:9001");
  EXPECT_THAT(s.huudis_secrets, ElementsAre("whsec_a", "whsec_b"));
  EXPECT_EQ(s.callers_file, "/etc/mm/callers.json");
  EXPECT_TRUE(s.insecure_no_auth);
  EXPECT_FALSE(s.unknown_users_active);
  EXPECT_EQ(s.huudis_tolerance, std::chrono::seconds(60));
  EXPECT_EQ(s.max_body_bytes, 2048u);
  EXPECT_EQ(s.log_level, "debug");
  EXPECT_EQ(s.http_threads, 4);
  EXPECT_EQ(s.max_connections, 10);
  EXPECT_EQ(s.header_timeout, std::chrono::milliseconds(1000));
  EXPECT_EQ(s.body_timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(s.shutdown_grace, std::chrono::milliseconds(0));
  EXPECT_EQ(s.writer_max_batch, 64u);
  EXPECT_EQ(s.writer_max_queue, 100u);
  EXPECT_EQ(s.poll_interval, std::chrono::milliseconds(10));
}

TEST(SettingsTest, ReadReplicaIsOptionalWithABoundedWait) {
  Settings s = ParseOk({});
  EXPECT_EQ(s.database_read_url, "") << "no read replica: every read goes to MM_DATABASE_URL";
  EXPECT_EQ(s.database_read_max_wait, std::chrono::milliseconds(1000));
  s = ParseOk({"--database-read-max-wait-ms=0"},
              {{"MM_DATABASE_READ_URL", "postgresql://standby/mm"}, {"MM_DATABASE_READ_MAX_WAIT_MS", "250"}});
  EXPECT_EQ(s.database_read_url, "postgresql://standby/mm");
  EXPECT_EQ(s.database_read_max_wait, std::chrono::milliseconds(0)) << "the flag wins";
  ExpectInvalid({}, {{"MM_DATABASE_READ_MAX_WAIT_MS", "10001"}}, "MM_DATABASE_READ_MAX_WAIT_MS");
  ExpectInvalid({"--database-read-max-wait-ms", "-1"}, {}, "--database-read-max-wait-ms");
  EXPECT_THAT(SettingsHelp(), HasSubstr("[MM_DATABASE_READ_URL]"));
}

TEST(SettingsTest, FlagsWithEqualsAndWithSeparateValue) {
  for (bool with_equals : {true, false}) {
    SCOPED_TRACE(with_equals ? "--flag=value" : "--flag value");
    std::vector<std::string> args;
    auto flag = [&](const std::string& name, const std::string& value) {
      if (with_equals) {
        args.push_back("--" + name + "=" + value);
      } else {
        args.push_back("--" + name);
        args.push_back(value);
      }
    };
    flag("database-url", "host=db dbname=mm");  // a value with a space and '='
    flag("grpc-listen", "localhost:1234");
    flag("unknown-users", "inactive");
    flag("huudis-tolerance", "1");
    flag("max-body-bytes", "10");
    flag("insecure-no-auth", "true");
    flag("writer-max-queue", "7");
    Settings s = ParseOk(args);
    EXPECT_EQ(s.database_url, "host=db dbname=mm");
    EXPECT_EQ(s.grpc_listen, "localhost:1234");
    EXPECT_FALSE(s.unknown_users_active);
    EXPECT_EQ(s.huudis_tolerance, std::chrono::seconds(1));
    EXPECT_EQ(s.max_body_bytes, 10u);
    EXPECT_TRUE(s.insecure_no_auth);
    EXPECT_EQ(s.writer_max_queue, 7u);
  }
}

TEST(SettingsTest, ValueMayContainEqualsSign) {
  Settings s = ParseOk({"--database-url=postgresql://u:p@db/mm?sslmode=require"});
  EXPECT_EQ(s.database_url, "postgresql://u:p@db/mm?sslmode=require");
}

TEST(SettingsTest, FlagOverridesEnvironment) {
  Env env = {{"MM_HTTP_LISTEN", "1.1.1.1:1"},
             {"MM_UNKNOWN_USERS", "inactive"},
             {"MM_HUUDIS_SECRETS", "whsec_env"}};
  Settings s = ParseOk(
      {"--http-listen", "2.2.2.2:2", "--unknown-users=active", "--huudis-secrets=whsec_flag"}, env);
  EXPECT_EQ(s.http_listen, "2.2.2.2:2");
  EXPECT_TRUE(s.unknown_users_active);
  EXPECT_THAT(s.huudis_secrets, ElementsAre("whsec_flag"));
}

TEST(SettingsTest, FlagOverridesABadEnvironmentValue) {
  Settings s = ParseOk({"--huudis-tolerance=30"}, {{"MM_HUUDIS_TOLERANCE", "banana"}});
  EXPECT_EQ(s.huudis_tolerance, std::chrono::seconds(30));
}

TEST(SettingsTest, LastRepeatedFlagWins) {
  Settings s = ParseOk({"--log-level=warn", "--log-level", "error"});
  EXPECT_EQ(s.log_level, "error");
}

TEST(SettingsTest, InsecureNoAuthAcceptsZeroOneTrueFalse) {
  EXPECT_TRUE(ParseOk({}, {{"MM_INSECURE_NO_AUTH", "1"}}).insecure_no_auth);
  EXPECT_TRUE(ParseOk({}, {{"MM_INSECURE_NO_AUTH", "true"}}).insecure_no_auth);
  EXPECT_FALSE(ParseOk({}, {{"MM_INSECURE_NO_AUTH", "0"}}).insecure_no_auth);
  EXPECT_FALSE(ParseOk({}, {{"MM_INSECURE_NO_AUTH", "false"}}).insecure_no_auth);
}

TEST(SettingsTest, Help) {
  for (const char* arg : {"--help", "-h"}) {
    absl::StatusOr<ParsedCommandLine> parsed = Parse({arg});
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_TRUE(parsed->help);
  }
}

TEST(SettingsTest, UnknownFlagIsNamed) {
  ExpectInvalid({"--no-such-flag=1"}, {}, "--no-such-flag");
  ExpectInvalid({"--database"}, {}, "--database");  // no prefix matching
}

TEST(SettingsTest, PositionalArgumentIsRefused) {
  ExpectInvalid({"serve"}, {}, "serve");
  ExpectInvalid({"-x"}, {}, "-x");
}

TEST(SettingsTest, MissingValueIsNamed) {
  ExpectInvalid({"--database-url"}, {}, "--database-url");
  ExpectInvalid({"--log-level=debug", "--huudis-tolerance"}, {}, "--huudis-tolerance");
}

TEST(SettingsTest, BadIntegersAreNamed) {
  for (const char* bad : {"abc", "12x", "", " 5", "5 ", "5.0", "0x10", "99999999999999999999"}) {
    SCOPED_TRACE(std::string("value '") + bad + "'");
    ExpectInvalid({std::string("--huudis-tolerance=") + bad}, {}, "--huudis-tolerance");
    ExpectInvalid({}, {{"MM_HUUDIS_TOLERANCE", bad}}, "MM_HUUDIS_TOLERANCE");
  }
}

TEST(SettingsTest, OutOfRangeValuesAreNamed) {
  ExpectInvalid({"--huudis-tolerance=0"}, {}, "--huudis-tolerance");
  ExpectInvalid({"--huudis-tolerance=86401"}, {}, "--huudis-tolerance");
  ExpectInvalid({"--huudis-tolerance=-5"}, {}, "--huudis-tolerance");
  ExpectInvalid({}, {{"MM_MAX_BODY_BYTES", "0"}}, "MM_MAX_BODY_BYTES");
  ExpectInvalid({}, {{"MM_HTTP_THREADS", "65"}}, "MM_HTTP_THREADS");
  ExpectInvalid({}, {{"MM_POLL_INTERVAL_MS", "9"}}, "MM_POLL_INTERVAL_MS");
  ExpectInvalid({}, {{"MM_HEADER_TIMEOUT_MS", "99"}}, "MM_HEADER_TIMEOUT_MS");
  ExpectInvalid({}, {{"MM_WRITER_MAX_BATCH", "0"}}, "MM_WRITER_MAX_BATCH");
  ExpectInvalid({}, {{"MM_WRITER_MAX_QUEUE", "0"}}, "MM_WRITER_MAX_QUEUE");
}

TEST(SettingsTest, RangeBoundsAreInclusive) {
  EXPECT_EQ(ParseOk({"--huudis-tolerance=1"}).huudis_tolerance, std::chrono::seconds(1));
  EXPECT_EQ(ParseOk({"--huudis-tolerance=86400"}).huudis_tolerance, std::chrono::seconds(86400));
  EXPECT_EQ(ParseOk({"--max-body-bytes=67108864"}).max_body_bytes, 67108864u);
  ExpectInvalid({"--max-body-bytes=67108865"}, {}, "--max-body-bytes");
}

TEST(SettingsTest, BadEnumValuesAreNamed) {
  ExpectInvalid({"--unknown-users=maybe"}, {}, "--unknown-users");
  ExpectInvalid({}, {{"MM_UNKNOWN_USERS", "Active"}}, "MM_UNKNOWN_USERS");
  ExpectInvalid({"--log-level=trace"}, {}, "--log-level");
  ExpectInvalid({}, {{"MM_INSECURE_NO_AUTH", "yes"}}, "MM_INSECURE_NO_AUTH");
}

TEST(SettingsTest, BadListenAddressesAreNamed) {
  for (const char* bad : {"8080", ":8080", "host:", "host:70000", "host:http", ""}) {
    SCOPED_TRACE(bad);
    ExpectInvalid({std::string("--http-listen=") + bad}, {}, "--http-listen");
    ExpectInvalid({}, {{"MM_GRPC_LISTEN", bad}}, "MM_GRPC_LISTEN");
  }
}

TEST(SettingsTest, SecretsFileAddsToTheEnvironmentSecrets) {
  TempFile file("settings_test_secrets", "whsec_f1\nwhsec_f2, whsec_f3\r\n\n");
  Settings s =
      ParseOk({}, {{"MM_HUUDIS_SECRETS", "whsec_env"}, {"MM_HUUDIS_SECRETS_FILE", file.path()}});
  EXPECT_THAT(s.huudis_secrets, ElementsAre("whsec_env", "whsec_f1", "whsec_f2", "whsec_f3"));

  // The same through the flag, with the secrets also given as a flag.
  s = ParseOk({"--huudis-secrets-file", file.path(), "--huudis-secrets=whsec_a,whsec_b"});
  EXPECT_THAT(s.huudis_secrets,
              ElementsAre("whsec_a", "whsec_b", "whsec_f1", "whsec_f2", "whsec_f3"));
}

TEST(SettingsTest, UnreadableSecretsFileIsNamed) {
  std::string missing = (std::filesystem::path(::testing::TempDir()) / "no_such_file").string();
  ExpectInvalid({"--huudis-secrets-file=" + missing}, {}, "--huudis-secrets-file");
  ExpectInvalid({}, {{"MM_HUUDIS_SECRETS_FILE", missing}}, "MM_HUUDIS_SECRETS_FILE");
}

TEST(SettingsTest, ReadsEveryDesignEnvironmentName) {
  std::set<std::string> asked;
  ASSERT_TRUE(ParseSettings({}, [&](const char* name) -> const char* {
                asked.insert(name);
                return nullptr;
              }).ok());
  for (const char* name : {"MM_DATABASE_URL", "MM_HTTP_LISTEN", "MM_GRPC_LISTEN",
                           "MM_HUUDIS_SECRETS", "MM_CALLERS_FILE", "MM_INSECURE_NO_AUTH",
                           "MM_UNKNOWN_USERS", "MM_HUUDIS_TOLERANCE", "MM_MAX_BODY_BYTES"}) {
    EXPECT_TRUE(asked.contains(name)) << name;
  }
  for (const std::string& name : asked) EXPECT_EQ(name.rfind("MM_", 0), 0u) << name;
}

TEST(SettingsTest, HelpListsEveryEnvironmentVariableThatIsRead) {
  std::set<std::string> asked;
  ASSERT_TRUE(ParseSettings({}, [&](const char* name) -> const char* {
                asked.insert(name);
                return nullptr;
              }).ok());
  const std::string help = SettingsHelp();
  for (const std::string& name : asked) EXPECT_THAT(help, HasSubstr("[" + name + "]"));
}

TEST(SettingsTest, HelpListsEveryImplementedDesignSetting) {
  // DESIGN §7 names; the FusionAuth ones (MM_FUSIONAUTH_HMAC_SECRETS,
  // MM_FUSIONAUTH_PUBLIC_KEYS_FILE) are not implemented yet (no FusionAuth adapter).
  const std::string help = SettingsHelp();
  for (const char* name : {"MM_DATABASE_URL",        "--database-url",
                           "MM_HTTP_LISTEN",         "--http-listen",
                           "MM_GRPC_LISTEN",         "--grpc-listen",
                           "MM_HUUDIS_SECRETS",      "--huudis-secrets",
                           "MM_HUUDIS_SECRETS_FILE", "MM_CALLERS_FILE",
                           "--callers-file",         "MM_INSECURE_NO_AUTH",
                           "--insecure-no-auth",     "MM_UNKNOWN_USERS",
                           "--unknown-users",        "MM_HUUDIS_TOLERANCE",
                           "--huudis-tolerance",     "MM_MAX_BODY_BYTES",
                           "--max-body-bytes",       "0.0.0.0:8080",
                           "0.0.0.0:50051",          "1048576"}) {
    EXPECT_THAT(help, HasSubstr(name));
  }
}

TEST(ValidateForServeTest, DatabaseUrlIsRequired) {
  Settings s;
  s.callers_file = "/etc/callers.json";
  absl::Status status = ValidateForServe(s);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("MM_DATABASE_URL"));
}

TEST(ValidateForServeTest, CallersFileOrInsecureIsRequired) {
  Settings s;
  s.database_url = "postgresql://db/mm";
  absl::Status status = ValidateForServe(s);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("MM_CALLERS_FILE"));

  s.callers_file = "/etc/callers.json";
  EXPECT_TRUE(ValidateForServe(s).ok());
  s.callers_file.clear();
  s.insecure_no_auth = true;
  EXPECT_TRUE(ValidateForServe(s).ok());
}

// ---- Pull sources (DESIGN §3b). ----

TEST(SourceSettingsTest, DefaultsAndEveryVariable) {
  Settings d = ParseOk({});
  EXPECT_EQ(d.huudis_api_url, "");  // off
  EXPECT_EQ(d.huudis_audit_poll, std::chrono::seconds(30));
  EXPECT_EQ(d.huudis_audit_overlap, std::chrono::seconds(60));
  EXPECT_EQ(d.reconcile_interval, std::chrono::seconds(900));
  EXPECT_FALSE(d.reconcile_dry_run);
  EXPECT_EQ(d.monocloud_poll, std::chrono::seconds(60));
  EXPECT_EQ(d.fusionauth_recheck, std::chrono::seconds(5));
  EXPECT_EQ(d.source_connect_timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(d.source_timeout, std::chrono::milliseconds(30000));
  EXPECT_EQ(d.source_page_size, 100);
  EXPECT_EQ(d.max_clock_skew, std::chrono::seconds(300));

  Settings s = ParseOk({}, {{"MM_HUUDIS_API_URL", "https://huudis.com/api/"},
                            {"MM_HUUDIS_API_TOKEN_FILE", "/run/secrets/huudis"},
                            {"MM_HUUDIS_WORKSPACES", "acc_1, acc_2"},
                            {"MM_HUUDIS_AUDIT_POLL_SECONDS", "5"},
                            {"MM_HUUDIS_AUDIT_OVERLAP_SECONDS", "0"},
                            {"MM_RECONCILE_INTERVAL_SECONDS", "120"},
                            {"MM_RECONCILE_DRY_RUN", "1"},
                            {"MM_MONOCLOUD_API_URL", "http://monocloud.internal:8080"},
                            {"MM_MONOCLOUD_API_KEY_FILE", "/run/secrets/mc"},
                            {"MM_MONOCLOUD_GROUPS", "g1,g2,g3"},
                            {"MM_MONOCLOUD_POLL_SECONDS", "7"},
                            {"MM_FUSIONAUTH_API_URL", "https://auth.example.com"},
                            {"MM_FUSIONAUTH_API_KEY_FILE", "/run/secrets/fa"},
                            {"MM_FUSIONAUTH_TENANTS", "t1"},
                            {"MM_FUSIONAUTH_RECHECK_SECONDS", "2"},
                            {"MM_SOURCE_CA_FILE", "/etc/ca.pem"},
                            {"MM_SOURCE_CONNECT_TIMEOUT_MS", "1000"},
                            {"MM_SOURCE_TIMEOUT_MS", "2000"},
                            {"MM_SOURCE_PAGE_SIZE", "50"},
                            {"MM_MAX_CLOCK_SKEW_SECONDS", "30"}});
  EXPECT_EQ(s.huudis_api_url, "https://huudis.com/api");  // the trailing '/' dropped
  EXPECT_EQ(s.huudis_api_token_file, "/run/secrets/huudis");
  EXPECT_THAT(s.huudis_workspaces, ElementsAre("acc_1", "acc_2"));
  EXPECT_EQ(s.huudis_audit_poll, std::chrono::seconds(5));
  EXPECT_EQ(s.huudis_audit_overlap, std::chrono::seconds(0));
  EXPECT_EQ(s.reconcile_interval, std::chrono::seconds(120));
  EXPECT_TRUE(s.reconcile_dry_run);
  EXPECT_EQ(s.monocloud_api_url, "http://monocloud.internal:8080");
  EXPECT_THAT(s.monocloud_groups, ElementsAre("g1", "g2", "g3"));
  EXPECT_EQ(s.monocloud_poll, std::chrono::seconds(7));
  EXPECT_EQ(s.fusionauth_api_url, "https://auth.example.com");
  EXPECT_THAT(s.fusionauth_tenants, ElementsAre("t1"));
  EXPECT_EQ(s.fusionauth_recheck, std::chrono::seconds(2));
  EXPECT_EQ(s.source_ca_file, "/etc/ca.pem");
  EXPECT_EQ(s.source_connect_timeout, std::chrono::milliseconds(1000));
  EXPECT_EQ(s.source_timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(s.source_page_size, 50);
  EXPECT_EQ(s.max_clock_skew, std::chrono::seconds(30));
  EXPECT_TRUE(ValidateForServe([&] {
                Settings v = s;
                v.database_url = "postgresql://db/mm";
                v.insecure_no_auth = true;
                return v;
              }())
                  .ok());
}

TEST(SourceSettingsTest, BadValuesAreNamed) {
  for (const char* url : {"ftp://x", "huudis.com/api", "https://", "https://u:p@h/api", "https://h/api?x=1"}) {
    ExpectInvalid({}, {{"MM_HUUDIS_API_URL", url}}, "MM_HUUDIS_API_URL");
  }
  ExpectInvalid({}, {{"MM_HUUDIS_AUDIT_POLL_SECONDS", "0"}}, "MM_HUUDIS_AUDIT_POLL_SECONDS");
  ExpectInvalid({}, {{"MM_RECONCILE_INTERVAL_SECONDS", "-1"}}, "MM_RECONCILE_INTERVAL_SECONDS");
  ExpectInvalid({}, {{"MM_RECONCILE_DRY_RUN", "yes"}}, "MM_RECONCILE_DRY_RUN");
  ExpectInvalid({}, {{"MM_SOURCE_PAGE_SIZE", "0"}}, "MM_SOURCE_PAGE_SIZE");
  ExpectInvalid({"--monocloud-api-url=mono"}, {}, "--monocloud-api-url");
}

TEST(SourceSettingsTest, AConfiguredSourceNeedsItsCredentialFileAndScopes) {
  Settings s;
  s.database_url = "postgresql://db/mm";
  s.insecure_no_auth = true;
  s.huudis_api_url = "https://huudis.com/api";
  absl::Status status = ValidateForServe(s);
  EXPECT_THAT(std::string(status.message()), HasSubstr("MM_HUUDIS_API_TOKEN_FILE"));
  s.huudis_api_token_file = "/run/t";
  EXPECT_THAT(std::string(ValidateForServe(s).message()), HasSubstr("MM_HUUDIS_WORKSPACES"));
  s.huudis_workspaces = {"acc_1"};
  EXPECT_TRUE(ValidateForServe(s).ok());
  s.monocloud_api_url = "https://m";
  EXPECT_THAT(std::string(ValidateForServe(s).message()), HasSubstr("MM_MONOCLOUD_API_KEY_FILE"));
  s.monocloud_api_key_file = "/run/m";
  EXPECT_TRUE(ValidateForServe(s).ok());  // groups are optional: users alone are mirrored
  s.fusionauth_api_url = "https://f";
  EXPECT_THAT(std::string(ValidateForServe(s).message()), HasSubstr("MM_FUSIONAUTH_API_KEY_FILE"));
}

}  // namespace
}  // namespace mm::config
