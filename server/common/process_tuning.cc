#include "common/process_tuning.h"

#include <cstdlib>  // defines __GLIBC__ on glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "absl/synchronization/mutex.h"

namespace mm {

void TuneProcessForServing() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#if defined(__GLIBC__)
  mallopt(M_TRIM_THRESHOLD, 64 << 20);  // keep up to 64 MiB of free arena top mapped
#endif
}

}  // namespace mm
