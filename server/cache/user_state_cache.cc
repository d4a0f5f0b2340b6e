#include "cache/user_state_cache.h"

#include <mutex>

#include "absl/hash/hash.h"

namespace mm::cache {
namespace {
// This Abseil build has its own string_view type; heterogeneous lookup needs it.
absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }
}  // namespace

const UserStateCache::Shard& UserStateCache::ShardFor(std::string_view user_id) const {
  return shards_[absl::Hash<absl::string_view>{}(AbslView(user_id)) % kShards];
}

UserStateCache::Shard& UserStateCache::ShardFor(std::string_view user_id) {
  return shards_[absl::Hash<absl::string_view>{}(AbslView(user_id)) % kShards];
}

UserCheck UserStateCache::Check(std::string_view user_id,
                                std::optional<TimePoint> token_issued_at) const {
  UserCheck check;
  // Read the position before the entry: the answer is at least as fresh as it says.
  check.sequence = sequence();
  check.fresh_as_of = fresh_as_of();
  const Shard& shard = ShardFor(user_id);
  {
    std::shared_lock lock(shard.mu);
    auto it = shard.users.find(AbslView(user_id));
    if (it != shard.users.end()) {
      const Entry& e = it->second;
      check.known = true;
      check.state = e.state;
      if (e.state_changed_at_us != kNoTime) check.state_changed_at = FromUnixMicros(e.state_changed_at_us);
      if (e.sessions_valid_after_us != kNoTime) check.sessions_valid_after = FromUnixMicros(e.sessions_valid_after_us);
      check.disabled_reason = e.disabled_reason;
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
  Entry e;
  e.state = row.state;
  if (row.state_changed_at) e.state_changed_at_us = ToUnixMicros(*row.state_changed_at);
  if (row.sessions_valid_after) e.sessions_valid_after_us = ToUnixMicros(*row.sessions_valid_after);
  if (row.disabled_reason) e.disabled_reason = *row.disabled_reason;
  Shard& shard = ShardFor(row.user_id);
  std::unique_lock lock(shard.mu);
  shard.users.insert_or_assign(row.user_id, std::move(e));
}

size_t UserStateCache::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::shared_lock lock(s.mu);
    n += s.users.size();
  }
  return n;
}

}  // namespace mm::cache
