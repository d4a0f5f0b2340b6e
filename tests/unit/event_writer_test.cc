// Group commit (ingest/event_writer.h) over the in-memory store: one callback per event,
// batching under concurrency, back-off on UNAVAILABLE, shedding, drain on Stop, and isolation
// of a poison event.

#include "ingest/event_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <set>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "event_builders.h"
#include "store/in_memory_event_store.h"
#include "wait_until.h"

namespace mm::ingest {
namespace {

using domain::Outcome;
using domain::ProviderEvent;
using store::ApplyResult;
using ::testing::ElementsAre;
using testutil::At;
using testutil::WaitUntil;

using Result = absl::StatusOr<ApplyResult>;

// An EventStore wrapper for fault injection. While the gate is closed, ApplyBatch blocks
// (after counting the call), which lets a test fill the queue deterministically. A fault hook
// may fail a batch instead of passing it on. Everything else goes to `inner`.
class ControlledStore final : public store::EventStore {
 public:
  using Fault = std::function<absl::Status(std::span<const ProviderEvent* const>)>;

  explicit ControlledStore(store::EventStore& inner, bool gate_open = true)
      : inner_(inner), open_(gate_open) {}

  using store::EventStore::ApplyBatch;
  absl::StatusOr<std::vector<ApplyResult>> ApplyBatch(
      std::span<const ProviderEvent* const> batch,
      std::span<const store::SourceCheckpoint* const> checkpoints) override {
    Fault fault;
    {
      std::unique_lock lock(mu_);
      ++calls_;
      batch_sizes_.push_back(batch.size());
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
      fault = fault_;
    }
    if (fault) {
      if (absl::Status s = fault(batch); !s.ok()) return s;
    }
    return inner_.ApplyBatch(batch, checkpoints);
  }
  absl::Status Ping() override { return inner_.Ping(); }

  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void SetFault(Fault fault) {
    std::lock_guard lock(mu_);
    fault_ = std::move(fault);
  }
  int calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<size_t> batch_sizes() const {
    std::lock_guard lock(mu_);
    return batch_sizes_;
  }

 private:
  store::EventStore& inner_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool open_;
  int calls_ = 0;
  std::vector<size_t> batch_sizes_;
  Fault fault_;
};

// Collects callback results by event id, counting calls so a second callback is caught.
class Results {
 public:
  EventWriter::Callback For(const std::string& event_id) {
    return [this, event_id](Result r) {
      std::lock_guard lock(mu_);
      ++calls_[event_id];
      results_.insert_or_assign(event_id, std::move(r));
    };
  }
  int calls(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto it = calls_.find(id);
    return it == calls_.end() ? 0 : it->second;
  }
  bool Has(const std::string& id) const { return calls(id) > 0; }
  Result Get(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto it = results_.find(id);
    return it == results_.end() ? Result(absl::NotFoundError("no callback for " + id)) : it->second;
  }
  bool WaitFor(const std::string& id) const {
    return WaitUntil([&] { return Has(id); });
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int> calls_;
  std::map<std::string, Result> results_;
};

// A fresh user per event id, so that every first delivery is applied.
ProviderEvent NewUser(const std::string& id) {
  return testutil::UserCreated(id, "user-" + id, At(1), id + "@example.com");
}

void SubmitNewUser(EventWriter& writer, Results& results, const std::string& id) {
  writer.Submit(NewUser(id), results.For(id));
}

void ExpectOutcome(const Results& results, const std::string& id, Outcome outcome) {
  Result r = results.Get(id);
  ASSERT_TRUE(r.ok()) << id << ": " << r.status();
  EXPECT_EQ(r->outcome, outcome) << id;
  EXPECT_GT(r->sequence, 0u) << id;
}

void ExpectCode(const Results& results, const std::string& id, absl::StatusCode code) {
  EXPECT_EQ(results.Get(id).status().code(), code) << id << ": " << results.Get(id).status();
}

EventWriterOptions Options() {
  EventWriterOptions options;
  options.max_batch = 512;
  options.max_queue = 20000;
  options.unavailable_backoff = std::chrono::milliseconds(50);
  return options;
}

// A writer whose first batch, the single event "in-flight", is held inside the store's
// ApplyBatch until the test calls store.Open(): whatever is submitted meanwhile queues up
// behind it deterministically. The gate also opens on destruction, so that a failed ASSERT
// cannot leave the writer blocked.
struct HeldWriter {
  explicit HeldWriter(EventWriterOptions options) : writer(store, options) {
    SubmitNewUser(writer, results, "in-flight");
    held = WaitUntil([&] { return store.calls() == 1; });
  }
  ~HeldWriter() { store.Open(); }

