#include "config/fusionauth_keys.h"

#include "absl/strings/str_cat.h"

namespace mm::config {

absl::StatusOr<jwt::KeySet> LoadFusionAuthKeys(const Settings& settings) {
  jwt::KeySet keys;
  for (const std::string& entry : settings.fusionauth_hmac_secrets) {
    if (absl::Status status = keys.AddHmacSecretEntry(entry); !status.ok()) {
      // The message names the problem, never the secret.
      return absl::InvalidArgumentError(absl::StrCat("invalid MM_FUSIONAUTH_HMAC_SECRETS: ", status.message()));
    }
  }
  if (!settings.fusionauth_public_keys_file.empty()) {
    absl::StatusOr<std::string> document =
        ReadSettingFile(settings.fusionauth_public_keys_file, "MM_FUSIONAUTH_PUBLIC_KEYS_FILE");
    if (!document.ok()) return document.status();
    if (absl::Status status = keys.AddPublicKeys(*document); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid MM_FUSIONAUTH_PUBLIC_KEYS_FILE ",
                                                     settings.fusionauth_public_keys_file, ": ", status.message()));
    }
  }
  return keys;
}

absl::StatusOr<FusionAuthWebhookCredentials> LoadFusionAuthWebhookCredentials(const Settings& settings) {
  absl::StatusOr<jwt::KeySet> keys = LoadFusionAuthKeys(settings);
  if (!keys.ok()) return keys.status();
  FusionAuthWebhookCredentials out;
  out.keys = *std::move(keys);
  if (!settings.fusionauth_basic_auth_file.empty()) {
    absl::StatusOr<std::string> text =
        ReadSettingFile(settings.fusionauth_basic_auth_file, "MM_FUSIONAUTH_BASIC_AUTH_FILE");
    if (!text.ok()) return text.status();
    std::string credentials = *text;
    while (!credentials.empty() && (credentials.back() == '\n' || credentials.back() == '\r')) credentials.pop_back();
    size_t colon = credentials.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == credentials.size() ||
        credentials.find_first_of("\r\n") != std::string::npos) {
      return absl::InvalidArgumentError(
          "invalid MM_FUSIONAUTH_BASIC_AUTH_FILE: must hold one line `user:password`, both non-empty");
    }
    out.basic_auth = std::move(credentials);
  }
  return out;
}

}  // namespace mm::config
