#include "fake_fusionauth.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <utility>

namespace mm::testing {

using nlohmann::json;

struct FakeFusionAuth::State {
  mutable std::mutex mu;
  std::set<std::string> tenants;               // guarded by mu
  std::map<std::string, FusionAuthUser> users;  // guarded by mu
};

namespace {

constexpr int kDefaultResults = 25;
constexpr int kMaxResults = 10000;  // FusionAuth's default search.maxResults

bool StartsWith(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

FakeResponse JsonAnswer(int status, const json& body) {
  FakeResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

FakeResponse FieldError(const std::string& field, const std::string& code, const std::string& message) {
  return JsonAnswer(400, {{"fieldErrors", {{field, json::array({{{"code", code + field}, {"message", message}}})}}}});
}

FakeResponse GeneralError(int status, const std::string& code, std::string_view message) {
  return JsonAnswer(status, {{"generalErrors", json::array({{{"code", code}, {"message", message}}})}});
}

// A user's value for a sort field (validated before).
json SortValue(const FusionAuthUser& u, const std::string& field) {
  if (field == "insertInstant") return u.insert_instant;
  if (field == "lastUpdateInstant") return u.last_update_instant;
  if (field == "email") return u.email;
  return u.id;
}

struct SortField {
  std::string name;
  bool descending = false;
};

// Whether (values_a, id_a) comes before (values_b, id_b) in `sort` order, then id ascending.
bool Before(const std::vector<SortField>& sort, const std::vector<json>& a, const std::string& id_a,
            const std::vector<json>& b, const std::string& id_b) {
  for (size_t i = 0; i < sort.size(); ++i) {
    if (a[i] == b[i]) continue;
    return sort[i].descending ? b[i] < a[i] : a[i] < b[i];
  }
  return id_a < id_b;
}

}  // namespace

json FusionAuthUserJson(const FusionAuthUser& u) {
  json out = {{"id", u.id},
              {"tenantId", u.tenant_id},
              {"email", u.email},
              {"fullName", u.full_name},
              {"active", u.active},
              {"verified", u.verified},
              {"insertInstant", u.insert_instant},
              {"lastUpdateInstant", u.last_update_instant},
              {"passwordChangeRequired", false},
              {"usernameStatus", "ACTIVE"},
              {"twoFactor", json::object()},
              {"data", json::object()},
              {"registrations", u.registrations},
              {"memberships", u.memberships}};
  size_t space = u.full_name.find(' ');
  if (!u.full_name.empty()) out["firstName"] = u.full_name.substr(0, space);
  if (space != std::string::npos && space + 1 < u.full_name.size()) out["lastName"] = u.full_name.substr(space + 1);
  if (!u.username.empty()) out["username"] = u.username;
  return out;
}

FakeFusionAuth::FakeFusionAuth(Options options)
    : FakeProvider(options.api_key, options.admin_endpoints, options.clock),
      default_tenant_(options.tenant_id),
      state_(std::make_unique<State>()) {
  state_->tenants.insert(default_tenant_);
  StartServer();
}

FakeFusionAuth::~FakeFusionAuth() { StopServer(); }

void FakeFusionAuth::AddTenant(const std::string& tenant_id) {
  std::lock_guard lock(state_->mu);
  state_->tenants.insert(tenant_id);
}

std::string FakeFusionAuth::UpsertUser(FusionAuthUser user) {
  if (user.id.empty()) user.id = MakeUuid();
  if (user.tenant_id.empty()) user.tenant_id = default_tenant_;
  if (user.insert_instant == 0 && user.last_update_instant == 0) {
    user.insert_instant = std::chrono::duration_cast<std::chrono::milliseconds>(Now().time_since_epoch()).count();
  }
  if (user.insert_instant == 0) user.insert_instant = user.last_update_instant;
  if (user.last_update_instant == 0) user.last_update_instant = user.insert_instant;
  std::string id = user.id;
  std::lock_guard lock(state_->mu);
  if (!state_->tenants.contains(user.tenant_id)) {
    throw std::invalid_argument("FakeFusionAuth: no tenant " + user.tenant_id);
  }
  state_->users[id] = std::move(user);
  return id;
}

bool FakeFusionAuth::SetActive(const std::string& id, bool active, int64_t last_update_instant) {
  std::lock_guard lock(state_->mu);
  auto it = state_->users.find(id);
  if (it == state_->users.end()) return false;
  it->second.active = active;
  it->second.last_update_instant = last_update_instant;
  return true;
}

bool FakeFusionAuth::DeleteUser(const std::string& id) {
  std::lock_guard lock(state_->mu);
  return state_->users.erase(id) > 0;
}

std::optional<FusionAuthUser> FakeFusionAuth::User(const std::string& id) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->users.find(id);
  if (it == state_->users.end()) return std::nullopt;
  return it->second;
}

FakeResponse FakeFusionAuth::Error(int status, std::string_view message, const FakeRequest&) {
  if (status == 401 || status == 404) {
    FakeResponse r;  // FusionAuth answers both with an empty body
    r.status = status;
    r.content_type.clear();
    return r;
  }
  if (status == 504) {
    return GeneralError(504, "[WebhookTransactionException]",
                        "One or more webhooks returned an invalid response or were unreachable. Based on your "
                        "transaction configuration, your action cannot be completed.");
  }
  std::string code = status == 429   ? "[TooManyRequests]"
                     : status == 503 ? "[ServiceUnavailable]"
                     : status >= 500 ? "[InternalError]"
                                     : "[InvalidRequest]";
  return GeneralError(status, code, message);
}

FakeResponse FakeFusionAuth::Serve(const FakeRequest& request) {
  auto key = request.headers.find("authorization");
  if (key == request.headers.end() || !CredentialIs(key->second)) return Error(401, "", request);

  std::string tenant_id;
  {
    auto header = request.headers.find("x-fusionauth-tenantid");
    std::lock_guard lock(state_->mu);
    if (header != request.headers.end() && !header->second.empty()) {
      if (state_->tenants.contains(header->second)) tenant_id = header->second;
    } else if (state_->tenants.size() == 1) {
      tenant_id = *state_->tenants.begin();
    }
  }
  if (tenant_id.empty()) {
    return GeneralError(400, "[TenantIdRequired]",
                        "A tenant Id is required: send the X-FusionAuth-TenantId header naming an existing tenant.");
  }

  constexpr std::string_view kUser = "/api/user/";
  if (request.path == "/api/user/search") {
    if (request.method != "POST") return Error(404, "", request);
    return Search(request, tenant_id);
  }
  if (StartsWith(request.path, kUser) && request.path.size() > kUser.size() &&
      request.path.find('/', kUser.size()) == std::string::npos) {
    if (request.method != "GET") return Error(404, "", request);
    std::string id = PercentDecode(request.path.substr(kUser.size()), false);
    std::lock_guard lock(state_->mu);
    auto it = state_->users.find(id);
    if (it == state_->users.end() || it->second.tenant_id != tenant_id) return Error(404, "", request);
    return JsonAnswer(200, {{"user", FusionAuthUserJson(it->second)}});
  }
  return Error(404, "", request);
}

FakeResponse FakeFusionAuth::Search(const FakeRequest& request, const std::string& tenant_id) {
  json body = json::parse(request.body, nullptr, false);
  if (!body.is_object() || !body.contains("search") || !body["search"].is_object()) {
    return FieldError("search", "[missing]", "The request body must be {\"search\": {...}}.");
  }
  const json& search = body["search"];

  int results = kDefaultResults;
  if (search.contains("numberOfResults")) {
    const json& n = search["numberOfResults"];
    if (!n.is_number_integer() || n.get<int64_t>() < 1 || n.get<int64_t>() > kMaxResults) {
      return FieldError("search.numberOfResults", "[invalid]", "numberOfResults must be between 1 and 10000.");
    }
    results = n.get<int>();
  }

  std::vector<SortField> sort;
  std::optional<std::pair<std::vector<json>, std::string>> after;  // nextResults: the last user's key
  int start_row = 0;
  int page = 0;
  if (search.contains("nextResults") && search["nextResults"].is_string() &&
      !search["nextResults"].get<std::string>().empty()) {
    std::optional<std::string> text = DecodeCursorToken(search["nextResults"].get<std::string>());
    json token = text ? json::parse(*text, nullptr, false) : json();
    bool valid = token.is_object() && token.contains("s") && token["s"].is_array() && token.contains("v") &&
                 token["v"].is_array() && token["v"].size() == token["s"].size() && token.contains("i") &&
                 token["i"].is_string() && token.contains("p") && token["p"].is_number_integer();
    if (valid) {
      for (const json& field : token["s"]) {
        if (!field.is_array() || field.size() != 2 || !field[0].is_string() || !field[1].is_boolean()) {
          valid = false;
          break;
        }
        sort.push_back({field[0].get<std::string>(), field[1].get<bool>()});
      }
    }
    if (!valid) return FieldError("search.nextResults", "[invalid]", "nextResults is not a token this server issued.");
    after.emplace(token["v"].get<std::vector<json>>(), token["i"].get<std::string>());
    page = token["p"].get<int>();
    if (!search.contains("numberOfResults") && token.contains("n") && token["n"].is_number_integer()) {
      results = token["n"].get<int>();
    }
  } else {
    if (!search.contains("queryString") || !search["queryString"].is_string()) {
      return FieldError("search.queryString", "[missing]", "This fake supports only queryString \"*\".");
    }
    if (search["queryString"].get<std::string>() != "*") {
      return FieldError("search.queryString", "[unsupported]", "This fake supports only queryString \"*\".");
    }
    if (search.contains("startRow")) {
      const json& s = search["startRow"];
      if (!s.is_number_integer() || s.get<int64_t>() < 0 || s.get<int64_t>() > 1'000'000'000) {
        return FieldError("search.startRow", "[invalid]", "startRow must be a non-negative integer.");
      }
      start_row = s.get<int>();
    }
    if (search.contains("sortFields")) {
      const json& fields = search["sortFields"];
      if (!fields.is_array()) return FieldError("search.sortFields", "[invalid]", "sortFields must be an array.");
      for (const json& field : fields) {
        std::string name = field.is_object() ? field.value("name", "") : "";
        std::string order = field.is_object() ? field.value("order", "asc") : "";
        if ((name != "insertInstant" && name != "lastUpdateInstant" && name != "email" && name != "id") ||
            (order != "asc" && order != "desc")) {
          return FieldError("search.sortFields", "[invalid]",
                            "This fake sorts by insertInstant, lastUpdateInstant, email or id, asc or desc.");
        }
        sort.push_back({name, order == "desc"});
      }
    }
    if (sort.empty()) sort.push_back({"insertInstant", false});
    page = start_row / results;
  }
  if (std::optional<int> status = PageFault(request.path, page)) {
    return Error(*status, "injected fault on page " + std::to_string(page), request);
  }

  struct Row {
    std::vector<json> key;
    std::string id;
    json user;
  };
  std::vector<Row> rows;
  {
    std::lock_guard lock(state_->mu);
    for (const auto& [id, user] : state_->users) {
      if (user.tenant_id != tenant_id) continue;
      Row row{{}, id, FusionAuthUserJson(user)};
      for (const SortField& field : sort) row.key.push_back(SortValue(user, field.name));
      rows.push_back(std::move(row));
    }
  }
  std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) { return Before(sort, a.key, a.id, b.key, b.id); });
  const size_t total = rows.size();
  size_t begin = 0;
  if (after) {
    begin = static_cast<size_t>(
        std::find_if(rows.begin(), rows.end(),
                     [&](const Row& r) { return Before(sort, after->first, after->second, r.key, r.id); }) -
        rows.begin());
  } else {
    begin = std::min(total, static_cast<size_t>(start_row));
  }
  const size_t end = std::min(total, begin + static_cast<size_t>(results));
  json users = json::array();
  for (size_t i = begin; i < end; ++i) users.push_back(std::move(rows[i].user));
  json answer = {{"total", total}, {"users", std::move(users)}};
  if (end < total) {
    json fields = json::array();
    for (const SortField& field : sort) fields.push_back({field.name, field.descending});
    json token = {{"s", fields}, {"v", rows[end - 1].key}, {"i", rows[end - 1].id}, {"p", page + 1}, {"n", results}};
    if (end > begin) answer["nextResults"] = EncodeCursorToken(token.dump());
  }
  return JsonAnswer(200, answer);
}

