#pragma once
// PostgreSQL implementation of ChangeFeed: a snapshot of user states, the change log tail, and
// LISTEN on the writers' notification channel. One instance per follower thread.

#include <memory>
#include <string>

#include "store/event_store.h"

namespace mm::store {

class PgConnection;

class PgChangeFeed final : public ChangeFeed {
 public:
  explicit PgChangeFeed(std::string database_url);
  ~PgChangeFeed() override;

  absl::StatusOr<uint64_t> LoadUserStates(const std::function<void(UserStateRow&&)>& row) override;
  absl::StatusOr<std::vector<ChangeRow>> ReadChanges(uint64_t after, int limit) override;
  absl::Status WaitForNotification(std::chrono::milliseconds timeout) override;

 private:
  class Receiver;
  template <typename Fn>
  absl::Status Run(Fn&& fn);

  std::unique_ptr<Receiver> receiver_;
  std::unique_ptr<PgConnection> conn_;
};

}  // namespace mm::store
