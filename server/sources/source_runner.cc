#include "sources/source_runner.h"

#include <fstream>
#include <future>
#include <sstream>

#include "common/crypto.h"
#include "common/log.h"

namespace mm::sources {

absl::StatusOr<std::string> ReadCredential(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::FailedPreconditionError("cannot read the credential file " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string value = text.str();
  size_t b = value.find_first_not_of(" \t\r\n"), e = value.find_last_not_of(" \t\r\n");
  if (b == std::string::npos) return absl::FailedPreconditionError("the credential file " + path + " is empty");
  return value.substr(b, e - b + 1);
}

SourceRunner::SourceRunner(PullSource& source, std::unique_ptr<store::SourceStore> store,
                           std::unique_ptr<store::SourceLease> lease, ingest::EventWriter& writer,
                           http_client::RetryEnvironment& env, metrics::Metrics& metrics, SourceRunnerOptions options,
                           const Clock& clock)
    : source_(source),
      store_(std::move(store)),
      lease_(std::move(lease)),
      writer_(writer),
      metrics_(metrics),
      options_(std::move(options)),
      clock_(clock),
      http_(options_.http, env, source.name()) {}

SourceRunner::~SourceRunner() { Stop(); }

void SourceRunner::Start() { thread_ = std::thread([this] { Run(); }); }

void SourceRunner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool SourceRunner::Sleep(std::chrono::milliseconds d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(d));
  return !stopping_;
}

void SourceRunner::Run() {
  const std::string& name = source_.name();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    if (stopped_) {
      // Refused credential: wait for the file to change.
      absl::StatusOr<std::string> credential = ReadCredential(options_.credential_file);
      if (credential.ok() && HexEncode(Sha256(*credential)) != stopped_credential_) {
        log::Info("pull source credential changed: resuming", {{"source", name}});
        stopped_ = false;
        last_error_.clear();
      } else if (!Sleep(options_.lease_retry)) {
        break;
      } else {
        continue;
      }
    }
    const bool was_holding = holding_.load();
    const bool holding = lease_->Hold();
    holding_.store(holding);
    metrics_.SourceLeaseHeld(name, holding);
    if (holding != was_holding) {
      log::Info(holding ? "pull source lease taken: this replica pulls" : "pull source lease lost",
                {{"source", name}, {"puller", options_.puller}});
      last_attempt_.clear();
    }
    if (!holding) {
      if (!Sleep(options_.lease_retry)) break;
      continue;
    }
    const TimePoint now = clock_.Now();
    std::optional<TimePoint> next;
    for (const std::string& scope : source_.scopes()) {
      if (!last_attempt_.contains(scope)) {
        // Taking over: go on from the schedule whoever ran last left.
        absl::StatusOr<std::optional<store::SourceStatus>> status = store_->LoadStatus(name, scope);
        if (!status.ok()) break;  // the database is away; the lease check will tell
        TimePoint last{};
        if (*status && (*status)->last_attempt_at && (*status)->status != "stopped") last = *(*status)->last_attempt_at;
        last_attempt_[scope] = last;
      }
      TimePoint due = last_attempt_[scope] + source_.interval();
      if (due <= now) {
        last_attempt_[scope] = now;
        std::optional<std::chrono::milliseconds> again = RunOnce(scope);
        if (stopped_) break;
        due = now + source_.interval();
        if (again) {
          due = now + *again;
          last_attempt_[scope] = due - source_.interval();
        }
      }
      if (!next || due < *next) next = due;
    }
    if (stopped_) continue;
    if (std::optional<TimePoint> due = source_.NextDue(); due && *due <= clock_.Now()) RunOnce(std::nullopt);
    if (std::optional<TimePoint> due = source_.NextDue(); due && (!next || *due < *next)) next = due;
    // Sleep until the next run is due, looking at the lease and the due work meanwhile.
    auto wait = std::min(options_.lease_retry, options_.due_poll);
    if (next) {
      auto until = std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock_.Now());
      wait = std::clamp(until, std::chrono::milliseconds(1), wait);
    }
    if (!Sleep(wait)) break;
  }
  if (holding_.exchange(false)) {
    lease_->Release();
    metrics_.SourceLeaseHeld(name, false);
  }
}

