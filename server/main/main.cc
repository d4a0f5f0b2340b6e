// membership-mirror: `serve` runs the service, `migrate` applies the schema. This file only
// parses settings and wires components together.

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <unistd.h>

#include "absl/synchronization/mutex.h"

#include "adapters/fusionauth_adapter.h"
#include "adapters/huudis_adapter.h"
#include "replay/dead_letter_replay.h"
#include "api/admin_service.h"
#include "api/change_service.h"
#include "api/membership_service.h"
#include "api/user_service.h"
#include "auth/caller_registry.h"
#include "cache/change_follower.h"
#include "cache/change_hub.h"
#include "cache/sequence_waiters.h"
#include "cache/user_state_cache.h"
#include "common/file_watcher.h"
#include "common/log.h"
#include "common/process_tuning.h"
#include "config/fusionauth_keys.h"
#include "config/settings.h"
#include "ingest/event_writer.h"
#include "ingress/http_server.h"
#include "ingress/router.h"
#include "main/readiness.h"
#include "metrics/metrics.h"
#include "sources/configured_sources.h"
#include "sources/source_runner.h"
#include "store/migrator.h"
#include "store/pg_change_feed.h"
#include "store/pg_pruner.h"
#include "store/pg_connection.h"
#include "store/pg_event_store.h"
#include "store/pg_read_store.h"
#include "store/pg_replica_monitor.h"
#include "store/pg_source_store.h"
#include "store/read_pool.h"

