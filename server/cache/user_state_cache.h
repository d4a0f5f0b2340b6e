#pragma once
// The per-replica, in-memory answer to "is this user active?" (DESIGN §5). Loaded from a
// snapshot at start, then kept current by the ChangeFollower from the change log. Reads never
// touch PostgreSQL, so IsUserActive keeps answering while the database is down and says how
// fresh its answer is.
//
// Thread-safety: any number of concurrent readers; one writer (the follower). Sharded
// reader/writer locks keep readers from contending with each other or with the writer.

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "common/time.h"
#include "domain/records.h"
#include "store/event_store.h"

namespace mm::cache {

enum class UnknownUsers { kActive, kInactive };

struct UserCheck {
  bool known = false;
  bool active = false;
  domain::UserState state = domain::UserState::kActive;  // meaningful when known
  std::optional<TimePoint> state_changed_at;
  std::string disabled_reason;
  std::optional<TimePoint> sessions_valid_after;
  uint64_t sequence = 0;     // change-log position the answer reflects
  TimePoint fresh_as_of{};   // when the replica last confirmed it was caught up
};

class UserStateCache {
 public:
  explicit UserStateCache(UnknownUsers unknown_users) : unknown_users_(unknown_users) {}

  // DESIGN §2: active iff known and ACTIVE (unknown: per setting) and, when a token issue time
  // is given, token_issued_at >= sessions_valid_after.
  UserCheck Check(std::string_view user_id, std::optional<TimePoint> token_issued_at) const;

  // Writer side (follower thread only).
  void Put(const store::UserStateRow& row);
  void SetSequence(uint64_t sequence) { sequence_.store(sequence, std::memory_order_release); }
  void MarkFresh(TimePoint as_of) { fresh_as_of_us_.store(ToUnixMicros(as_of), std::memory_order_release); }
  void MarkLoaded() { loaded_.store(true, std::memory_order_release); }

  uint64_t sequence() const { return sequence_.load(std::memory_order_acquire); }
  TimePoint fresh_as_of() const { return FromUnixMicros(fresh_as_of_us_.load(std::memory_order_acquire)); }
  bool loaded() const { return loaded_.load(std::memory_order_acquire); }
  size_t size() const;

 private:
  struct Entry {
    int64_t state_changed_at_us = kNoTime;
    int64_t sessions_valid_after_us = kNoTime;
    domain::UserState state = domain::UserState::kActive;
    std::string disabled_reason;
  };
  static constexpr int64_t kNoTime = INT64_MIN;
  static constexpr size_t kShards = 64;
  struct Shard {
    mutable std::shared_mutex mu;
    absl::flat_hash_map<std::string, Entry> users;
  };
  const Shard& ShardFor(std::string_view user_id) const;
  Shard& ShardFor(std::string_view user_id);

  const UnknownUsers unknown_users_;
  std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> sequence_{0};
  std::atomic<int64_t> fresh_as_of_us_{0};
  std::atomic<bool> loaded_{false};
};

}  // namespace mm::cache
