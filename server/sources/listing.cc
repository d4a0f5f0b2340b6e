#include "sources/listing.h"

namespace mm::sources {

absl::Status WalkPages(SourceContext& ctx,
                       const std::function<absl::StatusOr<std::optional<std::string>>(const std::optional<std::string>&)>& fetch,
                       int max_pages) {
  std::optional<std::string> cursor;
  for (int pages = 0; pages < max_pages; ++pages) {
    if (ctx.stopping()) return absl::CancelledError("stopping");
    absl::StatusOr<std::optional<std::string>> next = fetch(cursor);
    if (!next.ok()) return next.status();
    if (!next->has_value()) return absl::OkStatus();
    if (cursor == *next) return absl::FailedPreconditionError("the provider answered the same cursor twice");
    cursor = std::move(*next);
  }
  return absl::FailedPreconditionError("listing did not end after " + std::to_string(max_pages) + " pages");
}

}  // namespace mm::sources
