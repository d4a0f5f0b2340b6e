#include "adapters/huudis_adapter.h"

#include <cstdint>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "adapters/huudis_mapping.h"
#include "adapters/json_fields.h"
#include "domain/event_checks.h"

namespace mm::adapters {
namespace {

using domain::EventKind;
using domain::NormalizedEvent;
using domain::ProviderEvent;
using nlohmann::json;

// Where each NormalizedEvent field comes from in `data` for one event type. An empty key means
// the type does not carry that field. `user_id` and `account_id`, when named, are required;
// `role` is required only where `role_required` says so.
struct Mapping {
  std::string_view type;
  EventKind kind = EventKind::kUserCreated;
  std::string_view user_id;
  std::string_view account_id;
  std::string_view role;
  bool role_required = false;
  std::string_view fact_time;
  std::string_view email;
  std::string_view name;
  std::string_view account_name;
  std::string_view reason;
  std::string_view actor;
  std::string_view actor_alt;  // read when `actor` is absent (the audit log's name for it)
  std::string_view added_via;
};

// Designated initializers leave out the fields a type does not carry; GCC 12 warns about that
// in C++ even though every member has a default.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
// docs/providers.md §1.9. member_removed and member_role_changed have no vendor documentation;
// their shapes mirror member_added (the INFERRED fixtures).
constexpr Mapping kMappings[] = {
    {.type = "huudis.user.disabled.v1",
     .kind = EventKind::kUserDisabled,
     .user_id = "id",
     .fact_time = "disabledAt",
     .email = "email",
     .reason = "reason",
     .actor = "disabledBy"},
    {.type = "huudis.user.enabled.v1",
     .kind = EventKind::kUserEnabled,
     .user_id = "id",
     .fact_time = "enabledAt",
     .email = "email",
     .actor = "enabledBy"},
    {.type = "huudis.user.created.v1",
     .kind = EventKind::kUserCreated,
     .user_id = "id",
     .fact_time = "createdAt",
     .email = "email",
     .name = "name"},
    {.type = "huudis.account.created.v1",
     .kind = EventKind::kAccountCreated,
     .account_id = "id",
     .fact_time = "createdAt",
     .account_name = "name"},
    {.type = "huudis.account.member_added.v1",
     .kind = EventKind::kMemberAdded,
     .user_id = "userId",
     .account_id = "accountId",
     .role = "role",
     .fact_time = "joinedAt",
     .email = "userEmail",
     .name = "userName",
     .account_name = "accountName",
     .actor = "addedByUserId",
     .added_via = "addedVia"},
    {.type = "huudis.account.member_removed.v1",
     .kind = EventKind::kMemberRemoved,
     .user_id = "userId",
     .account_id = "accountId",
     .role = "role",
     .fact_time = "removedAt",
     .email = "userEmail",
     .name = "userName",
     .account_name = "accountName",
     .actor = "removedByUserId",
     .actor_alt = "actorUserId"},
    {.type = "huudis.account.member_role_changed.v1",
     .kind = EventKind::kMemberRoleChanged,
     .user_id = "userId",
     .account_id = "accountId",
     .role = "role",
     .role_required = true,
     .fact_time = "changedAt",
     .email = "userEmail",
     .account_name = "accountName",
     .actor = "changedByUserId",
     .actor_alt = "actorUserId"},
};
#pragma GCC diagnostic pop

// What happens to an optional value over its limit (domain/event_checks.h): display text is
// shortened, an identifier or address would be wrong if cut and is left out, a role (which
// decides seats) makes the event a dead letter rather than be invented.
enum class OverLimit { kTruncate, kDrop, kDeadLetter };

struct OptionalField {
  std::string_view Mapping::*key;
  std::optional<std::string> NormalizedEvent::*field;
  size_t max_bytes;
  OverLimit over_limit;
};

constexpr OptionalField kOptionalFields[] = {
    {&Mapping::role, &NormalizedEvent::role, domain::kMaxRoleBytes, OverLimit::kDeadLetter},
    {&Mapping::email, &NormalizedEvent::email, domain::kMaxEmailBytes, OverLimit::kDrop},
    {&Mapping::name, &NormalizedEvent::name, domain::kMaxNameBytes, OverLimit::kTruncate},
    {&Mapping::account_name, &NormalizedEvent::account_name, domain::kMaxNameBytes, OverLimit::kTruncate},
    {&Mapping::reason, &NormalizedEvent::reason, domain::kMaxReasonBytes, OverLimit::kTruncate},
    {&Mapping::actor, &NormalizedEvent::actor, domain::kMaxActorBytes, OverLimit::kDrop},
    {&Mapping::added_via, &NormalizedEvent::added_via, domain::kMaxAddedViaBytes, OverLimit::kDrop},
};

const Mapping* FindMapping(std::string_view type) {
  for (const Mapping& mapping : kMappings) {
    if (mapping.type == type) return &mapping;
  }
  return nullptr;
}

// Fills `out` from `data` (labelled `label` in reasons: "data." or "metadata."). Returns the
// dead-letter reason if `data` is unusable.
std::optional<std::string> MapData(const Mapping& mapping, const json* data, std::string_view label,
                                   TimePoint fallback_time, NormalizedEvent& out) {
  const std::string name(label.substr(0, label.size() - 1));  // "data"
  if (data == nullptr || data->is_null()) return name + " missing";
  if (!data->is_object()) return name + " is not an object";

  auto required = [&](std::string_view key, std::string& field) -> std::optional<std::string> {
    if (key.empty()) return std::nullopt;
    return ReadRequiredString(*data, label, key, domain::kMaxIdBytes, field);
  };
  out.kind = mapping.kind;
  if (auto problem = required(mapping.user_id, out.user_id)) return problem;
  if (auto problem = required(mapping.account_id, out.account_id)) return problem;
  if (mapping.role_required) {
    std::string role;
    if (auto problem = ReadRequiredString(*data, label, mapping.role, domain::kMaxRoleBytes, role)) {
      return problem;
    }
    out.role = std::move(role);
  }
  for (const OptionalField& optional : kOptionalFields) {
    std::optional<std::string>& field = out.*optional.field;
    if (field.has_value()) continue;  // a required role, read above
    field = OptionalString(*data, mapping.*optional.key);
    if (!field && optional.field == &NormalizedEvent::actor) field = OptionalString(*data, mapping.actor_alt);
    if (!field || field->size() <= optional.max_bytes) continue;
    switch (optional.over_limit) {
      case OverLimit::kTruncate:
        *field = domain::TruncateUtf8(*field, optional.max_bytes);
        break;
      case OverLimit::kDrop:
        field.reset();
        break;
      case OverLimit::kDeadLetter:
        return std::string(label) + std::string(mapping.*optional.key) + " is longer than " +
               std::to_string(optional.max_bytes) + " bytes";
    }
  }
  TimeField fact_time = ReadTime(*data, label, mapping.fact_time);
  if (fact_time.problem) return fact_time.problem;
  out.fact_time = fact_time.value.value_or(fallback_time);
  return std::nullopt;
}

// Audit-log actions that carry the same data as a webhook (docs/providers.md §1.9-1.10: the
// "audit action" column of the event table; member_removed and member_role_changed are
// inferred, as their webhooks are).
struct AuditAction {
  std::string_view action;
  std::string_view webhook_type;
};
constexpr AuditAction kAuditActions[] = {
    {"ops.end_user.disabled", "huudis.user.disabled.v1"},
    {"ops.end_user.enabled", "huudis.user.enabled.v1"},
    {"auth.signup", "huudis.user.created.v1"},
    {"account.workspace_created", "huudis.account.created.v1"},
    {"account.member_added", "huudis.account.member_added.v1"},
    {"account.member_removed", "huudis.account.member_removed.v1"},
    {"account.member_role_changed", "huudis.account.member_role_changed.v1"},
};

// Crockford base32 digit value (either case), or -1. I, L, O and U are not digits.
int CrockfordValue(char c) {
  static constexpr std::string_view kDigits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  size_t pos = kDigits.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

}  // namespace

std::optional<std::string_view> HuudisWebhookTypeForAuditAction(std::string_view action) {
  for (const AuditAction& a : kAuditActions) {
    if (a.action == action) return a.webhook_type;
  }
  return std::nullopt;
}

std::optional<std::string> MapHuudisData(std::string_view webhook_type, const json* data, std::string_view label,
                                         TimePoint fallback_time, domain::NormalizedEvent& out) {
  const Mapping* mapping = FindMapping(webhook_type);
  if (mapping == nullptr) return "no mapping for " + std::string(webhook_type);
  return MapData(*mapping, data, label, fallback_time, out);
}

std::optional<TimePoint> HuudisEventIdTime(std::string_view event_id) {
  constexpr std::string_view kPrefix = "evt_";
  constexpr size_t kUlidChars = 26;
  constexpr size_t kTimeChars = 10;  // 50 bits, of which the top 2 must be zero
  if (!event_id.starts_with(kPrefix)) return std::nullopt;
  std::string_view ulid = event_id.substr(kPrefix.size());
  if (ulid.size() != kUlidChars) return std::nullopt;
  int64_t millis = 0;
  for (size_t i = 0; i < ulid.size(); ++i) {
    int value = CrockfordValue(ulid[i]);
    if (value < 0) return std::nullopt;
    if (i < kTimeChars) millis = millis * 32 + value;
  }
  if (millis >= (int64_t{1} << 48)) return std::nullopt;
  TimePoint t = FromUnixMillis(millis);
  if (!domain::IsRepresentableFactTime(t)) return std::nullopt;  // 48 bits reach year 10889
  return t;
}

HuudisAdapter::HuudisAdapter(HuudisAdapterOptions options) : options_(std::move(options)) {}

absl::Status HuudisAdapter::VerifySignature(const HeaderLookup& headers, std::string_view raw_body,
                                            TimePoint now) const {
  // The docs name one header and the SDKs the other (docs/providers.md §1.4): try both and
  // report the failure of the first one present.
  absl::Status first_failure;
  for (std::string_view name : {kSignatureHeader, kSdkSignatureHeader}) {
    std::optional<std::string_view> value = headers(name);
    if (!value.has_value()) continue;
    absl::Status status =
        VerifyHuudisSignature(*value, raw_body, options_.secrets, now, options_.tolerance);
    if (status.ok()) return status;
    if (first_failure.ok()) first_failure = std::move(status);
  }
  return first_failure.ok() ? absl::UnauthenticatedError("signature header missing")
                            : first_failure;
}

absl::StatusOr<ProviderEvent> HuudisAdapter::Decode(const HeaderLookup& headers,
                                                    std::string_view raw_body,
                                                    TimePoint now) const {
  if (absl::Status status = VerifySignature(headers, raw_body, now); !status.ok()) return status;
  return DecodeVerified(raw_body, now);
}

absl::StatusOr<ProviderEvent> HuudisAdapter::DecodeVerified(std::string_view raw_body, TimePoint now) const {
  absl::StatusOr<json> parsed = ParseJsonObjectBody(raw_body);
  if (!parsed.ok()) return parsed.status();
  const json& envelope = *parsed;

  ProviderEvent event;
  if (auto problem = ReadRequiredString(envelope, "envelope ", "id", kMaxIdBytes, event.event_id)) {
    return absl::InvalidArgumentError(*problem);
  }
  if (auto problem = ReadRequiredString(envelope, "envelope ", "type", domain::kMaxEventTypeBytes,
                                        event.event_type)) {
    return absl::InvalidArgumentError(*problem);
  }
  event.provider = domain::Provider::kHuudis;
  TimeField created_at = ReadTime(envelope, "envelope ", "createdAt");
  if (!created_at.value.has_value()) created_at.value = HuudisEventIdTime(event.event_id);
  event.fact_time = created_at.value.value_or(now);
  event.received_at = now;
  event.raw_body = std::string(raw_body);

  const Mapping* mapping = FindMapping(event.event_type);
  if (mapping == nullptr) {
    event.ignored = true;  // its time decides nothing, so a bad createdAt does not matter
    return event;
  }
  if (created_at.problem) {
    event.dead_letter_reason = std::move(created_at.problem);
    return event;
  }
  NormalizedEvent normalized;
  auto data = envelope.find("data");
  if (auto reason = MapData(*mapping, data == envelope.end() ? nullptr : &*data, "data.", event.fact_time, normalized)) {
    event.dead_letter_reason = std::move(reason);
    if (!normalized.user_id.empty()) event.named_users.push_back(std::move(normalized.user_id));
  } else {
    event.events.push_back(std::move(normalized));
  }
  return event;
}

}  // namespace mm::adapters
