#pragma once
// A reconcile run's corrections (domain/reconcile.h) as provider events, committed in pages
// through the writer: the part every listing source shares.
//
// Each correction is stored like a webhook (DESIGN §3b), so GetUser and ListUserEvents name the
// run that set a state: provider as given, event id `reconcile:<source>:<run>:<key>` (the key's
// SHA-256 when that would pass 256 bytes), type `reconcile.<kind>`, fact time the correction's,
// and as its body what the listing showed, as JSON.

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "domain/reconcile.h"
#include "sources/source.h"

namespace mm::sources {

struct CorrectionRun {
  std::string source;  // "huudis-lists"
  std::string scope;
  domain::Provider provider = domain::Provider::kHuudis;
  TimePoint listed_at{};  // when the listing started: names the run
};

// How many of a committed page's events were new (not duplicates): what a run yielded.
int64_t NewEvents(const std::vector<store::ApplyResult>& results);

// The provider event of one correction.
domain::ProviderEvent CorrectionEvent(const CorrectionRun& run, const domain::Correction& correction, TimePoint now);

// The fact of a stored correction event, read back from the body CorrectionEvent wrote (a
// dead letter's replay). INVALID_ARGUMENT for a body CorrectionEvent could not have written.
absl::StatusOr<domain::NormalizedEvent> CorrectionFromBody(std::string_view raw_body);

// Counts `corrections` into the outcome's drift and, unless ctx.dry_run, commits them in pages
// of at most `page_size` events; `last` is the
// checkpoint of the last page (an empty page if there are no corrections), so the run's
// position (say, a listing's items) is stored with its last events. In a dry run nothing is
// committed, `last` included. An error: the pages before it are committed, `last` is not.
absl::StatusOr<RunOutcome> CommitCorrections(SourceContext& ctx, const CorrectionRun& run,
                                             const std::vector<domain::Correction>& corrections,
                                             store::SourceCheckpoint last, size_t page_size = 500);

// The position a listing source stores with its last page: when the run listed, and how many
// items it saw.
std::string ListedAtPosition(TimePoint listed_at, std::optional<size_t> items = std::nullopt);

// Asks the provider whether a user a listing no longer shows is really gone: true (gone:
// 404), false (still there: a listing paged by offset can miss an item that moved between
// pages while it ran), or an error (the run ends, incomplete).
using ConfirmGone = std::function<absl::StatusOr<bool>(const std::string& user_id)>;

// A complete listing of users (`users` usable, `listed_now` every id it named, usable or not):
// their states corrected (domain::DiffUsers with `options`), the users the previous complete
// listing held and this one does not — and that `confirm_gone` confirms gone — deleted
// (domain::DiffDeletedUsers), and the listed ids stored as the source's items with the last
// page (an unconfirmed one stays among them) — the shared part of `monocloud` and the
// `fusionauth-users` sweep.
absl::StatusOr<RunOutcome> ReconcileUserListing(SourceContext& ctx, const CorrectionRun& run,
                                                const std::vector<domain::ListedUser>& users,
                                                std::set<std::string> listed_now,
                                                const domain::UserDiffOptions& options,
                                                const ConfirmGone& confirm_gone);

}  // namespace mm::sources
