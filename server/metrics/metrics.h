#pragma once
// The service's Prometheus metrics, declared in one list (Envoy-style) and exposed as text at
// GET /metrics by the ingress. prometheus-cpp's counters and histograms are thread-safe.

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mm::metrics {

// One gRPC method's series, resolved once (services hold a reference from construction): an
// answered call then costs one histogram observation and one counter increment — no label
// maps built, no family lock taken — which matters on IsUserActive, the service's hottest path.
class GrpcMethodMetrics {
 public:
  // `code` is the gRPC status code (0..16).
  void Answered(int code, double seconds);

 private:
  friend class Metrics;
  GrpcMethodMetrics(prometheus::Family<prometheus::Counter>& requests, prometheus::Histogram& duration,
                    std::string method)
      : requests_(requests), duration_(duration), method_(std::move(method)) {}
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Histogram& duration_;
  const std::string method_;
  // Counter per code, created on first use (a code never answered shows no series).
  std::array<std::atomic<prometheus::Counter*>, 17> by_code_{};
};

class Metrics {
 public:
  Metrics();

  // Webhook/operator HTTP answers: provider ("huudis", ...), type (event type or "-"), status
  // ("applied", "duplicate", ..., or an HTTP error class such as "401"). A "dead_lettered"
  // answer also counts in mm_dead_letters_total.
  void WebhookAnswered(std::string_view provider, std::string_view type, std::string_view status);
  // The series of gRPC method `method` ("IsUserActive"); the reference stays valid for the
  // Metrics' lifetime. Call at set-up, not per request (takes a lock).
  GrpcMethodMetrics& GrpcMethod(std::string_view method);
  void BatchCommitted(size_t events, double seconds, bool ok);
  // Fact times later than receive time + MM_MAX_CLOCK_SKEW_SECONDS, taken as receive time.
  void FactTimesClamped(std::string_view provider, int count);
  // The cache reloaded its snapshot ("undecodable_row", "changelog_behind").
  void CacheReloaded(std::string_view reason);
  void ChangeLogRowUndecodable();
  // Pull sources (DESIGN §3b). `result`: "ok", "error", "unauthorized".
  void SourcePolled(std::string_view source, std::string_view result);
  void SourceSucceeded(std::string_view source, double unix_seconds);
  void SourceEvents(std::string_view source, int64_t events);
  void ReconcileDrift(std::string_view source, std::string_view kind, int64_t corrections);
  void SourceLeaseHeld(std::string_view source, bool held);

  prometheus::Gauge& cache_users() { return *cache_users_; }
  prometheus::Gauge& cache_sequence() { return *cache_sequence_; }
  prometheus::Gauge& writer_queue() { return *writer_queue_; }
  prometheus::Gauge& http_connections() { return *http_connections_; }
  // Highest sequence this replica's writer committed minus the one its cache applied.
  prometheus::Gauge& changelog_lag() { return *changelog_lag_; }
  prometheus::Gauge& db_pool_in_use() { return *db_pool_in_use_; }
  prometheus::Gauge& db_pool_queued() { return *db_pool_queued_; }
  // mm_db_pool_skipped_total follows the pool's own count (ReadPool::skipped).
  void DbPoolSkippedUpTo(uint64_t total);
  // A read RPC's database read, answered by `target` ("replica" or "primary"); thread-safe,
  // no lock taken.
  void DbRead(bool replica);
  // A read the primary answered instead of the read replica; `reason`: "behind",
  // "unavailable", "error".
  void DbReadFellBack(std::string_view reason);
  // The read replica as last probed (store/pg_replica_monitor.h); only with a read replica.
  void ReadReplicaSampled(bool up, uint64_t lag_sequences, double lag_seconds);

  // Prometheus text exposition format 0.0.4.
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* webhook_requests_;
  prometheus::Family<prometheus::Counter>* grpc_requests_;
  prometheus::Family<prometheus::Histogram>* grpc_duration_;
  absl::Mutex grpc_methods_mu_;
  std::map<std::string, std::unique_ptr<GrpcMethodMetrics>, std::less<>> grpc_methods_ ABSL_GUARDED_BY(grpc_methods_mu_);
  prometheus::Histogram* batch_size_;
  prometheus::Histogram* commit_duration_;
  prometheus::Counter* batches_failed_;
  prometheus::Gauge* cache_users_;
  prometheus::Gauge* cache_sequence_;
  prometheus::Gauge* writer_queue_;
  prometheus::Gauge* http_connections_;
  prometheus::Counter* dead_letters_;
  prometheus::Family<prometheus::Counter>* fact_times_clamped_;
  prometheus::Family<prometheus::Counter>* cache_reloads_;
  prometheus::Counter* undecodable_rows_;
  prometheus::Family<prometheus::Counter>* source_polls_;
  prometheus::Family<prometheus::Gauge>* source_last_success_;
  prometheus::Family<prometheus::Counter>* source_events_;
  prometheus::Family<prometheus::Counter>* reconcile_drift_;
  prometheus::Family<prometheus::Gauge>* source_lease_;
  prometheus::Gauge* changelog_lag_;
  prometheus::Gauge* db_pool_in_use_;
  prometheus::Gauge* db_pool_queued_;
  prometheus::Counter* db_pool_skipped_;
  prometheus::Counter* db_reads_replica_;
  prometheus::Counter* db_reads_primary_;
  prometheus::Family<prometheus::Counter>* db_read_fallbacks_;
  prometheus::Family<prometheus::Gauge>* replica_up_;
  prometheus::Family<prometheus::Gauge>* replica_lag_sequences_;
  prometheus::Family<prometheus::Gauge>* replica_lag_seconds_;
};

}  // namespace mm::metrics
