#include "sources/fusionauth_users_source.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "adapters/fusionauth_pull.h"
#include "common/log.h"
#include "domain/records_json.h"
#include "sources/corrections.h"
#include "sources/provider_api.h"

namespace mm::sources {
namespace {

bool IsTransactionalStateEvent(const std::string& type) {
  return type == "user.deactivate" || type == "user.reactivate";
}

}  // namespace

FusionAuthUsersSource::FusionAuthUsersSource(Options options, cache::ChangeHub* hub)
    : options_(std::move(options)), hub_(hub) {}

FusionAuthUsersSource::~FusionAuthUsersSource() {
  absl::MutexLock lock(&mu_);
  subscription_.reset();
}

std::vector<std::string> FusionAuthUsersSource::scopes() const {
  return options_.tenants.empty() ? std::vector<std::string>{""} : options_.tenants;
}

std::vector<std::pair<std::string, std::string>> FusionAuthUsersSource::Headers(const SourceContext& ctx,
                                                                                const std::string& tenant) const {
  std::vector<std::pair<std::string, std::string>> headers = {{"Authorization", ctx.credential},
                                                              {"Accept", "application/json"}};
  if (!tenant.empty()) headers.emplace_back("X-FusionAuth-TenantId", tenant);
  return headers;
}

void FusionAuthUsersSource::ScheduleRecheck(const std::string& user_id, TimePoint due) {
  absl::MutexLock lock(&mu_);
  AddPending(user_id, due);
}

void FusionAuthUsersSource::AddPending(const std::string& user_id, TimePoint due) {
  if (pending_.size() >= options_.max_pending_rechecks && !pending_.contains(user_id)) return;
  auto [it, inserted] = pending_.emplace(user_id, due);
  if (!inserted) it->second = std::max(it->second, due);
}

void FusionAuthUsersSource::TakeChanges() {
  if (hub_ == nullptr) return;
  {
    absl::MutexLock lock(&mu_);
    if (!subscription_ || !subscription_->started()) subscription_ = hub_->Subscribe([] {});
    while (true) {
      cache::ChangeSubscription::Taken taken = subscription_->Take(1000);
      for (const auto& row : taken.rows) {
        if (row->entity != store::EntityKind::kUser) continue;
        absl::StatusOr<domain::UserRecord> user = domain::UserFromJson(row->record_json);
        if (!user.ok() || user->state_provider != domain::Provider::kFusionAuth ||
            !IsTransactionalStateEvent(user->state_event_type)) {
          continue;
        }
        AddPending(user->user_id, row->committed_at + options_.recheck_delay);
      }
      if (taken.overflowed || taken.closed || taken.reset) {
        // Rows were lost (a backlog while another replica held the lease): the sweep covers them.
        subscription_.reset();
        break;
      }
      if (taken.rows.size() < 1000) break;
    }
  }
}

std::optional<TimePoint> FusionAuthUsersSource::NextDue() {
  TakeChanges();
  absl::MutexLock lock(&mu_);
  std::optional<TimePoint> next;
  for (const auto& [user_id, at] : pending_) {
    if (!next || at < *next) next = at;
  }
  return next;
}

absl::StatusOr<RunOutcome> FusionAuthUsersSource::RunDue(SourceContext& ctx) {
  const TimePoint now = ctx.clock.Now();
  std::vector<std::string> due;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [user_id, at] : pending_) {
      if (at <= now && due.size() < 100) due.push_back(user_id);
    }
  }
  std::vector<domain::ListedUser> found;
  std::vector<std::string> gone;
  for (const std::string& user_id : due) {
    // The change does not say which configured tenant the user is in: ask each in turn (with
    // several tenants FusionAuth may require the tenant header). Gone only if none has it.
    std::optional<http_client::Response> response;
    for (const std::string& tenant : scopes()) {
      absl::StatusOr<http_client::Response> r =
          Get(ctx, JoinUrl(options_.base_url, "/api/user/" + UrlEncode(user_id)), Headers(ctx, tenant));
      if (absl::IsNotFound(r.status())) continue;
      if (!r.ok()) return r.status();  // kept pending: retried at the next run
      response = std::move(*r);
      break;
    }
    if (!response) {
      gone.push_back(user_id);
      continue;
    }
    absl::StatusOr<domain::ListedUser> user = adapters::DecodeFusionAuthUser(response->body);
    if (user.ok()) found.push_back(std::move(*user));
  }
  std::vector<std::string> ids(due.begin(), due.end());
  absl::StatusOr<std::map<std::string, store::MirrorUser>> known = ctx.store.Users(ids);
  if (!known.ok()) return known.status();
  std::vector<domain::Correction> corrections = domain::DiffUsers(found, *known, {.listed_at = now, .use_changed_at = false});
  std::vector<domain::Correction> deleted = domain::DiffDeletedUsers(gone, {}, *known, now);
  corrections.insert(corrections.end(), deleted.begin(), deleted.end());
  store::SourceCheckpoint last;
  last.source = name_;
  last.scope = "recheck";
  absl::StatusOr<RunOutcome> outcome = CommitCorrections(
      ctx, {.source = name_, .scope = "recheck", .provider = domain::Provider::kFusionAuth, .listed_at = now},
      corrections, std::move(last));
  if (!outcome.ok()) return outcome;
  absl::MutexLock lock(&mu_);
  for (const std::string& user_id : due) pending_.erase(user_id);
  return outcome;
}

