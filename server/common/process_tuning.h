#pragma once
// Process-wide settings of the libraries under us, applied once at the start of main() — by
// membership-mirror and, so that it differs from the service only in its handlers, by the
// benchmark's empty-handler gRPC baseline.

namespace mm {

// 1. Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock-cycle detection
//    on: every lock gRPC takes then updates a global lock graph (GraphCycles showed in the
//    IsUserActive profile). It is a debugging aid; turn it off.
// 2. glibc gives memory back to the kernel whenever the free space at the top of a thread's
//    malloc arena passes a threshold (madvise), and takes it back with page faults on the next
//    call: a BatchIsUserActive answer's arena blocks did exactly that on every call. Raise the
//    threshold so steady-state request memory stays mapped; the cache's one-off snapshot load
//    still hands its transient memory back with an explicit malloc_trim.
void TuneProcessForServing();

}  // namespace mm
