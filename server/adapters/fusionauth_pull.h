#pragma once
// Decoders of the FusionAuth user API answers the `fusionauth-users` pull source reads
// (docs/providers.md §2.3-2.4; fixtures tests/fixtures/fusionauth.user.*.json for the
// user object). Pure.
//
// A user's `active` is its state (false: deactivated); its name is `fullName`, else `firstName
// lastName`; `lastUpdateInstant` is epoch milliseconds.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "domain/reconcile.h"

namespace mm::adapters {

// POST /api/user/search: {"total": N, "users": [...], "nextResults": "..."}.
struct FusionAuthSearchPage {
  std::vector<domain::ListedUser> users;  // disabled = !active
  std::vector<std::string> unusable;      // listed ids without a boolean `active`
  std::optional<int64_t> total;
  std::optional<std::string> next_results;  // FusionAuth 1.48+: the token for the next page
};
absl::StatusOr<FusionAuthSearchPage> DecodeFusionAuthSearchPage(std::string_view body);

// GET /api/user/{id}: {"user": {...}}. INVALID_ARGUMENT if it holds no usable user.
absl::StatusOr<domain::ListedUser> DecodeFusionAuthUser(std::string_view body);

}  // namespace mm::adapters
