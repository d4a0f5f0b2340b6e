#pragma once
// The per-replica, in-memory answer to "is this user active?" (DESIGN §5). Loaded from a
// snapshot at start, then kept current by the ChangeFollower from the change log. Reads never
// touch PostgreSQL, so IsUserActive keeps answering while the database is down and says how
// fresh its answer is.
//
// Thread-safety: any number of concurrent readers; one writer (the follower). Sharded
// reader/writer locks keep readers from contending with each other or with the writer.
//
// Memory (about 70 bytes a user with Huudis ids): each shard keeps its users as records in an
// append-only ByteArena — the times, the state, an interned disabled reason and the id's
// bytes, written once and then updated in place — and finds them through a hash set of 4-byte
// arena references, looked up by id. Users are never removed (a deleted user is a state), so
// the arena never needs compacting. The id is hashed once: the hash's top bits pick the shard
// and the shard's table reuses the whole hash.

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "cache/byte_arena.h"
#include "cache/string_interner.h"
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
  std::string_view disabled_reason;  // interned by the cache: valid for the cache's lifetime
  std::optional<TimePoint> sessions_valid_after;
  uint64_t sequence = 0;     // change-log position the answer reflects
  TimePoint fresh_as_of{};   // when the replica last confirmed it was caught up
};

class UserStateCache {
 public:
  explicit UserStateCache(UnknownUsers unknown_users) : unknown_users_(unknown_users) {}
  UserStateCache(const UserStateCache&) = delete;
  UserStateCache& operator=(const UserStateCache&) = delete;

  // DESIGN §2: active iff known and ACTIVE (unknown: per setting) and, when a token issue time
  // is given, token_issued_at >= sessions_valid_after.
  UserCheck Check(std::string_view user_id, std::optional<TimePoint> token_issued_at) const;

  // Writer side (follower thread only).
  void Put(const store::UserStateRow& row);
  // Sizes the tables for `users` users in all (e.g. before loading a snapshot) so that
  // loading does not rehash. Optional; never shrinks.
  void Reserve(size_t users);
  // Reloading over a database that no longer knows some users (restored from a backup): after
  // BeginSweep, Put remembers whom it wrote; EndSweep(true) forgets every user not Put since,
  // and returns how many; EndSweep(false) (the reload failed) forgets nobody. Readers meanwhile
  // see each user's old or new state, never a gap.
  void BeginSweep();
  size_t EndSweep(bool forget_unswept);
  void SetSequence(uint64_t sequence) { sequence_.store(sequence, std::memory_order_release); }
  void MarkFresh(TimePoint as_of) { fresh_as_of_us_.store(ToUnixMicros(as_of), std::memory_order_release); }
  void MarkLoaded() { loaded_.store(true, std::memory_order_release); }

  uint64_t sequence() const { return sequence_.load(std::memory_order_acquire); }
  TimePoint fresh_as_of() const { return FromUnixMicros(fresh_as_of_us_.load(std::memory_order_acquire)); }
  bool loaded() const { return loaded_.load(std::memory_order_acquire); }
  size_t size() const { return size_.load(std::memory_order_relaxed); }
  // Distinct disabled reasons ever held (each is stored once).
  size_t distinct_reasons() const { return reasons_.size(); }
  // Bytes of arena chunks and hash-table slots (allocator overhead not counted).
  size_t memory_bytes() const;

 private:
  static constexpr int64_t kNoTime = INT64_MIN;
  static constexpr size_t kShardBits = 6;
  static constexpr size_t kShards = size_t{1} << kShardBits;

  // A user's record in its shard's arena, fields at fixed offsets (read and written with
  // memcpy, so no alignment is needed):
  //   int64 state_changed_at_us | int64 sessions_valid_after_us |
  //   const std::string* reason (interned; null: none) | uint8 state | uint32 id size | id
  struct Record {
    int64_t state_changed_at_us = kNoTime;
    int64_t sessions_valid_after_us = kNoTime;
    const std::string* reason = nullptr;
    domain::UserState state = domain::UserState::kActive;
  };
  static constexpr size_t kChangedAtAt = 0, kValidAfterAt = 8, kReasonAt = 16, kStateAt = 24,
                          kIdSizeAt = 25, kIdAt = 29;

  // Heterogeneous lookup by id, with the hash computed once by the caller.
  struct Key {
    std::string_view id;
    size_t hash;
  };
  struct RefHash {
    using is_transparent = void;
    const ByteArena* arena;
    size_t operator()(uint32_t ref) const;
    size_t operator()(const Key& key) const { return key.hash; }
  };
  struct RefEq {
    using is_transparent = void;
    const ByteArena* arena;
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }  // one record per id
    bool operator()(uint32_t ref, const Key& key) const;
    bool operator()(const Key& key, uint32_t ref) const { return (*this)(ref, key); }
  };
  struct Shard {
    Shard() : users(0, RefHash{&arena}, RefEq{&arena}) {}
    mutable absl::Mutex mu;  // readers share it (Check), the writer holds it alone
    ByteArena arena ABSL_GUARDED_BY(mu);
    absl::flat_hash_set<uint32_t, RefHash, RefEq> users ABSL_GUARDED_BY(mu);  // references to records in `arena`
    absl::flat_hash_set<uint32_t> swept ABSL_GUARDED_BY(mu);  // refs Put since BeginSweep (writer only)
  };

  static size_t HashId(std::string_view user_id);
  static size_t ShardIndex(size_t hash) { return hash >> (64 - kShardBits); }
  static std::string_view IdOf(const char* record);
  static Record ReadRecord(const char* record);
  static void WriteRecord(char* record, const Record& r);

  const UnknownUsers unknown_users_;
  StringInterner reasons_;
  std::array<Shard, kShards> shards_;
  std::atomic<size_t> size_{0};
  bool sweeping_ = false;  // writer thread only
  std::atomic<uint64_t> sequence_{0};
  std::atomic<int64_t> fresh_as_of_us_{0};
  std::atomic<bool> loaded_{false};
};

}  // namespace mm::cache
