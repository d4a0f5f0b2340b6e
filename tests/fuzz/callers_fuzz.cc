// Fuzz target: the callers file (server/auth/caller_registry.h CallerRegistry::FromJson) and
// BearerToken. Each input is read twice:
// 1. as it comes (crash-only beyond the status contract: the file holds hashes, so what it
//    grants cannot be tried without the tokens);
// 2. as a callers file whose entries carry a `token` instead of `token_sha256`: the harness
//    writes each token's SHA-256 in, as an operator does. Round trip: when the registry loads,
//    every token authorizes as its caller for exactly the scopes listed, also sent as a bearer
//    token.

#include <string>

#include <nlohmann/json.hpp>

#include "auth/caller_registry.h"
#include "common/crypto.h"
#include "fuzz_support.h"

namespace {

constexpr std::string_view kScopes[] = {mm::auth::kScopeUsersCheck,  mm::auth::kScopeUsersRead,
                                        mm::auth::kScopeUsersWrite,  mm::auth::kScopeMembersRead,
                                        mm::auth::kScopeSeatsRead,   mm::auth::kScopeChangesWatch,
                                        mm::auth::kScopeAdmin};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = mm::fuzz::AsText(data, size);
  mm::fuzz::Decoded(mm::auth::CallerRegistry::FromJson(text));

  if (std::optional<std::string_view> token = mm::auth::BearerToken(text)) {
    MM_FUZZ_CHECK(!token->empty() && token->front() != ' ' && token->back() != ' ');
    const std::string authorization = "Bearer " + std::string(*token);
    MM_FUZZ_CHECK(mm::auth::BearerToken(authorization) == token);
  }

  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_array()) return 0;
  for (nlohmann::json& entry : doc) {
    if (!entry.is_object() || !entry.contains("token") || !entry["token"].is_string()) return 0;
    const std::string token = entry["token"].get<std::string>();
    if (token.empty()) return 0;
    entry["token_sha256"] = mm::HexEncode(mm::Sha256(token));
  }
  absl::StatusOr<mm::auth::CallerRegistry> registry = mm::auth::CallerRegistry::FromJson(doc.dump());
  if (!mm::fuzz::Decoded(registry)) return 0;
  MM_FUZZ_CHECK(registry->size() == doc.size() && !registry->insecure());
  for (const nlohmann::json& entry : doc) {
    const std::string token = entry["token"].get<std::string>();
    const std::string name = entry["name"].get<std::string>();
    for (std::string_view scope : kScopes) {
      bool listed = false;
      for (const nlohmann::json& s : entry["scopes"]) listed |= s.get<std::string>() == scope;
      absl::StatusOr<const mm::auth::Caller*> caller = registry->Authorize(token, scope);
      if (listed) {
        MM_FUZZ_CHECK(caller.ok() && (*caller)->name == name);
      } else {
        MM_FUZZ_CHECK(!caller.ok() && caller.status().code() == absl::StatusCode::kPermissionDenied);
      }
      // Whitespace around a bearer token is dropped, so such tokens cannot round-trip that way.
      if (token.front() != ' ' && token.back() != ' ') {
        const std::string authorization = "Bearer " + token;
        std::optional<std::string_view> bearer = mm::auth::BearerToken(authorization);
        MM_FUZZ_CHECK(bearer && *bearer == token);
      }
    }
  }
  MM_FUZZ_CHECK(registry->Authorize(std::nullopt, kScopes[0]).status().code() == absl::StatusCode::kUnauthenticated);
  return 0;
}
