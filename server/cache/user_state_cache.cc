#include "cache/user_state_cache.h"

#include <cstring>

#include "absl/hash/hash.h"

namespace mm::cache {
namespace {

template <typename T>
T Load(const char* at) {
  T value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

template <typename T>
void Store(char* at, const T& value) {
  std::memcpy(at, &value, sizeof value);
}

}  // namespace

size_t UserStateCache::HashId(std::string_view user_id) {
  // This Abseil build has its own string_view type.
  return absl::Hash<absl::string_view>{}(absl::string_view(user_id.data(), user_id.size()));
}

std::string_view UserStateCache::IdOf(const char* record) {
  return std::string_view(record + kIdAt, Load<uint32_t>(record + kIdSizeAt));
}

UserStateCache::Record UserStateCache::ReadRecord(const char* record) {
  Record r;
  r.state_changed_at_us = Load<int64_t>(record + kChangedAtAt);
  r.sessions_valid_after_us = Load<int64_t>(record + kValidAfterAt);
  r.reason = Load<const std::string*>(record + kReasonAt);
  r.state = static_cast<domain::UserState>(Load<uint8_t>(record + kStateAt));
  return r;
}

void UserStateCache::WriteRecord(char* record, const Record& r) {
  Store(record + kChangedAtAt, r.state_changed_at_us);
  Store(record + kValidAfterAt, r.sessions_valid_after_us);
  Store(record + kReasonAt, r.reason);
  Store(record + kStateAt, static_cast<uint8_t>(r.state));
}

size_t UserStateCache::RefHash::operator()(uint32_t ref) const { return HashId(IdOf(arena->At(ref))); }

bool UserStateCache::RefEq::operator()(uint32_t ref, const Key& key) const {
  return IdOf(arena->At(ref)) == key.id;
}

UserCheck UserStateCache::Check(std::string_view user_id,
                                std::optional<TimePoint> token_issued_at) const {
  UserCheck check;
  // Read the position before the entry: the answer is at least as fresh as it says.
  check.sequence = sequence();
  check.fresh_as_of = fresh_as_of();
  const Key key{user_id, HashId(user_id)};
  const Shard& shard = shards_[ShardIndex(key.hash)];
  {
    absl::ReaderMutexLock lock(&shard.mu);
    auto it = shard.users.find(key);
    if (it != shard.users.end()) {
      Record r = ReadRecord(shard.arena.At(*it));
      check.known = true;
      check.state = r.state;
      if (r.state_changed_at_us != kNoTime) check.state_changed_at = FromUnixMicros(r.state_changed_at_us);
      if (r.sessions_valid_after_us != kNoTime) check.sessions_valid_after = FromUnixMicros(r.sessions_valid_after_us);
      if (r.reason != nullptr) check.disabled_reason = *r.reason;
    }
  }
  if (!check.known) {
    check.active = unknown_users_ == UnknownUsers::kActive;
    return check;
  }
  check.active = check.state == domain::UserState::kActive;
  if (check.active && token_issued_at && check.sessions_valid_after &&
      *token_issued_at < *check.sessions_valid_after) {
    check.active = false;  // a session from before the last disable stays revoked
  }
  return check;
}

void UserStateCache::Put(const store::UserStateRow& row) {
  Record r;
  r.state = row.state;
  if (row.state_changed_at) r.state_changed_at_us = ToUnixMicros(*row.state_changed_at);
  if (row.sessions_valid_after) r.sessions_valid_after_us = ToUnixMicros(*row.sessions_valid_after);
  // An empty reason reads back as empty, like none: keep none.
  if (row.disabled_reason && !row.disabled_reason->empty()) r.reason = reasons_.Intern(*row.disabled_reason);

  const Key key{row.user_id, HashId(row.user_id)};
  Shard& shard = shards_[ShardIndex(key.hash)];
  absl::MutexLock lock(&shard.mu);
  auto it = shard.users.find(key);
  if (it != shard.users.end()) {
    WriteRecord(shard.arena.At(*it), r);
    if (sweeping_) shard.swept.insert(*it);
    return;
  }
  uint32_t ref = shard.arena.Allocate(kIdAt + row.user_id.size());
  char* record = shard.arena.At(ref);
  WriteRecord(record, r);
  Store(record + kIdSizeAt, static_cast<uint32_t>(row.user_id.size()));
  std::memcpy(record + kIdAt, row.user_id.data(), row.user_id.size());
  shard.users.insert(ref);
  if (sweeping_) shard.swept.insert(ref);
  size_.fetch_add(1, std::memory_order_relaxed);
}

void UserStateCache::BeginSweep() { sweeping_ = true; }

size_t UserStateCache::EndSweep(bool forget_unswept) {
  sweeping_ = false;
  size_t removed = 0;
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    // A forgotten user's record stays in the arena (append-only); this is a rare event.
    if (forget_unswept) {
      removed += absl::erase_if(shard.users, [&](uint32_t ref) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu) {
        return !shard.swept.contains(ref);
      });
    }
    absl::flat_hash_set<uint32_t>().swap(shard.swept);
  }
  size_.fetch_sub(removed, std::memory_order_relaxed);
  return removed;
}

void UserStateCache::Reserve(size_t users) {
  // Hashes spread evenly over the shards; a little headroom for the unlucky ones.
  size_t per_shard = users / kShards + users / kShards / 16 + 16;
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    if (shard.users.capacity() < per_shard) shard.users.reserve(per_shard);
  }
}

size_t UserStateCache::memory_bytes() const {
  size_t bytes = 0;
  for (const Shard& shard : shards_) {
    absl::ReaderMutexLock lock(&shard.mu);
    bytes += shard.arena.allocated_bytes() + shard.users.capacity() * (sizeof(uint32_t) + 1);
  }
  return bytes;
}

}  // namespace mm::cache
