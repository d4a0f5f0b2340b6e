#pragma once
// A pull source (DESIGN §3b): a provider API the service reads because webhooks are missing,
// late or rolled back. A source knows one provider's API and what to make of it; the
// SourceRunner (source_runner.h) decides when it runs, on which replica, and reports how it
// went. Everything a source yields goes through the same normalized events, writer and
// convergence rules as webhooks.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/time.h"
#include "domain/events.h"
#include "domain/reconcile.h"
#include "http_client/http_client.h"
#include "store/event_store.h"
#include "store/source_store.h"

namespace mm::sources {

// What one run of a source may use. The runner builds it for each run.
struct SourceContext {
  http_client::HttpClient& http;
  store::SourceStore& store;
  // Commits a page — events and the checkpoint, in one transaction — and waits for the
  // outcome (ingest::EventWriter::SubmitPage). An error means the checkpoint is not stored.
  std::function<absl::StatusOr<std::vector<store::ApplyResult>>(std::vector<domain::ProviderEvent>,
                                                                store::SourceCheckpoint)>
      commit;
  const Clock& clock;
  // The credential read from the source's file for this run (never logged).
  std::string credential;
  // Report drift without applying it (MM_RECONCILE_DRY_RUN): sources that diff a listing.
  bool dry_run = false;
  // True once the service is stopping: a run stops between pages.
  std::function<bool()> stopping;
};

// How a run went (the runner turns it into status, metrics and logs).
struct RunOutcome {
  int64_t events = 0;  // events committed
  std::map<domain::DriftKind, int64_t> drift;  // corrections found, applied unless a dry run
  // Set when the source did not run because something it waits for has not happened yet
  // (huudis-lists waits for huudis-audit's first complete sweep): the runner records nothing
  // and tries again this much later instead of after a whole interval.
  std::optional<std::chrono::milliseconds> run_again_in;
  int64_t drift_total() const {
    int64_t n = 0;
    for (const auto& [kind, count] : drift) n += count;
    return n;
  }
};

class PullSource {
 public:
  virtual ~PullSource() = default;
  // "huudis-audit", "huudis-lists", "monocloud", "fusionauth-users": status, metrics, logs,
  // and the name of its lease.
  virtual const std::string& name() const = 0;
  // The scopes it runs for (workspace, group or tenant ids; "" for one that has none).
  virtual std::vector<std::string> scopes() const = 0;
  virtual std::chrono::seconds interval() const = 0;
  // One run for one scope. UNAUTHENTICATED / PERMISSION_DENIED: the credential is refused
  // (the runner stops the source until it changes); CANCELLED: the service is stopping; any
  // other error: the run failed and changed nothing beyond the pages it committed, and the
  // next run goes on from the last committed checkpoint.
  virtual absl::StatusOr<RunOutcome> Run(const std::string& scope, SourceContext& ctx) = 0;
  // Work that is not periodic (a re-read some seconds after a change): when it is next due,
  // or nullopt. The runner calls RunDue at that time, on the lease holder only.
  virtual std::optional<TimePoint> NextDue() { return std::nullopt; }
  virtual absl::StatusOr<RunOutcome> RunDue(SourceContext& /*ctx*/) { return RunOutcome{}; }
};

}  // namespace mm::sources
