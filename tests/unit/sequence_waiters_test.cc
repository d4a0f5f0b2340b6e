// Read-your-writes waiters (cache/sequence_waiters.h). Deadlines are short and waits tolerant:
// nothing asserts how long anything took.

#include "cache/sequence_waiters.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "wait_until.h"

namespace mm::cache {
namespace {

using std::chrono::steady_clock;
using testutil::WaitUntil;

const steady_clock::time_point kFarAway = steady_clock::now() + std::chrono::hours(1);

// Records the one answer a waiter gets (and counts answers, so a second one is caught).
struct Answer {
  std::mutex mu;
  std::optional<bool> reached;
  int calls = 0;

  SequenceWaiters::Callback Callback() {
    return [this](bool r) {
      std::lock_guard lock(mu);
      reached = r;
      ++calls;
    };
  }
  bool Fired() {
    std::lock_guard lock(mu);
    return calls > 0;
  }
  std::optional<bool> Get() {
    std::lock_guard lock(mu);
    return reached;
  }
  int Calls() {
    std::lock_guard lock(mu);
    return calls;
  }
};

TEST(SequenceWaitersTest, AlreadyReachedFiresAtOnceWithTrue) {
  SequenceWaiters waiters;
  waiters.Advance(5);
  for (uint64_t sequence : {0, 3, 5}) {
    Answer a;
    waiters.Wait(sequence, kFarAway, a.Callback());
    EXPECT_EQ(a.Get(), true) << "sequence " << sequence << " must fire inside Wait";
  }
  EXPECT_EQ(waiters.pending(), 0u);
}

TEST(SequenceWaitersTest, SequenceZeroIsReachedFromTheStart) {
  SequenceWaiters waiters;
  Answer a;
  waiters.Wait(0, kFarAway, a.Callback());
  EXPECT_EQ(a.Get(), true);
}

TEST(SequenceWaitersTest, AdvanceFiresEveryWaiterUpToApplied) {
  SequenceWaiters waiters;
  Answer a3, a5, a8;
  waiters.Wait(3, kFarAway, a3.Callback());
  waiters.Wait(5, kFarAway, a5.Callback());
  waiters.Wait(8, kFarAway, a8.Callback());
  EXPECT_EQ(waiters.pending(), 3u);
  EXPECT_FALSE(a3.Fired());

  waiters.Advance(5);  // callbacks run inside Advance
  EXPECT_EQ(a3.Get(), true);
  EXPECT_EQ(a5.Get(), true);
  EXPECT_FALSE(a8.Fired());
  EXPECT_EQ(waiters.pending(), 1u);

  waiters.Advance(4);  // going back changes nothing
  EXPECT_FALSE(a8.Fired());
  waiters.Advance(9);
  EXPECT_EQ(a8.Get(), true);
  EXPECT_EQ(waiters.pending(), 0u);
  EXPECT_EQ(a3.Calls() + a5.Calls() + a8.Calls(), 3);
}

TEST(SequenceWaitersTest, DeadlineFiresFalse) {
  SequenceWaiters waiters;
  Answer a;
  waiters.Wait(10, steady_clock::now() + std::chrono::milliseconds(20), a.Callback());
  ASSERT_TRUE(WaitUntil([&] { return a.Fired(); }));
  EXPECT_EQ(a.Get(), false);
  EXPECT_EQ(waiters.pending(), 0u);
  waiters.Advance(10);  // too late: no second answer
  EXPECT_EQ(a.Calls(), 1);
}

TEST(SequenceWaitersTest, DeadlineAlreadyPastFiresFalse) {
  SequenceWaiters waiters;
  Answer a;
  waiters.Wait(10, steady_clock::now() - std::chrono::seconds(1), a.Callback());
  ASSERT_TRUE(WaitUntil([&] { return a.Fired(); }));
  EXPECT_EQ(a.Get(), false);
}

TEST(SequenceWaitersTest, AnEarlierDeadlineAddedLaterIsHonoured) {
  // The timer is sleeping towards a far deadline; a new, nearer one must wake it.
  // The answers outlive `waiters`: its destructor still answers `far` (stack-use-after-scope
  // under scripts/sanitize asan when they were declared after it).
  Answer warm_up, far, near;
  SequenceWaiters waiters;
  // Let the timer thread go idle first: a waiter that expires at once proves it is running,
  // and a moment later it is asleep with nothing to wait for (correctness does not depend on
  // this pause; it only makes a missing wake-up visible).
  waiters.Wait(10, steady_clock::now(), warm_up.Callback());
  ASSERT_TRUE(WaitUntil([&] { return warm_up.Fired(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  waiters.Wait(10, kFarAway, far.Callback());
  waiters.Wait(10, steady_clock::now() + std::chrono::milliseconds(20), near.Callback());
  ASSERT_TRUE(WaitUntil([&] { return near.Fired(); }));
  EXPECT_EQ(near.Get(), false);
  EXPECT_FALSE(far.Fired());
  EXPECT_EQ(waiters.pending(), 1u);
}

TEST(SequenceWaitersTest, DestructorFiresPendingWithFalse) {
  auto waiters = std::make_unique<SequenceWaiters>();
  Answer a, b;
  waiters->Wait(7, kFarAway, a.Callback());
  waiters->Wait(8, kFarAway, b.Callback());
  waiters.reset();
  EXPECT_EQ(a.Get(), false);
  EXPECT_EQ(b.Get(), false);
  EXPECT_EQ(a.Calls(), 1);
}

TEST(SequenceWaitersTest, EachWaiterIsAnsweredExactlyOnceUnderRaces) {
  // Deadlines and advances race; whichever wins, every waiter hears exactly once.
  constexpr int kWaiters = 2000;
  std::vector<std::atomic<int>> calls(kWaiters);
  {
    SequenceWaiters waiters;
    std::thread advancer([&] {
      for (uint64_t s = 1; s <= kWaiters; ++s) waiters.Advance(s);
    });
    for (int i = 0; i < kWaiters; ++i) {
      auto deadline = steady_clock::now() + std::chrono::microseconds(i % 7 == 0 ? 0 : 200);
      waiters.Wait(static_cast<uint64_t>(i + 1), deadline, [&calls, i](bool) { ++calls[i]; });
    }
    advancer.join();
    EXPECT_TRUE(WaitUntil([&] { return waiters.pending() == 0; }));
  }
  for (int i = 0; i < kWaiters; ++i) ASSERT_EQ(calls[i].load(), 1) << "waiter " << i;
}

TEST(SequenceWaitersTest, AfterARewindSequencesAboveTheNewPositionWaitAgain) {
  SequenceWaiters waiters;
  waiters.Advance(10);
  waiters.Rewind(4);  // the database lost 5..10
  std::atomic<int> answer{-1};
  waiters.Wait(6, steady_clock::now() + std::chrono::seconds(5), [&](bool reached) { answer = reached ? 1 : 0; });
  EXPECT_EQ(answer.load(), -1) << "sequence 6 of the lost log must not count";
  EXPECT_EQ(waiters.pending(), 1u);
  waiters.Advance(6);
  EXPECT_EQ(answer.load(), 1);
  std::atomic<int> at_once{-1};
  waiters.Wait(4, steady_clock::now() + std::chrono::seconds(5), [&](bool reached) { at_once = reached ? 1 : 0; });
  EXPECT_EQ(at_once.load(), 1);
  waiters.Rewind(20);  // never moves forward
  std::atomic<int> later{-1};
  waiters.Wait(7, steady_clock::now() + std::chrono::milliseconds(50), [&](bool reached) { later = reached ? 1 : 0; });
  EXPECT_TRUE(WaitUntil([&] { return later.load() == 0; }));
}

TEST(SequenceWaitersTest, RefusesPastMaxPendingWithoutCallingBack) {
  Answer a, b, c, reached;  // outlive `waiters`, whose destructor answers b and c
  SequenceWaiters waiters(2);
  EXPECT_TRUE(waiters.Wait(10, kFarAway, a.Callback()));
  EXPECT_TRUE(waiters.Wait(11, kFarAway, b.Callback()));
  EXPECT_FALSE(waiters.Wait(12, kFarAway, c.Callback())) << "a third would exceed the cap";
  EXPECT_FALSE(c.Fired());
  EXPECT_EQ(waiters.pending(), 2u);
  // A sequence already reached needs no waiting: never refused.
  EXPECT_TRUE(waiters.Wait(0, kFarAway, reached.Callback()));
  EXPECT_EQ(reached.Get(), true);
  // Once one is answered there is room again.
  waiters.Advance(10);
  EXPECT_EQ(a.Get(), true);
  EXPECT_TRUE(waiters.Wait(12, kFarAway, c.Callback()));
  EXPECT_EQ(waiters.pending(), 2u);
}

}  // namespace
}  // namespace mm::cache
