#include "cache/sequence_waiters.h"

#include <algorithm>
#include <vector>

namespace mm::cache {

SequenceWaiters::SequenceWaiters(size_t max_pending) : max_pending_(max_pending), timer_([this] { TimerLoop(); }) {}

SequenceWaiters::~SequenceWaiters() {
  std::map<uint64_t, Waiter> left;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    left.swap(waiters_);
    wake_.SignalAll();
  }
  timer_.join();
  for (auto& [id, w] : left) w.done(false);
}

bool SequenceWaiters::Wait(uint64_t sequence, std::chrono::steady_clock::time_point deadline,
                           Callback done) {
  bool reached;
  {
    absl::MutexLock lock(&mu_);
    if (applied_ < sequence && !stopping_) {
      if (waiters_.size() >= max_pending_) return false;
      waiters_.emplace(next_id_++, Waiter{sequence, deadline, std::move(done)});
      wake_.SignalAll();
      return true;
    }
    reached = !stopping_;
  }
  done(reached);
  return true;
}

void SequenceWaiters::Advance(uint64_t applied) {
  std::vector<Callback> ready;
  {
    absl::MutexLock lock(&mu_);
    if (applied <= applied_) return;
    applied_ = applied;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.sequence <= applied) {
        ready.push_back(std::move(it->second.done));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Callback& cb : ready) cb(true);
}

void SequenceWaiters::Rewind(uint64_t applied) {
  absl::MutexLock lock(&mu_);
  applied_ = std::min(applied_, applied);
}

uint64_t SequenceWaiters::applied() const {
  absl::MutexLock lock(&mu_);
  return applied_;
}

size_t SequenceWaiters::pending() const {
  absl::MutexLock lock(&mu_);
  return waiters_.size();
}

void SequenceWaiters::TimerLoop() {
  mu_.Lock();
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    auto next = std::chrono::steady_clock::time_point::max();
    std::vector<Callback> expired;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.deadline <= now) {
        expired.push_back(std::move(it->second.done));
        it = waiters_.erase(it);
      } else {
        next = std::min(next, it->second.deadline);
        ++it;
      }
    }
    if (!expired.empty()) {
      mu_.Unlock();
      for (Callback& cb : expired) cb(false);
      mu_.Lock();
      continue;
    }
    if (next == std::chrono::steady_clock::time_point::max()) {
      wake_.Wait(&mu_);
    } else {
      wake_.WaitWithTimeout(&mu_, absl::FromChrono(next - now));
    }
  }
  mu_.Unlock();
}

}  // namespace mm::cache