std::optional<std::chrono::milliseconds> SourceRunner::RunOnce(const std::optional<std::string>& scope) {
  const std::string& name = source_.name();
  const TimePoint attempted_at = clock_.Now();
  absl::StatusOr<RunOutcome> outcome;
  absl::StatusOr<std::string> credential = ReadCredential(options_.credential_file);
  std::string credential_hash;
  if (!credential.ok()) {
    outcome = credential.status();
  } else {
    credential_hash = HexEncode(Sha256(*credential));
    SourceContext ctx{
        .http = http_,
        .store = *store_,
        .commit = [this](std::vector<domain::ProviderEvent> events, store::SourceCheckpoint checkpoint) {
          std::promise<absl::StatusOr<std::vector<store::ApplyResult>>> done;
          auto result = done.get_future();
          writer_.SubmitPage(std::move(events), std::move(checkpoint),
                             [&done](absl::StatusOr<std::vector<store::ApplyResult>> r) { done.set_value(std::move(r)); });
          return result.get();  // the writer answers every request, also when it stops
        },
        .clock = clock_,
        .credential = *credential,
        .dry_run = options_.dry_run,
        .stopping = [this] {
          absl::MutexLock lock(&mu_);
          return stopping_;
        },
    };
    outcome = scope ? source_.Run(*scope, ctx) : source_.RunDue(ctx);
  }
  if (absl::IsCancelled(outcome.status())) return std::nullopt;  // stopping: not a failure of the source
  if (outcome.ok() && outcome->run_again_in) return outcome->run_again_in;  // not yet: nothing to report
  const std::string scope_name = scope.value_or("");
  const bool refused = absl::IsUnauthenticated(outcome.status()) || absl::IsPermissionDenied(outcome.status());
  store::SourceRun run{.source = name,
                       .scope = scope ? *scope : "recheck",
                       .attempted_at = attempted_at,
                       .status = outcome.ok() ? "ok" : refused ? "stopped" : "error",
                       .error = std::nullopt,
                       .drift = 0,
                       .puller = options_.puller};
  if (outcome.ok()) {
    run.drift = outcome->drift_total();
    metrics_.SourcePolled(name, "ok");
    metrics_.SourceSucceeded(name, static_cast<double>(ToUnixMicros(clock_.Now())) / 1e6);
    if (outcome->events > 0) metrics_.SourceEvents(name, outcome->events);
    for (const auto& [kind, n] : outcome->drift) metrics_.ReconcileDrift(name, domain::DriftKindName(kind), n);
    if (last_error_.erase(scope_name) > 0) log::Info("pull source recovered", {{"source", name}, {"scope", scope_name}});
    if (run.drift > 0 || outcome->events > 0) {
      log::Info(options_.dry_run && run.drift > 0 ? "pull source run (dry run: drift not applied)" : "pull source run",
                {{"source", name},
                 {"scope", scope_name},
                 {"events", std::to_string(outcome->events)},
                 {"drift", std::to_string(run.drift)}});
    }
  } else {
    run.error = std::string(outcome.status().message());
    metrics_.SourcePolled(name, refused ? "unauthorized" : "error");
    if (refused) {
      log::Error("pull source stopped: the provider refused its credential; it resumes when the credential file changes",
                 {{"source", name}, {"scope", scope_name}, {"error", *run.error}});
      stopped_ = true;
      stopped_credential_ = credential_hash;
    } else if (last_error_[scope_name] != *run.error) {
      log::Warn("pull source run failed; retrying at the next interval",
                {{"source", name}, {"scope", scope_name}, {"error", *run.error}});
      last_error_[scope_name] = *run.error;
    }
  }
  if (absl::Status recorded = store_->RecordRun(run); !recorded.ok()) {
    log::Debug("pull source status not recorded", {{"source", name}, {"error", std::string(recorded.message())}});
  }
  if (stopped_ && holding_.exchange(false)) {
    lease_->Release();
    metrics_.SourceLeaseHeld(name, false);
  }
  return std::nullopt;
}

}  // namespace mm::sources
