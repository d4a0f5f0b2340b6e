#include "adapters/fusionauth_pull.h"

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "adapters/fusionauth_fields.h"
#include "adapters/json_fields.h"
#include "domain/event_checks.h"

namespace mm::adapters {
namespace {

using nlohmann::json;

// A usable user, or the reason it is not; `id` is set whenever the user has a usable id.
std::optional<std::string> DecodeUser(const json& item, std::string& id, domain::ListedUser& out) {
  if (!item.is_object()) return "user is not an object";
  if (auto problem = ReadRequiredString(item, "user ", "id", domain::kMaxIdBytes, id)) return problem;
  std::optional<bool> active = OptionalBool(item, "active");
  if (!active) return "user.active missing";
  out.user_id = id;
  out.disabled = !*active;
  FusionAuthProfile profile = ReadFusionAuthProfile(item);
  out.email = std::move(profile.email);
  out.name = std::move(profile.name);
  out.changed_at = ReadEpochTime(item, "", "lastUpdateInstant", EpochUnit::kMillis).value;
  return std::nullopt;
}

}  // namespace

absl::StatusOr<FusionAuthSearchPage> DecodeFusionAuthSearchPage(std::string_view body) {
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return absl::InvalidArgumentError("search answer is not a JSON object");
  FusionAuthSearchPage page;
  if (auto total = doc.find("total"); total != doc.end() && total->is_number_integer()) page.total = total->get<int64_t>();
  page.next_results = OptionalString(doc, "nextResults");
  if (page.next_results && page.next_results->empty()) page.next_results.reset();
  auto users = doc.find("users");
  if (users == doc.end() || users->is_null()) return page;  // FusionAuth leaves it out when empty
  if (!users->is_array()) return absl::InvalidArgumentError("search answer's users is not an array");
  size_t index = 0;
  for (const json& item : *users) {
    std::string id;
    domain::ListedUser user;
    if (auto problem = DecodeUser(item, id, user)) {
      if (id.empty()) return absl::InvalidArgumentError(*problem + " (user " + std::to_string(index) + ")");
      page.unusable.push_back(id);
    } else {
      page.users.push_back(std::move(user));
    }
    ++index;
  }
  return page;
}

absl::StatusOr<domain::ListedUser> DecodeFusionAuthUser(std::string_view body) {
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return absl::InvalidArgumentError("user answer is not a JSON object");
  auto user = doc.find("user");
  if (user == doc.end()) return absl::InvalidArgumentError("user answer has no user");
  std::string id;
  domain::ListedUser out;
  if (auto problem = DecodeUser(*user, id, out)) return absl::InvalidArgumentError(*problem);
  return out;
}

}  // namespace mm::adapters
