#pragma once
// Decoders of the MonoCloud management API pages the `monocloud` pull source reads
// (docs/providers.md §3.2-3.4; fixture tests/fixtures/monocloud.user.json). Pure.
//
// GET /api/users and GET /api/users/groups/{group_id}/assigned answer a JSON array of users,
// with the paging metadata in the X-Pagination header: {"page_size", "current_page",
// "total_count", "has_previous", "has_next"}. A user's id is `user_id` (not `id`), `disabled`
// its state, `last_updated` (epoch seconds) when it last changed; the email is the entry of
// `emails[]` marked primary, else the first; the name is `claims.name`, else given and family
// name. Unknown fields are ignored (the docs' examples show an older shape too).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "domain/reconcile.h"

namespace mm::adapters {

struct MonoCloudUsersPage {
  std::vector<domain::ListedUser> users;  // changed_at = last_updated, when usable
  std::vector<std::string> unusable;      // listed ids without a boolean `disabled`
  bool has_next = false;
};

// `x_pagination`: the header's value, if present. Without a usable header, a full page
// (`page_size` users) is taken to have a next page, so a listing never stops early: an empty
// page then ends it. INVALID_ARGUMENT for a body that is not an array or a user without a
// usable `user_id` (the listing is then incomplete).
absl::StatusOr<MonoCloudUsersPage> DecodeMonoCloudUsersPage(std::string_view body,
                                                            std::optional<std::string_view> x_pagination,
                                                            int page_size);

}  // namespace mm::adapters
