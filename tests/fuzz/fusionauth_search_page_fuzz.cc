// Fuzz target: the FusionAuth user search page decoder (server/adapters/fusionauth_pull.h
// DecodeFusionAuthSearchPage). Checks: the contract (listed users have an id), and the round
// trip of what the fusionauth-users source stores: the listing reconciled against an empty
// mirror, made into provider events and stored, reads back identically (fuzz_support.h).

#include "adapters/fusionauth_pull.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<mm::adapters::FusionAuthSearchPage> page =
      mm::adapters::DecodeFusionAuthSearchPage(mm::fuzz::AsText(data, size));
  if (!mm::fuzz::Decoded(page)) return 0;
  for (const mm::domain::ListedUser& user : page->users) {
    if (user.changed_at) MM_FUZZ_CHECK(mm::IsFormattable(*user.changed_at));
  }
  mm::fuzz::CheckListedUsersStored(page->users, mm::domain::Provider::kFusionAuth, /*use_changed_at=*/false);
  return 0;
}