  store::InMemoryEventStore memory;
  ControlledStore store{memory, /*gate_open=*/false};
  Results results;
  EventWriter writer;
  bool held = false;
};

TEST(EventWriterTest, EverySubmitGetsExactlyOneCallbackWithItsOutcome) {
  store::InMemoryEventStore store;
  Results results;
  {
    EventWriter writer(store, Options());
    SubmitNewUser(writer, results, "e1");
    writer.Submit(testutil::UserDisabled("e2", "user-e1", At(2), "fraud"), results.For("e2"));
    writer.Submit(testutil::UserEnabled("e3", "user-e1", At(0)), results.For("e3"));
    SubmitNewUser(writer, results, "e1");  // a second delivery
    ProviderEvent ignored = NewUser("e4");
    ignored.ignored = true;
    writer.Submit(ignored, results.For("e4"));
    ProviderEvent dead = NewUser("e5");
    dead.dead_letter_reason = "no user id";
    writer.Submit(dead, results.For("e5"));
    writer.Stop();
  }
  EXPECT_EQ(results.calls("e1"), 2);
  for (const char* id : {"e2", "e3", "e4", "e5"}) EXPECT_EQ(results.calls(id), 1) << id;
  ExpectOutcome(results, "e2", Outcome::kApplied);
  ExpectOutcome(results, "e3", Outcome::kStale);
  ExpectOutcome(results, "e4", Outcome::kIgnored);
  ExpectOutcome(results, "e5", Outcome::kDeadLettered);
  EXPECT_EQ(store.State().users.at("user-e1").state, domain::UserState::kDisabled);
}

TEST(EventWriterTest, SequenceShowsTheEffect) {
  store::InMemoryEventStore store;
  Results results;
  EventWriter writer(store, Options());
  SubmitNewUser(writer, results, "e1");
  ASSERT_TRUE(results.WaitFor("e1"));
  writer.Stop();
  ASSERT_TRUE(results.Get("e1").ok());
  EXPECT_EQ(results.Get("e1")->sequence, store.LastSequence());
}

TEST(EventWriterTest, ConcurrentSubmittersAllGetTheirOutcomeInFewBatches) {
  constexpr int kThreads = 8;
  constexpr int kEventsPerThread = 500;  // 250 ids, each delivered twice in a row
  constexpr int kEvents = kThreads * kEventsPerThread;
  store::InMemoryEventStore memory;
  // The first batch is held until events have piled up behind it, so group commit must
  // happen whatever the scheduling; the submitters keep racing the writer afterwards.
  ControlledStore store(memory, /*gate_open=*/false);
  std::vector<std::unique_ptr<std::atomic<int>>> calls(kEvents);
  for (auto& c : calls) c = std::make_unique<std::atomic<int>>(0);
  std::vector<Result> results(kEvents, absl::UnknownError("no callback"));
  {
    EventWriter writer(store, Options());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEventsPerThread; ++i) {
          const int slot = t * kEventsPerThread + i;
          const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i / 2);
          writer.Submit(NewUser(id), [&, slot](Result r) {
            calls[slot]->fetch_add(1);
            results[slot] = std::move(r);
          });
        }
      });
    }
    EXPECT_TRUE(WaitUntil([&] { return writer.queued() >= 100; }));
    store.Open();
    for (std::thread& th : threads) th.join();
    writer.Stop();  // drains; joining the writer makes `results` safe to read
  }
  for (int slot = 0; slot < kEvents; ++slot) {
    ASSERT_EQ(calls[slot]->load(), 1) << "slot " << slot;
    ASSERT_TRUE(results[slot].ok()) << "slot " << slot << ": " << results[slot].status();
    // Within a thread, the first delivery of an id is queued before the second.
    Outcome expected = slot % 2 == 0 ? Outcome::kApplied : Outcome::kDuplicate;
    ASSERT_EQ(results[slot]->outcome, expected) << "slot " << slot;
  }
  EXPECT_EQ(memory.State().users.size(), static_cast<size_t>(kEvents / 2));
  EXPECT_LT(memory.BatchesCommitted(), static_cast<size_t>(kEvents));
  size_t committed = 0;
  for (size_t n : store.batch_sizes()) committed += n;
  EXPECT_EQ(committed, static_cast<size_t>(kEvents));
}

