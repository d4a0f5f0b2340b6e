#pragma once
// The Huudis field mapping (the table in huudis_adapter.cc), shared by the webhook adapter and
// the audit-log decoder (huudis_pull.h): the audit log carries the webhooks' data under other
// action names (docs/providers.md §1.10).

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/time.h"
#include "domain/events.h"

namespace mm::adapters {

// The webhook type whose `data` means what this audit action's metadata means, or nullopt for
// actions the mirror does not use (logins, policy changes, ...).
std::optional<std::string_view> HuudisWebhookTypeForAuditAction(std::string_view action);

// Fills `out` from `data` (null: missing) as the webhook adapter does for `webhook_type`, with
// reasons labelled `label` ("data." or "metadata."), the fact time falling back to
// `fallback_time`. Returns the dead-letter reason, or nullopt when `out` is usable.
std::optional<std::string> MapHuudisData(std::string_view webhook_type, const nlohmann::json* data,
                                         std::string_view label, TimePoint fallback_time,
                                         domain::NormalizedEvent& out);

}  // namespace mm::adapters
