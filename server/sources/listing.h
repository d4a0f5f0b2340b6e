#pragma once
// Walking a provider listing page by page until it ends: the loop the listing sources share.
// A listing is complete only if every page answered; any error leaves it incomplete, and
// nothing may be concluded from what an incomplete listing lacks.

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "sources/source.h"

namespace mm::sources {

// Calls `fetch(cursor)` with nullopt first, then with each next cursor `fetch` returns, until
// it returns nullopt (the last page) or an error (returned). Stops with CANCELLED when the
// service is stopping, and with FAILED_PRECONDITION after `max_pages` pages (a provider
// whose cursor never ends).
absl::Status WalkPages(SourceContext& ctx,
                       const std::function<absl::StatusOr<std::optional<std::string>>(const std::optional<std::string>&)>& fetch,
                       int max_pages = 100000);

}  // namespace mm::sources
