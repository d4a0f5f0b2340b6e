#include "metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include "absl/status/status.h"

namespace mm::metrics {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  webhook_requests_ = &prometheus::BuildCounter()
                           .Name("mm_webhook_requests_total")
                           .Help("Webhook and operator requests by provider, event type and answer")
                           .Register(*registry_);
  grpc_requests_ = &prometheus::BuildCounter()
                        .Name("mm_grpc_requests_total")
                        .Help("gRPC calls by method and status code")
                        .Register(*registry_);
  grpc_duration_ = &prometheus::BuildHistogram()
                        .Name("mm_grpc_request_duration_seconds")
                        .Help("gRPC handler latency by method")
                        .Register(*registry_);
  batch_size_ = &prometheus::BuildHistogram()
                     .Name("mm_writer_batch_size")
                     .Help("Events per group-commit transaction")
                     .Register(*registry_)
                     .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024});
  commit_duration_ = &prometheus::BuildHistogram()
                          .Name("mm_writer_commit_duration_seconds")
                          .Help("Time to apply and commit one batch")
                          .Register(*registry_)
                          .Add({}, prometheus::Histogram::BucketBoundaries{
                                       0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
  batches_failed_ = &prometheus::BuildCounter()
                         .Name("mm_writer_batches_failed_total")
                         .Help("Batches not committed (database unavailable or error)")
                         .Register(*registry_)
                         .Add({});
  auto& gauges = prometheus::BuildGauge().Name("mm_cache_users").Help("Users in this replica's cache").Register(*registry_);
  cache_users_ = &gauges.Add({});
  cache_sequence_ = &prometheus::BuildGauge()
                         .Name("mm_cache_sequence")
                         .Help("Change-log sequence applied by this replica's cache")
                         .Register(*registry_)
                         .Add({});
  writer_queue_ = &prometheus::BuildGauge()
                       .Name("mm_writer_queue_events")
                       .Help("Events waiting for the group-commit writer")
                       .Register(*registry_)
                       .Add({});
  http_connections_ = &prometheus::BuildGauge()
                           .Name("mm_http_connections")
                           .Help("Open HTTP connections")
                           .Register(*registry_)
                           .Add({});
  dead_letters_ = &prometheus::BuildCounter()
                      .Name("mm_dead_letters_total")
                      .Help("Authentic events stored as dead letters (could not be applied)")
                      .Register(*registry_)
                      .Add({});
  fact_times_clamped_ = &prometheus::BuildCounter()
                            .Name("mm_fact_times_clamped_total")
                            .Help("Fact times later than receive time + MM_MAX_CLOCK_SKEW_SECONDS, taken as receive time")
                            .Register(*registry_);
  cache_reloads_ = &prometheus::BuildCounter()
                       .Name("mm_cache_reloads_total")
                       .Help("Snapshot reloads of the user-state cache after start, by reason "
                             "(undecodable_row, changelog_behind: the database's log was replaced)")
                       .Register(*registry_);
  undecodable_rows_ = &prometheus::BuildCounter()
                          .Name("mm_changelog_undecodable_rows_total")
                          .Help("Change-log rows the cache could not decode (a bug or corruption; each reloads the snapshot)")
                          .Register(*registry_)
                          .Add({});
  source_polls_ = &prometheus::BuildCounter()
                      .Name("mm_source_polls_total")
                      .Help("Runs of a pull source by result (ok, error, unauthorized)")
                      .Register(*registry_);
  source_last_success_ = &prometheus::BuildGauge()
                             .Name("mm_source_last_success_timestamp_seconds")
                             .Help("Unix time of a pull source's last successful run on this replica")
                             .Register(*registry_);
  source_events_ = &prometheus::BuildCounter()
                       .Name("mm_source_events_total")
                       .Help("Events a pull source committed on this replica")
                       .Register(*registry_);
  reconcile_drift_ = &prometheus::BuildCounter()
                         .Name("mm_reconcile_drift_total")
                         .Help("Corrections reconcile runs found, by source and kind (applied unless MM_RECONCILE_DRY_RUN)")
                         .Register(*registry_);
  source_lease_ = &prometheus::BuildGauge()
                      .Name("mm_source_lease_held")
                      .Help("1 while this replica holds a pull source's lease (exactly one replica pulls)")
                      .Register(*registry_);
  changelog_lag_ = &prometheus::BuildGauge()
                        .Name("mm_changelog_lag_sequences")
                        .Help("Sequences this replica committed that its cache has not applied yet")
                        .Register(*registry_)
                        .Add({});
  db_pool_in_use_ = &prometheus::BuildGauge()
                         .Name("mm_db_pool_in_use")
                         .Help("Database read workers busy with a request")
                         .Register(*registry_)
                         .Add({});
  db_pool_queued_ = &prometheus::BuildGauge()
                         .Name("mm_db_pool_queued")
                         .Help("Database read requests waiting for a worker")
                         .Register(*registry_)
                         .Add({});
  db_pool_skipped_ = &prometheus::BuildCounter()
                          .Name("mm_db_pool_skipped_total")
                          .Help("Queued database reads not run: their call was cancelled or past its deadline")
                          .Register(*registry_)
                          .Add({});
  auto& db_reads = prometheus::BuildCounter()
                       .Name("mm_db_reads_total")
                       .Help("Database reads of the read RPCs, by who answered: target=replica (MM_DATABASE_READ_URL) "
                             "or primary (MM_DATABASE_URL)")
                       .Register(*registry_);
  db_reads_replica_ = &db_reads.Add({{"target", "replica"}});
  db_reads_primary_ = &db_reads.Add({{"target", "primary"}});
  db_read_fallbacks_ = &prometheus::BuildCounter()
                            .Name("mm_db_read_replica_fallbacks_total")
                            .Help("Reads the primary answered instead of the read replica, by reason: behind (it had "
                                  "not replayed min_sequence in time), unavailable, error")
                            .Register(*registry_);
  replica_up_ = &prometheus::BuildGauge()
                     .Name("mm_db_read_replica_up")
                     .Help("1 while the read replica answered its last probe (every 500 ms)")
                     .Register(*registry_);
  replica_lag_sequences_ = &prometheus::BuildGauge()
                                .Name("mm_db_read_replica_lag_sequences")
                                .Help("Change-log sequences this replica's cache has applied that the read replica "
                                      "had not replayed at its last probe")
                                .Register(*registry_);
  replica_lag_seconds_ = &prometheus::BuildGauge()
                              .Name("mm_db_read_replica_lag_seconds")
                              .Help("While the read replica is behind: now() - pg_last_xact_replay_timestamp() on it; "
                                    "0 once caught up")
                              .Register(*registry_);
}

void Metrics::DbRead(bool replica) { (replica ? db_reads_replica_ : db_reads_primary_)->Increment(); }

void Metrics::DbReadFellBack(std::string_view reason) {
  db_read_fallbacks_->Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::ReadReplicaSampled(bool up, uint64_t lag_sequences, double lag_seconds) {
  replica_up_->Add({}).Set(up ? 1 : 0);
  replica_lag_sequences_->Add({}).Set(static_cast<double>(lag_sequences));
  replica_lag_seconds_->Add({}).Set(lag_seconds);
}

void Metrics::DbPoolSkippedUpTo(uint64_t total) {
  const double seen = db_pool_skipped_->Value();
  if (static_cast<double>(total) > seen) db_pool_skipped_->Increment(static_cast<double>(total) - seen);
}

void Metrics::WebhookAnswered(std::string_view provider, std::string_view type,
                              std::string_view status) {
  webhook_requests_
      ->Add({{"provider", std::string(provider)}, {"type", std::string(type)}, {"status", std::string(status)}})
      .Increment();
  if (status == "dead_lettered") dead_letters_->Increment();
}

GrpcMethodMetrics& Metrics::GrpcMethod(std::string_view method) {
  absl::MutexLock lock(&grpc_methods_mu_);
  auto it = grpc_methods_.find(method);
  if (it != grpc_methods_.end()) return *it->second;
  prometheus::Histogram& duration = grpc_duration_->Add(
      {{"method", std::string(method)}},
      prometheus::Histogram::BucketBoundaries{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                              0.05, 0.1, 0.5, 1});
  auto metrics = std::unique_ptr<GrpcMethodMetrics>(
      new GrpcMethodMetrics(*grpc_requests_, duration, std::string(method)));
  return *grpc_methods_.emplace(std::string(method), std::move(metrics)).first->second;
}

void GrpcMethodMetrics::Answered(int code, double seconds) {
  duration_.Observe(seconds);
  if (code < 0 || code >= static_cast<int>(by_code_.size())) code = 2;  // UNKNOWN
  std::atomic<prometheus::Counter*>& slot = by_code_[static_cast<size_t>(code)];
  prometheus::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Family::Add returns the existing child for the same labels, so a race here is harmless.
    // absl::StatusCode values are the gRPC codes, and so are their names.
    counter = &requests_.Add(
        {{"method", method_}, {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(code))}});
    slot.store(counter, std::memory_order_release);
  }
  counter->Increment();
}

