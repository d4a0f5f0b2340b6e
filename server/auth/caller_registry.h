#pragma once
// API caller authentication (DESIGN §4, §7). Callers are listed in MM_CALLERS_FILE with the
// SHA-256 of their token (the file never holds a usable token) and explicit scopes: `admin`
// does not imply the others. Thread-safe after construction.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mm::auth {

inline constexpr std::string_view kScopeUsersCheck = "users:check";
inline constexpr std::string_view kScopeUsersRead = "users:read";
inline constexpr std::string_view kScopeUsersWrite = "users:write";
inline constexpr std::string_view kScopeMembersRead = "members:read";
inline constexpr std::string_view kScopeSeatsRead = "seats:read";
inline constexpr std::string_view kScopeChangesWatch = "changes:watch";
inline constexpr std::string_view kScopeAdmin = "admin";

struct Caller {
  std::string name;
  std::set<std::string, std::less<>> scopes;
};

class CallerRegistry {
 public:
  // Parses the callers JSON: [{"name": "...", "token_sha256": "<64 hex>", "scopes": [...]}].
  // INVALID_ARGUMENT for malformed JSON, a bad hash, an unknown scope or a duplicate token.
  static absl::StatusOr<CallerRegistry> FromJson(std::string_view json);
  static absl::StatusOr<CallerRegistry> FromFile(const std::string& path);
  // Development only: every request is allowed, as caller "insecure-no-auth".
  static CallerRegistry Insecure();

  // UNAUTHENTICATED without a token or with an unknown one; PERMISSION_DENIED when the caller
  // lacks `scope`. The message never contains the token.
  absl::StatusOr<const Caller*> Authorize(std::optional<std::string_view> token,
                                          std::string_view scope) const;

  bool insecure() const { return insecure_; }
  size_t size() const { return by_token_hash_.size(); }

 private:
  // The caller of `token`, or null. Hashing the token (SHA-256, hex) is most of what a call
  // answered from memory costs beyond gRPC itself, and a client sends the same token on every
  // call: each thread remembers the last token it resolved in this registry.
  const Caller* Find(std::string_view token) const;

  // Names this registry's contents for that per-thread memo. Every construction, copy and move
  // (both sides of it) takes a new value, so a memo can never point into another registry.
  struct Serial {
    uint64_t value = Next();
    Serial() = default;
    Serial(const Serial&) : value(Next()) {}
    Serial(Serial&& other) noexcept : value(Next()) { other.value = Next(); }
    Serial& operator=(const Serial&) {
      value = Next();
      return *this;
    }
    Serial& operator=(Serial&& other) noexcept {
      value = Next();
      other.value = Next();
      return *this;
    }
    static uint64_t Next();
  };

  Serial serial_;
  bool insecure_ = false;
  Caller insecure_caller_;
  std::map<std::string, Caller, std::less<>> by_token_hash_;  // hex sha256 -> caller
};

// Extracts the token from an "Authorization: Bearer <token>" value (scheme case-insensitive).
std::optional<std::string_view> BearerToken(std::string_view authorization);

}  // namespace mm::auth
