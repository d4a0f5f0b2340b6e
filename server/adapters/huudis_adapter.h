#pragma once
// Huudis webhook adapter (docs/providers.md §1.4-1.9, DESIGN §2-3).
//
// Decode, in this order:
// 1. Signature: header `Huudis-Signature`, else `X-Huudis-Signature` (the SDKs' name); when both
//    are present either may verify. See huudis_signature.h. Failure: UNAUTHENTICATED.
// 2. Envelope `{id, type, createdAt, data}`: the body must be a JSON object with a non-empty
//    string `id` and a non-empty string `type`, each of at most 256 bytes. Failure:
//    INVALID_ARGUMENT. The envelope fact time is `createdAt` (RFC 3339); if missing or null,
//    the time in the ULID of an `evt_` id; else `now`. A `createdAt` that is present but not a
//    representable time (not a string, malformed, before 1970 or past 9999) makes an event of a
//    known type a dead letter (DESIGN §5a).
// 3. Event: each known type yields exactly one NormalizedEvent:
//      huudis.user.disabled.v1               kUserDisabled       fact time data.disabledAt
//      huudis.user.enabled.v1                kUserEnabled        fact time data.enabledAt
//      huudis.user.created.v1                kUserCreated        fact time data.createdAt
//      huudis.account.created.v1             kAccountCreated     fact time data.createdAt
//      huudis.account.member_added.v1        kMemberAdded        fact time data.joinedAt
//      huudis.account.member_removed.v1      kMemberRemoved      fact time data.removedAt
//      huudis.account.member_role_changed.v1 kMemberRoleChanged  fact time data.changedAt
//    (field mapping: the table in huudis_adapter.cc). A missing or null fact time falls back to
//    the envelope fact time; a present one that is not a representable time dead-letters the
//    event. Optional fields that are missing, null or of another JSON type are left unset;
//    unknown fields are ignored. Limits (domain/event_checks.h): names, account names and
//    reasons over 1,024 bytes are shortened (at a UTF-8 boundary); an email over 320 bytes, an
//    actor or `addedVia` over 256 is left unset; a role over 256 bytes dead-letters the event.
//    A required field (the user id, the account id, and `role` for role changes) that is
//    missing, not a string, empty or over 256 bytes, or a `data` that is not an object, gives
//    OK with `dead_letter_reason` set and no events. Any other type gives OK with
//    `ignored = true` and no events.
// Never throws. Thread-safe (Decode is const).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "adapters/huudis_signature.h"
#include "adapters/webhook_adapter.h"
#include "common/time.h"
#include "domain/event_checks.h"
#include "domain/events.h"

namespace mm::adapters {

struct HuudisAdapterOptions {
  // Signing secrets (`whsec_...`); a signature under any of them is accepted (rotation).
  std::vector<std::string> secrets;
  // Freshness window for the signature timestamp, either side of `now`.
  std::chrono::seconds tolerance{kHuudisDefaultTolerance};
};

class HuudisAdapter final : public WebhookAdapter {
 public:
  static constexpr std::string_view kSignatureHeader = "Huudis-Signature";
  static constexpr std::string_view kSdkSignatureHeader = "X-Huudis-Signature";
  // Longest accepted event id, user id or account id (DESIGN §4: ids over 256 bytes are invalid).
  static constexpr size_t kMaxIdBytes = domain::kMaxIdBytes;

  explicit HuudisAdapter(HuudisAdapterOptions options);

  absl::StatusOr<domain::ProviderEvent> Decode(const HeaderLookup& headers,
                                               std::string_view raw_body,
                                               TimePoint now) const override;
  // Decode after the signature: for a body that was verified when it arrived (a stored dead
  // letter replayed with today's rules).
  absl::StatusOr<domain::ProviderEvent> DecodeVerified(std::string_view raw_body, TimePoint now) const;

 private:
  absl::Status VerifySignature(const HeaderLookup& headers, std::string_view raw_body,
                               TimePoint now) const;

  HuudisAdapterOptions options_;
};

// The creation time encoded in a Huudis event id: `evt_` + a 26-character ULID whose first 10
// Crockford base32 characters are a 48-bit unix millisecond timestamp (either case accepted).
// nullopt if `event_id` is not of that form.
std::optional<TimePoint> HuudisEventIdTime(std::string_view event_id);

}  // namespace mm::adapters
