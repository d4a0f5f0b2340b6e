// TSan build only (MM_SANITIZE=thread, linked into every executable by the top-level
// CMakeLists.txt): tells ThreadSanitizer about our code's absl::Mutex operations.
//
// absl::Mutex::Lock/Unlock/Await are compiled into Debian's uninstrumented
// libabsl_synchronization: their atomics and futex calls are invisible to TSan, which would then
// report every ABSL_GUARDED_BY member touched by two threads as a race. Abseil built with TSan
// annotates itself with exactly these __tsan_mutex_* calls; the linker's --wrap (the list is read
// from the __wrap_ names in this file) routes the calls from our objects through the wrappers
// below, which annotate and then call the library ("__real_"). CondVar::Signal/SignalAll need no
// annotation: what they publish is guarded by the mutex, whose unlock TSan sees. Calls made inside gRPC or abseil
// themselves are not wrapped. The library evaluates absl::Condition callbacks inside Lock, Unlock
// and Await; those run between pre_ and post_ annotations, where TSan ignores accesses — as it
// does in an instrumented Abseil.

#include <sanitizer/tsan_interface.h>

#include <string_view>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#define MM_STR2(x) #x
#define MM_STR(x) MM_STR2(x)
// The mangled names below spell Debian's inline namespace "debian3" (7 characters).
static_assert(ABSL_OPTION_USE_INLINE_NAMESPACE == 1 &&
                  std::string_view(MM_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME)) == "debian3",
              "another Abseil: update the mangled names in tsan_absl_mutex_shim.cc");

namespace {
using Mu = absl::Mutex;
using Cond = absl::Condition;
}  // namespace

// The library's definitions (the linker resolves __real_X to X).
extern "C" {
void mm_real_lock(Mu*) __asm__("__real__ZN4absl7debian35Mutex4LockEv");
void mm_real_unlock(Mu*) __asm__("__real__ZN4absl7debian35Mutex6UnlockEv");
bool mm_real_try_lock(Mu*) __asm__("__real__ZN4absl7debian35Mutex7TryLockEv");
void mm_real_reader_lock(Mu*) __asm__("__real__ZN4absl7debian35Mutex10ReaderLockEv");
void mm_real_reader_unlock(Mu*) __asm__("__real__ZN4absl7debian35Mutex12ReaderUnlockEv");
void mm_real_await(Mu*, const Cond&) __asm__("__real__ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
bool mm_real_await_timeout(Mu*, const Cond&, absl::Duration)
    __asm__("__real__ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
void mm_real_lock_when(Mu*, const Cond&) __asm__("__real__ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
void mm_real_destroy(Mu*) __asm__("__real__ZN4absl7debian35MutexD1Ev");
void mm_real_cv_wait(absl::CondVar*, Mu*) __asm__("__real__ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
bool mm_real_cv_wait_timeout(absl::CondVar*, Mu*, absl::Duration)
    __asm__("__real__ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");

void mm_wrap_lock(Mu* mu) __asm__("__wrap__ZN4absl7debian35Mutex4LockEv");
void mm_wrap_unlock(Mu* mu) __asm__("__wrap__ZN4absl7debian35Mutex6UnlockEv");
bool mm_wrap_try_lock(Mu* mu) __asm__("__wrap__ZN4absl7debian35Mutex7TryLockEv");
void mm_wrap_reader_lock(Mu* mu) __asm__("__wrap__ZN4absl7debian35Mutex10ReaderLockEv");
void mm_wrap_reader_unlock(Mu* mu) __asm__("__wrap__ZN4absl7debian35Mutex12ReaderUnlockEv");
void mm_wrap_await(Mu* mu, const Cond& c) __asm__("__wrap__ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
bool mm_wrap_await_timeout(Mu* mu, const Cond& c, absl::Duration d)
    __asm__("__wrap__ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
void mm_wrap_lock_when(Mu* mu, const Cond& c) __asm__("__wrap__ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
void mm_wrap_destroy(Mu* mu) __asm__("__wrap__ZN4absl7debian35MutexD1Ev");
void mm_wrap_cv_wait(absl::CondVar* cv, Mu* mu) __asm__("__wrap__ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
bool mm_wrap_cv_wait_timeout(absl::CondVar* cv, Mu* mu, absl::Duration d)
    __asm__("__wrap__ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
}

void mm_wrap_lock(Mu* mu) {
  __tsan_mutex_pre_lock(mu, 0);
  mm_real_lock(mu);
  __tsan_mutex_post_lock(mu, 0, 0);
}

void mm_wrap_unlock(Mu* mu) {
  __tsan_mutex_pre_unlock(mu, 0);
  mm_real_unlock(mu);
  __tsan_mutex_post_unlock(mu, 0);
}

bool mm_wrap_try_lock(Mu* mu) {
  __tsan_mutex_pre_lock(mu, __tsan_mutex_try_lock);
  bool locked = mm_real_try_lock(mu);
  __tsan_mutex_post_lock(mu, __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

void mm_wrap_reader_lock(Mu* mu) {
  __tsan_mutex_pre_lock(mu, __tsan_mutex_read_lock);
  mm_real_reader_lock(mu);
  __tsan_mutex_post_lock(mu, __tsan_mutex_read_lock, 0);
}

void mm_wrap_reader_unlock(Mu* mu) {
  __tsan_mutex_pre_unlock(mu, __tsan_mutex_read_lock);
  mm_real_reader_unlock(mu);
  __tsan_mutex_post_unlock(mu, __tsan_mutex_read_lock);
}

// Await and CondVar::Wait are called and return with the lock held and release it while they
// wait: to TSan, an unlock then a lock (so what other holders wrote meanwhile happens-before the
// return).
namespace {
template <typename F>
auto WhileReleased(Mu* mu, F wait) {
  __tsan_mutex_pre_unlock(mu, 0);
  auto result = wait();
  __tsan_mutex_post_unlock(mu, 0);
  __tsan_mutex_pre_lock(mu, 0);
  __tsan_mutex_post_lock(mu, 0, 0);
  return result;
}
}  // namespace

void mm_wrap_await(Mu* mu, const Cond& c) {
  WhileReleased(mu, [&] { mm_real_await(mu, c); return true; });
}

bool mm_wrap_await_timeout(Mu* mu, const Cond& c, absl::Duration d) {
  return WhileReleased(mu, [&] { return mm_real_await_timeout(mu, c, d); });
}

void mm_wrap_cv_wait(absl::CondVar* cv, Mu* mu) {
  WhileReleased(mu, [&] { mm_real_cv_wait(cv, mu); return true; });
}

bool mm_wrap_cv_wait_timeout(absl::CondVar* cv, Mu* mu, absl::Duration d) {
  return WhileReleased(mu, [&] { return mm_real_cv_wait_timeout(cv, mu, d); });
}

void mm_wrap_lock_when(Mu* mu, const Cond& c) {
  __tsan_mutex_pre_lock(mu, 0);
  mm_real_lock_when(mu, c);
  __tsan_mutex_post_lock(mu, 0, 0);
}

void mm_wrap_destroy(Mu* mu) {
  __tsan_mutex_destroy(mu, 0);
  mm_real_destroy(mu);
}
