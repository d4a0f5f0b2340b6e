#pragma once
// Decoders of the Huudis admin API pages the pull sources read (docs/providers.md §1.1,
// §1.10-1.12; fixtures tests/fixtures/huudis.audit-log.page.json, huudis.iam-users.page.json,
// huudis.end-users.page.json). Pure: bytes in, values out; never throw.
//
// Pages come in either shape, decoded alike: the documented Forjio envelope
//   {"data": [...], "error": null, "meta": {"cursor": "...", "hasMore": true}}
// and the Go SDK's {"items": [...], "nextCursor": "..."}. A page is the last when it names no
// next cursor (or says hasMore false). INVALID_ARGUMENT when the body is not one of those, or
// says there is more without a cursor, or holds an item without a usable id: a listing with
// such a page is incomplete (nothing may be concluded from what it lacks).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/time.h"
#include "domain/events.h"
#include "domain/reconcile.h"

namespace mm::adapters {

// One audit entry, in the CLI shape {id, eventType, outcome, createdAt, metadata} or the Go
// SDK's {id, accountId, action, outcome, timestamp, details}.
struct HuudisAuditEntry {
  std::string id;
  std::optional<TimePoint> created_at;  // nullopt if missing or not a representable time
  // The fact as a provider event (provider huudis, event id = the entry id, type = the action,
  // raw body = the entry), for a successful entry of an action that carries a webhook's data
  // (huudis_mapping.h): with the webhook's normalized event, its fact time from the metadata
  // (else the entry time), or a dead letter if the metadata is unusable. nullopt for other
  // entries (logins, failures, ...), which the mirror does not store.
  std::optional<domain::ProviderEvent> event;
};

struct HuudisAuditPage {
  std::vector<HuudisAuditEntry> entries;  // in page order (newest first)
  std::optional<std::string> next_cursor;
  size_t skipped = 0;  // entries without a usable id (the mirror cannot store or dedup them)
};

// `workspace` fills in the account id of account.* entries whose metadata lacks one (the
// audit log is a workspace's own); `now` is the receive time.
absl::StatusOr<HuudisAuditPage> DecodeHuudisAuditPage(std::string_view body, std::string_view workspace,
                                                       TimePoint now);

// One stored entry (the raw body of an event DecodeHuudisAuditPage made) decoded again with
// today's rules: a stored dead letter's replay. INVALID_ARGUMENT if it is not an entry.
absl::StatusOr<HuudisAuditEntry> DecodeHuudisAuditEntry(std::string_view entry, std::string_view workspace,
                                                        TimePoint now);

// GET /v1/iam/users: {id, email, name, role, joinedAt, ...}.
struct HuudisMembersPage {
  std::vector<domain::ListedMember> members;
  std::vector<std::string> unusable;  // listed ids whose role is missing or unusable
  std::optional<std::string> next_cursor;
};
absl::StatusOr<HuudisMembersPage> DecodeHuudisMembersPage(std::string_view body);

// GET /v1/ops/end-users: {id, email, name, disabled, ...}.
struct HuudisEndUsersPage {
  std::vector<domain::ListedUser> users;
  std::vector<std::string> unusable;  // listed ids without a boolean `disabled`
  std::optional<std::string> next_cursor;
};
absl::StatusOr<HuudisEndUsersPage> DecodeHuudisEndUsersPage(std::string_view body);

}  // namespace mm::adapters
