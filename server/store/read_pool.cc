#include "store/read_pool.h"

namespace mm::store {

ReadPool::ReadPool(const Factory& factory, int threads, size_t max_queue, ReadPoolReplica replica) : max_queue_(max_queue) {
  for (int i = 0; i < threads; ++i) {
    auto worker = std::make_unique<Worker>();
    worker->primary = factory();
    worker->router = std::make_unique<ReplicaRouter>(*worker->primary, replica.replica ? replica.replica() : nullptr,
                                                     replica.health, replica.options, replica.callbacks);
    workers_.push_back(std::move(worker));
  }
  for (auto& worker : workers_) threads_.emplace_back([this, w = worker.get()] { Run(*w); });
}

ReadPool::~ReadPool() { Stop(); }

bool ReadPool::TrySubmit(Task task) { return Enqueue({std::move(task), std::nullopt}); }

bool ReadPool::TrySubmitRead(const Freshness& freshness, Task task) { return Enqueue({std::move(task), freshness}); }

bool ReadPool::Enqueue(Queued item) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= max_queue_) return false;
  queue_.push_back(std::move(item));
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

void ReadPool::Run(Worker& worker) {
  while (true) {
    Queued item;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ReadPool* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return p->stopping_ || !p->queue_.empty(); },
          this));
      if (queue_.empty()) return;
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    in_use_.fetch_add(1);
    if (item.read) {
      worker.router->Expect(*item.read);
      item.task(*worker.router);
    } else {
      item.task(*worker.primary);
    }
    in_use_.fetch_sub(1);
  }
}

}  // namespace mm::store
