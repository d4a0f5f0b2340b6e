// Fuzz target: the Huudis end-users page decoder (server/adapters/huudis_pull.h
// DecodeHuudisEndUsersPage). Checks: the contract (listed users have an id; a next cursor is
// never empty), and the round trip of what the lists source stores: the listing reconciled
// against an empty mirror, made into provider events and stored, reads back identically
// (fuzz_support.h).

#include "adapters/huudis_pull.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<mm::adapters::HuudisEndUsersPage> page =
      mm::adapters::DecodeHuudisEndUsersPage(mm::fuzz::AsText(data, size));
  if (!mm::fuzz::Decoded(page)) return 0;
  if (page->next_cursor) MM_FUZZ_CHECK(!page->next_cursor->empty());
  mm::fuzz::CheckListedUsersStored(page->users, mm::domain::Provider::kHuudis, /*use_changed_at=*/false);
  return 0;
}
