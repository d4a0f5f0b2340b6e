#include "ingest/event_writer.h"

#include "common/log.h"

namespace mm::ingest {

EventWriter::EventWriter(store::EventStore& store, EventWriterOptions options,
                         EventWriterObserver observer)
    : store_(store), options_(options), observer_(std::move(observer)) {
  thread_ = std::thread([this] { Run(); });
}

EventWriter::~EventWriter() { Stop(); }

void EventWriter::Submit(domain::ProviderEvent event, Callback done) {
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

void EventWriter::CommitBatch(std::vector<Pending>& batch) {
  std::vector<const domain::ProviderEvent*> events;
  events.reserve(batch.size());
  for (const Pending& p : batch) events.push_back(&p.event);

  absl::StatusOr<std::vector<store::ApplyResult>> results;
  auto started = std::chrono::steady_clock::now();
  for (int attempt = 0;; ++attempt) {
    results = store_.ApplyBatch(events);
    if (results.ok() || !absl::IsAborted(results.status()) ||
        attempt >= options_.conflict_retries) {
      break;
    }
  }
  auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  if (observer_.batch) observer_.batch(batch.size(), elapsed, results.ok());

  if (!results.ok() && !absl::IsUnavailable(results.status()) && batch.size() > 1) {
    // One bad event must not fail its neighbours: retry each on its own so only it fails.
    log::Warn("event batch failed; retrying its events one by one",
              {{"events", std::to_string(batch.size())},
               {"error", std::string(results.status().message())}});
    for (Pending& p : batch) {
      std::vector<Pending> single;
      single.push_back(std::move(p));
      CommitBatch(single);
    }
    return;
  }
  if (!results.ok()) {
    bool unavailable = absl::IsUnavailable(results.status());
    if (unavailable) {
      std::lock_guard lock(mu_);
      backoff_until_ = std::chrono::steady_clock::now() + options_.unavailable_backoff;
    }
    if (healthy_.exchange(false) || !unavailable) {
      log::Error("event batch not committed", {{"events", std::to_string(batch.size())},
                                               {"error", std::string(results.status().message())}});
    }
    // Nothing was committed: every waiter is told so and the provider retries.
    absl::Status failure = unavailable ? absl::UnavailableError("database unavailable")
                                       : absl::InternalError("event batch failed");
    for (Pending& p : batch) p.done(failure);
    return;
  }
  if (!healthy_.exchange(true)) log::Info("event writer recovered: database reachable again");
  if (!results->empty()) {
    uint64_t seq = results->back().sequence;  // every result of a batch carries its last sequence
    if (seq > last_sequence_.load()) last_sequence_.store(seq);  // only this thread writes it
  }
  for (size_t i = 0; i < batch.size(); ++i) batch[i].done((*results)[i]);
}

}  // namespace mm::ingest
