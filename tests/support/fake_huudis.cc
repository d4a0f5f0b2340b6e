#include "fake_huudis.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <utility>

namespace mm::testing {

using nlohmann::json;

struct FakeHuudis::Workspace {
  std::string name;
  std::map<std::string, HuudisMember> members;
  std::map<std::string, HuudisEndUser> end_users;
  std::vector<HuudisAuditEntry> audit;  // in insertion order; sorted when listed
  std::set<std::string> audit_ids;
};

struct FakeHuudis::State {
  mutable std::mutex mu;
  HuudisPageShape page_shape;                     // guarded by mu
  std::map<std::string, Workspace> workspaces;    // guarded by mu
};

namespace {

constexpr int kDefaultLimit = 25;
constexpr int kMaxLimit = 100;
// The acting user of admin-endpoint changes that name none: the operator of the fixtures
// (tests/fixtures/huudis.audit-log.page.json, disabledBy).
constexpr char kAdminOperator[] = "usr_01KBMF8Q60H0WWZ4KGT675KR39";

bool StartsWith(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

json TimeOrNull(const std::optional<TimePoint>& t) {
  return t ? json(FormatRfc3339Millis(*t)) : json(nullptr);
}

std::string_view ErrorCode(int status) {
  switch (status) {
    case 400: return "INVALID_REQUEST";
    case 401: return "UNAUTHORIZED";
    case 403: return "FORBIDDEN";
    case 404: return "NOT_FOUND";
    case 409: return "CONFLICT";
    case 429: return "RATE_LIMITED";
    default: return status >= 500 ? "INTERNAL" : "INVALID_REQUEST";
  }
}

json MemberJson(const HuudisMember& m) {
  json groups = json::array();
  for (const auto& g : m.groups) groups.push_back({{"id", g.id}, {"name", g.name}});
  return {{"id", m.id},
          {"email", m.email},
          {"name", m.name},
          {"emailVerified", m.email_verified},
          {"role", m.role},
          {"joinedAt", FormatRfc3339Millis(m.joined_at)},
          {"lastLoginAt", TimeOrNull(m.last_login_at)},
          {"createdAt", FormatRfc3339Millis(m.created_at.value_or(m.joined_at))},
          {"isYou", m.is_you},
          {"groups", std::move(groups)}};
}

json EndUserJson(const HuudisEndUser& u) {
  return {{"id", u.id},
          {"email", u.email},
          {"name", u.name},
          {"emailVerified", u.email_verified},
          {"disabled", u.disabled},
          {"createdAt", FormatRfc3339Millis(u.created_at.value_or(u.first_sign_in_at))},
          {"lastLoginAt", TimeOrNull(u.last_login_at)},
          {"firstSignInAt", FormatRfc3339Millis(u.first_sign_in_at)},
          {"clientCount", u.client_count}};
}

// One listable item: its sort key (microseconds) and id, and its JSON.
struct Row {
  int64_t key;
  std::string id;
  json item;
};

// Where a walk stands: after the item (key, id), at page `page` (0 for the first page).
struct Cursor {
  int64_t key = 0;
  std::string id;
  int page = 0;
};

std::string EncodeCursor(std::string_view list, const Row& last, int next_page) {
  json c = {{"l", list}, {"k", last.key}, {"i", last.id}, {"p", next_page}};
  return "hc_" + EncodeCursorToken(c.dump());
}

std::optional<Cursor> DecodeCursor(std::string_view list, std::string_view token) {
  if (!StartsWith(token, "hc_")) return std::nullopt;
  std::optional<std::string> text = DecodeCursorToken(token.substr(3));
  if (!text) return std::nullopt;
  json c = json::parse(*text, nullptr, false);
  if (!c.is_object() || c.value("l", "") != list || !c.contains("k") || !c["k"].is_number_integer() ||
      !c.contains("i") || !c["i"].is_string() || !c.contains("p") || !c["p"].is_number_integer()) {
    return std::nullopt;
  }
  return Cursor{c["k"].get<int64_t>(), c["i"].get<std::string>(), c["p"].get<int>()};
}

HuudisAuditEntry MakeEntry(std::string event_type, TimePoint at, json metadata, std::string actor,
                           std::string resource) {
  HuudisAuditEntry e;
  e.event_type = std::move(event_type);
  e.created_at = at;
  e.metadata = std::move(metadata);
  e.actor = std::move(actor);
  e.resource = std::move(resource);
  return e;
}

}  // namespace

json HuudisAuditEntryJson(const HuudisAuditEntry& e, const std::string& account_id) {
  if (e.shape == HuudisAuditShape::kGo) {
    return {{"id", e.id},           {"accountId", account_id}, {"actor", e.actor},
            {"action", e.event_type}, {"resource", e.resource},  {"outcome", e.outcome},
            {"details", e.metadata},  {"timestamp", FormatRfc3339Millis(e.created_at)}};
  }
  return {{"id", e.id},
          {"eventType", e.event_type},
          {"outcome", e.outcome},
          {"createdAt", FormatRfc3339Millis(e.created_at)},
          {"ipAddress", e.ip_address},
          {"metadata", e.metadata}};
}

// --- Builders. ---

HuudisAuditEntry HuudisEndUserDisabledEntry(const std::string& user_id, const std::string& email, TimePoint at,
                                            const std::string& disabled_by, const std::string& reason) {
  json m = {{"id", user_id}, {"email", email}, {"disabledAt", FormatRfc3339Millis(at)}, {"disabledBy", disabled_by}};
  if (!reason.empty()) m["reason"] = reason;
  return MakeEntry("ops.end_user.disabled", at, std::move(m), disabled_by, user_id);
}

HuudisAuditEntry HuudisEndUserEnabledEntry(const std::string& user_id, const std::string& email, TimePoint at,
                                           const std::string& enabled_by) {
  json m = {{"id", user_id}, {"email", email}, {"enabledAt", FormatRfc3339Millis(at)}, {"enabledBy", enabled_by}};
  return MakeEntry("ops.end_user.enabled", at, std::move(m), enabled_by, user_id);
}

HuudisAuditEntry HuudisMemberAddedEntry(const std::string& account_id, const std::string& user_id,
                                        const std::string& user_email, const std::string& role, TimePoint at,
                                        const std::string& added_via, const std::string& added_by_user_id) {
  json m = {{"accountId", account_id}, {"userId", user_id},     {"userEmail", user_email},
            {"role", role},            {"addedVia", added_via}, {"addedByUserId", added_by_user_id}};
  return MakeEntry("account.member_added", at, std::move(m), added_by_user_id, user_id);
}

HuudisAuditEntry HuudisMemberRemovedEntry(const std::string& account_id, const std::string& user_id,
                                          const std::string& user_email, const std::string& role, TimePoint at,
                                          const std::string& actor_user_id) {
  json m = {{"accountId", account_id}, {"userId", user_id}, {"userEmail", user_email},
            {"role", role},            {"actorUserId", actor_user_id}};
  return MakeEntry("account.member_removed", at, std::move(m), actor_user_id, user_id);
}

HuudisAuditEntry HuudisMemberRoleChangedEntry(const std::string& account_id, const std::string& user_id,
                                              const std::string& previous_role, const std::string& role,
                                              TimePoint at, const std::string& changed_by_user_id) {
  json m = {{"accountId", account_id}, {"userId", user_id}, {"previousRole", previous_role},
            {"role", role},            {"changedByUserId", changed_by_user_id}};
  return MakeEntry("account.member_role_changed", at, std::move(m), changed_by_user_id, user_id);
}

HuudisAuditEntry HuudisSignupEntry(const std::string& user_id, const std::string& email, const std::string& name,
                                   TimePoint at) {
  json m = {{"id", user_id}, {"email", email}, {"name", name}};
  return MakeEntry("auth.signup", at, std::move(m), user_id, user_id);
}

HuudisAuditEntry HuudisWorkspaceCreatedEntry(const std::string& account_id, const std::string& name, TimePoint at) {
  json m = {{"id", account_id}, {"name", name}};
  return MakeEntry("account.workspace_created", at, std::move(m), "", account_id);
}

HuudisAuditEntry HuudisFailedEntry(const std::string& event_type, TimePoint at, json metadata) {
  HuudisAuditEntry e = MakeEntry(event_type, at, std::move(metadata), "", "");
  e.outcome = "failure";
  return e;
}

// --- FakeHuudis. ---

FakeHuudis::FakeHuudis(Options options)
    : FakeProvider(options.token, options.admin_endpoints, options.clock),
      path_prefix_(options.path_prefix),
      state_(std::make_unique<State>()) {
  state_->page_shape = options.page_shape;
  StartServer();
}

FakeHuudis::~FakeHuudis() { StopServer(); }

std::string FakeHuudis::base_url() const { return FakeProvider::base_url() + path_prefix_; }

void FakeHuudis::set_page_shape(HuudisPageShape shape) {
  std::lock_guard lock(state_->mu);
  state_->page_shape = shape;
}

namespace {

template <class Map>
auto& Find(Map& workspaces, const std::string& account_id) {
  auto it = workspaces.find(account_id);
  if (it == workspaces.end()) throw std::invalid_argument("FakeHuudis: no workspace " + account_id);
  return it->second;
}

}  // namespace

void FakeHuudis::AddWorkspace(const std::string& account_id, const std::string& name) {
  std::lock_guard lock(state_->mu);
  Workspace& w = state_->workspaces[account_id];
  if (!name.empty()) w.name = name;
}

void FakeHuudis::UpsertMember(const std::string& account_id, HuudisMember member) {
  member.joined_at = TruncateToMillis(member.joined_at);
  std::lock_guard lock(state_->mu);
  Workspace& w = Find(state_->workspaces, account_id);
  std::string id = member.id;
  w.members[id] = std::move(member);
}

bool FakeHuudis::RemoveMember(const std::string& account_id, const std::string& user_id) {
  std::lock_guard lock(state_->mu);
  return Find(state_->workspaces, account_id).members.erase(user_id) > 0;
}

bool FakeHuudis::SetMemberRole(const std::string& account_id, const std::string& user_id, const std::string& role) {
  std::lock_guard lock(state_->mu);
  Workspace& w = Find(state_->workspaces, account_id);
  auto it = w.members.find(user_id);
  if (it == w.members.end()) return false;
  it->second.role = role;
  return true;
}

void FakeHuudis::UpsertEndUser(const std::string& account_id, HuudisEndUser user) {
  user.first_sign_in_at = TruncateToMillis(user.first_sign_in_at);
  std::lock_guard lock(state_->mu);
  Workspace& w = Find(state_->workspaces, account_id);
  std::string id = user.id;
  w.end_users[id] = std::move(user);
}

bool FakeHuudis::RemoveEndUser(const std::string& account_id, const std::string& user_id) {
  std::lock_guard lock(state_->mu);
  return Find(state_->workspaces, account_id).end_users.erase(user_id) > 0;
}

bool FakeHuudis::SetEndUserDisabled(const std::string& account_id, const std::string& user_id, bool disabled) {
  std::lock_guard lock(state_->mu);
  Workspace& w = Find(state_->workspaces, account_id);
  auto it = w.end_users.find(user_id);
  if (it == w.end_users.end()) return false;
  it->second.disabled = disabled;
  return true;
}

HuudisAuditEntry FakeHuudis::AddAuditEntry(const std::string& account_id, HuudisAuditEntry entry) {
  entry.created_at = TruncateToMillis(entry.created_at);
  if (entry.id.empty()) entry.id = "aud_" + MakeUlid(entry.created_at);
  std::lock_guard lock(state_->mu);
  Workspace& w = Find(state_->workspaces, account_id);
  if (!w.audit_ids.insert(entry.id).second) {
    throw std::invalid_argument("FakeHuudis: audit entry " + entry.id + " is already in " + account_id);
  }
  w.audit.push_back(entry);
  return entry;
}

std::optional<HuudisMember> FakeHuudis::Member(const std::string& account_id, const std::string& user_id) const {
  std::lock_guard lock(state_->mu);
  const Workspace& w = Find(state_->workspaces, account_id);
  auto it = w.members.find(user_id);
  if (it == w.members.end()) return std::nullopt;
  return it->second;
}

std::optional<HuudisEndUser> FakeHuudis::EndUser(const std::string& account_id, const std::string& user_id) const {
  std::lock_guard lock(state_->mu);
  const Workspace& w = Find(state_->workspaces, account_id);
  auto it = w.end_users.find(user_id);
  if (it == w.end_users.end()) return std::nullopt;
  return it->second;
}

namespace {

bool NewerFirst(const HuudisAuditEntry& a, const HuudisAuditEntry& b) {
  if (a.created_at != b.created_at) return a.created_at > b.created_at;
  return a.id > b.id;
}

}  // namespace

std::vector<HuudisAuditEntry> FakeHuudis::AuditLog(const std::string& account_id) const {
  std::lock_guard lock(state_->mu);
  std::vector<HuudisAuditEntry> out = Find(state_->workspaces, account_id).audit;
  std::sort(out.begin(), out.end(), NewerFirst);
  return out;
}

// --- Happenings: one lock for the entry and the change, so a poll sees both or neither. ---

namespace {

// The user's email from any list of the workspace, else from any other workspace.
template <class Workspaces>
std::string EmailOf(const Workspaces& workspaces, const std::string& account_id, const std::string& user_id) {
  auto from = [&](const auto& w) -> std::string {
    if (auto it = w.end_users.find(user_id); it != w.end_users.end()) return it->second.email;
    if (auto it = w.members.find(user_id); it != w.members.end()) return it->second.email;
    return "";
  };
  if (auto it = workspaces.find(account_id); it != workspaces.end()) {
    if (std::string email = from(it->second); !email.empty()) return email;
  }
  for (const auto& [id, w] : workspaces) {
    if (std::string email = from(w); !email.empty()) return email;
  }
  return "";
}

}  // namespace

namespace {

// Fills in the happening's shape and id and appends the entry to the workspace's log.
template <class Workspace>
void Append(Workspace& w, HuudisAuditEntry& e, const FakeHuudis::Happening& happening) {
  e.shape = happening.shape;
  e.created_at = TruncateToMillis(e.created_at);
  e.id = happening.audit_id.empty() ? "aud_" + MakeUlid(e.created_at) : happening.audit_id;
  if (!w.audit_ids.insert(e.id).second) throw std::invalid_argument("FakeHuudis: duplicate audit id " + e.id);
  w.audit.push_back(e);
}

}  // namespace

HuudisAuditEntry FakeHuudis::RecordEndUserDisabled(const std::string& account_id, const std::string& user_id,
                                                   const std::string& reason, const Happening& happening) {
  TimePoint at = TruncateToMillis(happening.at.value_or(Now()));
  std::lock_guard lock(state_->mu);
  Workspace& w = Find(state_->workspaces, account_id);
  HuudisAuditEntry e =
      HuudisEndUserDisabledEntry(user_id, EmailOf(state_->workspaces, account_id, user_id), at, happening.by, reason);
  Append(w, e, happening);
  if (happening.apply) {
    for (auto& [id, other] : state_->workspaces) {
      if (auto it = other.end_users.find(user_id); it != other.end_users.end()) it->second.disabled = true;
    }
  }
  return e;
}

HuudisAuditEntry FakeHuudis::RecordEndUserEnabled(const std::string& account_id, const std::string& user_id,
                                                  const Happening& happening) {
  TimePoint at = TruncateToMillis(happening.at.value_or(Now()));
  std::lock_guard lock(state_->mu);
  Workspace& w = Find(state_->workspaces, account_id);
  HuudisAuditEntry e =
      HuudisEndUserEnabledEntry(user_id, EmailOf(state_->workspaces, account_id, user_id), at, happening.by);
  Append(w, e, happening);
  if (happening.apply) {
    for (auto& [id, other] : state_->workspaces) {
      if (auto it = other.end_users.find(user_id); it != other.end_users.end()) it->second.disabled = false;
    }
  }
  return e;
}

HuudisAuditEntry FakeHuudis::RecordMemberAdded(const std::string& account_id, HuudisMember member,
                                               const std::string& added_via, const Happening& happening) {
  TimePoint at = TruncateToMillis(happening.at.value_or(Now()));
  std::lock_guard lock(state_->mu);
  Workspace& w = Find(state_->workspaces, account_id);
  HuudisAuditEntry e =
      HuudisMemberAddedEntry(account_id, member.id, member.email, member.role, at, added_via, happening.by);
  Append(w, e, happening);
  if (happening.apply) {
    member.joined_at = at;
    std::string id = member.id;
    w.members[id] = std::move(member);
  }
  return e;
}

HuudisAuditEntry FakeHuudis::RecordMemberRemoved(const std::string& account_id, const std::string& user_id,
                                                 const Happening& happening) {
  TimePoint at = TruncateToMillis(happening.at.value_or(Now()));
  std::lock_guard lock(state_->mu);
  Workspace& w = Find(state_->workspaces, account_id);
  std::string role;
  if (auto it = w.members.find(user_id); it != w.members.end()) role = it->second.role;
  HuudisAuditEntry e = HuudisMemberRemovedEntry(account_id, user_id, EmailOf(state_->workspaces, account_id, user_id),
                                                role, at, happening.by);
  Append(w, e, happening);
  if (happening.apply) w.members.erase(user_id);
  return e;
}

HuudisAuditEntry FakeHuudis::RecordMemberRoleChanged(const std::string& account_id, const std::string& user_id,
                                                     const std::string& role, const Happening& happening) {
  TimePoint at = TruncateToMillis(happening.at.value_or(Now()));
  std::lock_guard lock(state_->mu);
  Workspace& w = Find(state_->workspaces, account_id);
  std::string previous;
  auto member = w.members.find(user_id);
  if (member != w.members.end()) previous = member->second.role;
  HuudisAuditEntry e = HuudisMemberRoleChangedEntry(account_id, user_id, previous, role, at, happening.by);
  Append(w, e, happening);
  if (happening.apply && member != w.members.end()) member->second.role = role;
  return e;
}

HuudisAuditEntry FakeHuudis::RecordSignup(const std::string& account_id, const std::string& user_id,
                                          const std::string& email, const std::string& name,
                                          const Happening& happening) {
  TimePoint at = TruncateToMillis(happening.at.value_or(Now()));
  std::lock_guard lock(state_->mu);
  Workspace& w = Find(state_->workspaces, account_id);
  HuudisAuditEntry e = HuudisSignupEntry(user_id, email, name, at);
  Append(w, e, happening);
  return e;
}

HuudisAuditEntry FakeHuudis::RecordWorkspaceCreated(const std::string& account_id, const std::string& name,
                                                    const Happening& happening) {
  TimePoint at = TruncateToMillis(happening.at.value_or(Now()));
  std::lock_guard lock(state_->mu);
  Workspace& w = state_->workspaces[account_id];
  if (!name.empty()) w.name = name;
  HuudisAuditEntry e = HuudisWorkspaceCreatedEntry(account_id, name, at);
  e.actor = happening.by;
  Append(w, e, happening);
  return e;
}

HuudisAuditEntry FakeHuudis::RecordFailure(const std::string& account_id, const std::string& event_type,
                                           json metadata, const Happening& happening) {
  TimePoint at = TruncateToMillis(happening.at.value_or(Now()));
  std::lock_guard lock(state_->mu);
  Workspace& w = Find(state_->workspaces, account_id);
  HuudisAuditEntry e = HuudisFailedEntry(event_type, at, std::move(metadata));
  e.actor = happening.by;
  Append(w, e, happening);
  return e;
}

// --- Serving. ---

FakeResponse FakeHuudis::Error(int status, std::string_view message, const FakeRequest&) {
  TimePoint now = Now();
  json body = {{"data", nullptr},
               {"error", {{"code", ErrorCode(status)}, {"message", message}}},
               {"meta", {{"requestId", "req_" + MakeUlid(now)}, {"timestamp", FormatRfc3339Millis(now)}}}};
  FakeResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

FakeResponse FakeHuudis::Serve(const FakeRequest& request) {
  if (!StartsWith(request.path, path_prefix_)) return Error(404, "no such route", request);
  std::string_view route = std::string_view(request.path).substr(path_prefix_.size());

  auto auth = request.headers.find("authorization");
  std::string_view presented = auth == request.headers.end() ? std::string_view() : std::string_view(auth->second);
  if (Lower(presented.substr(0, 7)) != "bearer " || !CredentialIs(presented.substr(7))) {
    return Error(401, "missing or invalid access token", request);
  }
  auto workspace_header = request.headers.find("x-huudis-workspace-id");
  if (workspace_header == request.headers.end() || workspace_header->second.empty()) {
    return Error(403, "X-Huudis-Workspace-Id is required", request);
  }
  const std::string& account_id = workspace_header->second;
  {
    std::lock_guard lock(state_->mu);
    if (!state_->workspaces.contains(account_id)) {
      return Error(403, "the caller has no access to workspace " + account_id, request);
    }
  }

  enum class List { kAudit, kMembers, kEndUsers };
  List list;
  std::string_view list_name;
  if (route == "/v1/account/audit") {
    list = List::kAudit;
    list_name = "audit";
  } else if (route == "/v1/iam/users") {
    list = List::kMembers;
    list_name = "members";
  } else if (route == "/v1/ops/end-users") {
    list = List::kEndUsers;
    list_name = "end_users";
  } else {
    return Error(404, "no such route: " + request.method + " " + request.path, request);
  }
  if (request.method != "GET") return Error(404, "no such route: " + request.method + " " + request.path, request);

  auto query = [&](const char* name) -> std::optional<std::string> {
    auto it = request.query.find(name);
    if (it == request.query.end()) return std::nullopt;
    return it->second;
  };

  int limit = kDefaultLimit;
  if (auto text = query("limit")) {
    std::optional<int> parsed = ParseSmallInt(*text);
    if (!parsed || *parsed < 1) return Error(400, "limit must be a positive integer", request);
    limit = std::min(*parsed, kMaxLimit);
  }
  std::optional<Cursor> cursor;
  if (auto text = query("cursor"); text && !text->empty()) {
    cursor = DecodeCursor(list_name, *text);
    if (!cursor) return Error(400, "invalid cursor", request);
  }
  std::optional<TimePoint> since, until;
  std::optional<std::string> event, outcome, search;
  if (list == List::kAudit) {
    if (auto text = query("since"); text && !text->empty()) {
      since = ParseRfc3339(*text);
      if (!since) return Error(400, "since must be an RFC 3339 timestamp", request);
    }
    if (auto text = query("until"); text && !text->empty()) {
      until = ParseRfc3339(*text);
      if (!until) return Error(400, "until must be an RFC 3339 timestamp", request);
    }
    if (auto text = query("event"); text && !text->empty()) event = *text;
    if (auto text = query("outcome"); text && !text->empty()) {
      if (*text != "success" && *text != "failure" && *text != "denied") {
        return Error(400, "outcome must be success, failure or denied", request);
      }
      outcome = *text;
    }
  }
  if (list == List::kEndUsers) {
    if (auto text = query("search"); text && !text->empty()) search = Lower(*text);
  }
  int page = cursor ? cursor->page : 0;
  if (std::optional<int> status = PageFault(request.path, page)) {
    return Error(*status, "injected fault on page " + std::to_string(page), request);
  }

  // Rows in listing order; `descending` says which way the (key, id) order runs.
  std::vector<Row> rows;
  bool descending = list != List::kMembers;
  HuudisPageShape shape;
  {
    std::lock_guard lock(state_->mu);
    shape = state_->page_shape;
    const Workspace& w = state_->workspaces.at(account_id);
    switch (list) {
      case List::kAudit:
        for (const HuudisAuditEntry& e : w.audit) {
          if (since && e.created_at < *since) continue;
          if (until && e.created_at >= *until) continue;
          if (event && e.event_type != *event) continue;
          if (outcome && e.outcome != *outcome) continue;
          rows.push_back({ToUnixMicros(e.created_at), e.id, HuudisAuditEntryJson(e, account_id)});
        }
        break;
      case List::kMembers:
        for (const auto& [id, m] : w.members) rows.push_back({ToUnixMicros(m.joined_at), id, MemberJson(m)});
        break;
      case List::kEndUsers:
        for (const auto& [id, u] : w.end_users) {
          if (search && Lower(u.email).find(*search) == std::string::npos &&
              Lower(u.name).find(*search) == std::string::npos) {
            continue;
          }
          rows.push_back({ToUnixMicros(u.first_sign_in_at), id, EndUserJson(u)});
        }
        break;
    }
  }
  auto before = [descending](int64_t key_a, const std::string& id_a, int64_t key_b, const std::string& id_b) {
    if (key_a != key_b) return descending ? key_a > key_b : key_a < key_b;
    return descending ? id_a > id_b : id_a < id_b;
  };
  std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) { return before(a.key, a.id, b.key, b.id); });
  auto first = rows.begin();
  if (cursor) {
    first = std::find_if(rows.begin(), rows.end(),
                         [&](const Row& r) { return before(cursor->key, cursor->id, r.key, r.id); });
  }
  auto last = first + std::min<std::ptrdiff_t>(limit, rows.end() - first);
  bool has_more = last != rows.end();
  json items = json::array();
  for (auto it = first; it != last; ++it) items.push_back(std::move(it->item));
  json next = has_more ? json(EncodeCursor(list_name, *(last - 1), page + 1)) : json(nullptr);

