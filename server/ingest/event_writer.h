#pragma once
// Group commit (STYLE.md practice 6; LevelDB's DBImpl::Write): request threads enqueue events
// and return at once; one writer thread takes everything queued (up to max_batch), applies it
// in one store transaction and calls each request's callback with its own result. At low load
// a batch is one event and adds no delay; under load batches grow by themselves while the
// previous commit is in flight.
//
// Callbacks run on the writer thread and must not block (post the answer to the connection's
// own executor). Every submitted event gets exactly one callback, also on shutdown.
//
// Before queueing, every event goes through domain::PrepareForStore: future fact times are
// clamped to the receive time, and values out of bounds make the event a dead letter.
//
// Failure, by cause (DESIGN §5a), so that no value in one event stops the others:
// - UNAVAILABLE (the database is unreachable): the batch's callbacks get UNAVAILABLE (503) and
//   the writer enters a back-off during which new submissions fail fast with UNAVAILABLE
//   instead of queueing behind a dead database; after the back-off the next batch probes
//   again, so the service recovers by itself. Only this turns healthy() false.
// - ABORTED (serialization failure, deadlock): retried a few times; if it persists the events
//   get UNAVAILABLE (503, the sender retries) — transient, not unhealthy.
// - Any other failure of a batch of several events: each is retried on its own, so only the
//   one that fails, fails.
// - INVALID_ARGUMENT for a single event (the database refused one of its values): it is stored
//   again as a dead letter with the database's reason, and answered kDeadLettered.
// - INTERNAL for a single event (a bug): answered INTERNAL (500).

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "store/event_store.h"

namespace mm::ingest {

struct EventWriterOptions {
  // Events per transaction, sized by tests/bench/ingest_bench --sweep (1,024 closed-loop
  // senders, so batches can fill; 2-core machine): 8 -> 2.8k, 32 -> 5.0k, 64 -> 5.8k events/s,
  // then 128, 256, 512 and 2048 all 6.4k-7.6k, within run-to-run noise of each other. 512
  // stays clear of the knee and lets a slower disk's flush be shared by more events. At 64
  // senders batches hold about 32 and every cap from 32 up is alike.
  size_t max_batch = 512;
  size_t max_queue = 20000;        // queued events before new ones are shed (RESOURCE_EXHAUSTED)
  std::chrono::milliseconds unavailable_backoff{500};
  int conflict_retries = 3;
  // Fact times later than receive time + this are taken as the receive time (DESIGN §5a).
  std::chrono::seconds max_clock_skew{300};
};

// Observations for metrics; called on the writer thread. Optional.
struct EventWriterObserver {
  std::function<void(size_t batch_size, std::chrono::microseconds commit_time, bool ok)> batch;
  // Fact times of one event that were later than allowed and taken as its receive time.
  std::function<void(domain::Provider provider, int clamped)> clamped;
};

class EventWriter {
 public:
  using Callback = std::function<void(absl::StatusOr<store::ApplyResult>)>;

  EventWriter(store::EventStore& store, EventWriterOptions options,
              EventWriterObserver observer = {});
  ~EventWriter();  // Stop()s

  // Queues `event`; `done` is called exactly once. Fails fast (still via `done`, synchronously)
  // with INVALID_ARGUMENT when the event cannot be stored at all (domain::PrepareForStore),
  // RESOURCE_EXHAUSTED when the queue is full, UNAVAILABLE during the back-off after a
  // database failure or after Stop(). Thread-safe.
  void Submit(domain::ProviderEvent event, Callback done);

  // Stops taking new events, finishes everything queued (the store decides each), joins.
  void Stop();

  // False between a failed commit and the next successful one (readiness, metrics).
  bool healthy() const { return healthy_.load(); }
  size_t queued() const;
  // Highest change-log sequence a batch of this writer committed (0 before the first).
  uint64_t last_committed_sequence() const { return last_sequence_.load(); }

 private:
  struct Pending {
    domain::ProviderEvent event;
    Callback done;
  };
  void Run();
  void CommitBatch(std::vector<Pending>& batch);
  // ApplyBatch, retried while it reports a conflict (ABORTED).
  absl::StatusOr<std::vector<store::ApplyResult>> ApplyWithRetries(
      std::span<const domain::ProviderEvent* const> events);
  // Stores the one event the database refused as a dead letter; answers it.
  void DeadLetter(Pending& pending, const absl::Status& refusal);

  store::EventStore& store_;
  const EventWriterOptions options_;
  const EventWriterObserver observer_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point backoff_until_{};
  std::atomic<bool> healthy_{true};
  std::atomic<uint64_t> last_sequence_{0};
  std::thread thread_;
};

}  // namespace mm::ingest
