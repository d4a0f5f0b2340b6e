#pragma once
// The FusionAuth webhook credentials, read and checked at start (docs/design.md "FusionAuth
// webhooks"): a bad key file stops the service with a message naming the setting, rather than
// turning every delivery into a 401.

#include <string>

#include "absl/status/statusor.h"
#include "config/settings.h"
#include "jwt/key_set.h"

namespace mm::config {

struct FusionAuthWebhookCredentials {
  jwt::KeySet keys;        // MM_FUSIONAUTH_HMAC_SECRETS(_FILE) + MM_FUSIONAUTH_PUBLIC_KEYS_FILE
  std::string basic_auth;  // `user:password` from MM_FUSIONAUTH_BASIC_AUTH_FILE, or empty
};

// INVALID_ARGUMENT naming the setting: an HMAC entry with an empty secret, an unreadable or
// unusable public-keys file, a Basic credentials file that is unreadable or not `user:password`.
absl::StatusOr<FusionAuthWebhookCredentials> LoadFusionAuthWebhookCredentials(const Settings& settings);

// Only the keys (HMAC secrets and the public-keys file read now), as the credentials above have
// them: for loading a changed public-keys file.
absl::StatusOr<jwt::KeySet> LoadFusionAuthKeys(const Settings& settings);

}  // namespace mm::config
