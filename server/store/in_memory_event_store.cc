#include "store/in_memory_event_store.h"

#include <algorithm>

#include "domain/convergence.h"
#include "domain/records_json.h"

namespace mm::store {

absl::StatusOr<std::vector<ApplyResult>> InMemoryEventStore::ApplyBatch(
    std::span<const domain::ProviderEvent* const> batch, std::span<const SourceCheckpoint* const> checkpoints) {
  if (unavailable_.load()) return absl::UnavailableError("injected: database unavailable");
  absl::MutexLock lock(&mu_);
  std::vector<ApplyResult> results(batch.size());
  std::vector<bool> is_new(batch.size());
  domain::TouchedKeys changed;
  std::set<std::pair<domain::Provider, std::string>> replayed;
  for (size_t i = 0; i < batch.size(); ++i) {
    const domain::ProviderEvent& e = *batch[i];
    if (e.replay) {  // new only as the first replay of a letter not yet replayed
      auto it = events_.find({e.provider, e.event_id});
      const bool replayable = it != events_.end() && it->second == domain::Outcome::kDeadLettered &&
                              replayed.emplace(e.provider, e.event_id).second;
      results[i].outcome = domain::Decide(e, !replayable, state_, changed);
      if (replayable) it->second = results[i].outcome;
      is_new[i] = replayable;
      continue;
    }
    auto [it, inserted] = events_.try_emplace({e.provider, e.event_id}, domain::Outcome::kApplied);
    results[i].outcome = domain::Decide(e, !inserted, state_, changed);
    if (inserted) it->second = results[i].outcome;
    is_new[i] = inserted;
  }
  // Strictly increasing commit times, as distinct transactions have in PostgreSQL (a test that
  // rewinds the log and commits again must see other times at the same sequences).
  TimePoint now = std::max(SystemClock::Instance().Now(), last_commit_ + std::chrono::microseconds(1));
  last_commit_ = now;
  auto append = [&](EntityKind kind, std::string json) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    log_.push_back({log_.size() + 1, now, kind, std::move(json)});
  };
  for (const auto& id : changed.users) append(EntityKind::kUser, domain::ToJson(state_.users.at(id)));
  for (const auto& id : changed.accounts) append(EntityKind::kAccount, domain::ToJson(state_.accounts.at(id)));
  for (const auto& key : changed.memberships) append(EntityKind::kMembership, domain::ToJson(state_.memberships.at(key)));
  for (ApplyResult& r : results) r.sequence = log_.size();
  for (const SourceCheckpoint* c : checkpoints) {
    SourceRecord& record = sources_[{c->source, c->scope}];
    if (c->position_json) record.position_json = c->position_json;
    if (c->watermark) record.watermark = c->watermark;
    for (size_t i = c->page_begin; i < c->page_end && i < batch.size(); ++i) record.events_yielded += is_new[i] ? 1 : 0;
    for (const std::string& item : c->items_added) record.items.insert(item);
    for (const std::string& item : c->items_removed) record.items.erase(item);
  }
  ++batches_;
  if (!history_.empty()) history_.emplace(log_.size(), Snapshot{state_, events_});
  changed_.SignalAll();
  return results;
}

absl::StatusOr<uint64_t> InMemoryEventStore::LoadUserStates(
    const std::function<void(UserStateRow&&)>& row) {
  if (unavailable_.load()) return absl::UnavailableError("injected: database unavailable");
  absl::MutexLock lock(&mu_);
  for (const auto& [id, user] : state_.users) row(ToUserStateRow(user));
  return log_.size();
}

absl::StatusOr<ChangeRead> InMemoryEventStore::ReadChanges(uint64_t after, int limit) {
  if (unavailable_.load()) return absl::UnavailableError("injected: database unavailable");
  absl::MutexLock lock(&mu_);
  ChangeRead out;
  out.head = log_.size();
  if (after > 0 && after <= log_.size()) out.after_committed_at = log_[after - 1].committed_at;
  for (uint64_t s = after; s < log_.size() && out.rows.size() < static_cast<size_t>(limit); ++s) {
    out.rows.push_back(log_[s]);
  }
  return out;
}

void InMemoryEventStore::KeepHistory() {
  absl::MutexLock lock(&mu_);
  history_.emplace(log_.size(), Snapshot{state_, events_});
}

bool InMemoryEventStore::RestoreTo(uint64_t sequence) {
  absl::MutexLock lock(&mu_);
  auto it = history_.find(sequence);
  if (it == history_.end()) return false;
  state_ = it->second.state;
  events_ = it->second.events;
  log_.resize(sequence);
  history_.erase(std::next(it), history_.end());
  return true;
}

absl::Status InMemoryEventStore::WaitForNotification(std::chrono::milliseconds timeout) {
  if (unavailable_.load()) return absl::UnavailableError("injected: database unavailable");
  absl::MutexLock lock(&mu_);
  changed_.WaitWithTimeout(&mu_, absl::FromChrono(timeout));
  return absl::OkStatus();
}

domain::StateSet InMemoryEventStore::State() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

uint64_t InMemoryEventStore::LastSequence() const {
  absl::MutexLock lock(&mu_);
  return log_.size();
}

size_t InMemoryEventStore::BatchesCommitted() const {
  absl::MutexLock lock(&mu_);
  return batches_;
}

std::optional<InMemoryEventStore::SourceRecord> InMemoryEventStore::Source(const std::string& source,
                                                                           const std::string& scope) const {
  absl::MutexLock lock(&mu_);
  auto it = sources_.find({source, scope});
  if (it == sources_.end()) return std::nullopt;
  return it->second;
}

std::optional<domain::Outcome> InMemoryEventStore::StoredOutcome(domain::Provider provider,
                                                                 const std::string& event_id) const {
  absl::MutexLock lock(&mu_);
  auto it = events_.find({provider, event_id});
  if (it == events_.end()) return std::nullopt;
  return it->second;
}

}  // namespace mm::store
