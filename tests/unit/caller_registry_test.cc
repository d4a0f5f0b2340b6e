// Caller authentication (DESIGN §4, §7): the callers file, scopes, bearer tokens.

#include "auth/caller_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/crypto.h"

namespace mm::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string HashOf(std::string_view token) { return HexEncode(Sha256(token)); }

// One callers-file entry.
std::string Entry(const std::string& name, const std::string& token_hash,
                  const std::string& scopes_json) {
  return R"({"name":")" + name + R"(","token_sha256":")" + token_hash + R"(","scopes":)" +
         scopes_json + "}";
}

constexpr char kBillingToken[] = "tok-billing-s3cret";
constexpr char kOpsToken[] = "tok-ops-s3cret";
constexpr char kAdminToken[] = "tok-admin-s3cret";

CallerRegistry Registry() {
  absl::StatusOr<CallerRegistry> registry = CallerRegistry::FromJson(
      "[" + Entry("billing", HashOf(kBillingToken), R"(["seats:read","users:check"])") + "," +
      Entry("ops", HashOf(kOpsToken), R"(["users:write","users:read"])") + "," +
      Entry("root", HashOf(kAdminToken), R"(["admin"])") + "]");
  EXPECT_TRUE(registry.ok()) << registry.status();
  return registry.ok() ? *std::move(registry) : CallerRegistry::Insecure();
}

void ExpectParseError(const std::string& json, const std::string& fragment) {
  absl::StatusOr<CallerRegistry> registry = CallerRegistry::FromJson(json);
  EXPECT_EQ(registry.status().code(), absl::StatusCode::kInvalidArgument) << json;
  EXPECT_THAT(std::string(registry.status().message()), HasSubstr(fragment)) << json;
}

TEST(CallerRegistryParseTest, ValidFile) {
  CallerRegistry registry = Registry();
  EXPECT_EQ(registry.size(), 3u);
  EXPECT_FALSE(registry.insecure());
}

