#include "sources/monocloud_source.h"

#include <algorithm>
#include <set>

#include "adapters/monocloud_pull.h"
#include "sources/corrections.h"
#include "sources/provider_api.h"

namespace mm::sources {
namespace {

std::vector<std::pair<std::string, std::string>> Headers(const SourceContext& ctx) {
  return {{"X-API-KEY", ctx.credential}, {"Accept", "application/json"}};
}

}  // namespace

MonoCloudSource::MonoCloudSource(Options options) : options_(std::move(options)) {}

std::vector<std::string> MonoCloudSource::scopes() const {
  std::vector<std::string> scopes = {""};
  scopes.insert(scopes.end(), options_.groups.begin(), options_.groups.end());
  return scopes;
}

absl::StatusOr<RunOutcome> MonoCloudSource::Run(const std::string& scope, SourceContext& ctx) {
  return scope.empty() ? RunUsers(ctx) : RunGroup(scope, ctx);
}

absl::Status MonoCloudSource::ListAll(SourceContext& ctx, const std::string& path, const std::string& sort,
                                      std::vector<domain::ListedUser>& users, std::set<std::string>& unusable) {
  const int size = std::clamp(options_.page_size, 1, 100);
  for (int page = 1;; ++page) {
    if (ctx.stopping()) return absl::CancelledError("stopping");
    if (page > 100000) return absl::FailedPreconditionError("listing did not end after 100000 pages");
    std::string url = JoinUrl(options_.base_url, path) + "?page=" + std::to_string(page) +
                      "&size=" + std::to_string(size);
    if (!sort.empty()) url += "&sort=" + UrlEncode(sort);
    absl::StatusOr<http_client::Response> response = Get(ctx, url, Headers(ctx));
    if (!response.ok()) return response.status();
    absl::StatusOr<adapters::MonoCloudUsersPage> decoded =
        adapters::DecodeMonoCloudUsersPage(response->body, response->Header("x-pagination"), size);
    if (!decoded.ok()) return decoded.status();
    for (auto& u : decoded->users) users.push_back(std::move(u));
    unusable.insert(decoded->unusable.begin(), decoded->unusable.end());
    if (!decoded->has_next || (decoded->users.empty() && decoded->unusable.empty())) return absl::OkStatus();
  }
}

absl::StatusOr<RunOutcome> MonoCloudSource::RunUsers(SourceContext& ctx) {
  const TimePoint listed_at = ctx.clock.Now();
  std::vector<domain::ListedUser> users;
  std::set<std::string> unusable;
  if (absl::Status s = ListAll(ctx, "/api/users", "last_updated:-1", users, unusable); !s.ok()) return s;

  std::set<std::string> listed_now(unusable.begin(), unusable.end());
  for (const domain::ListedUser& u : users) listed_now.insert(u.user_id);
  auto confirm_gone = [&](const std::string& user_id) -> absl::StatusOr<bool> {
    absl::StatusOr<http_client::Response> user =
        Get(ctx, JoinUrl(options_.base_url, "/api/users/" + UrlEncode(user_id)), Headers(ctx));
    if (absl::IsNotFound(user.status())) return true;
    if (!user.ok()) return user.status();
    return false;
  };
  return ReconcileUserListing(ctx, {.source = name_, .scope = "", .provider = domain::Provider::kMonoCloud, .listed_at = listed_at},
                              users, std::move(listed_now), {.listed_at = listed_at, .use_changed_at = true}, confirm_gone);
}

absl::StatusOr<RunOutcome> MonoCloudSource::RunGroup(const std::string& group, SourceContext& ctx) {
  const TimePoint listed_at = ctx.clock.Now();
  std::vector<domain::ListedUser> users;
  std::set<std::string> unusable;
  if (absl::Status s = ListAll(ctx, "/api/users/groups/" + UrlEncode(group) + "/assigned", "", users, unusable);
      !s.ok()) {
    return s;
  }
  std::vector<domain::ListedMember> members;
  for (domain::ListedUser& u : users) {
    members.push_back({.user_id = u.user_id, .role = "member", .email = u.email, .name = u.name, .joined_at = std::nullopt});
  }
  absl::StatusOr<std::map<std::string, std::string>> present = ctx.store.PresentMembers(group);
  if (!present.ok()) return present.status();
  store::SourceCheckpoint last;
  last.source = name_;
  last.scope = group;
  last.position_json = ListedAtPosition(listed_at, members.size());
  return CommitCorrections(ctx, {.source = name_, .scope = group, .provider = domain::Provider::kMonoCloud,
                                 .listed_at = listed_at},
                           domain::DiffMembers(group, members, unusable, *present, listed_at), std::move(last));
}

}  // namespace mm::sources
