#pragma once
// `huudis-lists` (DESIGN §3b): every reconcile interval, each workspace's members
// (GET /v1/iam/users) and end users (GET /v1/ops/end-users), listed completely and compared
// with the mirror (domain/reconcile.h): a present member missing from the listing is removed,
// a role or `disabled` flag that differs is corrected, an unknown member or end user becomes
// known — each as an event whose fact time is when the listing started. Member removals and
// role changes have no Huudis event of their own, so only this reveals them. An incomplete
// listing (an error on any page) changes nothing. A workspace's first listing waits until
// huudis-audit has completed a sweep of it: a correction made "now" would outrank the audit
// log's facts, with their own times and reasons. (Later, a fact the audit log has but the
// next poll has not read yet can still lose to a listing that ran in between; the audit entry
// is then stored as stale and the state is the same.)

#include <chrono>
#include <string>
#include <vector>

#include "sources/source.h"

namespace mm::sources {

class HuudisListsSource final : public PullSource {
 public:
  struct Options {
    std::string base_url;
    std::vector<std::string> workspaces;
    std::chrono::seconds interval{900};  // MM_RECONCILE_INTERVAL_SECONDS
    int page_size = 100;
  };
  explicit HuudisListsSource(Options options);

  const std::string& name() const override { return name_; }
  std::vector<std::string> scopes() const override { return options_.workspaces; }
  std::chrono::seconds interval() const override { return options_.interval; }
  absl::StatusOr<RunOutcome> Run(const std::string& workspace, SourceContext& ctx) override;

 private:
  const std::string name_ = "huudis-lists";
  const Options options_;
};

}  // namespace mm::sources
