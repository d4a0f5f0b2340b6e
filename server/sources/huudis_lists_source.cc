#include "sources/huudis_lists_source.h"

#include <algorithm>
#include <set>

#include "adapters/huudis_pull.h"
#include "sources/corrections.h"
#include "sources/huudis_audit_source.h"
#include "sources/listing.h"
#include "sources/provider_api.h"

namespace mm::sources {

HuudisListsSource::HuudisListsSource(Options options) : options_(std::move(options)) {}

absl::StatusOr<RunOutcome> HuudisListsSource::Run(const std::string& workspace, SourceContext& ctx) {
  // A listing says "now", the audit log says when: before the audit log of this workspace has
  // been read once, a correction made now would outrank the facts it holds (and hide their
  // reasons and times). So the first listing waits for the first complete audit sweep.
  absl::StatusOr<std::optional<store::SourceStatus>> audit = ctx.store.LoadStatus("huudis-audit", workspace);
  if (!audit.ok()) return audit.status();
  if (!*audit || !(*audit)->last_success_at) {
    RunOutcome wait;
    wait.run_again_in = std::chrono::seconds(1);
    return wait;
  }
  const TimePoint listed_at = ctx.clock.Now();
  const std::string limit = "?limit=" + std::to_string(std::clamp(options_.page_size, 1, 100));
  auto page_url = [&](std::string_view path, const std::optional<std::string>& cursor) {
    std::string url = JoinUrl(options_.base_url, path) + limit;
    if (cursor) url += "&cursor=" + UrlEncode(*cursor);
    return url;
  };

  std::vector<domain::ListedMember> members;
  std::set<std::string> unusable_members;
  absl::Status listed = WalkPages(ctx, [&](const std::optional<std::string>& cursor)
                                           -> absl::StatusOr<std::optional<std::string>> {
    auto response = Get(ctx, page_url("/v1/iam/users", cursor), HuudisHeaders(ctx, workspace));
    if (!response.ok()) return response.status();
    auto page = adapters::DecodeHuudisMembersPage(response->body);
    if (!page.ok()) return page.status();
    for (auto& m : page->members) members.push_back(std::move(m));
    unusable_members.insert(page->unusable.begin(), page->unusable.end());
    return page->next_cursor;
  });
  if (!listed.ok()) return listed;

  std::vector<domain::ListedUser> end_users;
  listed = WalkPages(ctx, [&](const std::optional<std::string>& cursor)
                              -> absl::StatusOr<std::optional<std::string>> {
    auto response = Get(ctx, page_url("/v1/ops/end-users", cursor), HuudisHeaders(ctx, workspace));
    if (!response.ok()) return response.status();
    auto page = adapters::DecodeHuudisEndUsersPage(response->body);
    if (!page.ok()) return page.status();
    for (auto& u : page->users) end_users.push_back(std::move(u));
    return page->next_cursor;
  });
  if (!listed.ok()) return listed;

  // Both listings are complete: compare them with the mirror.
  absl::StatusOr<std::map<std::string, std::string>> present = ctx.store.PresentMembers(workspace);
  if (!present.ok()) return present.status();
  std::vector<std::string> ids;
  for (const domain::ListedUser& u : end_users) ids.push_back(u.user_id);
  absl::StatusOr<std::map<std::string, store::MirrorUser>> known = ctx.store.Users(ids);
  if (!known.ok()) return known.status();

  std::vector<domain::Correction> corrections =
      domain::DiffMembers(workspace, members, unusable_members, *present, listed_at);
  std::vector<domain::Correction> user_corrections = domain::DiffUsers(end_users, *known, {.listed_at = listed_at, .use_changed_at = false});
  corrections.insert(corrections.end(), user_corrections.begin(), user_corrections.end());

  store::SourceCheckpoint last;
  last.source = name_;
  last.scope = workspace;
  last.position_json = ListedAtPosition(listed_at, members.size() + end_users.size());
  return CommitCorrections(ctx, {.source = name_, .scope = workspace, .provider = domain::Provider::kHuudis,
                                 .listed_at = listed_at},
                           corrections, std::move(last));
}

}  // namespace mm::sources
