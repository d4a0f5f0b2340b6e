#include "sources/huudis_audit_source.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "adapters/huudis_pull.h"
#include "common/log.h"
#include "sources/corrections.h"
#include "sources/provider_api.h"

namespace mm::sources {
namespace {

using nlohmann::json;

// The stored position: {"watermark": t, "sweep": {"since": t, "high": t, "cursor": c}}.
struct Position {
  std::optional<TimePoint> watermark;
  bool sweeping = false;
  std::optional<TimePoint> since;
  std::optional<TimePoint> high;
  std::optional<std::string> cursor;
};

std::optional<TimePoint> TimeAt(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return ParseRfc3339(it->get<std::string>());
}

Position ParsePosition(const std::optional<std::string>& text) {
  Position p;
  if (!text) return p;
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return p;
  p.watermark = TimeAt(j, "watermark");
  if (auto sweep = j.find("sweep"); sweep != j.end() && sweep->is_object()) {
    if (auto cursor = sweep->find("cursor"); cursor != sweep->end() && cursor->is_string()) {
      p.sweeping = true;
      p.cursor = cursor->get<std::string>();
      p.since = TimeAt(*sweep, "since");
      p.high = TimeAt(*sweep, "high");
    }
  }
  return p;
}

std::string Text(const Position& p) {
  json j = json::object();
  if (p.watermark) j["watermark"] = FormatRfc3339(*p.watermark);
  if (p.sweeping) {
    json sweep = {{"cursor", p.cursor.value_or("")}};
    if (p.since) sweep["since"] = FormatRfc3339(*p.since);
    if (p.high) sweep["high"] = FormatRfc3339(*p.high);
    j["sweep"] = std::move(sweep);
  }
  return j.dump();
}

}  // namespace

std::vector<std::pair<std::string, std::string>> HuudisHeaders(const SourceContext& ctx, const std::string& workspace) {
  return {{"Authorization", "Bearer " + ctx.credential},
          {"X-Huudis-Workspace-Id", workspace},
          {"Accept", "application/json"}};
}

HuudisAuditSource::HuudisAuditSource(Options options) : options_(std::move(options)) {}

absl::StatusOr<RunOutcome> HuudisAuditSource::Run(const std::string& workspace, SourceContext& ctx) {
  absl::StatusOr<std::optional<std::string>> stored = ctx.store.LoadPosition(name_, workspace);
  if (!stored.ok()) return stored.status();
  Position position = ParsePosition(*stored);
  if (!position.sweeping) {
    // A new sweep: back to a little before the watermark (or the whole log, the first time).
    position.since.reset();
    if (position.watermark) position.since = *position.watermark - options_.overlap;
    position.high.reset();
    position.cursor.reset();
  }
  const bool resumed = position.sweeping;
  RunOutcome outcome;
  for (bool first_page = true;; first_page = false) {
    if (ctx.stopping()) return absl::CancelledError("stopping");
    std::string url = JoinUrl(options_.base_url, "/v1/account/audit") +
                      "?limit=" + std::to_string(std::clamp(options_.page_size, 1, 100));
    if (position.since) url += "&since=" + UrlEncode(FormatRfc3339(*position.since));
    if (position.cursor) url += "&cursor=" + UrlEncode(*position.cursor);
    absl::StatusOr<http_client::Response> response = Get(ctx, url, HuudisHeaders(ctx, workspace));
    if (!response.ok() && first_page && resumed && absl::IsFailedPrecondition(response.status())) {
      log::Warn("huudis-audit: the stored sweep cursor is refused; sweeping again from its start",
                {{"workspace", workspace}, {"error", std::string(response.status().message())}});
      position.cursor.reset();
      position.high.reset();
      continue;
    }
    if (!response.ok()) return response.status();
    const TimePoint now = ctx.clock.Now();
    absl::StatusOr<adapters::HuudisAuditPage> page = adapters::DecodeHuudisAuditPage(response->body, workspace, now);
    if (!page.ok()) return page.status();
    if (page->skipped > 0) {
      log::Warn("huudis-audit: audit entries without a usable id were skipped",
                {{"workspace", workspace}, {"entries", std::to_string(page->skipped)}});
    }
    std::vector<domain::ProviderEvent> events;
    for (adapters::HuudisAuditEntry& entry : page->entries) {
      if (entry.created_at) {
        const TimePoint seen = std::min(*entry.created_at, now);  // a clock ahead must not skip
        if (!position.high || seen > *position.high) position.high = seen;
      }
      if (entry.event) events.push_back(std::move(*entry.event));
    }
    store::SourceCheckpoint checkpoint;
    checkpoint.source = name_;
    checkpoint.scope = workspace;
    if (page->next_cursor) {
      position.sweeping = true;
      position.cursor = page->next_cursor;
    } else {
      // The sweep reached `since`: everything up to the newest entry it saw is applied.
      if (position.high && (!position.watermark || *position.high > *position.watermark)) {
        position.watermark = position.high;
      }
      position.sweeping = false;
      checkpoint.watermark = position.watermark;
    }
    checkpoint.position_json = Text(position);
    absl::StatusOr<std::vector<store::ApplyResult>> committed = ctx.commit(std::move(events), std::move(checkpoint));
    if (!committed.ok()) return committed.status();
    outcome.events += NewEvents(*committed);  // the overlap's entries are duplicates
    if (!page->next_cursor) return outcome;
  }
}

}  // namespace mm::sources
