#include "ingress/operator_api.h"

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "adapters/operator_events.h"
#include "common/crypto.h"
#include "common/log.h"
#include "domain/event_checks.h"
#include "domain/events.h"
#include "ingress/problem.h"

namespace mm::ingress {
namespace {

namespace http = boost::beast::http;
using nlohmann::ordered_json;

constexpr std::string_view kPrefix = "/v1/users/";
constexpr size_t kMaxReasonBytes = 1024;

std::string_view View(boost::beast::string_view s) { return {s.data(), s.size()}; }

// Percent-decodes a path segment; nullopt on a malformed escape.
std::optional<std::string> DecodeSegment(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    auto byte = HexDecode(s.substr(i + 1, 2));
    if (!byte) return std::nullopt;
    out += *byte;
    i += 2;
  }
  return out;
}

std::optional<std::string_view> Header(const HttpRequest& req, http::field field) {
  auto it = req.find(field);
  if (it == req.end()) return std::nullopt;
  return View(it->value());
}

// X-API-Key wins; otherwise a bearer token.
std::optional<std::string_view> ApiToken(const HttpRequest& req) {
  auto key = req.find("X-API-Key");
  if (key != req.end() && !key->value().empty()) return View(key->value());
  if (auto auth = Header(req, http::field::authorization)) return auth::BearerToken(*auth);
  return std::nullopt;
}

std::string Time(const std::optional<TimePoint>& t) { return t ? FormatRfc3339(*t) : ""; }

// The user as JSON: MonoCloud's `user_id` and `disabled`, plus the mirror's provenance.
HttpResponse UserJson(const store::UserView& view) {
  const domain::UserRecord& u = view.record;
  ordered_json j;
  j["user_id"] = u.user_id;
  j["disabled"] = u.state == domain::UserState::kDisabled;
  j["state"] = domain::UserStateName(u.state);
  j["email"] = u.email.value ? ordered_json(*u.email.value) : ordered_json(nullptr);
  j["name"] = u.name.value ? ordered_json(*u.name.value) : ordered_json(nullptr);
  j["disabled_reason"] = u.disabled_reason ? ordered_json(*u.disabled_reason) : ordered_json(nullptr);
  j["disabled_by"] = u.disabled_by ? ordered_json(*u.disabled_by) : ordered_json(nullptr);
  j["disabled_at"] = u.disabled_at ? ordered_json(Time(u.disabled_at)) : ordered_json(nullptr);
  j["enabled_at"] = u.enabled_at ? ordered_json(Time(u.enabled_at)) : ordered_json(nullptr);
  j["sessions_valid_after"] =
      u.sessions_valid_after ? ordered_json(Time(u.sessions_valid_after)) : ordered_json(nullptr);
  j["last_event_id"] = u.state_version ? ordered_json(u.state_version->event_id) : ordered_json(nullptr);
  j["last_event_type"] = u.state_event_type.empty() ? ordered_json(nullptr) : ordered_json(u.state_event_type);
  j["provider"] = u.state_provider ? ordered_json(domain::ProviderName(*u.state_provider)) : ordered_json(nullptr);
  j["updated_at"] = FormatRfc3339(view.updated_at);
  HttpResponse r;
  r.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

// Reads the user on a database worker and answers with it (404 if never seen).
void AnswerWithUser(const OperatorApiDeps& deps, const std::string& user_id, Responder respond) {
  bool queued = deps.reads->TrySubmit([user_id, respond](store::ReadStore& store) {
    auto user = store.GetUser(user_id);
    if (!user.ok()) return respond(ProblemFor(user.status()));
    if (!*user) return respond(Problem(404, "user never seen: " + user_id));
    respond(UserJson(**user));
  });
  if (!queued) respond(Problem(429, "database work queue is full; retry"));
}

// Parses the optional disable body. nullopt reason when absent; error text on a bad body.
absl::StatusOr<std::optional<std::string>> ParseReason(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return std::optional<std::string>();
  ordered_json doc = ordered_json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return absl::InvalidArgumentError("body must be a JSON object");
  auto it = doc.find("reason");
  if (it == doc.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return absl::InvalidArgumentError("reason must be a string");
  std::string reason = it->get<std::string>();
  if (reason.size() > kMaxReasonBytes) return absl::InvalidArgumentError("reason is over 1024 bytes");
  return std::optional<std::string>(reason);
}

}  // namespace

bool IsOperatorPath(std::string_view path) { return path.starts_with(kPrefix); }

void HandleOperatorRequest(const OperatorApiDeps& deps, const HttpRequest& req, std::string_view path,
                           Responder respond) {
  std::string_view rest = path.substr(kPrefix.size());
  std::string_view action;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    action = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  bool is_action = action == "disable" || action == "enable";
  if (!action.empty() && !is_action) return respond(Problem(404, "no such path"));
  if (is_action && req.method() != http::verb::post) {
    HttpResponse r = Problem(405, "method not allowed; use POST");
    r.headers.emplace_back("Allow", "POST");
    return respond(std::move(r));
  }
  if (!is_action && req.method() != http::verb::get) {
    HttpResponse r = Problem(405, "method not allowed; use GET");
    r.headers.emplace_back("Allow", "GET");
    return respond(std::move(r));
  }

  auto token = ApiToken(req);
  auto caller = deps.callers->Authorize(token, is_action ? auth::kScopeUsersWrite : auth::kScopeUsersRead);
  if (!caller.ok()) {
    deps.metrics->WebhookAnswered("operator", is_action ? std::string(action) : "get",
                                  absl::IsUnauthenticated(caller.status()) ? "401" : "403");
    return respond(ProblemFor(caller.status()));
  }
  std::optional<std::string> user_id = DecodeSegment(rest);
  if (!user_id || user_id->empty() || user_id->size() > 256) {
    return respond(Problem(422, "user_id must be 1..256 bytes"));
  }
  // Before anything reads or writes it: an id the mirror cannot store (NUL, not UTF-8) must not
  // reach the database (libpq cuts a parameter at NUL, naming another user) or the event's JSON.
  if (std::optional<std::string> problem = domain::CheckId("user_id", *user_id)) {
    return respond(Problem(422, *problem));
  }
  if (!is_action) return AnswerWithUser(deps, *user_id, std::move(respond));

  std::optional<std::string> reason;
  if (action == "disable") {
    auto parsed = ParseReason(req.body());
    if (!parsed.ok()) return respond(Problem(422, std::string(parsed.status().message())));
    reason = *parsed;
  } else if (req.body().find_first_not_of(" \t\r\n") != std::string::npos) {
    auto doc = ordered_json::parse(req.body(), nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object()) return respond(Problem(422, "body must be empty or a JSON object"));
  }

  // 404 for a user the mirror never heard of (as MonoCloud answers), checked on a DB worker;
  // then the action goes through the writer and the answer is the user after the commit.
  const bool disable = action == "disable";
  const std::string who = (*caller)->name;
  const std::string id = *user_id;
  bool queued = deps.reads->TrySubmit([deps, id, disable, reason, who, respond](store::ReadStore& store) {
    auto user = store.GetUser(id);
    if (!user.ok()) return respond(ProblemFor(user.status()));
    if (!*user) return respond(Problem(404, "user never seen: " + id));

    domain::ProviderEvent event = adapters::MakeOperatorEvent(
        {.disable = disable, .user_id = id, .by = who, .reason = reason}, deps.clock->Now());
    std::string type = event.event_type;
    deps.writer->Submit(std::move(event), [deps, id, type, who, respond](absl::StatusOr<store::ApplyResult> r) {
      if (!r.ok()) {
        HttpResponse problem = ProblemFor(r.status());
        deps.metrics->WebhookAnswered("operator", type, std::to_string(problem.status));
        return respond(std::move(problem));
      }
      deps.metrics->WebhookAnswered("operator", type, domain::OutcomeName(r->outcome));
      log::Info("operator action", {{"type", type}, {"user_id", id}, {"by", who},
                                    {"status", std::string(domain::OutcomeName(r->outcome))}});
      AnswerWithUser(deps, id, respond);
    });
  });
  if (!queued) respond(Problem(429, "database work queue is full; retry"));
}

}  // namespace mm::ingress