namespace mm {
namespace {

constexpr char kUsage[] =
    "usage: membership-mirror <command> [flags]\n"
    "\n"
    "commands:\n"
    "  serve     run the webhook ingress (HTTP) and the API (gRPC)\n"
    "  migrate   apply database migrations (embedded in this binary) and exit\n"
    "  version   print the version\n"
    "\n"
    "Run `membership-mirror serve --help` for every setting.\n";

absl::StatusOr<config::ParsedCommandLine> ParseOrExplain(const std::vector<std::string>& args,
                                                         const char* command) {
  auto parsed = config::ParseSettings(args, [](const char* name) { return std::getenv(name); });
  if (parsed.ok() && parsed->help) {
    std::cout << "usage: membership-mirror " << command << " [flags]\n\n" << config::SettingsHelp();
    return parsed;
  }
  if (!parsed.ok()) {
    std::cerr << "membership-mirror " << command << ": " << parsed.status().message() << "\n";
    return parsed;
  }
  log::Level level;
  log::ParseLevel(parsed->settings.log_level, level);
  log::SetLevel(level);
  return parsed;
}

// Plaintext without a certificate; TLS with one; mutual TLS (client certificates required and
// verified) with a client CA. Bearer-token caller authentication applies in every case.
std::shared_ptr<grpc::ServerCredentials> GrpcCredentials(const config::TlsPem& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      tls.client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                            : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = tls.client_ca;
  options.pem_key_cert_pairs.push_back({tls.private_key, tls.cert_chain});
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::vector<store::Migration>> Migrations() {
  return store::PrepareMigrations(store::EmbeddedMigrationSources());
}

int Migrate(const std::vector<std::string>& args) {
  auto parsed = ParseOrExplain(args, "migrate");
  if (!parsed.ok()) return 2;
  if (parsed->help) return 0;
  if (parsed->settings.database_url.empty()) {
    std::cerr << "membership-mirror migrate: MM_DATABASE_URL (--database-url) is required\n";
    return 2;
  }
  auto migrations = Migrations();
  if (!migrations.ok()) {
    log::Error("bad embedded migrations", {{"error", std::string(migrations.status().message())}});
    return 1;
  }
  auto report = store::ApplyMigrations(parsed->settings.database_url, *migrations);
  if (!report.ok()) {
    log::Error("migrate failed", {{"error", std::string(report.status().message())}});
    return 1;
  }
  for (int v : report->unknown_versions) {
    log::Warn("database has a migration this binary does not know (newer release?)",
              {{"version", std::to_string(v)}});
  }
  log::Info("migrate done", {{"applied", std::to_string(report->applied.size())},
                             {"known", std::to_string(migrations->size())}});
  return 0;
}

int Serve(const std::vector<std::string>& args) {
  auto parsed = ParseOrExplain(args, "serve");
  if (!parsed.ok()) return 2;
  if (parsed->help) return 0;
  const config::Settings& settings = parsed->settings;
  if (absl::Status s = config::ValidateForServe(settings); !s.ok()) {
    std::cerr << "membership-mirror serve: " << s.message() << "\n";
    return 2;
  }
  // TLS files are read and checked now: a bad one stops the start, not the first connection.
  absl::StatusOr<config::TlsPem> grpc_tls = config::LoadGrpcTls(settings);
  absl::StatusOr<config::TlsPem> http_tls =
      grpc_tls.ok() ? config::LoadHttpTls(settings) : grpc_tls.status();
  if (!http_tls.ok()) {
    std::cerr << "membership-mirror serve: " << http_tls.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<auth::CallerRegistry> callers =
      settings.insecure_no_auth ? auth::CallerRegistry::Insecure()
                                : auth::CallerRegistry::FromFile(settings.callers_file);
  if (!callers.ok()) {
    std::cerr << "membership-mirror serve: " << callers.status().message() << "\n";
    return 2;
  }
  auto migrations = Migrations();
  if (!migrations.ok()) {
    std::cerr << "membership-mirror serve: " << migrations.status().message() << "\n";
    return 1;
  }
  cache::ChangeHub change_hub;  // WatchChanges subscribers; outlives the follower and the API
  std::vector<sources::ConfiguredSource> pull_sources = sources::ConfigureSources(settings, &change_hub);
  if (absl::Status s = sources::CheckSourceFiles(settings, pull_sources); !s.ok()) {
    std::cerr << "membership-mirror serve: " << s.message() << "\n";
    return 2;
  }
  if (callers->insecure()) {
    for (int i = 0; i < 3; ++i) {
      log::Error("MM_INSECURE_NO_AUTH=1: every API caller is trusted without a token. "
                 "Development only; never run this in production.");
    }
  } else {
    log::Info("callers loaded", {{"callers", std::to_string(callers->size())}});
  }
  if (settings.huudis_secrets.empty()) {
    log::Warn("no Huudis signing secret configured (MM_HUUDIS_SECRETS): every Huudis webhook "
              "will be refused with 401");
  }
  absl::StatusOr<config::FusionAuthWebhookCredentials> fusionauth_credentials =
      config::LoadFusionAuthWebhookCredentials(settings);
  if (!fusionauth_credentials.ok()) {
    std::cerr << "membership-mirror serve: " << fusionauth_credentials.status().message() << "\n";
    return 2;
  }
  if (fusionauth_credentials->keys.empty() && !settings.fusionauth_allow_unsigned) {
    log::Warn("no FusionAuth webhook key configured (MM_FUSIONAUTH_HMAC_SECRETS, MM_FUSIONAUTH_PUBLIC_KEYS_FILE): "
              "every FusionAuth webhook will be refused with 401");
  }
  if (settings.fusionauth_allow_unsigned) {
    log::Warn("MM_FUSIONAUTH_ALLOW_UNSIGNED=1: unsigned FusionAuth webhooks are accepted with the HTTP Basic "
              "credentials of MM_FUSIONAUTH_BASIC_AUTH_FILE; use signed webhooks (FusionAuth 1.48+) where you can");
  }

  // Signals are taken by sigwait in this thread only; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  store::DatabaseTimeouts db_timeouts;
  db_timeouts.connect = settings.db_connect_timeout;
  db_timeouts.statement = settings.db_statement_timeout;
  store::SetDatabaseTimeouts(db_timeouts);  // before any connection is made
  if (settings.database_transaction_pooling) {
    std::vector<std::string> pooled = {settings.database_url};
    if (!settings.database_read_url.empty()) pooled.push_back(settings.database_read_url);
    store::SetTransactionPooledUrls(std::move(pooled));
    log::Info("MM_DATABASE_URL is transaction-pooled: statements are sent unnamed, statement_timeout is the role's",
              {{"change_follower", settings.database_listen_url.empty() ? "polls" : "LISTENs on MM_DATABASE_LISTEN_URL"}});
  }
  // What needs a session of its own: LISTEN and the pull sources' leader locks.
  const std::string& session_url =
      settings.database_listen_url.empty() ? settings.database_url : settings.database_listen_url;

  metrics::Metrics metrics;
  adapters::HuudisAdapter huudis({.secrets = settings.huudis_secrets,
                                  .tolerance = settings.huudis_tolerance});
  adapters::FusionAuthAdapter fusionauth({.keys = std::move(fusionauth_credentials->keys),
                                          .tenants = settings.fusionauth_tenants,
                                          .registrations = settings.fusionauth_registrations,
                                          .groups = settings.fusionauth_groups,
                                          .allow_unsigned = settings.fusionauth_allow_unsigned,
                                          .basic_auth = std::move(fusionauth_credentials->basic_auth)});
  // Key rotation without a restart: a changed public-keys file is loaded (with the HMAC secrets of
  // the start); one that does not load leaves the keys as they were.
  std::optional<FileWatcher> fusionauth_keys_watcher;
  if (!settings.fusionauth_public_keys_file.empty() && settings.fusionauth_keys_reload.count() > 0) {
    fusionauth_keys_watcher.emplace(settings.fusionauth_public_keys_file, settings.fusionauth_keys_reload, [&] {
      absl::StatusOr<jwt::KeySet> reloaded = config::LoadFusionAuthKeys(settings);
      if (!reloaded.ok()) {
        log::Error("FusionAuth public keys file changed but does not load; the previous keys stay",
                   {{"error", std::string(reloaded.status().message())}});
        return;
      }
      const size_t count = reloaded->public_key_count();
      fusionauth.ReplaceKeys(*std::move(reloaded));
      log::Info("FusionAuth public keys reloaded", {{"public_keys", std::to_string(count)}});
    });
  }

  store::PgEventStore event_store(settings.database_url);
  store::PgChangeFeed feed(session_url);
  ingest::EventWriter writer(
      event_store,
      {.max_batch = settings.writer_max_batch,
       .max_queue = settings.writer_max_queue,
       .max_clock_skew = settings.max_clock_skew},
      {.batch = [&metrics, &feed](size_t n, std::chrono::microseconds t, bool ok) {
         metrics.BatchCommitted(n, static_cast<double>(t.count()) / 1e6, ok);
         if (ok) feed.Nudge();
       },
       .clamped = [&metrics](domain::Provider provider, int n) {
         metrics.FactTimesClamped(domain::ProviderName(provider), n);
       }});

  cache::UserStateCache cache(settings.unknown_users_active ? cache::UnknownUsers::kActive
                                                            : cache::UnknownUsers::kInactive);
  cache::SequenceWaiters waiters(settings.max_sequence_waiters);
  cache::ChangeFollower follower(feed, cache, waiters, {.poll_interval = settings.poll_interval},
                                 &change_hub,
                                 {.reloaded = [&metrics](std::string_view why) { metrics.CacheReloaded(why); },
                                  .undecodable = [&metrics](uint64_t) { metrics.ChangeLogRowUndecodable(); }});
  follower.Start();
  store::PgPruner pruner(settings.database_url,
                         {.change_log = settings.changelog_retention, .seat_ledger = settings.seat_ledger_retention},
                         settings.prune_interval);
  pruner.Start();

  // Schema check: retried until the database answers, so a pod started before its database
  // waits (not ready) instead of crash-looping.
  std::atomic<bool> schema_ok{false};
  std::atomic<bool> stopping{false};
  absl::Mutex schema_mu;
  std::string schema_problem = "not checked yet";  // guarded by schema_mu
  std::thread schema_checker([&] {
    while (!stopping.load()) {
      absl::Status s = store::CheckSchemaCurrent(settings.database_url, *migrations);
      {
        absl::MutexLock lock(&schema_mu);
        schema_problem = s.ok() ? "ok" : std::string(s.message());
      }
      if (s.ok()) {
        schema_ok.store(true);
        return;
      }
      log::Warn("schema check failed; not ready", {{"error", std::string(s.message())}});
      for (int i = 0; i < 20 && !stopping.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  // The read replica (store/replica_router.h): the read RPCs go there, everything else stays
  // on MM_DATABASE_URL. The monitor probes it for the lag gauges and its health.
  store::ReplicaHealth replica_health;
  std::optional<store::PgReplicaMonitor> replica_monitor;
  store::ReadPoolReplica replica;
  if (!settings.database_read_url.empty()) {
    replica_monitor.emplace(settings.database_read_url, replica_health);
    replica_monitor->Start();
    replica.replica = [&] { return std::make_unique<store::PgReadStore>(settings.database_read_url); };
    replica.health = &replica_health;
    replica.options.max_wait = settings.database_read_max_wait;
    log::Info("read replica configured: read RPCs go to MM_DATABASE_READ_URL",
              {{"max_wait_ms", std::to_string(settings.database_read_max_wait.count())}});
  }
  replica.callbacks = {.answered = [&metrics](store::ReadTarget t) { metrics.DbRead(t == store::ReadTarget::kReplica); },
                       .fell_back = [&metrics](store::Fallback f) { metrics.DbReadFellBack(store::FallbackName(f)); }};
  store::ReadPool reads([&] { return std::make_unique<store::PgReadStore>(settings.database_url); },
                        settings.db_read_threads, settings.db_read_queue, std::move(replica));

  std::atomic<bool> draining{false};
  ReadinessTracker readiness;
  readiness.AddCheck("schema", [&] {
    absl::MutexLock lock(&schema_mu);
    return schema_problem;
  });
  readiness.AddCheck("database", [&] {
    return std::string(follower.healthy() && writer.healthy() ? "ok" : "unreachable");
  });
  readiness.AddCheck("cache", [&] {
    return std::string(!cache.loaded() ? "loading" : follower.reloading() ? "reloading" : "ok");
  });
  readiness.AddCheck("shutdown", [&] { return std::string(draining.load() ? "draining" : "ok"); });

  ingress::HttpServer http(
      {.listen = settings.http_listen,
       .threads = settings.http_threads,
       .max_body_bytes = settings.max_body_bytes,
       .max_connections = settings.max_connections,
       .header_timeout = settings.header_timeout,
       .body_timeout = settings.body_timeout,
       .handler_timeout = settings.request_timeout,
       .tls = {.cert_chain_pem = http_tls->cert_chain,
               .private_key_pem = http_tls->private_key,
               .client_ca_pem = http_tls->client_ca}},
      ingress::MakeRouter({.webhook_adapters = {{"huudis", &huudis}, {"fusionauth", &fusionauth}},
                           .writer = &writer,
                           .metrics = &metrics,
                           .readiness = [&readiness] { return readiness.Evaluate(); },
                           .operator_api = {.writer = &writer,
                                            .reads = &reads,
                                            .callers = &*callers,
                                            .metrics = &metrics}}));
  if (absl::Status s = http.Start(); !s.ok()) {
    log::Error("http listen failed", {{"error", std::string(s.message())}});
    stopping.store(true);
    schema_checker.join();
    return 1;
  }

  api::UserServiceImpl user_service(cache, waiters, reads, *callers, metrics);
  const api::DatabaseReads database_reads{.pool = reads, .waiters = waiters};
  api::MembershipServiceImpl membership_service(database_reads, *callers, metrics);
  api::SeatServiceImpl seat_service(database_reads, *callers, metrics);
  api::ChangeServiceImpl change_service(change_hub, reads, *callers, metrics,
                                        {.max_streams = settings.max_watch_streams});
  std::vector<std::pair<std::string, std::string>> configured_sources;
  for (const sources::ConfiguredSource& c : pull_sources) {
    for (const std::string& scope : c.source->scopes()) configured_sources.emplace_back(c.source->name(), scope);
  }
  replay::StoredEventDecoder stored_event_decoder(huudis, fusionauth);
  replay::DeadLetterReplayer replayer(reads, writer, stored_event_decoder, settings.max_clock_skew);
  api::AdminServiceImpl admin_service(database_reads, *callers, metrics, configured_sources, replayer);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(settings.grpc_listen, GrpcCredentials(*grpc_tls), &grpc_port);
  builder.RegisterService(&user_service);
  builder.RegisterService(&membership_service);
  builder.RegisterService(&seat_service);
  builder.RegisterService(&change_service);
  builder.RegisterService(&admin_service);
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  if (!grpc_server || grpc_port == 0) {
    log::Error("grpc listen failed", {{"address", settings.grpc_listen}});
    stopping.store(true);
    schema_checker.join();
    return 1;
  }
  // gRPC's default health service starts SERVING; it must not say so before readiness does.
  grpc_server->GetHealthCheckService()->SetServingStatus(false);
  auto tls_mode = [](const config::TlsPem& tls) {
    return !tls.enabled() ? "off" : tls.client_ca.empty() ? "tls" : "mtls";
  };
  log::Info("listening", {{"http_port", std::to_string(http.port())},
                          {"grpc_port", std::to_string(grpc_port)},
                          {"http", settings.http_listen},
                          {"grpc", settings.grpc_listen},
                          {"http_tls", tls_mode(*http_tls)},
                          {"grpc_tls", tls_mode(*grpc_tls)}});

  // Pull sources (DESIGN §3b): one runner each; the one replica holding a source's lease pulls.
  http_client::InterruptibleEnvironment source_env;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::vector<std::unique_ptr<sources::SourceRunner>> runners;
  for (sources::ConfiguredSource& c : pull_sources) {
    http_client::HttpClientOptions http_options;
    http_options.ca_bundle_file = settings.source_ca_file;
    http_options.connect_timeout = settings.source_connect_timeout;
    http_options.attempt_timeout = settings.source_timeout;
    http_options.max_attempts = settings.source_retry_attempts;
    http_options.initial_backoff = settings.source_retry_backoff;
    http_options.user_agent = "membership-mirror/" MM_VERSION;
    runners.push_back(std::make_unique<sources::SourceRunner>(
        *c.source, std::make_unique<store::PgSourceStore>(settings.database_url),
        std::make_unique<store::PgSourceLease>(session_url, "source:" + c.source->name()), writer,
        source_env, metrics,
        sources::SourceRunnerOptions{.credential_file = c.credential_file,
                                     .http = http_options,
                                     .puller = host,
                                     .dry_run = settings.reconcile_dry_run}));
    runners.back()->Start();
    log::Info("pull source configured", {{"source", c.source->name()},
                                         {"scopes", std::to_string(c.source->scopes().size())},
                                         {"interval_seconds", std::to_string(c.source->interval().count())},
                                         {"dry_run", settings.reconcile_dry_run ? "true" : "false"}});
  }

  // Main loop: wait for a signal, refreshing gauges and the gRPC health status meanwhile.
  // The health status (NOT_SERVING since the start) follows every evaluation of readiness from
  // here on, /readyz's included (DESIGN §5a).
  grpc::HealthCheckServiceInterface* health = grpc_server->GetHealthCheckService();
  readiness.SetListener([health](bool ready) { health->SetServingStatus(ready); });
  readiness.Evaluate();
  while (true) {
    timespec tick{0, 500 * 1000 * 1000};
    int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      log::Info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      break;
    }
    readiness.Evaluate();
    metrics.cache_users().Set(static_cast<double>(cache.size()));
    metrics.cache_sequence().Set(static_cast<double>(cache.sequence()));
    metrics.writer_queue().Set(static_cast<double>(writer.queued()));
    metrics.http_connections().Set(http.open_connections());
    uint64_t committed = writer.last_committed_sequence(), applied = cache.sequence();
    metrics.changelog_lag().Set(committed > applied ? static_cast<double>(committed - applied) : 0.0);
    metrics.db_pool_in_use().Set(reads.in_use());
    metrics.db_pool_queued().Set(static_cast<double>(reads.queued()));
    metrics.DbPoolSkippedUpTo(reads.skipped());
    if (replica_monitor) {
      const store::ReplicaProbe probe = replica_monitor->last();
      const store::ReplicaLag lag = store::ReplicaLagOf(probe, applied);
      metrics.ReadReplicaSampled(probe.up, lag.sequences, lag.seconds);
    }
  }

  // Graceful shutdown: stop being ready, refuse new webhooks (503), let in-flight work finish.
  // It cannot hang: past the grace plus one database deadline (a round trip on a silent
  // database is cut off by then, DESIGN §5a) the process exits anyway. Nothing is lost by
  // that: a webhook is answered 2xx only once committed, a source page only checkpointed
  // once committed.
  const auto hard_deadline = settings.shutdown_grace + store::CurrentDatabaseTimeouts().statement +
                             store::CurrentDatabaseTimeouts().watchdog_grace + std::chrono::seconds(5);
  std::thread([hard_deadline] {
    std::this_thread::sleep_for(hard_deadline);
    log::Error("shutdown did not finish in time; exiting",
               {{"millis", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(hard_deadline).count())}});
    std::_Exit(1);
  }).detach();
  draining.store(true);
  readiness.Evaluate();  // not ready, and gRPC health NOT_SERVING
  bool drained = http.Drain(settings.shutdown_grace);
  source_env.Interrupt();  // requests in flight to providers end at once
  for (auto& runner : runners) runner->Stop();
  writer.Stop();  // commits whatever was queued and answers every waiter
  change_hub.Close();  // ends every WatchChanges stream (UNAVAILABLE) so Shutdown need not wait
  grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  reads.Stop();  // after gRPC: every DB-backed call in flight has been answered
  if (replica_monitor) replica_monitor->Stop();
  http.Stop();
  stopping.store(true);
  schema_checker.join();
  follower.Stop();
  log::Info("stopped", {{"drained", drained ? "true" : "false"}});
  return 0;
}

}  // namespace
}  // namespace mm

int main(int argc, char** argv) {
  mm::TuneProcessForServing();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << mm::kUsage;
    return args.empty() ? 2 : 0;
  }
  std::string command = args[0];
  args.erase(args.begin());
  if (command == "serve") return mm::Serve(args);
  if (command == "migrate") return mm::Migrate(args);
  if (command == "version" || command == "--version") {
    std::cout << "membership-mirror " << MM_VERSION << "\n";
    return 0;
  }
  std::cerr << "membership-mirror: unknown command '" << command << "'\n\n" << mm::kUsage;
  return 2;
}
