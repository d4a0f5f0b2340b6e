#include "adapters/monocloud_pull.h"

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "adapters/json_fields.h"
#include "domain/event_checks.h"

namespace mm::adapters {
namespace {

using nlohmann::json;

std::optional<std::string> PrimaryEmail(const json& user) {
  auto emails = user.find("emails");
  if (emails == user.end() || !emails->is_array()) return std::nullopt;
  std::optional<std::string> first;
  for (const json& e : *emails) {
    if (!e.is_object()) continue;
    std::optional<std::string> address = OptionalString(e, "email");
    if (!address || address->size() > domain::kMaxEmailBytes) continue;
    if (OptionalBool(e, "primary") == true) return address;
    if (!first) first = address;
  }
  return first;
}

std::optional<std::string> Name(const json& user) {
  auto claims = user.find("claims");
  if (claims == user.end() || !claims->is_object()) return std::nullopt;
  std::optional<std::string> name = OptionalString(*claims, "name");
  if (!name) {
    std::string given = OptionalString(*claims, "given_name").value_or("");
    std::string family = OptionalString(*claims, "family_name").value_or("");
    std::string joined = given.empty() || family.empty() ? given + family : given + " " + family;
    if (!joined.empty()) name = joined;
  }
  if (name) name = domain::TruncateUtf8(*name, domain::kMaxNameBytes);
  return name;
}

}  // namespace

absl::StatusOr<MonoCloudUsersPage> DecodeMonoCloudUsersPage(std::string_view body,
                                                            std::optional<std::string_view> x_pagination,
                                                            int page_size) {
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_array()) return absl::InvalidArgumentError("users page is not a JSON array");
  MonoCloudUsersPage page;
  size_t index = 0;
  for (const json& item : doc) {
    std::string id;
    if (!item.is_object()) return absl::InvalidArgumentError("user " + std::to_string(index) + " is not an object");
    if (auto problem = ReadRequiredString(item, "user ", "user_id", domain::kMaxIdBytes, id)) {
      return absl::InvalidArgumentError(*problem + " (user " + std::to_string(index) + ")");
    }
    ++index;
    std::optional<bool> disabled = OptionalBool(item, "disabled");
    if (!disabled) {
      page.unusable.push_back(id);
      continue;
    }
    domain::ListedUser u;
    u.user_id = id;
    u.disabled = *disabled;
    u.email = PrimaryEmail(item);
    u.name = Name(item);
    u.changed_at = ReadEpochTime(item, "", "last_updated", EpochUnit::kSeconds).value;
    page.users.push_back(std::move(u));
  }
  std::optional<bool> has_next;
  if (x_pagination) {
    json meta = json::parse(x_pagination->begin(), x_pagination->end(), nullptr, /*allow_exceptions=*/false);
    if (meta.is_object()) has_next = OptionalBool(meta, "has_next");
  }
  page.has_next = has_next.value_or(static_cast<int>(index) >= page_size && index > 0);
  return page;
}

}  // namespace mm::adapters
