#include "ingress/router.h"

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "ingress/problem.h"

namespace mm::ingress {
namespace {

namespace http = boost::beast::http;

std::string_view View(boost::beast::string_view s) { return {s.data(), s.size()}; }

// application/json, any case, with or without parameters (charset).
bool IsJsonContentType(std::string_view value) {
  std::string media(value.substr(0, value.find(';')));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  for (char& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return media == "application/json";
}

HttpResponse Json(int status, const nlohmann::ordered_json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

class Router {
 public:
  explicit Router(RouterDeps deps) : deps_(std::move(deps)) {}

  void Handle(const HttpRequest& req, Responder respond) const {
    std::string_view target = View(req.target());
    std::string_view path = target.substr(0, target.find('?'));
    if (path.starts_with("/webhooks/")) {
      auto adapter = deps_.webhook_adapters.find(std::string(path.substr(10)));
      if (adapter == deps_.webhook_adapters.end()) return respond(Problem(404, "no such webhook"));
      if (req.method() != http::verb::post) return respond(MethodNotAllowed("POST"));
      return Webhook(adapter->first, *adapter->second, req, std::move(respond));
    }
    if (IsOperatorPath(path) && deps_.operator_api.writer != nullptr) {
      return HandleOperatorRequest(deps_.operator_api, req, path, std::move(respond));
    }
    if (path == "/healthz") {
      if (req.method() != http::verb::get) return respond(MethodNotAllowed("GET"));
      return respond(Json(200, {{"status", "ok"}}));
    }
    if (path == "/readyz") {
      if (req.method() != http::verb::get) return respond(MethodNotAllowed("GET"));
      Readiness r = deps_.readiness ? deps_.readiness() : Readiness{};
      nlohmann::ordered_json body{{"ready", r.ready}, {"checks", r.checks}};
      return respond(Json(r.ready ? 200 : 503, body));
    }
    if (path == "/metrics") {
      if (req.method() != http::verb::get) return respond(MethodNotAllowed("GET"));
      HttpResponse r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = deps_.metrics->Serialize();
      return respond(std::move(r));
    }
    respond(Problem(404, "no such path"));
  }

 private:
  static HttpResponse MethodNotAllowed(std::string allow) {
    HttpResponse r = Problem(405, "method not allowed; use " + allow);
    r.headers.emplace_back("Allow", std::move(allow));
    return r;
  }

  void Webhook(const std::string& provider, const adapters::WebhookAdapter& adapter,
               const HttpRequest& req, Responder respond) const {
    auto refuse = [&](int status, std::string detail, std::string_view metric_status) {
      deps_.metrics->WebhookAnswered(provider, "-", metric_status);
      respond(Problem(status, detail));
    };
    auto content_type = req.find(http::field::content_type);
    if (content_type == req.end() || !IsJsonContentType(View(content_type->value()))) {
      return refuse(415, "Content-Type must be application/json", "415");
    }
    adapters::HeaderLookup headers = [&req](std::string_view name) -> std::optional<std::string_view> {
      auto it = req.find(boost::beast::string_view(name.data(), name.size()));
      if (it == req.end()) return std::nullopt;
      return View(it->value());
    };
    absl::StatusOr<domain::ProviderEvent> event =
        adapter.Decode(headers, req.body(), deps_.clock->Now());
    if (!event.ok()) {
      int status = absl::IsUnauthenticated(event.status()) ? 401 : 400;
      // Nothing of the body is logged for rejected requests; the reason is ours, not theirs.
      // Anyone can send them: a flood is logged at 20 lines/s, with the count of the rest.
      static log::RateLimit limit(20, std::chrono::seconds(1));
      if (uint64_t suppressed = 0; limit.Allow(suppressed)) {
        log::Warn("webhook rejected", {{"provider", provider},
                                       {"status", std::to_string(status)},
                                       {"reason", std::string(event.status().message())},
                                       {"not_logged_before", std::to_string(suppressed)}});
      }
      return refuse(status, std::string(event.status().message()), std::to_string(status));
    }
    std::string event_id = event->event_id;
    // Metric labels take no unbounded values from outside: types we do not use fold into one.
    std::string event_type = event->ignored ? "unknown" : event->event_type;
    metrics::Metrics* metrics = deps_.metrics;
    deps_.writer->Submit(
        std::move(*event),
        [respond = std::move(respond), provider, event_id, event_type,
         metrics](absl::StatusOr<store::ApplyResult> result) {
          if (!result.ok()) {
            HttpResponse problem = ProblemFor(result.status());
            metrics->WebhookAnswered(provider, event_type, std::to_string(problem.status));
            return respond(std::move(problem));
          }
          std::string_view outcome = domain::OutcomeName(result->outcome);
          metrics->WebhookAnswered(provider, event_type, outcome);
          log::Debug("webhook stored", {{"provider", provider},
                                        {"event_id", event_id},
                                        {"type", event_type},
                                        {"status", std::string(outcome)}});
          respond(Json(200, {{"status", outcome},
                             {"event_id", event_id},
                             {"sequence", result->sequence}}));
        });
  }

  RouterDeps deps_;
};

}  // namespace

HttpHandler MakeRouter(RouterDeps deps) {
  auto router = std::make_shared<Router>(std::move(deps));
  return [router](const HttpRequest& req, Responder respond) {
    router->Handle(req, std::move(respond));
  };
}

}  // namespace mm::ingress
