// Fuzz target: the FusionAuth single-user decoder (server/adapters/fusionauth_pull.h
// DecodeFusionAuthUser), what the fusionauth-users source's re-read parses. Checks: the
// contract (OK means a user with an id), the same user as the search page decoder reads from
// {"users": [<it>]}, and the round trip of storing it (fuzz_support.h).

#include <string>

#include <nlohmann/json.hpp>

#include "adapters/fusionauth_pull.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body = mm::fuzz::AsText(data, size);
  absl::StatusOr<mm::domain::ListedUser> user = mm::adapters::DecodeFusionAuthUser(body);
  if (!mm::fuzz::Decoded(user)) return 0;
  MM_FUZZ_CHECK(!user->user_id.empty());
  // The same object in a search page decodes to the same user.
  const nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  MM_FUZZ_CHECK(doc.is_object() && doc.contains("user"));
  const std::string page_body = nlohmann::json{{"users", nlohmann::json::array({doc["user"]})}}.dump();
  absl::StatusOr<mm::adapters::FusionAuthSearchPage> page = mm::adapters::DecodeFusionAuthSearchPage(page_body);
  MM_FUZZ_CHECK(page.ok() && page->users.size() == 1);
  const mm::domain::ListedUser& listed = page->users[0];
  MM_FUZZ_CHECK(listed.user_id == user->user_id && listed.disabled == user->disabled);
  MM_FUZZ_CHECK(listed.email == user->email && listed.name == user->name && listed.changed_at == user->changed_at);
  mm::fuzz::CheckListedUsersStored({*user}, mm::domain::Provider::kFusionAuth, /*use_changed_at=*/false);
  return 0;
}