TEST(CallerRegistryParseTest, EmptyArrayIsValidAndAllowsNobody) {
  absl::StatusOr<CallerRegistry> registry = CallerRegistry::FromJson("[]");
  ASSERT_TRUE(registry.ok()) << registry.status();
  EXPECT_EQ(registry->size(), 0u);
  EXPECT_EQ(registry->Authorize("anything", kScopeUsersCheck).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(CallerRegistryParseTest, NotAnArray) {
  ExpectParseError(R"({"name":"x"})", "array");
  ExpectParseError("not json", "array");
  ExpectParseError("", "array");
  ExpectParseError(R"([{"name":"x",)", "array");  // truncated
}

TEST(CallerRegistryParseTest, MissingOrMistypedFields) {
  const std::string hash = HashOf("t");
  ExpectParseError(R"([{"token_sha256":")" + hash + R"(","scopes":[]}])", "callers[0]");
  ExpectParseError(R"([{"name":"x","scopes":[]}])", "callers[0]");
  ExpectParseError(R"([{"name":"x","token_sha256":")" + hash + R"("}])", "callers[0]");
  ExpectParseError(R"([{"name":5,"token_sha256":")" + hash + R"(","scopes":[]}])", "callers[0]");
  ExpectParseError(R"([{"name":"x","token_sha256":")" + hash + R"(","scopes":"admin"}])",
                   "callers[0]");
  ExpectParseError(R"(["just a string"])", "callers[0]");
  // The index points at the bad entry.
  ExpectParseError("[" + Entry("ok", hash, "[]") + R"(,{"name":"x"}])", "callers[1]");
}

TEST(CallerRegistryParseTest, BadHash) {
  const std::string hash = HashOf("t");
  ExpectParseError("[" + Entry("x", hash.substr(1), "[]") + "]", "token_sha256");  // 63 digits
  ExpectParseError("[" + Entry("x", hash + "0", "[]") + "]", "token_sha256");      // 65 digits
  ExpectParseError("[" + Entry("x", "", "[]") + "]", "token_sha256");
  std::string not_hex = hash;
  not_hex[10] = 'g';
  ExpectParseError("[" + Entry("x", not_hex, "[]") + "]", "token_sha256");
  // The raw token itself is not a hash.
  ExpectParseError("[" + Entry("x", kBillingToken, "[]") + "]", "token_sha256");
}

TEST(CallerRegistryParseTest, UppercaseHashIsAccepted) {
  std::string upper = HashOf(kBillingToken);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  absl::StatusOr<CallerRegistry> registry =
      CallerRegistry::FromJson("[" + Entry("x", upper, R"(["users:check"])") + "]");
  ASSERT_TRUE(registry.ok()) << registry.status();
  EXPECT_TRUE(registry->Authorize(kBillingToken, kScopeUsersCheck).ok());
}

TEST(CallerRegistryParseTest, UnknownScope) {
  ExpectParseError("[" + Entry("x", HashOf("t"), R"(["users:check","users:delete"])") + "]",
                   "users:delete");
  ExpectParseError("[" + Entry("x", HashOf("t"), R"(["*"])") + "]", "unknown scope");
  ExpectParseError("[" + Entry("x", HashOf("t"), R"([1])") + "]", "scopes");
}

TEST(CallerRegistryParseTest, EveryDesignScopeIsKnown) {
  absl::StatusOr<CallerRegistry> registry = CallerRegistry::FromJson(
      "[" +
      Entry("x", HashOf("t"),
            R"(["users:check","users:read","members:read","seats:read","changes:watch",)"
            R"("users:write","admin"])") +
      "]");
  EXPECT_TRUE(registry.ok()) << registry.status();
}

TEST(CallerRegistryParseTest, DuplicateToken) {
  ExpectParseError(
      "[" + Entry("a", HashOf("same"), "[]") + "," + Entry("b", HashOf("same"), "[]") + "]",
      "twice");
  // Also when the two spellings differ only in case.
  std::string upper = HashOf("same");
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ExpectParseError("[" + Entry("a", HashOf("same"), "[]") + "," + Entry("b", upper, "[]") + "]",
                   "twice");
}

TEST(CallerRegistryParseTest, FromFile) {
  std::filesystem::path path =
      std::filesystem::path(::testing::TempDir()) / "caller_registry_test.json";
  std::ofstream(path) << "[" << Entry("billing", HashOf(kBillingToken), R"(["seats:read"])") << "]";
  absl::StatusOr<CallerRegistry> registry = CallerRegistry::FromFile(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(registry.ok()) << registry.status();
  EXPECT_TRUE(registry->Authorize(kBillingToken, kScopeSeatsRead).ok());

  absl::StatusOr<CallerRegistry> missing = CallerRegistry::FromFile(path.string());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(path.string()));
}

TEST(AuthorizeTest, MissingTokenIsUnauthenticated) {
  CallerRegistry registry = Registry();
  EXPECT_EQ(registry.Authorize(std::nullopt, kScopeUsersCheck).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(registry.Authorize("", kScopeUsersCheck).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(AuthorizeTest, UnknownTokenIsUnauthenticated) {
  CallerRegistry registry = Registry();
  absl::StatusOr<const Caller*> caller = registry.Authorize("tok-guess", kScopeUsersCheck);
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(caller.status().message()), Not(HasSubstr("tok-guess")));
  // The hash itself is not a token.
  EXPECT_EQ(registry.Authorize(HashOf(kBillingToken), kScopeUsersCheck).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(AuthorizeTest, KnownTokenWithoutScopeIsPermissionDenied) {
  CallerRegistry registry = Registry();
  absl::StatusOr<const Caller*> caller = registry.Authorize(kBillingToken, kScopeUsersWrite);
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(caller.status().message()), HasSubstr("billing"));
  EXPECT_THAT(std::string(caller.status().message()), Not(HasSubstr(kBillingToken)));
}

TEST(AuthorizeTest, KnownTokenWithScopeIsOk) {
  CallerRegistry registry = Registry();
  absl::StatusOr<const Caller*> caller = registry.Authorize(kBillingToken, kScopeSeatsRead);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ((*caller)->name, "billing");
  EXPECT_TRUE(registry.Authorize(kBillingToken, kScopeUsersCheck).ok());
  ASSERT_TRUE(registry.Authorize(kOpsToken, kScopeUsersWrite).ok());
  EXPECT_EQ((*registry.Authorize(kOpsToken, kScopeUsersWrite))->name, "ops");
}

TEST(AuthorizeTest, AdminDoesNotImplyOtherScopes) {
  CallerRegistry registry = Registry();
  EXPECT_TRUE(registry.Authorize(kAdminToken, kScopeAdmin).ok());
  for (std::string_view scope : {kScopeUsersCheck, kScopeUsersRead, kScopeUsersWrite,
                                 kScopeMembersRead, kScopeSeatsRead, kScopeChangesWatch}) {
    EXPECT_EQ(registry.Authorize(kAdminToken, scope).status().code(),
              absl::StatusCode::kPermissionDenied)
        << scope;
  }
  // Nor do other scopes imply admin.
  EXPECT_EQ(registry.Authorize(kOpsToken, kScopeAdmin).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AuthorizeTest, TokensAreCaseSensitive) {
  CallerRegistry registry = Registry();
  EXPECT_EQ(registry.Authorize("TOK-BILLING-S3CRET", kScopeSeatsRead).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(AuthorizeTest, InsecureAllowsEverything) {
  CallerRegistry registry = CallerRegistry::Insecure();
  EXPECT_TRUE(registry.insecure());
  for (std::string_view scope :
       {kScopeUsersCheck, kScopeUsersRead, kScopeUsersWrite, kScopeMembersRead, kScopeSeatsRead,
        kScopeChangesWatch, kScopeAdmin}) {
    absl::StatusOr<const Caller*> caller = registry.Authorize(std::nullopt, scope);
    ASSERT_TRUE(caller.ok()) << scope;
    EXPECT_EQ((*caller)->name, "insecure-no-auth");
    EXPECT_TRUE(registry.Authorize("whatever", scope).ok());
  }
}

// Authorize remembers the last token per thread: the memo must never answer for another
// registry, for a moved-from registry, or after a different token.
TEST(AuthorizeTest, RememberedTokenNeverAnswersForAnotherRegistry) {
  CallerRegistry first = Registry();
  ASSERT_TRUE(first.Authorize(kBillingToken, kScopeSeatsRead).ok());
  // Same token, other scopes, in a registry made right after: it decides for itself.
  auto second = CallerRegistry::FromJson("[" + Entry("other", HashOf(kBillingToken), R"(["users:read"])") + "]");
  ASSERT_TRUE(second.ok());
  auto denied = second->Authorize(kBillingToken, kScopeSeatsRead);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  auto caller = second->Authorize(kBillingToken, kScopeUsersRead);
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ((*caller)->name, "other");
  // Back to the first: still its own caller, and a different token is not confused with it.
  caller = first.Authorize(kBillingToken, kScopeSeatsRead);
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ((*caller)->name, "billing");
  EXPECT_EQ(first.Authorize("tok-billing-s3cret-", kScopeSeatsRead).status().code(),
            absl::StatusCode::kUnauthenticated);
  // A registry moved elsewhere keeps answering; the moved-from one knows nobody.
  CallerRegistry moved = std::move(first);
  caller = moved.Authorize(kBillingToken, kScopeSeatsRead);
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ((*caller)->name, "billing");
  EXPECT_EQ(first.Authorize(kBillingToken, kScopeSeatsRead).status().code(),  // NOLINT(bugprone-use-after-move)
            absl::StatusCode::kUnauthenticated);
}

TEST(BearerTokenTest, ExtractsTheToken) {
  EXPECT_EQ(BearerToken("Bearer abc.def"), "abc.def");
  EXPECT_EQ(BearerToken("Bearer a"), "a");
}

TEST(BearerTokenTest, SchemeIsCaseInsensitive) {
  EXPECT_EQ(BearerToken("bearer abc"), "abc");
  EXPECT_EQ(BearerToken("BEARER abc"), "abc");
  EXPECT_EQ(BearerToken("BeArEr abc"), "abc");
}

TEST(BearerTokenTest, ExtraSpacesAreTrimmed) {
  EXPECT_EQ(BearerToken("Bearer    abc"), "abc");
  EXPECT_EQ(BearerToken("Bearer abc   "), "abc");
}

TEST(BearerTokenTest, MissingTokenOrOtherScheme) {
  EXPECT_EQ(BearerToken(""), std::nullopt);
  EXPECT_EQ(BearerToken("Bearer"), std::nullopt);
  EXPECT_EQ(BearerToken("Bearer "), std::nullopt);
  EXPECT_EQ(BearerToken("Bearer     "), std::nullopt);
  EXPECT_EQ(BearerToken("Basic dXNlcjpwYXNz"), std::nullopt);
  EXPECT_EQ(BearerToken("Bearerabc"), std::nullopt);
  EXPECT_EQ(BearerToken("abc"), std::nullopt);
}

TEST(BearerTokenTest, ExtractedTokenAuthorizes) {
  CallerRegistry registry = Registry();
  std::string header = std::string("Bearer ") + kBillingToken;
  EXPECT_TRUE(registry.Authorize(BearerToken(header), kScopeSeatsRead).ok());
  EXPECT_EQ(registry.Authorize(BearerToken("Bearer "), kScopeSeatsRead).status().code(),
            absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace mm::auth
