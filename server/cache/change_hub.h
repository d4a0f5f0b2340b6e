#pragma once
// Fans the change log out to live watchers (ChangeService.WatchChanges). The ChangeFollower
// publishes every change-log row it reads, in order; each subscriber gets its own bounded
// queue. Publishing never blocks on a subscriber: a subscriber whose queue would exceed its
// capacity is marked overflowed, its queue is dropped and it gets no more rows (it must end and
// resume from the database). Thread-safe.
//
// Where a subscription starts: Begin(head) says "every row after `head` will be published"
// (the follower calls it once its snapshot is loaded). A subscription taken after that holds
// every row published after its start_after(), with no gap; rows at or below start_after() must
// come from the database. A subscription taken before Begin is not started() and holds nothing.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "store/event_store.h"

namespace mm::cache {

struct ChangeHubOptions {
  // Rows a subscriber may have waiting before it is overflowed.
  size_t queue_capacity = 8192;
};

class ChangeSubscription;

class ChangeHub {
 public:
  using Row = std::shared_ptr<const store::ChangeRow>;  // shared by every subscriber's queue

  explicit ChangeHub(ChangeHubOptions options = {});
  ~ChangeHub();  // every subscription must have been destroyed

  // Every row after `head` will be published. Called once, before the first Publish.
  void Begin(uint64_t head);
  // Appends `rows` (strictly increasing sequences above every row published before) to every
  // open subscriber's queue and notifies those that got rows or overflowed. Never blocks on a
  // subscriber: notifications run on this thread after the hub's lock is released.
  void Publish(std::span<const store::ChangeRow> rows);
  // Ends every subscription (closed() becomes true, subscribers are notified) and refuses new
  // ones with a closed subscription: called at shutdown so that streams end.
  void Close();
  // The change log was replaced below what was published (a database restored from a backup,
  // or a failover to a standby that lost commits): sequences already delivered may now stand
  // for other changes. Every open subscription ends (Taken::reset, subscribers are notified)
  // and publishing continues with the rows after `head`; later subscriptions start there.
  void Reset(uint64_t head);

  // `notify` is called (from the publishing or closing thread, never under the hub's lock,
  // possibly concurrently with the subscriber's own calls) when rows arrive in an empty queue
  // (edge-triggered: take until Take returns fewer rows than asked), on overflow and on close.
  // It must not block and must tolerate being called after the subscription is gone.
  std::unique_ptr<ChangeSubscription> Subscribe(std::function<void()> notify);

  size_t subscribers() const;
  // Sequence of the last row published (the Begin head before any).
  uint64_t published() const;

 private:
  friend class ChangeSubscription;
  struct Subscriber {
    std::deque<Row> queue;
    bool overflowed = false;
    bool closed = false;
    bool reset = false;
    std::function<void()> notify;
  };
  void Unsubscribe(const std::shared_ptr<Subscriber>& subscriber);

  const ChangeHubOptions options_;
  // Guards these and every Subscriber's fields but `notify` (set before it is shared).
  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t published_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<Subscriber>> subscribers_ ABSL_GUARDED_BY(mu_);
};

// One subscriber's end. Destroying it unsubscribes. Thread-safe.
class ChangeSubscription {
 public:
  ~ChangeSubscription();
  ChangeSubscription(const ChangeSubscription&) = delete;
  ChangeSubscription& operator=(const ChangeSubscription&) = delete;

  // False if the hub had not begun when this subscription was taken: it holds nothing usable.
  bool started() const { return started_; }
  // Rows after this sequence are (or will be) queued here; rows up to it are not.
  uint64_t start_after() const { return start_after_; }

  struct Taken {
    std::vector<ChangeHub::Row> rows;  // in order
    bool overflowed = false;           // the queue overflowed: no row will come any more
    bool closed = false;               // the hub closed: no row will come any more
    bool reset = false;                // the log was reset (ChangeHub::Reset): no row will come
  };
  // Removes and returns up to `max` queued rows (Take(0) only reports the flags).
  Taken Take(size_t max);

 private:
  friend class ChangeHub;
  ChangeSubscription(ChangeHub& hub, std::shared_ptr<ChangeHub::Subscriber> subscriber, bool started,
                     uint64_t start_after)
      : hub_(hub), subscriber_(std::move(subscriber)), started_(started), start_after_(start_after) {}

  ChangeHub& hub_;
  std::shared_ptr<ChangeHub::Subscriber> subscriber_;
  const bool started_;
  const uint64_t start_after_;
};

}  // namespace mm::cache
