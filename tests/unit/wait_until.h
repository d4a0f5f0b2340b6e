#pragma once
// Polls a condition instead of sleeping for a fixed time: tests that involve a background
// thread wait for what they expect to see, with a generous limit so a slow machine does not
// make them flaky, and never assert on how long something took.

#include <chrono>
#include <thread>

namespace mm::testutil {

inline constexpr std::chrono::seconds kEventually{5};

// True as soon as `condition()` holds; false if it still does not after `timeout`.
template <typename Condition>
bool WaitUntil(Condition condition, std::chrono::milliseconds timeout = kEventually) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace mm::testutil
