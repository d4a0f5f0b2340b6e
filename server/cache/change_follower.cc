#include "cache/change_follower.h"

#include <cstdlib>  // defines __GLIBC__ on glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "common/log.h"
#include "domain/records_json.h"

namespace mm::cache {

ChangeFollower::ChangeFollower(store::ChangeFeed& feed, UserStateCache& cache,
                               SequenceWaiters& waiters, ChangeFollowerOptions options, ChangeHub* hub)
    : feed_(feed), cache_(cache), waiters_(waiters), options_(options), hub_(hub) {}

ChangeFollower::~ChangeFollower() { Stop(); }

void ChangeFollower::Start() { thread_ = std::thread([this] { Run(); }); }

void ChangeFollower::Stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
}

bool ChangeFollower::LoadSnapshot() {
  auto started = std::chrono::steady_clock::now();
  TimePoint as_of = SystemClock::Instance().Now();
  // Sized up front, the cache's tables do not rehash (re-reading every id) while loading.
  cache_.Reserve(feed_.UserCountHint());
  absl::StatusOr<uint64_t> head =
      feed_.LoadUserStates([&](store::UserStateRow&& row) { cache_.Put(row); });
  if (!head.ok()) {
    log::Warn("user state snapshot failed; retrying", {{"error", std::string(head.status().message())}});
    return false;
  }
#if defined(__GLIBC__)
  // Hand back to the system what loading used only for a while (the database client's
  // buffers, the tables' smaller predecessors): otherwise it stays resident in malloc's free
  // lists for the life of the process.
  malloc_trim(0);
#endif
  cache_.SetSequence(*head);
  cache_.MarkFresh(as_of);
  cache_.MarkLoaded();
  if (hub_ != nullptr) hub_->Begin(*head);
  waiters_.Advance(*head);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  log::Info("user state cache loaded", {{"users", std::to_string(cache_.size())},
                                        {"bytes", std::to_string(cache_.memory_bytes())},
                                        {"sequence", std::to_string(*head)},
                                        {"millis", std::to_string(ms.count())}});
  return true;
}

bool ChangeFollower::CatchUp() {
  while (!stopping_.load()) {
    TimePoint as_of = SystemClock::Instance().Now();
    absl::StatusOr<std::vector<store::ChangeRow>> rows =
        feed_.ReadChanges(cache_.sequence(), options_.read_limit);
    if (!rows.ok()) {
      if (healthy_.exchange(false)) {
        log::Warn("change log unreachable; answering from memory",
                  {{"error", std::string(rows.status().message())},
                   {"sequence", std::to_string(cache_.sequence())}});
      }
      return false;
    }
    size_t applied = 0;
    for (const store::ChangeRow& row : *rows) {
      if (row.entity == store::EntityKind::kUser) {
        absl::StatusOr<domain::UserRecord> user = domain::UserFromJson(row.record_json);
        if (!user.ok()) {
          // A row we cannot read is a bug or corruption; skipping it would silently serve a
          // wrong answer, so stop here and keep retrying (and shouting).
          log::Error("unreadable change-log row", {{"sequence", std::to_string(row.sequence)},
                                                   {"error", std::string(user.status().message())}});
          break;
        }
        cache_.Put(store::ToUserStateRow(*user));
      }
      cache_.SetSequence(row.sequence);
      ++applied;
    }
    // What was applied is published (and never read again: the next read starts after it).
    if (hub_ != nullptr) hub_->Publish(std::span<const store::ChangeRow>(rows->data(), applied));
    if (applied > 0) waiters_.Advance(cache_.sequence());
    if (applied < rows->size()) return false;
    if (rows->size() < static_cast<size_t>(options_.read_limit)) {
      cache_.MarkFresh(as_of);
      if (!healthy_.exchange(true)) log::Info("change log reachable; cache caught up");
      return true;
    }
  }
  return true;
}

void ChangeFollower::Run() {
  while (!stopping_.load() && !LoadSnapshot()) {
    std::this_thread::sleep_for(options_.error_backoff);
  }
  while (!stopping_.load()) {
    if (!CatchUp()) {
      std::this_thread::sleep_for(options_.error_backoff);
      continue;
    }
    absl::Status waited = feed_.WaitForNotification(options_.poll_interval);
    if (!waited.ok()) {
      healthy_.store(false);
      std::this_thread::sleep_for(options_.error_backoff);
    }
  }
}

}  // namespace mm::cache
