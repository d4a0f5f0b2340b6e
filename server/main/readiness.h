#pragma once
// The service's readiness (DESIGN §3 /readyz, §5a): named checks, each "ok" or why not, and
// the one answer both /readyz and the gRPC health service give. Whoever evaluates it — the
// /readyz handler or the main loop's tick — publishes a change of the answer to the listener
// (the gRPC health status) at once, so the two never disagree for longer than one evaluation.
// Thread-safe.

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "ingress/router.h"

namespace mm {

class ReadinessTracker {
 public:
  using Check = std::function<std::string()>;  // "ok", or why not

  // Checks are added at set-up, before the first Evaluate.
  void AddCheck(std::string name, Check check);
  // Called with the new answer whenever it changes (and once with the first answer after it
  // is set). Must not block.
  void SetListener(std::function<void(bool ready)> listener);

  // Runs every check; ready when all are "ok". Logs and publishes a change of the answer.
  ingress::Readiness Evaluate();

 private:
  std::vector<std::pair<std::string, Check>> checks_;
  absl::Mutex mu_;
  std::function<void(bool)> listener_ ABSL_GUARDED_BY(mu_);
  bool published_ ABSL_GUARDED_BY(mu_) = false;  // the listener has been told an answer
  bool ready_ ABSL_GUARDED_BY(mu_) = false;      // the last answer published or logged
};

}  // namespace mm