TEST(EventWriterTest, BatchesAreBoundedByMaxBatch) {
  EventWriterOptions options = Options();
  options.max_batch = 3;
  HeldWriter h(options);
  ASSERT_TRUE(h.held);
  for (int i = 0; i < 7; ++i) SubmitNewUser(h.writer, h.results, "e" + std::to_string(i));
  h.store.Open();
  h.writer.Stop();
  EXPECT_THAT(h.store.batch_sizes(), ElementsAre(1, 3, 3, 1));
  for (int i = 0; i < 7; ++i) ExpectOutcome(h.results, "e" + std::to_string(i), Outcome::kApplied);
}

TEST(EventWriterTest, ObserverSeesEveryBatch) {
  store::InMemoryEventStore memory;
  std::mutex mu;
  size_t observed_events = 0;
  int observed_ok = 0;
  EventWriterObserver observer;
  observer.batch = [&](size_t n, std::chrono::microseconds, bool ok) {
    std::lock_guard lock(mu);
    observed_events += n;
    observed_ok += ok;
  };
  Results results;
  {
    EventWriter writer(memory, Options(), observer);
    for (int i = 0; i < 20; ++i) SubmitNewUser(writer, results, "e" + std::to_string(i));
  }  // the destructor stops and drains
  EXPECT_EQ(observed_events, 20u);
  EXPECT_EQ(static_cast<size_t>(observed_ok), memory.BatchesCommitted());
}

TEST(EventWriterTest, UnavailableStoreFailsTheBatchAndTheWriterBacksOff) {
  store::InMemoryEventStore memory;
  ControlledStore store(memory);
  Results results;
  EventWriterOptions options = Options();
  options.unavailable_backoff = std::chrono::hours(1);  // the back-off outlasts the test
  EventWriter writer(store, options);
  memory.SetUnavailable(true);

  SubmitNewUser(writer, results, "e1");
  ASSERT_TRUE(results.WaitFor("e1"));
  ExpectCode(results, "e1", absl::StatusCode::kUnavailable);
  EXPECT_FALSE(writer.healthy());
  const int calls_after_failure = store.calls();

  // During the back-off new submissions fail at once, without reaching the store, even though
  // the database is back: the next probe waits for the back-off to end.
  memory.SetUnavailable(false);
  SubmitNewUser(writer, results, "e2");
  EXPECT_TRUE(results.Has("e2")) << "the callback must run inside Submit";
  ExpectCode(results, "e2", absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.calls(), calls_after_failure);
  EXPECT_EQ(results.calls("e2"), 1);
  EXPECT_FALSE(memory.StoredOutcome(domain::Provider::kHuudis, "e1").has_value());
}

// Makes the database unavailable and fails one submission ("down") on it.
void FailOnUnavailableDatabase(store::InMemoryEventStore& memory, EventWriter& writer, Results& results) {
  memory.SetUnavailable(true);
  SubmitNewUser(writer, results, "down");
  ASSERT_TRUE(results.WaitFor("down"));
  ExpectCode(results, "down", absl::StatusCode::kUnavailable);
  EXPECT_FALSE(writer.healthy());
}

TEST(EventWriterTest, AnIdleUnhealthyWriterProbesAndRecoversWithoutTraffic) {
  store::InMemoryEventStore memory;
  Results results;
  EventWriter writer(memory, Options());  // 50 ms back-off
  ASSERT_NO_FATAL_FAILURE(FailOnUnavailableDatabase(memory, writer, results));
  // Still down: the probes fail and the writer stays unhealthy.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(writer.healthy());

  memory.SetUnavailable(false);
  EXPECT_TRUE(WaitUntil([&] { return writer.healthy(); })) << "no submission is needed to recover";
  // And the back-off is over: the next submission reaches the store.
  SubmitNewUser(writer, results, "after");
  ASSERT_TRUE(results.WaitFor("after"));
  ExpectOutcome(results, "after", Outcome::kApplied);
}

