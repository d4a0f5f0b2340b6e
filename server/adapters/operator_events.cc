#include "adapters/operator_events.h"

#include <nlohmann/json.hpp>

#include "common/crypto.h"

namespace mm::adapters {
namespace {

domain::ProviderEvent Build(const OperatorAction& action, TimePoint fact_time, TimePoint received_at,
                            std::string raw_body) {
  domain::ProviderEvent event;
  event.provider = domain::Provider::kOperator;
  event.event_id = "op_" + RandomHex(12);
  event.event_type = action.disable ? "operator.user.disabled" : "operator.user.enabled";
  event.fact_time = fact_time;
  event.received_at = received_at;
  event.raw_body = std::move(raw_body);
  domain::NormalizedEvent change;
  change.kind = action.disable ? domain::EventKind::kUserDisabled : domain::EventKind::kUserEnabled;
  change.user_id = action.user_id;
  change.fact_time = fact_time;
  change.reason = action.reason;
  change.actor = action.by;
  event.events.push_back(std::move(change));
  return event;
}

}  // namespace

domain::ProviderEvent MakeOperatorEvent(const OperatorAction& action, TimePoint now) {
  nlohmann::ordered_json raw{
      {"action", action.disable ? "disable" : "enable"}, {"user_id", action.user_id}, {"by", action.by}};
  if (action.reason) raw["reason"] = *action.reason;
  return Build(action, now, now, raw.dump());
}

absl::StatusOr<domain::ProviderEvent> DecodeOperatorBody(std::string_view raw_body, TimePoint fact_time,
                                                         TimePoint received_at) {
  const nlohmann::json raw = nlohmann::json::parse(raw_body, nullptr, /*allow_exceptions=*/false);
  auto text = [&raw](const char* key) -> std::optional<std::string> {
    auto it = raw.is_object() ? raw.find(key) : raw.end();
    if (!raw.is_object() || it == raw.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  std::optional<std::string> verb = text("action");
  std::optional<std::string> user_id = text("user_id");
  if ((verb != "disable" && verb != "enable") || !user_id) {
    return absl::InvalidArgumentError("operator body lacks its action or user_id");
  }
  OperatorAction action{
      .disable = verb == "disable", .user_id = *user_id, .by = text("by").value_or(""), .reason = text("reason")};
  return Build(action, fact_time, received_at, std::string(raw_body));
}

}  // namespace mm::adapters
