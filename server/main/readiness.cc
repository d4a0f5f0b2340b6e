#include "main/readiness.h"

#include "common/log.h"

namespace mm {

void ReadinessTracker::AddCheck(std::string name, Check check) {
  checks_.emplace_back(std::move(name), std::move(check));
}

void ReadinessTracker::SetListener(std::function<void(bool)> listener) {
  absl::MutexLock lock(&mu_);
  listener_ = std::move(listener);
  published_ = false;
}

ingress::Readiness ReadinessTracker::Evaluate() {
  ingress::Readiness r;
  r.ready = true;
  for (const auto& [name, check] : checks_) {
    std::string value = check();
    r.ready &= value == "ok";
    r.checks[name] = std::move(value);
  }
  absl::MutexLock lock(&mu_);
  const bool changed = r.ready != ready_;
  if (changed) log::Info(r.ready ? "ready" : "not ready");
  ready_ = r.ready;
  // Under the lock, so that two evaluations cannot publish their answers out of order.
  if (listener_ && (changed || !published_)) {
    listener_(r.ready);
    published_ = true;
  }
  return r;
}

}  // namespace mm