  json body;
  if (shape == HuudisPageShape::kItems) {
    body = {{"items", std::move(items)}, {"nextCursor", std::move(next)}};
  } else {
    TimePoint now = Now();
    body = {{"data", std::move(items)},
            {"error", nullptr},
            {"meta",
             {{"requestId", "req_" + MakeUlid(now)},
              {"timestamp", FormatRfc3339Millis(now)},
              {"cursor", std::move(next)},
              {"hasMore", has_more}}}};
  }
  FakeResponse r;
  r.body = body.dump();
  return r;
}

// --- Admin endpoints. ---

FakeResponse FakeHuudis::Admin(const FakeRequest& request) {
  auto answer = [](int status, json body) {
    FakeResponse r;
    r.status = status;
    r.body = body.dump();
    return r;
  };
  constexpr std::string_view kAdminPrefix = "/_fake/huudis/";
  if (!StartsWith(request.path, kAdminPrefix)) return answer(404, {{"error", "no such admin endpoint"}});
  std::string action = request.path.substr(kAdminPrefix.size());
  if (request.method != "POST") return answer(405, {{"error", "admin endpoints take POST"}});
  json body = json::parse(request.body.empty() ? std::string("{}") : request.body, nullptr, false);
  if (!body.is_object()) return answer(400, {{"error", "the body must be a JSON object"}});
  auto text = [&](const char* name) -> std::string {
    auto it = body.find(name);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string account_id = text("workspace");
  std::string user_id = text("user");
  if (account_id.empty() || user_id.empty()) return answer(400, {{"error", "workspace and user are required"}});
  Happening happening;
  happening.by = text("by");
  if (happening.by.empty()) happening.by = kAdminOperator;
  try {
    HuudisAuditEntry e;
    if (action == "disable") {
      e = RecordEndUserDisabled(account_id, user_id, text("reason"), happening);
    } else if (action == "enable") {
      e = RecordEndUserEnabled(account_id, user_id, happening);
    } else if (action == "add-member") {
      HuudisMember m;
      m.id = user_id;
      m.email = text("email");
      m.name = text("name");
      if (std::string role = text("role"); !role.empty()) m.role = role;
      if (m.email.empty()) return answer(400, {{"error", "email is required"}});
      e = RecordMemberAdded(account_id, std::move(m), "direct_add", happening);
    } else if (action == "remove-member") {
      if (!Member(account_id, user_id)) return answer(404, {{"error", "no such member"}});
      e = RecordMemberRemoved(account_id, user_id, happening);
    } else if (action == "set-role") {
      std::string role = text("role");
      if (role.empty()) return answer(400, {{"error", "role is required"}});
      if (!Member(account_id, user_id)) return answer(404, {{"error", "no such member"}});
      e = RecordMemberRoleChanged(account_id, user_id, role, happening);
    } else {
      return answer(404, {{"error", "no such admin endpoint"}});
    }
    return answer(200, {{"audit", HuudisAuditEntryJson(e, account_id)}});
  } catch (const std::invalid_argument& e) {
    return answer(404, {{"error", e.what()}});
  }
}

}  // namespace mm::testing
