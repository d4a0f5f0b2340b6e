#include "cache/change_hub.h"

#include <algorithm>
#include <cassert>

namespace mm::cache {

ChangeHub::ChangeHub(ChangeHubOptions options) : options_(options) {}

ChangeHub::~ChangeHub() { assert(subscribers_.empty()); }

void ChangeHub::Begin(uint64_t head) {
  absl::MutexLock lock(&mu_);
  assert(!started_);
  started_ = true;
  published_ = head;
}

void ChangeHub::Publish(std::span<const store::ChangeRow> rows) {
  if (rows.empty()) return;
  std::vector<Row> shared;
  shared.reserve(rows.size());
  for (const store::ChangeRow& row : rows) shared.push_back(std::make_shared<const store::ChangeRow>(row));

  std::vector<std::shared_ptr<Subscriber>> to_notify;
  {
    absl::MutexLock lock(&mu_);
    assert(started_ && rows.front().sequence > published_);
    published_ = rows.back().sequence;
    for (const std::shared_ptr<Subscriber>& s : subscribers_) {
      if (s->overflowed || s->closed || s->reset) continue;
      if (s->queue.size() + shared.size() > options_.queue_capacity) {
        s->overflowed = true;
        s->queue = {};  // free it now: this subscriber ends and resumes from the database
        to_notify.push_back(s);
        continue;
      }
      // Edge-triggered: a subscriber that still has rows queued takes these with them.
      if (s->queue.empty()) to_notify.push_back(s);
      s->queue.insert(s->queue.end(), shared.begin(), shared.end());
    }
  }
  // `notify` never changes after Subscribe, so it is read without the lock.
  for (const auto& s : to_notify) s->notify();
}

void ChangeHub::Close() {
  std::vector<std::shared_ptr<Subscriber>> to_notify;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    for (const std::shared_ptr<Subscriber>& s : subscribers_) {
      s->closed = true;
      s->queue = {};
      to_notify.push_back(s);
    }
  }
  for (const auto& s : to_notify) s->notify();
}

void ChangeHub::Reset(uint64_t head) {
  std::vector<std::shared_ptr<Subscriber>> to_notify;
  {
    absl::MutexLock lock(&mu_);
    assert(started_);
    published_ = head;
    for (const std::shared_ptr<Subscriber>& s : subscribers_) {
      if (s->reset || s->closed) continue;
      s->reset = true;
      s->queue = {};
      to_notify.push_back(s);
    }
  }
  for (const auto& s : to_notify) s->notify();
}

std::unique_ptr<ChangeSubscription> ChangeHub::Subscribe(std::function<void()> notify) {
  auto subscriber = std::make_shared<Subscriber>();
  subscriber->notify = std::move(notify);
  absl::MutexLock lock(&mu_);
  subscriber->closed = closed_;
  if (started_ && !closed_) subscribers_.push_back(subscriber);
  return std::unique_ptr<ChangeSubscription>(
      new ChangeSubscription(*this, std::move(subscriber), started_, published_));
}

void ChangeHub::Unsubscribe(const std::shared_ptr<Subscriber>& subscriber) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(), subscriber), subscribers_.end());
}

size_t ChangeHub::subscribers() const {
  absl::MutexLock lock(&mu_);
  return subscribers_.size();
}

uint64_t ChangeHub::published() const {
  absl::MutexLock lock(&mu_);
  return published_;
}

ChangeSubscription::~ChangeSubscription() { hub_.Unsubscribe(subscriber_); }

ChangeSubscription::Taken ChangeSubscription::Take(size_t max) {
  Taken taken;
  absl::MutexLock lock(&hub_.mu_);
  ChangeHub::Subscriber& s = *subscriber_;
  size_t n = std::min(max, s.queue.size());
  taken.rows.assign(s.queue.begin(), s.queue.begin() + static_cast<std::ptrdiff_t>(n));
  s.queue.erase(s.queue.begin(), s.queue.begin() + static_cast<std::ptrdiff_t>(n));
  taken.overflowed = s.overflowed;
  taken.closed = s.closed;
  taken.reset = s.reset;
  return taken;
}

}  // namespace mm::cache
