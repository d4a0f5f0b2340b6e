#pragma once
// Group commit (as in LevelDB's DBImpl::Write): request threads enqueue events
// and return at once; one writer thread takes everything queued (up to max_batch events),
// applies it in one store transaction and calls each request's callback with its own result.
// At low load a batch is one event and adds no delay; under load batches grow by themselves
// while the previous commit is in flight.
//
// Two kinds of request: one webhook event (Submit), or a pull source's page (SubmitPage):
// several events and the source's checkpoint, committed all together or not at all, so that a
// source's position never gets ahead of the events it yielded.
//
// Callbacks run on the writer thread and must not block (post the answer to the connection's
// own executor). Every request gets exactly one callback, also on shutdown.
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
// - Any other failure of a batch of several requests: each is retried on its own, so only the
//   one that fails, fails; a page that fails on its own is retried event by event, then its
//   checkpoint alone (a crash in between re-reads the page later: dedup makes that free).
// - INVALID_ARGUMENT for a single event (the database refused one of its values): it is stored
//   again as a dead letter with the database's reason, and answered kDeadLettered.
// - INTERNAL for a single event (a bug): answered INTERNAL (500).

#include <atomic>
#include <deque>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
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
  // One result per event of the page, in order.
  using PageCallback = std::function<void(absl::StatusOr<std::vector<store::ApplyResult>>)>;

  EventWriter(store::EventStore& store, EventWriterOptions options,
              EventWriterObserver observer = {});
  ~EventWriter();  // Stop()s

  // Queues `event`; `done` is called exactly once. Fails fast (still via `done`, synchronously)
  // with INVALID_ARGUMENT when the event cannot be stored at all (domain::PrepareForStore),
  // RESOURCE_EXHAUSTED when the queue is full, UNAVAILABLE during the back-off after a
  // database failure or after Stop(). Thread-safe.
  void Submit(domain::ProviderEvent event, Callback done);

  // Queues a pull source's page: `events` (possibly none) and `checkpoint`, committed in one
  // transaction, or event by event and then the checkpoint if that fails (see above). `done` is
  // called exactly once: with every event's result once the checkpoint is committed, or with
  // the error that left the checkpoint uncommitted. Fails fast like Submit; an event that
  // cannot be stored at all fails the page with INVALID_ARGUMENT. Thread-safe.
  void SubmitPage(std::vector<domain::ProviderEvent> events, store::SourceCheckpoint checkpoint,
                  PageCallback done);

  // Queues stored dead letters decoded again (each with ProviderEvent::replay set): applied like
  // webhooks, each on its own terms (a replay the database refuses is dead-lettered again), or
  // with `dry_run` tried in a transaction that is rolled back, on its own, so that nothing is
  // written: the results say what a replay would do now. `done` is called exactly once, with
  // one result per event in order. Fails fast like Submit. Thread-safe.
  void SubmitReplay(std::vector<domain::ProviderEvent> events, bool dry_run, PageCallback done);

  // Stops taking new events, finishes everything queued (the store decides each), joins.
  void Stop();

  // False between a failed commit and the next successful one (readiness, metrics).
  bool healthy() const { return healthy_.load(); }
  size_t queued() const;  // events waiting
  // Highest change-log sequence a batch of this writer committed (0 before the first).
  uint64_t last_committed_sequence() const { return last_sequence_.load(); }

 private:
  // One request: a webhook's event, or a page with its checkpoint.
  struct Pending {
    std::vector<domain::ProviderEvent> events;
    std::optional<store::SourceCheckpoint> checkpoint;
    PageCallback done;
    bool dry_run = false;  // SubmitReplay's: always a batch of its own
  };
  // Prepares the events and queues the request, or answers it at once.
  void Enqueue(Pending pending);
  void Run();
  void CommitBatch(std::vector<Pending>& batch);
  // A page that failed as part of a batch, retried on its own: event by event, then the
  // checkpoint.
  void CommitPageAlone(Pending& page);
  // A dry run (store::EventStore::TryBatch); an event the database refuses is a dead letter.
  void TryDryRun(Pending& pending);
  // One event on its own; an event the database refuses is stored as a dead letter instead.
  absl::StatusOr<store::ApplyResult> CommitAlone(const domain::ProviderEvent& event);
  // The answer for one event whose transaction on its own failed with `status`: UNAVAILABLE
  // for transient causes, a dead letter for a refused value, INTERNAL for anything else.
  absl::StatusOr<store::ApplyResult> Resolve(const domain::ProviderEvent& event, const absl::Status& status);
  // ApplyBatch, retried while it reports a conflict (ABORTED).
  absl::StatusOr<std::vector<store::ApplyResult>> ApplyWithRetries(
      std::span<const domain::ProviderEvent* const> events,
      std::span<const store::SourceCheckpoint* const> checkpoints);
  // Marks the database unavailable (back-off, unhealthy) and says so once.
  void NoteUnavailable(const absl::Status& status, size_t events);
  void NoteCommitted(uint64_t sequence);
  // While unhealthy and idle: asks the store whether the database answers again.
  void Probe();

  store::EventStore& store_;
  const EventWriterOptions options_;
  const EventWriterObserver observer_;
  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_events_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point backoff_until_ ABSL_GUARDED_BY(mu_){};
  std::atomic<bool> healthy_{true};
  std::atomic<uint64_t> last_sequence_{0};
  std::thread thread_;
};

}  // namespace mm::ingest