TEST(EventWriterTest, RecoversAfterTheBackOff) {
  store::InMemoryEventStore memory;
  Results results;
  EventWriter writer(memory, Options());  // 50 ms back-off
  ASSERT_NO_FATAL_FAILURE(FailOnUnavailableDatabase(memory, writer, results));

  memory.SetUnavailable(false);
  // Keep probing with fresh events until one is applied (the back-off has ended).
  int attempt = 0;
  std::string last;
  ASSERT_TRUE(WaitUntil([&] {
    last = "retry-" + std::to_string(attempt++);
    SubmitNewUser(writer, results, last);
    if (!results.WaitFor(last)) return false;
    return results.Get(last).ok();
  }));
  ExpectOutcome(results, last, Outcome::kApplied);
  EXPECT_TRUE(writer.healthy());
  // Failed attempts were answered UNAVAILABLE, never anything else.
  for (int i = 0; i + 1 < attempt; ++i) {
    ExpectCode(results, "retry-" + std::to_string(i), absl::StatusCode::kUnavailable);
  }
}

TEST(EventWriterTest, FullQueueIsResourceExhausted) {
  EventWriterOptions options = Options();
  options.max_batch = 1;
  options.max_queue = 2;
  HeldWriter h(options);
  ASSERT_TRUE(h.held);
  SubmitNewUser(h.writer, h.results, "queued-1");
  SubmitNewUser(h.writer, h.results, "queued-2");
  EXPECT_EQ(h.writer.queued(), 2u);
  SubmitNewUser(h.writer, h.results, "shed");
  EXPECT_TRUE(h.results.Has("shed")) << "the callback must run inside Submit";
  ExpectCode(h.results, "shed", absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(h.writer.healthy());  // shedding is not a database failure

  h.store.Open();
  h.writer.Stop();
  for (const char* id : {"in-flight", "queued-1", "queued-2"}) {
    ExpectOutcome(h.results, id, Outcome::kApplied);
  }
  EXPECT_EQ(h.results.calls("shed"), 1);
  EXPECT_FALSE(h.memory.StoredOutcome(domain::Provider::kHuudis, "shed").has_value());
}

TEST(EventWriterTest, StopDrainsTheQueueThenRefuses) {
  EventWriterOptions options = Options();
  options.max_batch = 2;
  HeldWriter h(options);
  ASSERT_TRUE(h.held);
  EventWriter& writer = h.writer;
  Results& results = h.results;
  for (int i = 0; i < 9; ++i) SubmitNewUser(writer, results, "q" + std::to_string(i));
  SubmitNewUser(writer, results, "q0");  // a duplicate queued behind its original

  std::thread stopper([&] { writer.Stop(); });
  // Stop() is under way once a new submission is refused synchronously. Probes submitted
  // before that are queued and get real results like any other.
  int probes = 0;
  std::string refused;
  ASSERT_TRUE(WaitUntil([&] {
    std::string id = "probe-" + std::to_string(probes++);
    SubmitNewUser(writer, results, id);
    if (!results.Has(id)) return false;
    refused = id;
    return true;
  }));
  ExpectCode(results, refused, absl::StatusCode::kUnavailable);
  h.store.Open();
  stopper.join();

  ExpectOutcome(results, "in-flight", Outcome::kApplied);
  EXPECT_EQ(results.calls("q0"), 2);
  ExpectOutcome(results, "q0", Outcome::kDuplicate);  // the last callback: the second delivery
  for (int i = 1; i < 9; ++i) ExpectOutcome(results, "q" + std::to_string(i), Outcome::kApplied);
  for (int i = 0; i + 1 < probes; ++i) {
    ExpectOutcome(results, "probe-" + std::to_string(i), Outcome::kApplied);
  }
  SubmitNewUser(writer, results, "after-stop");
  ExpectCode(results, "after-stop", absl::StatusCode::kUnavailable);
  EXPECT_EQ(results.calls("after-stop"), 1);
  writer.Stop();  // a second Stop is harmless
}

TEST(EventWriterTest, PoisonEventFailsAloneItsBatchMatesSucceed) {
  HeldWriter h(Options());
  ASSERT_TRUE(h.held);
  h.store.SetFault([](std::span<const ProviderEvent* const> batch) {
    for (const ProviderEvent* e : batch) {
      if (e->event_id == "poison") return absl::InternalError("corrupt row");
    }
    return absl::OkStatus();
  });
  for (const char* id : {"ok-1", "poison", "ok-2"}) SubmitNewUser(h.writer, h.results, id);
  h.store.Open();
  h.writer.Stop();

  for (const char* id : {"in-flight", "ok-1", "ok-2"})
    ExpectOutcome(h.results, id, Outcome::kApplied);
  ExpectCode(h.results, "poison", absl::StatusCode::kInternal);
  EXPECT_TRUE(h.writer.healthy());  // the last commit (ok-2) succeeded
  for (const char* id : {"ok-1", "poison", "ok-2"}) EXPECT_EQ(h.results.calls(id), 1) << id;
  // One batch of three that failed, then each event on its own.
  EXPECT_THAT(h.store.batch_sizes(), ElementsAre(1, 3, 1, 1, 1));
  EXPECT_FALSE(h.memory.StoredOutcome(domain::Provider::kHuudis, "poison").has_value());
}

TEST(EventWriterTest, AbortedBatchesAreRetried) {
  store::InMemoryEventStore memory;
  ControlledStore store(memory);
  int aborts_left = 2;
  store.SetFault([&](std::span<const ProviderEvent* const>) {
    if (aborts_left > 0) {
      --aborts_left;
      return absl::AbortedError("serialization failure");
    }
    return absl::OkStatus();
  });
  Results results;
  EventWriter writer(store, Options());
  SubmitNewUser(writer, results, "e1");
  writer.Stop();
  ExpectOutcome(results, "e1", Outcome::kApplied);
  EXPECT_EQ(store.calls(), 3);
  EXPECT_TRUE(writer.healthy());
}

TEST(EventWriterTest, PersistentConflictFailsTheEventAfterTheRetries) {
  store::InMemoryEventStore memory;
  ControlledStore store(memory);
  store.SetFault([](std::span<const ProviderEvent* const>) {
    return absl::AbortedError("serialization failure");
  });
  Results results;
  EventWriterOptions options = Options();
  options.conflict_retries = 3;
  EventWriter writer(store, options);
  SubmitNewUser(writer, results, "e1");
  writer.Stop();
  // Transient: 503 for the sender to retry, and not a sign of an unreachable database.
  ExpectCode(results, "e1", absl::StatusCode::kUnavailable);
  EXPECT_EQ(results.calls("e1"), 1);
  EXPECT_EQ(store.calls(), 4);  // the first attempt and three retries
  EXPECT_TRUE(writer.healthy());
}

// DESIGN §5a: a value the database refuses dead-letters its one event; the batch's other events
// apply, the refused one is kept with the database's reason, and readiness does not flip.
TEST(EventWriterTest, AValueTheDatabaseRefusesDeadLettersOnlyItsEvent) {
  HeldWriter h(Options());
  ASSERT_TRUE(h.held);
  h.store.SetFault([](std::span<const ProviderEvent* const> batch) {
    for (const ProviderEvent* e : batch) {
      if (e->event_id == "refused" && !e->dead_letter_reason) {
        return absl::InvalidArgumentError("database refused a value (SQLSTATE 22008): out of range");
      }
    }
    return absl::OkStatus();
  });
  for (const char* id : {"ok-1", "refused", "ok-2"}) SubmitNewUser(h.writer, h.results, id);
  h.store.Open();
  h.writer.Stop();
  for (const char* id : {"in-flight", "ok-1", "ok-2"}) ExpectOutcome(h.results, id, Outcome::kApplied);
  ExpectOutcome(h.results, "refused", Outcome::kDeadLettered);
  EXPECT_EQ(h.memory.StoredOutcome(domain::Provider::kHuudis, "refused"), Outcome::kDeadLettered);
  EXPECT_FALSE(h.memory.State().users.contains("user-refused"));
  EXPECT_TRUE(h.memory.State().users.contains("user-ok-2"));
  EXPECT_TRUE(h.writer.healthy());
  for (const char* id : {"ok-1", "refused", "ok-2"}) EXPECT_EQ(h.results.calls(id), 1) << id;
  // The batch of three, each on its own, then the refused event again as a dead letter.
  EXPECT_THAT(h.store.batch_sizes(), ElementsAre(1, 3, 1, 1, 1, 1));
}

TEST(EventWriterTest, EventsThatCannotBeStoredAreRefusedAtOnce) {
  store::InMemoryEventStore memory;
  Results results;
  EventWriter writer(memory, Options());
  ProviderEvent no_id = NewUser("x");
  no_id.event_id.clear();
  writer.Submit(no_id, results.For("no-id"));
  EXPECT_TRUE(results.Has("no-id")) << "refused synchronously";
  ExpectCode(results, "no-id", absl::StatusCode::kInvalidArgument);
  // A value out of bounds is not refused: the event is stored as a dead letter.
  ProviderEvent long_role = testutil::MemberAdded("long-role", "a1", "u1", At(1), std::string(300, 'r'));
  writer.Submit(long_role, results.For("long-role"));
  writer.Stop();
  ASSERT_TRUE(results.Get("long-role").ok()) << results.Get("long-role").status();
  EXPECT_EQ(results.Get("long-role")->outcome, Outcome::kDeadLettered);
  EXPECT_TRUE(memory.State().memberships.empty());
  EXPECT_TRUE(writer.healthy());
}

TEST(EventWriterTest, FutureFactTimesAreTakenAsTheReceiveTimeAndCounted) {
  store::InMemoryEventStore memory;
  Results results;
  int clamped = 0;
  EventWriterObserver observer;
  observer.clamped = [&](domain::Provider provider, int n) {
    EXPECT_EQ(provider, domain::Provider::kHuudis);
    clamped += n;
  };
  EventWriterOptions options = Options();
  options.max_clock_skew = std::chrono::seconds(60);
  EventWriter writer(memory, options, observer);
  ProviderEvent ahead = testutil::UserDisabled("ahead", "u1", At(1000));
  ahead.received_at = At(0);
  ahead.fact_time = At(0);
  writer.Submit(ahead, results.For("ahead"));
  ProviderEvent within = testutil::UserDisabled("within", "u2", At(60));
  within.received_at = At(0);
  writer.Submit(within, results.For("within"));
  writer.Stop();
  ExpectOutcome(results, "ahead", Outcome::kApplied);
  EXPECT_EQ(clamped, 1);
  EXPECT_EQ(memory.State().users.at("u1").sessions_valid_after, At(0));
  EXPECT_EQ(memory.State().users.at("u2").sessions_valid_after, At(60));
}

// ---- Pull-source pages: events and the source's checkpoint, all or nothing. ----

store::SourceCheckpoint Checkpoint(std::string position) {
  store::SourceCheckpoint c;
  c.source = "huudis-audit";
  c.scope = "acc_1";
  c.position_json = std::move(position);
  c.items_added = {"x"};
  return c;
}

std::vector<ProviderEvent> Page(const std::string& prefix, int n) {
  std::vector<ProviderEvent> page;
  for (int i = 0; i < n; ++i) page.push_back(NewUser(prefix + std::to_string(i)));
  return page;
}

// Waits for one page callback.
class PageResult {
 public:
  EventWriter::PageCallback Callback() {
    return [this](absl::StatusOr<std::vector<ApplyResult>> r) {
      std::lock_guard lock(mu_);
      ++calls_;
      result_ = std::move(r);
    };
  }
  absl::StatusOr<std::vector<ApplyResult>> Get() {
    EXPECT_TRUE(WaitUntil([&] {
      std::lock_guard lock(mu_);
      return calls_ > 0;
    }));
    std::lock_guard lock(mu_);
    EXPECT_EQ(calls_, 1);
    return result_;
  }

 private:
  std::mutex mu_;
  int calls_ = 0;
  absl::StatusOr<std::vector<ApplyResult>> result_ = absl::UnknownError("no callback");
};

TEST(EventWriterPageTest, APageAndItsCheckpointCommitInOneTransaction) {
  store::InMemoryEventStore memory;
  ControlledStore store(memory);
  EventWriter writer(store, Options());
  PageResult page;
  writer.SubmitPage(Page("p", 3), Checkpoint(R"({"cursor":"c1"})"), page.Callback());
  auto results = page.Get();
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 3u);
  for (const ApplyResult& r : *results) EXPECT_EQ(r.outcome, Outcome::kApplied);
  EXPECT_EQ(store.batch_sizes(), std::vector<size_t>{3});
  auto source = memory.Source("huudis-audit", "acc_1");
  ASSERT_TRUE(source.has_value());
  EXPECT_EQ(source->position_json, R"({"cursor":"c1"})");
  EXPECT_EQ(source->events_yielded, 3);
  EXPECT_EQ(source->items, std::set<std::string>{"x"});

  // An empty page still moves the checkpoint (a listing that changed nothing).
  PageResult empty;
  writer.SubmitPage({}, Checkpoint(R"({"cursor":"c2"})"), empty.Callback());
  ASSERT_TRUE(empty.Get().ok());
  EXPECT_EQ(memory.Source("huudis-audit", "acc_1")->position_json, R"({"cursor":"c2"})");
  EXPECT_EQ(memory.Source("huudis-audit", "acc_1")->events_yielded, 3);
  // A page read again (after a crash, or an overlap): its events are duplicates, not counted.
  PageResult again;
  writer.SubmitPage(Page("p", 4), Checkpoint(R"({"cursor":"c3"})"), again.Callback());
  ASSERT_TRUE(again.Get().ok());
  EXPECT_EQ(memory.Source("huudis-audit", "acc_1")->events_yielded, 4);
  EXPECT_TRUE(writer.healthy());
}

