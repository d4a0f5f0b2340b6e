#pragma once
// PostgreSQL implementations of SourceStore and SourceLease (store/source_store.h).

#include <memory>
#include <string>

#include "store/pg_connection.h"
#include "store/source_store.h"

namespace mm::store {

class PgConnection;

class PgSourceStore final : public SourceStore {
 public:
  explicit PgSourceStore(std::string database_url);
  ~PgSourceStore() override;

  absl::StatusOr<std::optional<std::string>> LoadPosition(const std::string& source,
                                                          const std::string& scope) override;
  absl::StatusOr<std::vector<std::string>> LoadItems(const std::string& source, const std::string& scope) override;
  absl::StatusOr<std::map<std::string, std::string>> PresentMembers(const std::string& account_id) override;
  absl::StatusOr<std::map<std::string, MirrorUser>> Users(const std::vector<std::string>& user_ids) override;
  absl::StatusOr<std::optional<SourceStatus>> LoadStatus(const std::string& source, const std::string& scope) override;
  absl::Status RecordRun(const SourceRun& run) override;

 private:
  template <typename Fn>
  absl::Status Run(Fn&& fn);
  std::unique_ptr<PgConnection> conn_;
};

// A session-level advisory lock, pg_try_advisory_lock(kSourceLockClass, hashtext(name)), on a
// connection of its own that does nothing else. The session asks the server for TCP
// keepalives (idle 10 s, then 3 probes 5 s apart), so that if this replica vanishes without
// closing its connection the server frees the lock within about half a minute rather than
// the operating system's default of hours.
class PgSourceLease final : public SourceLease {
 public:
  static constexpr int kSourceLockClass = 0x4d4d;  // "MM": our advisory locks, apart from others'

  PgSourceLease(std::string database_url, std::string name);
  ~PgSourceLease() override;

  bool Hold() override;
  void Release() override;

 private:
  const std::string name_;
  std::unique_ptr<PgConnection> conn_;
  bool held_ = false;
};

// The columns of source_state a SourceStatus is read from, for every statement that reads
// one (this store's LoadStatus, the read store's ListSources), and the decoder of such a row.
#define MM_SOURCE_STATUS_COLUMNS                                                                  \
  "source, scope, status, " MM_SQL_MICROS("last_attempt_at") ", " MM_SQL_MICROS("last_success_at") \
  ", " MM_SQL_MICROS("watermark") ", last_error, " MM_SQL_MICROS("last_error_at")                  \
  ", events_yielded, last_run_drift, puller"

}  // namespace mm::store
