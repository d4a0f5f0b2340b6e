#pragma once
// Runs one pull source (source.h) on its own thread: exactly one replica at a time, on
// schedule, reported (DESIGN §3b).
// - Leadership: the source's lease (store::SourceLease, a PostgreSQL advisory lock on a
//   connection of its own). A replica without it tries to take it every `lease_retry`; the
//   holder checks it as often. When the holder dies its connection closes and another
//   replica takes over within `lease_retry`, running each scope when its interval since the
//   last attempt (stored in source_state, whoever made it) is up.
// - Each run reads the source's credential file afresh (rotated Secrets apply without a
//   restart). A provider that refuses it (401/403) stops the source on this replica — no more
//   runs, state untouched, the lease released — until the file's content changes; said in
//   the log, the status (ListSources: "stopped") and mm_source_polls_total{result=
//   "unauthorized"}.
// - After each run: the status in source_state (last attempt, last success, error, drift),
//   mm_source_polls_total, mm_source_last_success_timestamp_seconds, mm_source_events_total,
//   mm_reconcile_drift_total; a failure is logged when it starts or changes, not on every run.
// A provider outage never touches readiness.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "http_client/http_client.h"
#include "ingest/event_writer.h"
#include "metrics/metrics.h"
#include "sources/source.h"
#include "store/source_store.h"

namespace mm::sources {

struct SourceRunnerOptions {
  std::string credential_file;
  http_client::HttpClientOptions http;
  std::string puller;  // this replica's name in the status (its host name)
  bool dry_run = false;
  std::chrono::milliseconds lease_retry{5000};
  // Longest sleep between looks at a source's non-periodic work (PullSource::NextDue).
  std::chrono::milliseconds due_poll{1000};
};

class SourceRunner {
 public:
  // `store` and `lease` are owned by the runner and used on its thread only; the rest must
  // outlive it.
  SourceRunner(PullSource& source, std::unique_ptr<store::SourceStore> store, std::unique_ptr<store::SourceLease> lease,
               ingest::EventWriter& writer, http_client::RetryEnvironment& env, metrics::Metrics& metrics,
               SourceRunnerOptions options, const Clock& clock = SystemClock::Instance());
  ~SourceRunner();  // Stop()s

  void Start();
  // Ends the thread after the step in progress. Interrupt the RetryEnvironment first so that a
  // request in flight ends at once.
  void Stop();
  bool holding_lease() const { return holding_.load(); }

 private:
  void Run();
  // One run of one scope (or of the source's due work, when `scope` is nullopt). Returns when
  // to try again if the source was not ready to run (RunOutcome::run_again_in).
  std::optional<std::chrono::milliseconds> RunOnce(const std::optional<std::string>& scope);
  bool Sleep(std::chrono::milliseconds d);  // false once stopping

  PullSource& source_;
  std::unique_ptr<store::SourceStore> store_;
  std::unique_ptr<store::SourceLease> lease_;
  ingest::EventWriter& writer_;
  metrics::Metrics& metrics_;
  const SourceRunnerOptions options_;
  const Clock& clock_;
  http_client::HttpClient http_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> holding_{false};

  // Runner thread only.
  std::map<std::string, TimePoint> last_attempt_;  // by scope; loaded when the lease is taken
  bool stopped_ = false;                           // refused credential
  std::string stopped_credential_;                 // its SHA-256: resume when the file changes
  std::map<std::string, std::string> last_error_;  // by scope ("" for due work): log changes only
  std::thread thread_;
};

// The trimmed content of a credential file; an error names the file, never its content.
absl::StatusOr<std::string> ReadCredential(const std::string& path);

}  // namespace mm::sources
