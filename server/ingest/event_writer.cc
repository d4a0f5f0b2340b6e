#include "ingest/event_writer.h"

#include "common/log.h"
#include "domain/event_checks.h"

namespace mm::ingest {

EventWriter::EventWriter(store::EventStore& store, EventWriterOptions options,
                         EventWriterObserver observer)
    : store_(store), options_(options), observer_(std::move(observer)) {
  thread_ = std::thread([this] { Run(); });
}

EventWriter::~EventWriter() { Stop(); }

void EventWriter::Submit(domain::ProviderEvent event, Callback done) {
  Pending pending;
  pending.events.push_back(std::move(event));
  pending.done = [done = std::move(done)](absl::StatusOr<std::vector<store::ApplyResult>> results) {
    if (!results.ok()) return done(results.status());
    done(results->front());
  };
  Enqueue(std::move(pending));
}

void EventWriter::SubmitPage(std::vector<domain::ProviderEvent> events, store::SourceCheckpoint checkpoint,
                             PageCallback done) {
  for (domain::ProviderEvent& e : events) {
    e.source = checkpoint.source;
    e.scope = checkpoint.scope;
  }
  Enqueue({.events = std::move(events), .checkpoint = std::move(checkpoint), .done = std::move(done)});
}

void EventWriter::SubmitReplay(std::vector<domain::ProviderEvent> events, bool dry_run, PageCallback done) {
  for (domain::ProviderEvent& e : events) e.replay = true;
  Pending pending;
  pending.events = std::move(events);
  pending.done = std::move(done);
  pending.dry_run = dry_run;
  Enqueue(std::move(pending));
}

void EventWriter::Enqueue(Pending pending) {
  for (domain::ProviderEvent& event : pending.events) {
    absl::StatusOr<domain::Prepared> prepared = domain::PrepareForStore(event, options_.max_clock_skew);
    if (!prepared.ok()) return pending.done(prepared.status());
    if (prepared->clamped > 0 && observer_.clamped) observer_.clamped(event.provider, prepared->clamped);
  }
  absl::Status rejection;
  {
    absl::MutexLock lock(&mu_);
    const size_t events = pending.events.size();
    if (stopping_) {
      rejection = absl::UnavailableError("shutting down");
    } else if (std::chrono::steady_clock::now() < backoff_until_) {
      rejection = absl::UnavailableError("database unavailable");
    } else if (queued_events_ + events > options_.max_queue) {
      rejection = absl::ResourceExhaustedError("write queue full");
    } else {
      queued_events_ += events;
      queue_.push_back(std::move(pending));
      return;
    }
  }
  pending.done(rejection);
}

void EventWriter::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

size_t EventWriter::queued() const {
  absl::MutexLock lock(&mu_);
  return queued_events_;
}

void EventWriter::Run() {
  std::vector<Pending> batch;
  while (true) {
    bool probe = false;
    {
      absl::MutexLock lock(&mu_);
      const absl::Condition work(
          +[](EventWriter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) { return w->stopping_ || !w->queue_.empty(); },
          this);
      if (healthy_.load()) {
        mu_.Await(work);
      } else {
        // Unhealthy and still idle when the back-off ends: probe, so that readiness recovers
        // without traffic (an unready replica is sent none).
        probe = !mu_.AwaitWithTimeout(work, absl::FromChrono(backoff_until_ - std::chrono::steady_clock::now()));
      }
      if (!probe) {
        if (queue_.empty()) return;  // stopping and drained
        size_t events = 0;
        // At least one request; then as many as fit under max_batch events. A dry run is a
        // batch of its own.
        while (!queue_.empty() && (batch.empty() || (events + queue_.front().events.size() <= options_.max_batch &&
                                                     !queue_.front().dry_run && !batch.front().dry_run))) {
          events += queue_.front().events.size();
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        queued_events_ -= events;
      }
    }
    if (probe) {
      Probe();
      continue;
    }
    CommitBatch(batch);
    batch.clear();
  }
}

absl::StatusOr<std::vector<store::ApplyResult>> EventWriter::ApplyWithRetries(
    std::span<const domain::ProviderEvent* const> events,
    std::span<const store::SourceCheckpoint* const> checkpoints) {
  absl::StatusOr<std::vector<store::ApplyResult>> results;
  for (int attempt = 0;; ++attempt) {
    results = store_.ApplyBatch(events, checkpoints);
    if (results.ok() || !absl::IsAborted(results.status()) || attempt >= options_.conflict_retries) {
      return results;
    }
  }
}

void EventWriter::NoteUnavailable(const absl::Status& status, size_t events) {
  {
    absl::MutexLock lock(&mu_);
    backoff_until_ = std::chrono::steady_clock::now() + options_.unavailable_backoff;
  }
  if (healthy_.exchange(false)) {
    log::Error("event batch not committed: database unavailable",
               {{"events", std::to_string(events)}, {"error", std::string(status.message())}});
  }
}

void EventWriter::Probe() {
  absl::Status status = store_.Ping();
  if (status.ok()) {
    {
      absl::MutexLock lock(&mu_);
      backoff_until_ = {};
    }
    if (!healthy_.exchange(true)) log::Info("event writer recovered: database reachable again");
    return;
  }
  absl::MutexLock lock(&mu_);
  backoff_until_ = std::chrono::steady_clock::now() + options_.unavailable_backoff;
}

void EventWriter::NoteCommitted(uint64_t sequence) {
  if (!healthy_.exchange(true)) log::Info("event writer recovered: database reachable again");
  if (sequence > last_sequence_.load()) last_sequence_.store(sequence);  // only this thread writes it
}

void EventWriter::TryDryRun(Pending& pending) {
  std::vector<const domain::ProviderEvent*> events;
  for (const domain::ProviderEvent& e : pending.events) events.push_back(&e);
  absl::StatusOr<std::vector<store::ApplyResult>> results = store_.TryBatch(events);
  if (results.ok() || events.size() <= 1 || absl::IsUnavailable(results.status()) ||
      absl::IsAborted(results.status())) {
    if (!results.ok() && events.size() == 1 && absl::IsInvalidArgument(results.status())) {
      results = std::vector<store::ApplyResult>{{.outcome = domain::Outcome::kDeadLettered}};
    }
    if (!results.ok() && absl::IsAborted(results.status())) results = absl::UnavailableError("transaction conflict; retry");
    return pending.done(std::move(results));
  }
  // One event's value refused: try each on its own, as a replay would apply them.
  std::vector<store::ApplyResult> each;
  for (domain::ProviderEvent& e : pending.events) {
    Pending single;
    single.dry_run = true;
    single.events.push_back(std::move(e));
    absl::Status failed;
    single.done = [&each, &failed](absl::StatusOr<std::vector<store::ApplyResult>> r) {
      if (r.ok()) {
        each.push_back(r->front());
      } else {
        failed = r.status();
      }
    };
    TryDryRun(single);
    if (!failed.ok()) return pending.done(failed);
  }
  pending.done(std::move(each));
}

void EventWriter::CommitBatch(std::vector<Pending>& batch) {
  if (batch.size() == 1 && batch.front().dry_run) return TryDryRun(batch.front());
  std::vector<const domain::ProviderEvent*> events;
  std::vector<const store::SourceCheckpoint*> checkpoints;
  for (Pending& p : batch) {
    const size_t begin = events.size();
    for (const domain::ProviderEvent& e : p.events) events.push_back(&e);
    if (p.checkpoint) {
      p.checkpoint->page_begin = begin;
      p.checkpoint->page_end = events.size();
      checkpoints.push_back(&*p.checkpoint);
    }
  }

  auto started = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<store::ApplyResult>> results = ApplyWithRetries(events, checkpoints);
  auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  if (observer_.batch) observer_.batch(events.size(), elapsed, results.ok());

  if (results.ok()) {
    // Every result of a batch carries its last sequence.
    NoteCommitted(results->empty() ? 0 : results->back().sequence);
    size_t next = 0;
    for (Pending& p : batch) {
      std::vector<store::ApplyResult> own(results->begin() + static_cast<std::ptrdiff_t>(next),
                                          results->begin() + static_cast<std::ptrdiff_t>(next + p.events.size()));
      next += p.events.size();
      p.done(std::move(own));
    }
    return;
  }
  const absl::Status& status = results.status();
  if (absl::IsUnavailable(status)) {
    NoteUnavailable(status, events.size());
    // Nothing was committed: every waiter is told so and the provider retries. So is every
    // request queued behind it: each would wait on the same database in turn (up to the
    // statement timeout each when it is silent), and a drain would wait for all of them.
    std::deque<Pending> queued;
    {
      absl::MutexLock lock(&mu_);
      queued.swap(queue_);
      queued_events_ = 0;
    }
    for (Pending& p : batch) p.done(absl::UnavailableError("database unavailable"));
    for (Pending& p : queued) p.done(absl::UnavailableError("database unavailable"));
    return;
  }
  if (batch.size() > 1) {
    // One bad event must not fail its neighbours: retry each request on its own so only it fails.
    log::Warn("event batch failed; retrying its requests one by one",
              {{"requests", std::to_string(batch.size())}, {"error", std::string(status.message())}});
    for (Pending& p : batch) {
      std::vector<Pending> single;
      single.push_back(std::move(p));
      CommitBatch(single);
    }
    return;
  }
  Pending& pending = batch.front();
  if (pending.checkpoint || pending.events.size() != 1) return CommitPageAlone(pending);
  absl::StatusOr<store::ApplyResult> result = Resolve(pending.events.front(), status);
  if (!result.ok()) return pending.done(result.status());
  pending.done(std::vector<store::ApplyResult>{*result});
}

void EventWriter::CommitPageAlone(Pending& page) {
  std::vector<store::ApplyResult> results;
  results.reserve(page.events.size());
  for (const domain::ProviderEvent& event : page.events) {
    absl::StatusOr<store::ApplyResult> result = CommitAlone(event);
    // Those before it are committed; the checkpoint is not, so the source reads the page again.
    if (!result.ok()) return page.done(result.status());
    results.push_back(*result);
  }
  if (page.checkpoint) {
    // Its events are committed already: the checkpoint alone names none of this batch's.
    page.checkpoint->page_begin = page.checkpoint->page_end = 0;
    const store::SourceCheckpoint* checkpoints[] = {&*page.checkpoint};
    absl::StatusOr<std::vector<store::ApplyResult>> written = ApplyWithRetries({}, checkpoints);
    if (!written.ok()) {
      if (absl::IsUnavailable(written.status())) NoteUnavailable(written.status(), 0);
      log::Error("source checkpoint not committed", {{"source", page.checkpoint->source},
                                                    {"scope", page.checkpoint->scope},
                                                    {"error", std::string(written.status().message())}});
      return page.done(absl::IsUnavailable(written.status()) || absl::IsAborted(written.status())
                           ? absl::UnavailableError("database unavailable")
                           : absl::InternalError("source checkpoint could not be stored"));
    }
  }
  page.done(std::move(results));
}

absl::StatusOr<store::ApplyResult> EventWriter::CommitAlone(const domain::ProviderEvent& event) {
  const domain::ProviderEvent* events[] = {&event};
  absl::StatusOr<std::vector<store::ApplyResult>> results = ApplyWithRetries(events, {});
  if (results.ok()) {
    NoteCommitted(results->front().sequence);
    return results->front();
  }
  return Resolve(event, results.status());
}

absl::StatusOr<store::ApplyResult> EventWriter::Resolve(const domain::ProviderEvent& event,
                                                        const absl::Status& status) {
  if (absl::IsUnavailable(status)) {
    NoteUnavailable(status, 1);
    return absl::UnavailableError("database unavailable");
  }
  if (absl::IsAborted(status)) {
    // A conflict that outlived the retries is still transient: the sender retries later.
    log::Warn("event not committed: transaction conflict persisted",
              {{"event_id", event.event_id}, {"error", std::string(status.message())}});
    return absl::UnavailableError("transaction conflict; retry");
  }
  if (!absl::IsInvalidArgument(status)) {
    log::Error("event not committed", {{"provider", std::string(domain::ProviderName(event.provider))},
                                       {"event_id", event.event_id},
                                       {"error", std::string(status.message())}});
    return absl::InternalError("event could not be stored");
  }
  // The database refused one of its values: keep the event as a dead letter, with the reason.
  domain::ProviderEvent letter = event;
  letter.events.clear();
  letter.ignored = false;
  letter.dead_letter_reason = domain::TruncateUtf8(std::string(status.message()), domain::kMaxReasonBytes);
  log::Warn("event dead-lettered: the database refused one of its values",
            {{"provider", std::string(domain::ProviderName(letter.provider))},
             {"event_id", letter.event_id},
             {"reason", *letter.dead_letter_reason}});
  const domain::ProviderEvent* letters[] = {&letter};
  absl::StatusOr<std::vector<store::ApplyResult>> results = ApplyWithRetries(letters, {});
  if (results.ok()) {
    NoteCommitted(results->front().sequence);
    return results->front();
  }
  log::Error("dead letter not stored", {{"event_id", letter.event_id},
                                        {"error", std::string(results.status().message())}});
  if (absl::IsUnavailable(results.status())) NoteUnavailable(results.status(), 1);
  return absl::IsUnavailable(results.status()) || absl::IsAborted(results.status())
             ? absl::UnavailableError("database unavailable")
             : absl::InternalError("event could not be stored");
}

}  // namespace mm::ingest