FakeResponse FakeFusionAuth::Admin(const FakeRequest& request) {
  constexpr std::string_view kAdminPrefix = "/_fake/fusionauth/";
  if (!StartsWith(request.path, kAdminPrefix)) return JsonAnswer(404, {{"error", "no such admin endpoint"}});
  std::string action = request.path.substr(kAdminPrefix.size());
  if (request.method != "POST") return JsonAnswer(405, {{"error", "admin endpoints take POST"}});
  json body = json::parse(request.body.empty() ? std::string("{}") : request.body, nullptr, false);
  if (!body.is_object()) return JsonAnswer(400, {{"error", "the body must be a JSON object"}});
  std::string user_id = body.contains("user") && body["user"].is_string() ? body["user"].get<std::string>() : "";
  if (user_id.empty()) return JsonAnswer(400, {{"error", "user is required"}});
  if (action != "deactivate" && action != "reactivate") return JsonAnswer(404, {{"error", "no such admin endpoint"}});
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(Now().time_since_epoch()).count();
  if (!SetActive(user_id, action == "reactivate", now)) return JsonAnswer(404, {{"error", "no such user"}});
  std::optional<FusionAuthUser> user = User(user_id);
  if (!user) return JsonAnswer(404, {{"error", "no such user"}});
  return JsonAnswer(200, {{"user", FusionAuthUserJson(*user)}});
}

}  // namespace mm::testing
