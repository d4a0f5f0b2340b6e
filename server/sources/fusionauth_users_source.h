#pragma once
// `fusionauth-users` (DESIGN §3b): FusionAuth sends `user.deactivate` and `user.reactivate`
// before it knows whether the operation commits, and may roll it back after; at its default
// transaction level it also drops deliveries that fail. So:
// - a re-read: some seconds (MM_FUSIONAUTH_RECHECK_SECONDS) after the mirror applied a
//   FusionAuth deactivate or reactivate (seen on the change stream), GET /api/user/{id}; a
//   state that differs from the mirror's is corrected at the time of the read, a user
//   FusionAuth no longer has (404) is deleted;
// - a sweep every reconcile interval per tenant: POST /api/user/search over every user
//   (startRow paging, or nextResults where FusionAuth offers it), `active` compared with the
//   mirror at the time the sweep started, and users the previous complete sweep held and this
//   one does not deleted once GET /api/user/{id} answers 404.
// Header `Authorization: <API key>`, and `X-FusionAuth-TenantId` for a configured tenant.
//
// The events come from the FusionAuth webhook adapter (server/adapters/fusionauth_adapter.h):
// the change stream shows a user whose state a `user.deactivate`/`user.reactivate` set.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "cache/change_hub.h"
#include "sources/source.h"

namespace mm::sources {

class FusionAuthUsersSource final : public PullSource {
 public:
  struct Options {
    std::string base_url;               // MM_FUSIONAUTH_API_URL
    std::vector<std::string> tenants;   // MM_FUSIONAUTH_TENANTS; empty: one sweep without a tenant
    std::chrono::seconds interval{900};  // MM_RECONCILE_INTERVAL_SECONDS
    std::chrono::seconds recheck_delay{5};  // MM_FUSIONAUTH_RECHECK_SECONDS
    int page_size = 100;
    size_t max_pending_rechecks = 10000;  // more are left to the sweep
  };
  // `hub` (optional): the change stream the re-reads are scheduled from; must outlive this.
  FusionAuthUsersSource(Options options, cache::ChangeHub* hub);
  ~FusionAuthUsersSource() override;

  const std::string& name() const override { return name_; }
  std::vector<std::string> scopes() const override;
  std::chrono::seconds interval() const override { return options_.interval; }
  absl::StatusOr<RunOutcome> Run(const std::string& tenant, SourceContext& ctx) override;
  std::optional<TimePoint> NextDue() override;
  absl::StatusOr<RunOutcome> RunDue(SourceContext& ctx) override;

  // Schedules a re-read of `user_id` at `due` (the change stream does; exposed for tests).
  void ScheduleRecheck(const std::string& user_id, TimePoint due);

 private:
  // Takes what the change stream has delivered and schedules the re-reads it calls for.
  void TakeChanges();
  void AddPending(const std::string& user_id, TimePoint due) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<std::pair<std::string, std::string>> Headers(const SourceContext& ctx, const std::string& tenant) const;

  const std::string name_ = "fusionauth-users";
  const Options options_;
  cache::ChangeHub* const hub_;
  absl::Mutex mu_;
  std::unique_ptr<cache::ChangeSubscription> subscription_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, TimePoint> pending_ ABSL_GUARDED_BY(mu_);  // user -> when to re-read
};

}  // namespace mm::sources
