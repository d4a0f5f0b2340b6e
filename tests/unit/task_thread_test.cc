// TaskThread (common/task_thread.h): posted tasks run in order on one other thread; the
// destructor runs what is queued before it joins.

#include "common/task_thread.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

namespace mm {
namespace {

TEST(TaskThreadTest, RunsTasksInOrderOnItsOwnThreadAndDrainsOnDestruction) {
  std::mutex mu;
  std::vector<int> ran;
  std::vector<std::thread::id> on;
  {
    TaskThread tasks;
    for (int i = 0; i < 100; ++i) {
      tasks.Post([&, i] {
        std::lock_guard lock(mu);
        ran.push_back(i);
        on.push_back(std::this_thread::get_id());
      });
    }
  }
  ASSERT_EQ(ran.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ran[static_cast<size_t>(i)], i);
  for (const std::thread::id& id : on) {
    EXPECT_NE(id, std::this_thread::get_id());
    EXPECT_EQ(id, on.front());
  }
}

}  // namespace
}  // namespace mm