TEST(EventWriterPageTest, AnEventTheDatabaseRefusesIsDeadLetteredAndThePageStillCompletes) {
  HeldWriter h(Options());
  ASSERT_TRUE(h.held);
  h.store.SetFault([](std::span<const ProviderEvent* const> batch) {
    for (const ProviderEvent* e : batch) {
      if (e->event_id == "p1" && !e->dead_letter_reason) return absl::InvalidArgumentError("refused");
    }
    return absl::OkStatus();
  });
  PageResult page;
  h.writer.SubmitPage(Page("p", 3), Checkpoint(R"({"cursor":"c"})"), page.Callback());
  h.store.Open();
  auto results = page.Get();
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 3u);
  EXPECT_EQ((*results)[0].outcome, Outcome::kApplied);
  EXPECT_EQ((*results)[1].outcome, Outcome::kDeadLettered);
  EXPECT_EQ((*results)[2].outcome, Outcome::kApplied);
  EXPECT_EQ(h.memory.Source("huudis-audit", "acc_1")->position_json, R"({"cursor":"c"})");
  // The page, then each event, the refused one again as a letter, then the checkpoint alone.
  EXPECT_THAT(h.store.batch_sizes(), ElementsAre(1, 3, 1, 1, 1, 1, 0));
}

// A crash of the database in the middle of a page retried event by event leaves the events
// before it committed and the checkpoint not: the page is read again and dedup makes the
// committed ones duplicates. The position never gets ahead of the events.
TEST(EventWriterPageTest, ACheckpointIsNeverCommittedWithoutAllItsEvents) {
  HeldWriter h(Options());
  ASSERT_TRUE(h.held);
  std::atomic<int> alone_calls{0};
  h.store.SetFault([&](std::span<const ProviderEvent* const> batch) {
    if (batch.size() == 3) return absl::InternalError("a bug in one of them");
    if (batch.size() == 1 && batch[0]->event_id == "p1") return absl::UnavailableError("gone");
    ++alone_calls;
    return absl::OkStatus();
  });
  PageResult page;
  h.writer.SubmitPage(Page("p", 3), Checkpoint(R"({"cursor":"c"})"), page.Callback());
  h.store.Open();
  auto results = page.Get();
  EXPECT_EQ(results.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(h.memory.Source("huudis-audit", "acc_1").has_value());
  EXPECT_EQ(h.memory.StoredOutcome(domain::Provider::kHuudis, "p0"), Outcome::kApplied);
  EXPECT_FALSE(h.memory.StoredOutcome(domain::Provider::kHuudis, "p2").has_value());
  EXPECT_FALSE(h.writer.healthy());
}

TEST(EventWriterPageTest, PagesCountTowardTheQueueAndBatchWithWebhooks) {
  EventWriterOptions options = Options();
  options.max_queue = 5;
  options.max_batch = 4;
  HeldWriter h(options);
  ASSERT_TRUE(h.held);
  PageResult too_big;
  h.writer.SubmitPage(Page("big", 6), Checkpoint("{}"), too_big.Callback());
  EXPECT_EQ(too_big.Get().status().code(), absl::StatusCode::kResourceExhausted);
  PageResult page;
  h.writer.SubmitPage(Page("p", 3), Checkpoint("{}"), page.Callback());
  SubmitNewUser(h.writer, h.results, "w1");
  SubmitNewUser(h.writer, h.results, "w2");
  EXPECT_EQ(h.writer.queued(), 5u);
  h.store.Open();
  ASSERT_TRUE(page.Get().ok());
  ASSERT_TRUE(h.results.WaitFor("w2"));
  ExpectOutcome(h.results, "w2", Outcome::kApplied);
  // The page and one webhook (4 events), then the other.
  EXPECT_THAT(h.store.batch_sizes(), ElementsAre(1, 4, 1));
}

}  // namespace
}  // namespace mm::ingest