absl::StatusOr<RunOutcome> FusionAuthUsersSource::Run(const std::string& tenant, SourceContext& ctx) {
  const TimePoint listed_at = ctx.clock.Now();
  const int size = std::clamp(options_.page_size, 1, 1000);
  std::vector<domain::ListedUser> users;
  std::set<std::string> listed_now;
  std::optional<std::string> next_results;
  for (int start = 0;;) {
    if (ctx.stopping()) return absl::CancelledError("stopping");
    nlohmann::json search = {{"numberOfResults", size}};
    if (next_results) {
      search["nextResults"] = *next_results;
    } else {
      search["queryString"] = "*";
      search["startRow"] = start;
      search["sortFields"] = nlohmann::json::array({{{"name", "insertInstant"}, {"order", "asc"}}});
    }
    http_client::Request request;
    request.method = "POST";
    request.url = JoinUrl(options_.base_url, "/api/user/search");
    request.headers = Headers(ctx, tenant);
    request.body = nlohmann::json{{"search", search}}.dump();
    request.headers.emplace_back("Content-Type", "application/json");
    absl::StatusOr<http_client::Response> response = Call(ctx, request);
    if (!response.ok()) return response.status();
    absl::StatusOr<adapters::FusionAuthSearchPage> page = adapters::DecodeFusionAuthSearchPage(response->body);
    if (!page.ok()) return page.status();
    const size_t count = page->users.size() + page->unusable.size();
    for (domain::ListedUser& u : page->users) {
      listed_now.insert(u.user_id);
      users.push_back(std::move(u));
    }
    listed_now.insert(page->unusable.begin(), page->unusable.end());
    start += static_cast<int>(count);
    next_results = page->next_results;
    const bool more = page->next_results ? count > 0
                                         : count > 0 && (!page->total || start < *page->total);
    if (!more) break;
    if (start > 10000000) return absl::FailedPreconditionError("search did not end after 10,000,000 users");
  }

  auto confirm_gone = [&](const std::string& user_id) -> absl::StatusOr<bool> {
    absl::StatusOr<http_client::Response> user =
        Get(ctx, JoinUrl(options_.base_url, "/api/user/" + UrlEncode(user_id)), Headers(ctx, tenant));
    if (absl::IsNotFound(user.status())) return true;
    if (!user.ok()) return user.status();
    return false;
  };
  return ReconcileUserListing(ctx, {.source = name_, .scope = tenant, .provider = domain::Provider::kFusionAuth,
                                    .listed_at = listed_at},
                              users, std::move(listed_now), {.listed_at = listed_at, .use_changed_at = false},
                              confirm_gone);
}

}  // namespace mm::sources
