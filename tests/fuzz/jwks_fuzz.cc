// Fuzz target: the FusionAuth webhook key files (server/jwt/key_set.h KeySet::AddPublicKeys, a
// JWKS or {"publicKeys": {kid: PEM}}) and MM_FUSIONAUTH_HMAC_SECRETS entries
// (AddHmacSecretEntry). Each input is read as both. Checks:
// 1. a refused document is INVALID_ARGUMENT and adds nothing; an accepted one adds at least one
//    key; published again (KeySet::PublicJwks) it loads into a fresh set to the same number of
//    keys and publishes identically; and adding the same document twice is refused (its kids are
//    taken) without changing the set;
// 2. an HMAC entry is refused (INVALID_ARGUMENT, nothing added) exactly when it is empty or ends
//    in the first ':' after a non-empty kid; otherwise it adds one secret.

#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "jwt/key_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = mm::fuzz::AsText(data, size);

  mm::jwt::KeySet keys;
  const absl::Status loaded = keys.AddPublicKeys(input);
  if (!loaded.ok()) {
    MM_FUZZ_CHECK(loaded.code() == absl::StatusCode::kInvalidArgument);
    MM_FUZZ_CHECK(keys.empty());
  } else {
    MM_FUZZ_CHECK(keys.public_key_count() >= 1 && keys.hmac_secret_count() == 0);
    const nlohmann::json published = keys.PublicJwks();
    MM_FUZZ_CHECK(published.at("keys").size() == keys.public_key_count());
    mm::jwt::KeySet again;
    MM_FUZZ_CHECK(again.AddPublicKeys(published.dump()).ok());
    MM_FUZZ_CHECK(again.public_key_count() == keys.public_key_count());
    MM_FUZZ_CHECK(again.PublicJwks() == published);
    const absl::Status twice = keys.AddPublicKeys(input);
    MM_FUZZ_CHECK(twice.code() == absl::StatusCode::kInvalidArgument);
    MM_FUZZ_CHECK(keys.public_key_count() == again.public_key_count());
  }

  mm::jwt::KeySet secrets;
  const size_t colon = input.find(':');
  const bool empty_secret = input.empty() || (colon != std::string_view::npos && colon > 0 && colon + 1 == input.size());
  const absl::Status added = secrets.AddHmacSecretEntry(input);
  if (empty_secret) {
    MM_FUZZ_CHECK(added.code() == absl::StatusCode::kInvalidArgument && secrets.empty());
  } else {
    MM_FUZZ_CHECK(added.ok() && secrets.hmac_secret_count() == 1 && secrets.public_key_count() == 0);
  }
  return 0;
}