void Metrics::BatchCommitted(size_t events, double seconds, bool ok) {
  batch_size_->Observe(static_cast<double>(events));
  commit_duration_->Observe(seconds);
  if (!ok) batches_failed_->Increment();
}

void Metrics::FactTimesClamped(std::string_view provider, int count) {
  fact_times_clamped_->Add({{"provider", std::string(provider)}}).Increment(count);
}

void Metrics::CacheReloaded(std::string_view reason) {
  cache_reloads_->Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::ChangeLogRowUndecodable() { undecodable_rows_->Increment(); }

void Metrics::SourcePolled(std::string_view source, std::string_view result) {
  source_polls_->Add({{"source", std::string(source)}, {"result", std::string(result)}}).Increment();
}

void Metrics::SourceSucceeded(std::string_view source, double unix_seconds) {
  source_last_success_->Add({{"source", std::string(source)}}).Set(unix_seconds);
}

void Metrics::SourceEvents(std::string_view source, int64_t events) {
  source_events_->Add({{"source", std::string(source)}}).Increment(static_cast<double>(events));
}

void Metrics::ReconcileDrift(std::string_view source, std::string_view kind, int64_t corrections) {
  reconcile_drift_->Add({{"source", std::string(source)}, {"kind", std::string(kind)}})
      .Increment(static_cast<double>(corrections));
}

void Metrics::SourceLeaseHeld(std::string_view source, bool held) {
  source_lease_->Add({{"source", std::string(source)}}).Set(held ? 1 : 0);
}

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace mm::metrics
