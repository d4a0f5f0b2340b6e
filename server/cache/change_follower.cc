#include "cache/change_follower.h"

#include <cstdlib>  // defines __GLIBC__ on glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "common/log.h"
#include "domain/records_json.h"

namespace mm::cache {

ChangeFollower::ChangeFollower(store::ChangeFeed& feed, UserStateCache& cache,
                               SequenceWaiters& waiters, ChangeFollowerOptions options, ChangeHub* hub,
                               ChangeFollowerObserver observer)
    : feed_(feed), cache_(cache), waiters_(waiters), options_(options), hub_(hub), observer_(std::move(observer)) {}

ChangeFollower::~ChangeFollower() { Stop(); }

void ChangeFollower::Start() { thread_ = std::thread([this] { Run(); }); }

void ChangeFollower::Stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
}

bool ChangeFollower::LoadSnapshot(Reload why) {
  auto started = std::chrono::steady_clock::now();
  TimePoint as_of = SystemClock::Instance().Now();
  // Sized up front, the cache's tables do not rehash (re-reading every id) while loading.
  cache_.Reserve(feed_.UserCountHint());
  // Over a replaced log, users the database no longer knows must be forgotten too.
  const bool sweep = why == Reload::kLogReplaced;
  if (sweep) cache_.BeginSweep();
  absl::StatusOr<uint64_t> head =
      feed_.LoadUserStates([&](store::UserStateRow&& row) { cache_.Put(row); });
  size_t forgotten = sweep ? cache_.EndSweep(/*forget_unswept=*/head.ok()) : 0;
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
  switch (why) {
    case Reload::kInitial:
      position_ = *head;
      if (hub_ != nullptr) hub_->Begin(*head);
      break;
    case Reload::kUndecodableRow:
      break;  // rows up to the head are still published, from position_ on
    case Reload::kLogReplaced:
      position_ = *head;
      position_committed_at_.reset();
      waiters_.Rewind(*head);  // a sequence above the new head has not happened (again) yet
      if (hub_ != nullptr) hub_->Reset(*head);
      break;
  }
  waiters_.Advance(*head);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  log::Info(why == Reload::kInitial ? "user state cache loaded" : "user state cache reloaded",
            {{"users", std::to_string(cache_.size())},
             {"forgotten", std::to_string(forgotten)},
             {"bytes", std::to_string(cache_.memory_bytes())},
             {"sequence", std::to_string(*head)},
             {"millis", std::to_string(ms.count())}});
  return true;
}

bool ChangeFollower::CatchUp() {
  while (!stopping_.load()) {
    TimePoint as_of = SystemClock::Instance().Now();
    absl::StatusOr<store::ChangeRead> read = feed_.ReadChanges(position_, options_.read_limit);
    if (!read.ok()) {
      if (healthy_.exchange(false)) {
        log::Warn("change log unreachable; answering from memory",
                  {{"error", std::string(read.status().message())},
                   {"sequence", std::to_string(cache_.sequence())}});
      }
      return false;
    }
    const bool behind = read->head < position_;
    const bool rewritten = position_committed_at_ && read->after_committed_at &&
                           *read->after_committed_at != *position_committed_at_;
    if (behind || rewritten) {
      log::Warn("the database's change log is not the one this replica followed (restored from a "
                "backup, or a failover that lost commits): reloading the user state snapshot",
                {{"replica_sequence", std::to_string(position_)},
                 {"database_head", std::to_string(read->head)},
                 {"why", behind ? "head behind" : "row rewritten"}});
      if (observer_.reloaded) observer_.reloaded("changelog_behind");
      reloading_.store(true);
      bool loaded = LoadSnapshot(Reload::kLogReplaced);
      reloading_.store(!loaded);
      if (!loaded) return false;
      continue;
    }
    if (!position_committed_at_) position_committed_at_ = read->after_committed_at;

    const std::vector<store::ChangeRow>& rows = read->rows;
    size_t published = 0;
    std::optional<uint64_t> undecodable;
    for (const store::ChangeRow& row : rows) {
      // After a reload the cache already holds everything up to its snapshot's head.
      if (row.sequence > cache_.sequence()) {
        if (row.entity == store::EntityKind::kUser) {
          absl::StatusOr<domain::UserRecord> user = domain::UserFromJson(row.record_json);
          if (!user.ok()) {
            undecodable = row.sequence;
            log::Error("unreadable change-log row: reloading the user state snapshot instead",
                       {{"sequence", std::to_string(row.sequence)},
                        {"error", std::string(user.status().message())}});
            if (observer_.undecodable) observer_.undecodable(row.sequence);
            break;
          }
          cache_.Put(store::ToUserStateRow(*user));
        }
        cache_.SetSequence(row.sequence);
      }
      position_ = row.sequence;
      position_committed_at_ = row.committed_at;
      ++published;
    }
    // What was read is published (and never read again: the next read starts after it).
    if (hub_ != nullptr) hub_->Publish(std::span<const store::ChangeRow>(rows.data(), published));
    if (published > 0) waiters_.Advance(cache_.sequence());
    if (undecodable) {
      if (observer_.reloaded) observer_.reloaded("undecodable_row");
      reloading_.store(true);
      bool loaded = LoadSnapshot(Reload::kUndecodableRow);
      reloading_.store(!loaded);
      if (!loaded) return false;
      continue;  // the bad row is now at or below the cache's sequence: published, not applied
    }
    if (rows.size() < static_cast<size_t>(options_.read_limit)) {
      cache_.MarkFresh(as_of);
      if (!healthy_.exchange(true)) log::Info("change log reachable; cache caught up");
      return true;
    }
  }
  return true;
}

void ChangeFollower::Run() {
  while (!stopping_.load() && !LoadSnapshot(Reload::kInitial)) {
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
