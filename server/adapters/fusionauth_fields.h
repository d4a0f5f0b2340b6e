#pragma once
// Reading a FusionAuth user object (docs/providers.md §2.3) the same way in the webhook adapter
// and the user-API decoders.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace mm::adapters {

struct FusionAuthProfile {
  std::optional<std::string> email;  // left out when over domain::kMaxEmailBytes
  std::optional<std::string> name;   // fullName, else "firstName lastName"; shortened to kMaxNameBytes
};
FusionAuthProfile ReadFusionAuthProfile(const nlohmann::json& user);

}  // namespace mm::adapters
