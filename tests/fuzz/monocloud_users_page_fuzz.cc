// Fuzz target: the MonoCloud users page decoder (server/adapters/monocloud_pull.h). An input
// whose first line starts "X-Pagination: " gives the header's value, the rest is the body.
// Checks: the contract (listed users have an id; a page with fewer users than the page size
// and no usable header has no next page), and the round trip of what the monocloud source
// stores: the listing reconciled against an empty mirror with `last_updated` as the fact time,
// made into provider events and stored, reads back identically (fuzz_support.h).

#include <optional>

#include "adapters/monocloud_pull.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = mm::fuzz::AsText(data, size);
  std::optional<std::string_view> header;
  std::string_view body = input;
  constexpr std::string_view kHeader = "X-Pagination: ";
  if (input.starts_with(kHeader)) {
    const auto [first, rest] = mm::fuzz::SplitFirst(input, '\n');
    header = first.substr(kHeader.size());
    body = rest;
  }
  constexpr int kPageSize = 3;
  absl::StatusOr<mm::adapters::MonoCloudUsersPage> page =
      mm::adapters::DecodeMonoCloudUsersPage(body, header, kPageSize);
  if (!mm::fuzz::Decoded(page)) return 0;
  if (!header && page->users.size() + page->unusable.size() < kPageSize) MM_FUZZ_CHECK(!page->has_next);
  for (const mm::domain::ListedUser& user : page->users) {
    if (user.changed_at) MM_FUZZ_CHECK(mm::IsFormattable(*user.changed_at));
  }
  mm::fuzz::CheckListedUsersStored(page->users, mm::domain::Provider::kMonoCloud, /*use_changed_at=*/true);
  return 0;
}
