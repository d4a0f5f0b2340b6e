#include "sources/corrections.h"

#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "domain/event_checks.h"

namespace mm::sources {
namespace {

using nlohmann::ordered_json;

void PutIf(ordered_json& j, const char* key, const std::optional<std::string>& value) {
  if (value) j[key] = *value;
}

}  // namespace

int64_t NewEvents(const std::vector<store::ApplyResult>& results) {
  int64_t n = 0;
  for (const store::ApplyResult& r : results) n += r.outcome == domain::Outcome::kDuplicate ? 0 : 1;
  return n;
}

domain::ProviderEvent CorrectionEvent(const CorrectionRun& run, const domain::Correction& correction, TimePoint now) {
  const std::string run_id = std::to_string(ToUnixMicros(run.listed_at) / 1000);
  const std::string prefix = "reconcile:" + run.source + ":" + run_id + ":";
  domain::ProviderEvent event;
  event.provider = run.provider;
  event.event_id = prefix + correction.key;
  if (event.event_id.size() > domain::kMaxIdBytes) event.event_id = prefix + HexEncode(Sha256(correction.key));
  event.event_type = "reconcile." + std::string(domain::DriftKindName(correction.kind));
  event.fact_time = correction.event.fact_time;
  event.received_at = now;
  const domain::NormalizedEvent& n = correction.event;
  ordered_json body;
  body["source"] = run.source;
  body["scope"] = run.scope;
  body["run"] = run_id;
  body["kind"] = domain::DriftKindName(correction.kind);
  body["listed_at"] = FormatRfc3339(run.listed_at);
  body["fact_time"] = FormatRfc3339(n.fact_time);
  if (!n.account_id.empty()) body["account_id"] = n.account_id;
  body["user_id"] = n.user_id;
  PutIf(body, "role", n.role);
  PutIf(body, "email", n.email);
  PutIf(body, "name", n.name);
  if (n.joined_at) body["joined_at"] = FormatRfc3339(*n.joined_at);
  event.raw_body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  event.events.push_back(n);
  return event;
}

absl::StatusOr<domain::NormalizedEvent> CorrectionFromBody(std::string_view raw_body) {
  const nlohmann::json body = nlohmann::json::parse(raw_body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return absl::InvalidArgumentError("correction body is not a JSON object");
  auto text = [&body](const char* key) -> std::optional<std::string> {
    auto it = body.find(key);
    if (it == body.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  std::optional<domain::DriftKind> kind = domain::ParseDriftKind(text("kind").value_or(""));
  std::optional<TimePoint> fact_time = ParseRfc3339(text("fact_time").value_or(""));
  std::optional<std::string> user_id = text("user_id");
  if (!kind || !fact_time || !user_id) {
    return absl::InvalidArgumentError("correction body lacks a known kind, its fact_time or user_id");
  }
  domain::NormalizedEvent n = domain::CorrectionFact(*kind, text("account_id").value_or(""), *user_id, *fact_time);
  n.role = text("role");
  n.email = text("email");
  n.name = text("name");
  if (std::optional<std::string> joined = text("joined_at")) {
    n.joined_at = ParseRfc3339(*joined);
    if (!n.joined_at) return absl::InvalidArgumentError("correction body joined_at is not a time");
  }
  return n;
}

absl::StatusOr<RunOutcome> CommitCorrections(SourceContext& ctx, const CorrectionRun& run,
                                             const std::vector<domain::Correction>& corrections,
                                             store::SourceCheckpoint last, size_t page_size) {
  RunOutcome outcome;
  for (const domain::Correction& c : corrections) ++outcome.drift[c.kind];
  if (ctx.dry_run) return outcome;
  size_t next = 0;
  do {
    std::vector<domain::ProviderEvent> page;
    const TimePoint now = ctx.clock.Now();
    for (; next < corrections.size() && page.size() < page_size; ++next) {
      page.push_back(CorrectionEvent(run, corrections[next], now));
    }
    const bool final_page = next == corrections.size();
    store::SourceCheckpoint checkpoint;
    if (final_page) {
      checkpoint = std::move(last);
    } else {
      checkpoint.source = run.source;
      checkpoint.scope = run.scope;
    }
    absl::StatusOr<std::vector<store::ApplyResult>> committed = ctx.commit(std::move(page), std::move(checkpoint));
    if (!committed.ok()) return committed.status();
    outcome.events += NewEvents(*committed);
    if (final_page) break;
  } while (true);
  return outcome;
}

std::string ListedAtPosition(TimePoint listed_at, std::optional<size_t> items) {
  nlohmann::json j = {{"listed_at", FormatRfc3339(listed_at)}};
  if (items) j["items"] = *items;
  return j.dump();
}

absl::StatusOr<RunOutcome> ReconcileUserListing(SourceContext& ctx, const CorrectionRun& run,
                                                const std::vector<domain::ListedUser>& users,
                                                std::set<std::string> listed_now,
                                                const domain::UserDiffOptions& options,
                                                const ConfirmGone& confirm_gone) {
  absl::StatusOr<std::vector<std::string>> previous = ctx.store.LoadItems(run.source, run.scope);
  if (!previous.ok()) return previous.status();
  // A user missing from this listing is gone only if the provider says so when asked.
  for (const std::string& id : *previous) {
    if (listed_now.contains(id)) continue;
    if (ctx.stopping()) return absl::CancelledError("stopping");
    absl::StatusOr<bool> gone = confirm_gone(id);
    if (!gone.ok()) return gone.status();
    if (!*gone) listed_now.insert(id);  // still there: the listing missed it
  }
  std::vector<std::string> ids(listed_now.begin(), listed_now.end());
  for (const std::string& id : *previous) {
    if (!listed_now.contains(id)) ids.push_back(id);
  }
  absl::StatusOr<std::map<std::string, store::MirrorUser>> known = ctx.store.Users(ids);
  if (!known.ok()) return known.status();
  std::vector<domain::Correction> corrections = domain::DiffUsers(users, *known, options);
  std::vector<domain::Correction> deleted = domain::DiffDeletedUsers(*previous, listed_now, *known, run.listed_at);
  corrections.insert(corrections.end(), deleted.begin(), deleted.end());

  // The listing's ids, as a diff of the stored ones, with the last events.
  store::SourceCheckpoint last;
  last.source = run.source;
  last.scope = run.scope;
  std::set<std::string> before(previous->begin(), previous->end());
  for (const std::string& id : listed_now) {
    if (!before.contains(id)) last.items_added.push_back(id);
  }
  for (const std::string& id : before) {
    if (!listed_now.contains(id)) last.items_removed.push_back(id);
  }
  last.position_json = ListedAtPosition(run.listed_at, listed_now.size());
  return CommitCorrections(ctx, run, corrections, std::move(last));
}

}  // namespace mm::sources
