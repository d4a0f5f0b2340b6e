#include "store/read_pool.h"

namespace mm::store {

ReadPool::ReadPool(const Factory& factory, int threads, size_t max_queue) : max_queue_(max_queue) {
  for (int i = 0; i < threads; ++i) stores_.push_back(factory());
  for (auto& store : stores_) threads_.emplace_back([this, s = store.get()] { Run(*s); });
}

ReadPool::~ReadPool() { Stop(); }

bool ReadPool::TrySubmit(Task task) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= max_queue_) return false;
  queue_.push_back(std::move(task));
  return true;
}

void ReadPool::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

size_t ReadPool::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void ReadPool::Run(ReadStore& store) {
  while (true) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ReadPool* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return p->stopping_ || !p->queue_.empty(); },
          this));
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    in_use_.fetch_add(1);
    task(store);
    in_use_.fetch_sub(1);
  }
}

}  // namespace mm::store
