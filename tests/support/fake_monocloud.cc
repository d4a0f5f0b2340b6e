#include "fake_monocloud.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

#include "common/crypto.h"

namespace mm::testing {

using nlohmann::json;

struct FakeMonoCloud::State {
  struct Group {
    std::string name;
    std::vector<std::string> members;  // in assignment order
  };
  mutable std::mutex mu;
  std::map<std::string, MonoCloudUser> users;  // guarded by mu
  std::map<std::string, Group> groups;          // guarded by mu
};

namespace {

constexpr int kDefaultSize = 10;
constexpr int kMaxSize = 100;

bool StartsWith(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// claims.name, and given_name / family_name as its first word and the rest (when it has both).
json Claims(const std::string& name) {
  json claims = {{"name", name}};
  size_t space = name.find(' ');
  if (space != std::string::npos && space > 0 && space + 1 < name.size()) {
    claims["given_name"] = name.substr(0, space);
    claims["family_name"] = name.substr(space + 1);
  }
  return claims;
}

json UserJsonWithEmailId(const MonoCloudUser& u, const std::string& email_id) {
  // Every field of tests/fixtures/monocloud.user.json; what the fake does not model is the value
  // of a user who never signed in.
  return {{"user_id", u.user_id},
          {"disabled", u.disabled},
          {"claims", Claims(u.name)},
          {"public_data", json::object()},
          {"private_data", json::object()},
          {"emails",
           json::array({{{"id", email_id},
                         {"primary", true},
                         {"verified", true},
                         {"source", "sign_up"},
                         {"verification_source", "monocloud"},
                         {"email", u.email}}})},
          {"phone_numbers", json::array()},
          {"passkeys", json::array()},
          {"force_password_reset", false},
          {"external_providers", json::array()},
          {"creation_time", u.creation_time},
          {"last_updated", u.last_updated},
          {"username", nullptr},
          {"has_password", true},
          {"password_updated_at", u.creation_time},
          {"block_until", nullptr},
          {"failure_count", 0},
          {"sign_in_attempts_count", 0},
          {"last_sign_in_attempt", nullptr},
          {"last_sign_in_attempt_ip", nullptr},
          {"sign_in_success_count", 0},
          {"last_sign_in_success", nullptr},
          {"last_sign_in_success_ip", nullptr},
          {"last_activity", nullptr},
          {"last_known_city", nullptr},
          {"last_known_country", nullptr},
          {"last_known_region", nullptr}};
}

json SummaryFrom(json user) {
  user.erase("public_data");
  user.erase("private_data");
  user["connections"] = json::array();
  return user;
}

// The id of a user's one emails[] entry: a version-4-shaped UUID derived from the user id, so it
// is stable across upserts and the same in every answer.
std::string EmailIdOf(const std::string& user_id) {
  std::string hex = HexEncode(Sha256("email:" + user_id)).substr(0, 32);
  hex[12] = '4';
  hex[16] = '8';
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

json UserJson(const MonoCloudUser& u) { return UserJsonWithEmailId(u, EmailIdOf(u.user_id)); }

}  // namespace

json MonoCloudUserJson(const MonoCloudUser& user) { return UserJson(user); }

json MonoCloudUserSummaryJson(const MonoCloudUser& user) { return SummaryFrom(MonoCloudUserJson(user)); }

FakeMonoCloud::FakeMonoCloud(Options options)
    : FakeProvider(options.api_key, options.admin_endpoints, options.clock), state_(std::make_unique<State>()) {
  StartServer();
}

FakeMonoCloud::~FakeMonoCloud() { StopServer(); }

std::string FakeMonoCloud::UpsertUser(MonoCloudUser user) {
  if (user.user_id.empty()) user.user_id = MakeUuid();
  if (user.last_updated == 0) user.last_updated = user.creation_time;
  std::string id = user.user_id;
  std::lock_guard lock(state_->mu);
  state_->users[id] = std::move(user);
  return id;
}

bool FakeMonoCloud::DeleteUser(const std::string& user_id) {
  std::lock_guard lock(state_->mu);
  if (state_->users.erase(user_id) == 0) return false;
  for (auto& [id, group] : state_->groups) std::erase(group.members, user_id);
  return true;
}

bool FakeMonoCloud::SetDisabled(const std::string& user_id, bool disabled, int64_t last_updated) {
  std::lock_guard lock(state_->mu);
  auto it = state_->users.find(user_id);
  if (it == state_->users.end()) return false;
  it->second.disabled = disabled;
  it->second.last_updated = last_updated;
  return true;
}

void FakeMonoCloud::AddGroup(const std::string& group_id, const std::string& name) {
  std::lock_guard lock(state_->mu);
  state_->groups[group_id].name = name;
}

bool FakeMonoCloud::AssignToGroup(const std::string& group_id, const std::string& user_id) {
  std::lock_guard lock(state_->mu);
  auto group = state_->groups.find(group_id);
  if (group == state_->groups.end() || !state_->users.contains(user_id)) return false;
  auto& members = group->second.members;
  if (std::find(members.begin(), members.end(), user_id) != members.end()) return false;
  members.push_back(user_id);
  return true;
}

bool FakeMonoCloud::RemoveFromGroup(const std::string& group_id, const std::string& user_id) {
  std::lock_guard lock(state_->mu);
  auto group = state_->groups.find(group_id);
  if (group == state_->groups.end()) return false;
  return std::erase(group->second.members, user_id) > 0;
}

std::optional<MonoCloudUser> FakeMonoCloud::User(const std::string& user_id) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->users.find(user_id);
  if (it == state_->users.end()) return std::nullopt;
  return it->second;
}

FakeResponse FakeMonoCloud::Error(int status, std::string_view message, const FakeRequest& request) {
  json body = {{"type", "https://httpstatuses.io/" + std::to_string(status)},
               {"title", StatusReason(status)},
               {"status", status},
               {"detail", message},
               {"instance", request.path}};
  FakeResponse r;
  r.status = status;
  r.body = body.dump();
  r.content_type = "application/problem+json";
  return r;
}

FakeResponse FakeMonoCloud::Serve(const FakeRequest& request) {
  auto key = request.headers.find("x-api-key");
  if (key == request.headers.end() || !CredentialIs(key->second)) {
    return Error(401, "A valid API key is required", request);
  }
  const std::string& path = request.path;
  enum class Route { kList, kUser, kGroup } route;
  std::string id;
  constexpr std::string_view kUsers = "/api/users";
  constexpr std::string_view kGroups = "/api/users/groups/";
  constexpr std::string_view kAssigned = "/assigned";
  if (path == kUsers) {
    route = Route::kList;
  } else if (StartsWith(path, kGroups) && path.size() > kGroups.size() + kAssigned.size() &&
             path.ends_with(kAssigned)) {
    route = Route::kGroup;
    id = PercentDecode(path.substr(kGroups.size(), path.size() - kGroups.size() - kAssigned.size()), false);
    if (id.find('/') != std::string::npos) return Error(404, "Not found", request);
  } else if (StartsWith(path, "/api/users/") && path.size() > kUsers.size() + 1 &&
             path.find('/', kUsers.size() + 1) == std::string::npos) {
    route = Route::kUser;
    id = PercentDecode(path.substr(kUsers.size() + 1), false);
  } else {
    return Error(404, "Not found", request);
  }
  if (request.method != "GET") {
    FakeResponse r = Error(405, "Method not allowed", request);
    r.headers.emplace_back("Allow", "GET");
    return r;
  }

  if (route == Route::kUser) {
    std::lock_guard lock(state_->mu);
    auto it = state_->users.find(id);
    if (it == state_->users.end()) return Error(404, "User not found", request);
    FakeResponse r;
    r.body = UserJson(it->second).dump();
    return r;
  }

  auto query = [&](const char* name) -> std::optional<std::string> {
    auto it = request.query.find(name);
    if (it == request.query.end()) return std::nullopt;
    return it->second;
  };
  int page = 1, size = kDefaultSize;
  if (auto text = query("page")) {
    std::optional<int> parsed = ParseSmallInt(*text);
    if (!parsed || *parsed < 1) return Error(400, "page must be a positive integer", request);
    page = *parsed;
  }
  if (auto text = query("size")) {
    std::optional<int> parsed = ParseSmallInt(*text);
    if (!parsed || *parsed < 1) return Error(400, "size must be a positive integer", request);
    size = std::min(*parsed, kMaxSize);
  }
  std::string sort_key = "creation_time";
  bool descending = false;
  std::optional<bool> disabled_filter;
  if (route == Route::kList) {
    if (auto text = query("sort"); text && !text->empty()) {
      if (*text == "last_updated:-1" || *text == "last_updated:1" || *text == "creation_time:-1" ||
          *text == "creation_time:1") {
        size_t colon = text->find(':');
        sort_key = text->substr(0, colon);
        descending = text->substr(colon + 1) == "-1";
      } else {
        return Error(400, "Unsupported sort: " + *text, request);
      }
    }
    if (auto text = query("filter"); text && !text->empty()) {
      if (*text == "disabled:true") {
        disabled_filter = true;
      } else if (*text == "disabled:false") {
        disabled_filter = false;
      } else {
        return Error(400, "Unsupported filter: " + *text, request);
      }
    }
  }
  if (std::optional<int> status = PageFault(path, page - 1)) {
    return Error(*status, "injected fault on page " + std::to_string(page), request);
  }

  std::vector<json> all;
  {
    std::lock_guard lock(state_->mu);
    std::vector<const MonoCloudUser*> users;
    if (route == Route::kGroup) {
      auto group = state_->groups.find(id);
      if (group == state_->groups.end()) return Error(404, "Group not found", request);
      for (const std::string& user_id : group->second.members) users.push_back(&state_->users.at(user_id));
    } else {
      for (const auto& [user_id, user] : state_->users) {
        if (disabled_filter && user.disabled != *disabled_filter) continue;
        users.push_back(&user);
      }
      bool by_update = sort_key == "last_updated";
      std::sort(users.begin(), users.end(), [&](const MonoCloudUser* a, const MonoCloudUser* b) {
        int64_t ka = by_update ? a->last_updated : a->creation_time;
        int64_t kb = by_update ? b->last_updated : b->creation_time;
        if (ka != kb) return descending ? ka > kb : ka < kb;
        return a->user_id < b->user_id;
      });
    }
    for (const MonoCloudUser* user : users) {
      all.push_back(SummaryFrom(UserJson(*user)));
    }
  }
  const int64_t total = static_cast<int64_t>(all.size());
  const int64_t begin = std::min<int64_t>(static_cast<int64_t>(page - 1) * size, total);
  const int64_t end = std::min<int64_t>(begin + size, total);
  json items = json::array();
  for (int64_t i = begin; i < end; ++i) items.push_back(std::move(all[static_cast<size_t>(i)]));
  json pagination = {{"page_size", size},
                     {"current_page", page},
                     {"total_count", total},
                     {"has_previous", page > 1},
                     {"has_next", static_cast<int64_t>(page) * size < total}};
  FakeResponse r;
  r.body = items.dump();
  r.headers.emplace_back("X-Pagination", pagination.dump());
  return r;
}

FakeResponse FakeMonoCloud::Admin(const FakeRequest& request) {
  auto answer = [](int status, json body) {
    FakeResponse r;
    r.status = status;
    r.body = body.dump();
    return r;
  };
  constexpr std::string_view kAdminPrefix = "/_fake/monocloud/";
  if (!StartsWith(request.path, kAdminPrefix)) return answer(404, {{"error", "no such admin endpoint"}});
  std::string action = request.path.substr(kAdminPrefix.size());
  if (request.method != "POST") return answer(405, {{"error", "admin endpoints take POST"}});
  json body = json::parse(request.body.empty() ? std::string("{}") : request.body, nullptr, false);
  if (!body.is_object()) return answer(400, {{"error", "the body must be a JSON object"}});
  auto text = [&](const char* name) -> std::string {
    auto it = body.find(name);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string user_id = text("user");
  if (user_id.empty()) return answer(400, {{"error", "user is required"}});
  if (action == "disable" || action == "enable") {
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(Now().time_since_epoch()).count();
    if (!SetDisabled(user_id, action == "disable", now)) return answer(404, {{"error", "no such user"}});
  } else if (action == "assign" || action == "unassign") {
    std::string group_id = text("group");
    if (group_id.empty()) return answer(400, {{"error", "group is required"}});
    {
      std::lock_guard lock(state_->mu);
      if (!state_->groups.contains(group_id)) return answer(404, {{"error", "no such group"}});
      if (!state_->users.contains(user_id)) return answer(404, {{"error", "no such user"}});
    }
    if (action == "assign") {
      AssignToGroup(group_id, user_id);
    } else {
      RemoveFromGroup(group_id, user_id);
    }
  } else {
    return answer(404, {{"error", "no such admin endpoint"}});
  }
  std::lock_guard lock(state_->mu);
  auto it = state_->users.find(user_id);
  if (it == state_->users.end()) return answer(404, {{"error", "no such user"}});
  return answer(200, UserJson(it->second));
}

}  // namespace mm::testing
