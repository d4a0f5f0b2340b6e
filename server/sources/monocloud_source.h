#pragma once
// `monocloud` (DESIGN §3b): MonoCloud has no webhooks, so polling is its only feed. Every
// poll interval:
// - scope "" — every user (GET /api/users, paged by page/size, sorted by last_updated
//   descending, paging metadata in X-Pagination): a `disabled` flag that differs from the
//   mirror is applied at fact time `last_updated` (so only a change newer than the mirror's
//   wins); an unknown user becomes known; a user the previous complete listing held and this
//   one does not is deleted (at the listing's start) once GET /api/users/{id} answers 404 —
//   offset paging can miss a user who moved between pages while the listing ran. The listed
//   ids are kept (source_items) with the events that follow from them.
// - scope <group id> — each configured group, a workspace whose members are the group's users
//   (GET /api/users/groups/{group_id}/assigned), role `member`, diffed like Huudis members.
// An incomplete listing changes nothing. Header `X-API-KEY: <key>`.
//
// Offset paging over a list that changes while it is read can shift an item between pages (a
// user updated meanwhile moves to the front). A user missed that way is not deleted (the
// re-read finds it) and keeps its state until the next listing. A group's member missed that
// way is removed and added back by the next listing.

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "sources/source.h"

namespace mm::sources {

class MonoCloudSource final : public PullSource {
 public:
  struct Options {
    std::string base_url;             // MM_MONOCLOUD_API_URL
    std::vector<std::string> groups;  // MM_MONOCLOUD_GROUPS
    std::chrono::seconds interval{60};  // MM_MONOCLOUD_POLL_SECONDS
    int page_size = 100;
  };
  explicit MonoCloudSource(Options options);

  const std::string& name() const override { return name_; }
  std::vector<std::string> scopes() const override;
  std::chrono::seconds interval() const override { return options_.interval; }
  absl::StatusOr<RunOutcome> Run(const std::string& scope, SourceContext& ctx) override;

 private:
  absl::StatusOr<RunOutcome> RunUsers(SourceContext& ctx);
  absl::StatusOr<RunOutcome> RunGroup(const std::string& group, SourceContext& ctx);
  // Every page of `path` (a users listing), or the error that left it incomplete.
  absl::Status ListAll(SourceContext& ctx, const std::string& path, const std::string& sort,
                       std::vector<domain::ListedUser>& users, std::set<std::string>& unusable);

  const std::string name_ = "monocloud";
  const Options options_;
};

}  // namespace mm::sources
