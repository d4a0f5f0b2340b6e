#include "adapters/huudis_pull.h"

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "adapters/huudis_mapping.h"
#include "adapters/json_fields.h"
#include "domain/event_checks.h"

namespace mm::adapters {
namespace {

using nlohmann::json;

struct Items {
  const json* items = nullptr;
  std::optional<std::string> next_cursor;
};

// Either page shape (see the header). `doc` must outlive the result.
absl::StatusOr<Items> PageItems(const json& doc) {
  if (!doc.is_object()) return absl::InvalidArgumentError("page is not a JSON object");
  Items out;
  if (auto data = doc.find("data"); data != doc.end() && data->is_array()) {
    out.items = &*data;
    std::optional<std::string> cursor;
    std::optional<bool> has_more;
    if (auto meta = doc.find("meta"); meta != doc.end() && meta->is_object()) {
      cursor = OptionalString(*meta, "cursor");
      has_more = OptionalBool(*meta, "hasMore");
    }
    if (cursor && cursor->empty()) cursor.reset();
    if (has_more == true && !cursor) return absl::InvalidArgumentError("page says hasMore but names no cursor");
    if (has_more != false) out.next_cursor = cursor;
    return out;
  }
  if (auto items = doc.find("items"); items != doc.end() && items->is_array()) {
    out.items = &*items;
    out.next_cursor = OptionalString(doc, "nextCursor");
    if (out.next_cursor && out.next_cursor->empty()) out.next_cursor.reset();
    return out;
  }
  if (auto error = doc.find("error"); error != doc.end() && error->is_object()) {
    return absl::InvalidArgumentError("page holds an error: " + OptionalString(*error, "code").value_or("?"));
  }
  return absl::InvalidArgumentError("page has neither a data array nor an items array");
}

absl::StatusOr<json> Parse(std::string_view body) {
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("page is not JSON");
  return doc;
}

// The id every listed item must have; a listing with an item without one is incomplete.
absl::StatusOr<std::string> ItemId(const json& item, size_t index) {
  std::string id;
  if (!item.is_object()) return absl::InvalidArgumentError("item " + std::to_string(index) + " is not an object");
  if (auto problem = ReadRequiredString(item, "item ", "id", domain::kMaxIdBytes, id)) {
    return absl::InvalidArgumentError(*problem + " (item " + std::to_string(index) + ")");
  }
  return id;
}

std::optional<std::string> Bounded(std::optional<std::string> value, size_t max_bytes) {
  if (value && value->size() > max_bytes) return std::nullopt;
  return value;
}

HuudisAuditEntry DecodeEntry(const json& entry, std::string_view workspace, TimePoint now, bool& usable) {
  HuudisAuditEntry out;
  usable = entry.is_object() && !ReadRequiredString(entry, "", "id", domain::kMaxIdBytes, out.id);
  if (!usable) return out;
  const bool old_shape = !entry.contains("eventType") && entry.contains("action");
  TimeField created = ReadTime(entry, "", old_shape ? "timestamp" : "createdAt");
  out.created_at = created.value;
  std::optional<std::string> action = OptionalString(entry, old_shape ? "action" : "eventType");
  if (!action || OptionalString(entry, "outcome") != "success") return out;
  std::optional<std::string_view> webhook_type = HuudisWebhookTypeForAuditAction(*action);
  if (!webhook_type) return out;

  domain::ProviderEvent event;
  event.provider = domain::Provider::kHuudis;
  event.event_id = out.id;
  event.event_type = *action;
  event.fact_time = created.value.value_or(now);
  event.received_at = now;
  event.raw_body = entry.dump(-1, ' ', false, json::error_handler_t::replace);
  if (created.problem) {
    event.dead_letter_reason = "entry " + *created.problem;
    out.event = std::move(event);
    return out;
  }
  const json* metadata = nullptr;
  auto found = entry.find(old_shape ? "details" : "metadata");
  if (found != entry.end()) metadata = &*found;
  // Workspace events of the workspace's own log may leave out its id.
  json with_account;
  if (metadata != nullptr && metadata->is_object() && !metadata->contains("accountId") &&
      action->rfind("account.member", 0) == 0) {
    with_account = *metadata;
    with_account["accountId"] = std::string(workspace);
    metadata = &with_account;
  }
  domain::NormalizedEvent normalized;
  if (auto reason = MapHuudisData(*webhook_type, metadata, "metadata.", event.fact_time, normalized)) {
    event.dead_letter_reason = std::move(reason);
  } else {
    event.events.push_back(std::move(normalized));
  }
  out.event = std::move(event);
  return out;
}

}  // namespace

absl::StatusOr<HuudisAuditEntry> DecodeHuudisAuditEntry(std::string_view entry, std::string_view workspace,
                                                        TimePoint now) {
  absl::StatusOr<json> doc = Parse(entry);
  if (!doc.ok()) return doc.status();
  bool usable = false;
  HuudisAuditEntry decoded = DecodeEntry(*doc, workspace, now, usable);
  if (!usable) return absl::InvalidArgumentError("not an audit entry with an id");
  return decoded;
}

absl::StatusOr<HuudisAuditPage> DecodeHuudisAuditPage(std::string_view body, std::string_view workspace,
                                                       TimePoint now) {
  absl::StatusOr<json> doc = Parse(body);
  if (!doc.ok()) return doc.status();
  absl::StatusOr<Items> items = PageItems(*doc);
  if (!items.ok()) return items.status();
  HuudisAuditPage page;
  page.next_cursor = items->next_cursor;
  for (const json& entry : *items->items) {
    bool usable = false;
    HuudisAuditEntry decoded = DecodeEntry(entry, workspace, now, usable);
    if (!usable) {
      ++page.skipped;
      continue;
    }
    page.entries.push_back(std::move(decoded));
  }
  return page;
}

absl::StatusOr<HuudisMembersPage> DecodeHuudisMembersPage(std::string_view body) {
  absl::StatusOr<json> doc = Parse(body);
  if (!doc.ok()) return doc.status();
  absl::StatusOr<Items> items = PageItems(*doc);
  if (!items.ok()) return items.status();
  HuudisMembersPage page;
  page.next_cursor = items->next_cursor;
  size_t index = 0;
  for (const json& item : *items->items) {
    absl::StatusOr<std::string> id = ItemId(item, index++);
    if (!id.ok()) return id.status();
    domain::ListedMember m;
    m.user_id = *id;
    if (ReadRequiredString(item, "", "role", domain::kMaxRoleBytes, m.role)) {
      page.unusable.push_back(*id);
      continue;
    }
    m.email = Bounded(OptionalString(item, "email"), domain::kMaxEmailBytes);
    if (auto name = OptionalString(item, "name")) m.name = domain::TruncateUtf8(*name, domain::kMaxNameBytes);
    m.joined_at = ReadTime(item, "", "joinedAt").value;
    page.members.push_back(std::move(m));
  }
  return page;
}

absl::StatusOr<HuudisEndUsersPage> DecodeHuudisEndUsersPage(std::string_view body) {
  absl::StatusOr<json> doc = Parse(body);
  if (!doc.ok()) return doc.status();
  absl::StatusOr<Items> items = PageItems(*doc);
  if (!items.ok()) return items.status();
  HuudisEndUsersPage page;
  page.next_cursor = items->next_cursor;
  size_t index = 0;
  for (const json& item : *items->items) {
    absl::StatusOr<std::string> id = ItemId(item, index++);
    if (!id.ok()) return id.status();
    std::optional<bool> disabled = OptionalBool(item, "disabled");
    if (!disabled) {
      page.unusable.push_back(*id);
      continue;
    }
    domain::ListedUser u;
    u.user_id = *id;
    u.disabled = *disabled;
    u.email = Bounded(OptionalString(item, "email"), domain::kMaxEmailBytes);
    if (auto name = OptionalString(item, "name")) u.name = domain::TruncateUtf8(*name, domain::kMaxNameBytes);
    page.users.push_back(std::move(u));
  }
  return page;
}

}  // namespace mm::adapters
