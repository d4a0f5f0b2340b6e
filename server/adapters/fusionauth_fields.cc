#include "adapters/fusionauth_fields.h"

#include "adapters/json_fields.h"
#include "domain/event_checks.h"

namespace mm::adapters {

FusionAuthProfile ReadFusionAuthProfile(const nlohmann::json& user) {
  FusionAuthProfile out;
  out.email = OptionalString(user, "email");
  if (out.email && out.email->size() > domain::kMaxEmailBytes) out.email.reset();
  std::optional<std::string> name = OptionalString(user, "fullName");
  if (!name) {
    std::string first = OptionalString(user, "firstName").value_or("");
    std::string last = OptionalString(user, "lastName").value_or("");
    std::string joined = first.empty() || last.empty() ? first + last : first + " " + last;
    if (!joined.empty()) name = joined;
  }
  if (name) out.name = domain::TruncateUtf8(*name, domain::kMaxNameBytes);
  return out;
}

}  // namespace mm::adapters
