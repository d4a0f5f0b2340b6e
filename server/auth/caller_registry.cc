#include "auth/caller_registry.h"

#include <array>
#include <atomic>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"

namespace mm::auth {
namespace {
constexpr std::array<std::string_view, 7> kKnownScopes = {
    kScopeUsersCheck, kScopeUsersRead,    kScopeUsersWrite, kScopeMembersRead,
    kScopeSeatsRead,  kScopeChangesWatch, kScopeAdmin};
}  // namespace

absl::StatusOr<CallerRegistry> CallerRegistry::FromJson(std::string_view text) {
  CallerRegistry registry;
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_array()) return absl::InvalidArgumentError("callers file must be a JSON array");
  for (size_t i = 0; i < doc.size(); ++i) {
    const nlohmann::json& entry = doc[i];
    std::string where = absl::StrCat("callers[", i, "]");
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
        !entry.contains("token_sha256") || !entry["token_sha256"].is_string() ||
        !entry.contains("scopes") || !entry["scopes"].is_array()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " needs string name, string token_sha256 and array scopes"));
    }
    Caller caller;
    caller.name = entry["name"].get<std::string>();
    std::string hash = entry["token_sha256"].get<std::string>();
    for (char& c : hash) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (hash.size() != 64 || !HexDecode(hash)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".token_sha256 must be 64 hex digits"));
    }
    for (const auto& scope : entry["scopes"]) {
      if (!scope.is_string()) return absl::InvalidArgumentError(absl::StrCat(where, ": scopes must be strings"));
      std::string s = scope.get<std::string>();
      bool known = false;
      for (std::string_view k : kKnownScopes) known |= k == s;
      if (!known) return absl::InvalidArgumentError(absl::StrCat(where, ": unknown scope '", s, "'"));
      caller.scopes.insert(s);
    }
    if (!registry.by_token_hash_.emplace(hash, std::move(caller)).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": the same token is listed twice"));
    }
  }
  return registry;
}

absl::StatusOr<CallerRegistry> CallerRegistry::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read callers file ", path));
  std::stringstream text;
  text << in.rdbuf();
  auto registry = FromJson(text.str());
  if (!registry.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", std::string(registry.status().message())));
  }
  return registry;
}

CallerRegistry CallerRegistry::Insecure() {
  CallerRegistry registry;
  registry.insecure_ = true;
  registry.insecure_caller_.name = "insecure-no-auth";
  for (std::string_view s : kKnownScopes) registry.insecure_caller_.scopes.emplace(s);
  return registry;
}

absl::StatusOr<const Caller*> CallerRegistry::Authorize(std::optional<std::string_view> token,
                                                        std::string_view scope) const {
  if (insecure_) return &insecure_caller_;
  if (!token || token->empty()) return absl::UnauthenticatedError("missing bearer token");
  const Caller* caller = Find(*token);
  if (caller == nullptr) return absl::UnauthenticatedError("unknown token");
  if (!caller->scopes.contains(scope)) {
    return absl::PermissionDeniedError(absl::StrCat("caller '", caller->name, "' lacks scope ", std::string(scope)));
  }
  return caller;
}

const Caller* CallerRegistry::Find(std::string_view token) const {
  struct Memo {
    uint64_t serial = 0;  // 0: empty (serials start at 1)
    std::string token;
    const Caller* caller = nullptr;
  };
  thread_local Memo memo;
  if (memo.serial == serial_.value && ConstantTimeEquals(memo.token, token)) return memo.caller;
  auto it = by_token_hash_.find(HexEncode(Sha256(token)));
  if (it == by_token_hash_.end()) return nullptr;  // unknown tokens are not remembered
  memo.serial = serial_.value;
  memo.token.assign(token.data(), token.size());
  memo.caller = &it->second;
  return memo.caller;
}

uint64_t CallerRegistry::Serial::Next() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

std::optional<std::string_view> BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return std::nullopt;
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

}  // namespace mm::auth
