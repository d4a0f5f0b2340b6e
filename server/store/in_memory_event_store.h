#pragma once
// In-memory EventStore and ChangeFeed over one StateSet: the fake for tests that exercise the
// writer, cache and ingress without PostgreSQL, and the reference the convergence property test
// compares the real store against. Applies exactly the same domain rules as PgEventStore.
// Thread-safe. Fault injection: SetUnavailable(true) makes every call fail with UNAVAILABLE;
// KeepHistory() then RestoreTo(sequence) puts the store back as it was after an earlier batch
// (a database restored from a backup, or a standby promoted without the last commits).

#include <atomic>
#include <map>
#include <set>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "domain/seats.h"
#include "store/event_store.h"

namespace mm::store {

class InMemoryEventStore final : public EventStore, public ChangeFeed {
 public:
  using EventStore::ApplyBatch;
  absl::StatusOr<std::vector<ApplyResult>> ApplyBatch(
      std::span<const domain::ProviderEvent* const> batch,
      std::span<const SourceCheckpoint* const> checkpoints) override;
  absl::Status Ping() override {
    return unavailable_.load() ? absl::UnavailableError("injected: database unavailable") : absl::OkStatus();
  }

  absl::StatusOr<uint64_t> LoadUserStates(const std::function<void(UserStateRow&&)>& row) override;
  absl::StatusOr<ChangeRead> ReadChanges(uint64_t after, int limit) override;
  absl::Status WaitForNotification(std::chrono::milliseconds timeout) override;

  void SetUnavailable(bool unavailable) { unavailable_.store(unavailable); }
  // Remembers the state after this and every later batch, so RestoreTo can return to it.
  void KeepHistory();
  // Back to the state, events and log as they were at `sequence` (a remembered batch
  // boundary); false if that point was not remembered.
  bool RestoreTo(uint64_t sequence);
  domain::StateSet State() const;
  uint64_t LastSequence() const;
  size_t BatchesCommitted() const;
  // What the checkpoints of (source, scope) have written: position, watermark, events
  // yielded, items.
  struct SourceRecord {
    std::optional<std::string> position_json;
    std::optional<TimePoint> watermark;
    int64_t events_yielded = 0;
    std::set<std::string> items;
  };
  std::optional<SourceRecord> Source(const std::string& source, const std::string& scope) const;
  // Outcome recorded for a stored event, if stored.
  std::optional<domain::Outcome> StoredOutcome(domain::Provider provider,
                                               const std::string& event_id) const;

 private:
  mutable absl::Mutex mu_;
  absl::CondVar changed_;  // signalled on each commit
  std::atomic<bool> unavailable_{false};
  domain::StateSet state_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<domain::Provider, std::string>, domain::Outcome> events_ ABSL_GUARDED_BY(mu_);
  std::vector<ChangeRow> log_ ABSL_GUARDED_BY(mu_);
  size_t batches_ ABSL_GUARDED_BY(mu_) = 0;
  TimePoint last_commit_ ABSL_GUARDED_BY(mu_){};
  struct Snapshot {
    domain::StateSet state;
    std::map<std::pair<domain::Provider, std::string>, domain::Outcome> events;
  };
  std::map<uint64_t, Snapshot> history_ ABSL_GUARDED_BY(mu_);  // by sequence; empty unless KeepHistory()
  std::map<std::pair<std::string, std::string>, SourceRecord> sources_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mm::store
