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
  absl::StatusOr<domain::Prepared> prepared = domain::PrepareForStore(event, options_.max_clock_skew);
  if (!prepared.ok()) return done(prepared.status());
  if (prepared->clamped > 0 && observer_.clamped) observer_.clamped(event.provider, prepared->clamped);
  absl::Status rejection;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      rejection = absl::UnavailableError("shutting down");
    } else if (std::chrono::steady_clock::now() < backoff_until_) {
      rejection = absl::UnavailableError("database unavailable");
    } else if (queue_.size() >= options_.max_queue) {
      rejection = absl::ResourceExhaustedError("write queue full");
    } else {
      queue_.push_back({std::move(event), std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  done(rejection);
}

void EventWriter::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

size_t EventWriter::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void EventWriter::Run() {
  std::vector<Pending> batch;
  while (true) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitBatch(batch);
    batch.clear();
  }
}

absl::StatusOr<std::vector<store::ApplyResult>> EventWriter::ApplyWithRetries(
    std::span<const domain::ProviderEvent* const> events) {
  absl::StatusOr<std::vector<store::ApplyResult>> results;
  for (int attempt = 0;; ++attempt) {
    results = store_.ApplyBatch(events);
    if (results.ok() || !absl::IsAborted(results.status()) || attempt >= options_.conflict_retries) {
      return results;
    }
  }
}

void EventWriter::CommitBatch(std::vector<Pending>& batch) {
  std::vector<const domain::ProviderEvent*> events;
  events.reserve(batch.size());
  for (const Pending& p : batch) events.push_back(&p.event);

  auto started = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<store::ApplyResult>> results = ApplyWithRetries(events);
  auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  if (observer_.batch) observer_.batch(batch.size(), elapsed, results.ok());

  if (results.ok()) {
    if (!healthy_.exchange(true)) log::Info("event writer recovered: database reachable again");
    if (!results->empty()) {
      uint64_t seq = results->back().sequence;  // every result of a batch carries its last sequence
      if (seq > last_sequence_.load()) last_sequence_.store(seq);  // only this thread writes it
    }
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done((*results)[i]);
    return;
  }
  const absl::Status& status = results.status();
  if (absl::IsUnavailable(status)) {
    {
      std::lock_guard lock(mu_);
      backoff_until_ = std::chrono::steady_clock::now() + options_.unavailable_backoff;
    }
    if (healthy_.exchange(false)) {
      log::Error("event batch not committed: database unavailable",
                 {{"events", std::to_string(batch.size())}, {"error", std::string(status.message())}});
    }
    // Nothing was committed: every waiter is told so and the provider retries.
    for (Pending& p : batch) p.done(absl::UnavailableError("database unavailable"));
    return;
  }
  if (batch.size() > 1) {
    // One bad event must not fail its neighbours: retry each on its own so only it fails.
    log::Warn("event batch failed; retrying its events one by one",
              {{"events", std::to_string(batch.size())}, {"error", std::string(status.message())}});
    for (Pending& p : batch) {
      std::vector<Pending> single;
      single.push_back(std::move(p));
      CommitBatch(single);
    }
    return;
  }
  Pending& pending = batch.front();
  if (absl::IsInvalidArgument(status)) return DeadLetter(pending, status);
  if (absl::IsAborted(status)) {
    // A conflict that outlived the retries is still transient: the sender retries later.
    log::Warn("event not committed: transaction conflict persisted",
              {{"event_id", pending.event.event_id}, {"error", std::string(status.message())}});
    return pending.done(absl::UnavailableError("transaction conflict; retry"));
  }
  log::Error("event not committed", {{"provider", std::string(domain::ProviderName(pending.event.provider))},
                                     {"event_id", pending.event.event_id},
                                     {"error", std::string(status.message())}});
  pending.done(absl::InternalError("event could not be stored"));
}

void EventWriter::DeadLetter(Pending& pending, const absl::Status& refusal) {
  domain::ProviderEvent letter = pending.event;
  letter.events.clear();
  letter.ignored = false;
  letter.dead_letter_reason =
      domain::TruncateUtf8(std::string(refusal.message()), domain::kMaxReasonBytes);
  log::Warn("event dead-lettered: the database refused one of its values",
            {{"provider", std::string(domain::ProviderName(letter.provider))},
             {"event_id", letter.event_id},
             {"reason", *letter.dead_letter_reason}});
  const domain::ProviderEvent* events[] = {&letter};
  absl::StatusOr<std::vector<store::ApplyResult>> results = ApplyWithRetries(events);
  if (results.ok()) {
    if (results->front().sequence > last_sequence_.load()) last_sequence_.store(results->front().sequence);
    return pending.done(results->front());
  }
  log::Error("dead letter not stored", {{"event_id", letter.event_id},
                                        {"error", std::string(results.status().message())}});
  pending.done(absl::IsUnavailable(results.status()) || absl::IsAborted(results.status())
                   ? absl::UnavailableError("database unavailable")
                   : absl::InternalError("event could not be stored"));
}

}  // namespace mm::ingest
