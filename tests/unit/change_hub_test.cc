// ChangeHub (cache/change_hub.h): ordering, where a subscription starts, bounded queues that
// overflow only the slow subscriber, unsubscribe, close, and publish/subscribe from threads.

#include "cache/change_hub.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "cache/change_follower.h"
#include "event_builders.h"
#include "store/in_memory_event_store.h"
#include "wait_until.h"

namespace mm::cache {
namespace {

using testutil::WaitUntil;

std::vector<store::ChangeRow> Rows(uint64_t first, uint64_t last) {
  std::vector<store::ChangeRow> rows;
  for (uint64_t s = first; s <= last; ++s) {
    rows.push_back({.sequence = s, .entity = store::EntityKind::kUser, .record_json = std::to_string(s)});
  }
  return rows;
}

std::vector<uint64_t> Sequences(const ChangeSubscription::Taken& taken) {
  std::vector<uint64_t> out;
  for (const auto& row : taken.rows) out.push_back(row->sequence);
  return out;
}

TEST(ChangeHubTest, SubscriptionHoldsEveryRowAfterItsStartInOrder) {
  ChangeHub hub;
  hub.Begin(10);
  hub.Publish(Rows(11, 12));
  auto sub = hub.Subscribe([] {});
  ASSERT_TRUE(sub->started());
  EXPECT_EQ(sub->start_after(), 12u);
  hub.Publish(Rows(13, 15));
  hub.Publish(Rows(16, 16));
  EXPECT_EQ(Sequences(sub->Take(2)), (std::vector<uint64_t>{13, 14}));
  ChangeSubscription::Taken rest = sub->Take(100);
  EXPECT_EQ(Sequences(rest), (std::vector<uint64_t>{15, 16}));
  EXPECT_EQ(rest.rows.back()->record_json, "16");
  EXPECT_FALSE(rest.overflowed);
  EXPECT_FALSE(rest.closed);
  EXPECT_TRUE(sub->Take(100).rows.empty());
  EXPECT_EQ(hub.published(), 16u);
}

TEST(ChangeHubTest, SubscriptionBeforeBeginIsNotStarted) {
  ChangeHub hub;
  auto early = hub.Subscribe([] {});
  EXPECT_FALSE(early->started());
  EXPECT_EQ(hub.subscribers(), 0u);
  hub.Begin(5);
  hub.Publish(Rows(6, 7));
  EXPECT_TRUE(early->Take(10).rows.empty());
  auto later = hub.Subscribe([] {});
  EXPECT_TRUE(later->started());
  EXPECT_EQ(later->start_after(), 7u);
}

TEST(ChangeHubTest, NotifiesWhenRowsArriveInAnEmptyQueue) {
  ChangeHub hub;
  hub.Begin(0);
  std::atomic<int> notified{0};
  auto sub = hub.Subscribe([&] { notified.fetch_add(1); });
  hub.Publish(Rows(1, 2));
  EXPECT_EQ(notified.load(), 1);
  hub.Publish(Rows(3, 3));  // rows still queued: the subscriber takes these with them
  EXPECT_EQ(notified.load(), 1);
  EXPECT_EQ(sub->Take(10).rows.size(), 3u);
  hub.Publish(Rows(4, 4));
  EXPECT_EQ(notified.load(), 2);
}

TEST(ChangeHubTest, OverflowEndsOnlyTheSlowSubscriber) {
  ChangeHub hub({.queue_capacity = 4});
  hub.Begin(0);
  std::atomic<int> slow_notified{0};
  auto slow = hub.Subscribe([&] { slow_notified.fetch_add(1); });
  auto fast = hub.Subscribe([] {});
  std::vector<uint64_t> fast_seen;
  for (uint64_t s = 1; s <= 10; ++s) {
    hub.Publish(Rows(s, s));  // never blocks, whatever the slow one does
    for (uint64_t seq : Sequences(fast->Take(100))) fast_seen.push_back(seq);
  }
  EXPECT_EQ(fast_seen, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_FALSE(fast->Take(0).overflowed);

  ChangeSubscription::Taken taken = slow->Take(100);
  EXPECT_TRUE(taken.overflowed);
  EXPECT_TRUE(taken.rows.empty()) << "an overflowed queue is dropped";
  EXPECT_EQ(slow_notified.load(), 2) << "once for the first rows, once for the overflow";
  hub.Publish(Rows(11, 11));
  EXPECT_TRUE(slow->Take(100).rows.empty()) << "no more rows after overflow";
  EXPECT_EQ(Sequences(fast->Take(100)), (std::vector<uint64_t>{11}));
}

TEST(ChangeHubTest, ABatchLargerThanTheRoomLeftOverflows) {
  ChangeHub hub({.queue_capacity = 4});
  hub.Begin(0);
  auto sub = hub.Subscribe([] {});
  hub.Publish(Rows(1, 3));
  hub.Publish(Rows(4, 5));
  EXPECT_TRUE(sub->Take(10).overflowed);
}

TEST(ChangeHubTest, UnsubscribedSubscriberGetsNothingMore) {
  ChangeHub hub;
  hub.Begin(0);
  std::atomic<int> notified{0};
  auto sub = hub.Subscribe([&] { notified.fetch_add(1); });
  EXPECT_EQ(hub.subscribers(), 1u);
  sub.reset();
  EXPECT_EQ(hub.subscribers(), 0u);
  hub.Publish(Rows(1, 3));
  EXPECT_EQ(notified.load(), 0);
}

TEST(ChangeHubTest, CloseEndsEverySubscriptionAndRefusesNewOnes) {
  ChangeHub hub;
  hub.Begin(0);
  std::atomic<int> notified{0};
  auto sub = hub.Subscribe([&] { notified.fetch_add(1); });
  hub.Publish(Rows(1, 1));
  hub.Close();
  EXPECT_EQ(notified.load(), 2);
  ChangeSubscription::Taken taken = sub->Take(10);
  EXPECT_TRUE(taken.closed);
  auto after = hub.Subscribe([] {});
  EXPECT_TRUE(after->Take(0).closed);
  EXPECT_EQ(hub.subscribers(), 1u) << "only the subscription taken before Close is registered";
}

// A publisher thread and subscribers that come and go: every subscriber sees exactly the rows
// after its start, contiguous and in order, and a notification is never lost.
TEST(ChangeHubTest, ConcurrentPublishAndSubscribe) {
  constexpr uint64_t kLast = 20000;
  ChangeHub hub({.queue_capacity = kLast});
  hub.Begin(0);
  std::atomic<bool> failed{false};
  std::thread publisher([&] {
    for (uint64_t s = 1; s <= kLast; s += 7) hub.Publish(Rows(s, std::min(s + 6, kLast)));
  });
  std::vector<std::thread> subscribers;
  for (int i = 0; i < 4; ++i) {
    subscribers.emplace_back([&, i] {
      std::this_thread::sleep_for(std::chrono::microseconds(200 * i));
      std::atomic<int> wakeups{0};
      auto sub = hub.Subscribe([&] { wakeups.fetch_add(1); });
      uint64_t next = sub->start_after() + 1;
      while (next <= kLast) {
        int seen = wakeups.load();
        ChangeSubscription::Taken taken = sub->Take(100);
        for (const auto& row : taken.rows) {
          if (row->sequence != next) failed.store(true);
          next = row->sequence + 1;
        }
        if (taken.rows.empty() && next <= kLast &&
            !WaitUntil([&] { return wakeups.load() != seen; }, std::chrono::seconds(10))) {
          failed.store(true);  // rows were queued without a notification
          return;
        }
      }
    });
  }
  publisher.join();
  for (std::thread& t : subscribers) t.join();
  EXPECT_FALSE(failed.load());
  EXPECT_EQ(hub.subscribers(), 0u);
}

// The follower begins the hub at its snapshot and publishes every row it reads after it —
// users, accounts and memberships — in order.
TEST(ChangeHubTest, FollowerPublishesEveryRowAfterItsSnapshot) {
  store::InMemoryEventStore store;
  auto commit = [&](const domain::ProviderEvent& event) {
    const domain::ProviderEvent* batch[] = {&event};
    ASSERT_TRUE(store.ApplyBatch(batch).ok());
  };
  commit(testutil::UserCreated("e1", "u1", testutil::At(1)));
  const uint64_t snapshot = store.LastSequence();
  ChangeHub hub;
  UserStateCache cache(UnknownUsers::kActive);
  SequenceWaiters waiters;
  ChangeFollower follower(store, cache, waiters,
                          {.poll_interval = std::chrono::milliseconds(10),
                           .error_backoff = std::chrono::milliseconds(5)},
                          &hub);
  follower.Start();
  ASSERT_TRUE(WaitUntil([&] { return cache.loaded(); }));
  auto sub = hub.Subscribe([] {});
  ASSERT_TRUE(sub->started());
  EXPECT_EQ(sub->start_after(), snapshot);

  commit(testutil::MemberAdded("e2", "a1", "u2", testutil::At(2)));
  commit(testutil::UserDisabled("e3", "u1", testutil::At(3), "fraud"));
  ASSERT_TRUE(WaitUntil([&] { return hub.published() == store.LastSequence(); }));
  auto read = store.ReadChanges(snapshot, 1000);
  ASSERT_TRUE(read.ok());
  const std::vector<store::ChangeRow>* expected = &read->rows;
  ChangeSubscription::Taken taken = sub->Take(1000);
  ASSERT_EQ(taken.rows.size(), expected->size());
  bool saw_membership = false;
  for (size_t i = 0; i < taken.rows.size(); ++i) {
    EXPECT_EQ(taken.rows[i]->sequence, (*expected)[i].sequence);
    EXPECT_EQ(taken.rows[i]->entity, (*expected)[i].entity);
    EXPECT_EQ(taken.rows[i]->record_json, (*expected)[i].record_json);
    saw_membership |= taken.rows[i]->entity == store::EntityKind::kMembership;
  }
  EXPECT_TRUE(saw_membership);
  EXPECT_EQ(cache.Check("u1", std::nullopt).state, domain::UserState::kDisabled);
  follower.Stop();
  sub.reset();
}

}  // namespace
}  // namespace mm::cache
