#pragma once
// FusionAuth webhook adapter (docs/design.md "FusionAuth webhooks"; docs/providers.md §2;
// fixtures tests/fixtures/fusionauth.*.json).
//
// Decode, in this order:
// 1. Authenticity. With header `X-FusionAuth-Signature-JWT` (FusionAuth 1.48+): a compact JWS
//    verified by jwt::VerifyCompactJws against the configured keys (HMAC secrets, public keys
//    by kid; the alg must fit the key, `none` is refused), whose claim `request_body_sha256`
//    must equal base64(SHA-256(raw body)) (standard alphabet, padded), compared in constant
//    time. Without the header: refused, unless `allow_unsigned` (FusionAuth before 1.48) and
//    the request carries `Authorization: Basic` with exactly the configured `user:password`
//    (constant time). Failure: UNAUTHENTICATED, with a reason that holds nothing of the body,
//    the token or the credentials.
// 2. Envelope `{"event": {id, type, createInstant, tenantId, ...}}`: a JSON object whose
//    `event` is an object with a non-empty string `id` and `type` of at most 256 bytes, else
//    INVALID_ARGUMENT. Dedup key (fusionauth, event.id). Fact time `event.createInstant`
//    (epoch milliseconds); missing or null: `now`; present but not a time in 1970..9999: an
//    event of a known type is a dead letter.
// 3. Tenant: with `tenants` configured, an event whose tenant (event.tenantId, else the user's
//    or group's tenantId) is not one of them, or that names none, is `ignored` (stored, applies
//    nothing).
// 4. Event, by type (a `.complete` variant maps as its base type):
//      user.create, user.update     UserCreated / UserUpdated (email; name = fullName, else
//                                   "firstName lastName"), and from user.active a state fact:
//                                   UserEnabled, or UserDisabled with reason "deactivated"
//      user.deactivate              UserDisabled, reason "deactivated"
//      user.reactivate              UserEnabled
//      user.delete                  UserDeleted
//      user.registration.create     MemberAdded of account = applicationId, role = the
//                                   registration's roles sorted and joined with ',' ("member"
//                                   when none), joined at registration.insertInstant
//      user.registration.update     MemberRoleChanged, the same role rule
//      user.registration.delete     MemberRemoved
//      group.member.add             MemberAdded of account = group.id (name group.name), role
//                                   "member", for each members[].userId
//      group.member.remove          MemberRemoved for each members[].userId
//      group.member.update          the group's whole member list: MemberAdded for each listed
//                                   user, then MembersReplaced (every other membership of the
//                                   group older than the event is removed)
//    Registration events are `ignored` unless `registrations`, group events unless `groups`.
//    The user is event.user (its id required); a registration's application is
//    event.applicationId, else event.registration.applicationId. Limits as for Huudis
//    (domain/event_checks.h): an id over 256 bytes or a joined role over 256 bytes makes the
//    event a dead letter, names are shortened, an over-long email is left out. A required
//    value that is missing or unusable gives OK with `dead_letter_reason` set and no events.
//    Any other type: OK with `ignored = true`.
// Never throws. Thread-safe (Decode is const; ReplaceKeys may run beside it).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "adapters/webhook_adapter.h"
#include "common/time.h"
#include "domain/events.h"
#include "jwt/jws.h"
#include "jwt/key_set.h"

namespace mm::adapters {

struct FusionAuthAdapterOptions {
  jwt::KeySet keys;                  // MM_FUSIONAUTH_HMAC_SECRETS + MM_FUSIONAUTH_PUBLIC_KEYS_FILE
  std::vector<std::string> tenants;  // MM_FUSIONAUTH_TENANTS; empty: every tenant
  bool registrations = true;         // MM_FUSIONAUTH_MEMBERSHIPS has "registrations"
  bool groups = true;                // ... has "groups"
  bool allow_unsigned = false;       // MM_FUSIONAUTH_ALLOW_UNSIGNED
  std::string basic_auth;            // "user:password" (MM_FUSIONAUTH_BASIC_AUTH_FILE)
  // How far `exp`/`nbf` claims may be off, if a token carries them (FusionAuth's do not).
  std::chrono::seconds leeway{300};
};

class FusionAuthAdapter final : public WebhookAdapter {
 public:
  static constexpr std::string_view kSignatureHeader = "X-FusionAuth-Signature-JWT";

  explicit FusionAuthAdapter(FusionAuthAdapterOptions options);

  absl::StatusOr<domain::ProviderEvent> Decode(const HeaderLookup& headers, std::string_view raw_body,
                                               TimePoint now) const override;
  // Decode after the signature: for a body that was verified when it arrived (a stored dead
  // letter replayed with today's rules, tenants and memberships included).
  absl::StatusOr<domain::ProviderEvent> DecodeVerified(std::string_view raw_body, TimePoint now) const;

  // Verifies from now on with `keys` (a changed public-keys file: key rotation without a
  // restart). A delivery being verified keeps the keys it started with.
  void ReplaceKeys(jwt::KeySet keys);

 private:
  absl::Status VerifyAuthenticity(const HeaderLookup& headers, std::string_view raw_body, TimePoint now) const;
  std::shared_ptr<const jwt::KeySet> Keys() const;

  FusionAuthAdapterOptions options_;  // its `keys` moved into keys_
  mutable absl::Mutex mu_;
  std::shared_ptr<const jwt::KeySet> keys_ ABSL_GUARDED_BY(mu_);
};

// The X-FusionAuth-Signature-JWT payload FusionAuth signs for `raw_body`:
// {"request_body_sha256": base64(SHA-256(raw_body))}.
std::string FusionAuthSignaturePayload(std::string_view raw_body);

// The X-FusionAuth-Signature-JWT value FusionAuth sends with `raw_body` when it signs with `key`
// (for membershipctl, tests and benchmarks).
absl::StatusOr<std::string> MakeFusionAuthSignatureHeader(const jwt::SigningKey& key, std::string_view raw_body);

}  // namespace mm::adapters
