#include "adapters/fusionauth_adapter.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "adapters/adapter_test_support.h"
#include "common/crypto.h"
#include "jwt/jws.h"

namespace mm::adapters {
namespace {

using domain::EventKind;
using domain::NormalizedEvent;
using domain::ProviderEvent;
using nlohmann::json;
using testing::ExpectSameEvent;
using testing::Headers;
using testing::ReadFixture;
using ::testing::HasSubstr;

constexpr char kSecret[] = "fusionauth-adapter-test-hmac-secret-0001";
constexpr char kTenant[] = "29b8006d-fbbc-45b7-86e8-90d91b0e7131";
constexpr char kDana[] = "dd03f8bc-a5e3-49d4-8b7b-9ebabd24ee00";
constexpr char kDanaEmail[] = "dana.okafor@example.net";
constexpr char kApp[] = "0e91cedd-9a8f-421d-bdcf-581d19dda30c";
constexpr char kGroup[] = "fe0cfae9-5369-41d1-9f56-5e296bfdd1e9";
constexpr char kGroupName[] = "Lumen Analytics";
const TimePoint kNow = FromUnixMillis(1790000000000);

std::string Sign(std::string_view body, const std::string& secret = kSecret, jwt::Algorithm alg = jwt::Algorithm::kHS256) {
  absl::StatusOr<jwt::SigningKey> key = jwt::SigningKey::Hmac(alg, "test-kid", secret);
  EXPECT_TRUE(key.ok()) << key.status();
  absl::StatusOr<std::string> token = MakeFusionAuthSignatureHeader(*key, body);
  EXPECT_TRUE(token.ok()) << token.status();
  return token.ok() ? *token : "";
}

jwt::KeySet SecretKeys(const std::string& entry = kSecret) {
  jwt::KeySet keys;
  EXPECT_TRUE(keys.AddHmacSecretEntry(entry).ok());
  return keys;
}

FusionAuthAdapterOptions Options() { return {.keys = SecretKeys()}; }

class FusionAuthAdapterTest : public ::testing::Test {
 protected:
  absl::StatusOr<ProviderEvent> Decode(std::string_view body) const {
    return adapter_.Decode(Headers({{"X-FusionAuth-Signature-JWT", Sign(body)}}), body, kNow);
  }

  // Decodes `fixture` after `edit`; expects an OK result.
  ProviderEvent DecodeEdited(const std::string& fixture, const std::function<void(json&)>& edit) {
    json body = json::parse(ReadFixture(fixture));
    edit(body);
    absl::StatusOr<ProviderEvent> event = Decode(body.dump());
    EXPECT_TRUE(event.ok()) << event.status();
    return event.ok() ? *std::move(event) : ProviderEvent{};
  }

  void ExpectDeadLetter(const std::string& fixture, const std::function<void(json&)>& edit, std::string_view reason) {
    ProviderEvent event = DecodeEdited(fixture, edit);
    EXPECT_FALSE(event.ignored);
    ASSERT_TRUE(event.dead_letter_reason.has_value()) << fixture;
    EXPECT_THAT(*event.dead_letter_reason, HasSubstr(std::string(reason)));
    EXPECT_TRUE(event.events.empty());
  }

  FusionAuthAdapter adapter_{Options()};
};

// ---------------------------------------------------------------------------------------------
// Every fusionauth.* webhook fixture, every field.

struct FixtureCase {
  std::string file;  // tests/fixtures/<file>.json
  std::string event_id;
  std::string type;
  int64_t create_instant;
  std::vector<NormalizedEvent> expected;
};

void PrintTo(const FixtureCase& c, std::ostream* os) { *os << c.file; }

NormalizedEvent Dana(EventKind kind, int64_t at) {
  return {.kind = kind, .user_id = kDana, .fact_time = FromUnixMillis(at), .email = kDanaEmail};
}

std::vector<FixtureCase> FixtureCases() {
  auto with = [](NormalizedEvent e, const std::function<void(NormalizedEvent&)>& edit) {
    edit(e);
    return e;
  };
  auto member_of_group = [](EventKind kind, const char* user, int64_t at, std::optional<int64_t> joined) {
    NormalizedEvent e{.kind = kind, .user_id = user, .account_id = kGroup, .fact_time = FromUnixMillis(at),
                      .account_name = kGroupName};
    if (kind == EventKind::kMemberAdded) e.role = "member";
    if (joined) e.joined_at = FromUnixMillis(*joined);
    return e;
  };
  const int64_t create = 1773062525160, update = 1779952869233, deactivate = 1780478127612,
                reactivate = 1780581732033, del = 1781940644219, reg_create = 1779293223300,
                reg_update = 1779952869120, reg_delete = 1781092116800, group_add = 1779293223420,
                group_remove = 1781092116900, group_update = 1781164800050, group_empty = 1781251200050;
  return {
      {"fusionauth.user.create", "61248907-ac52-4585-a338-1028e564f252", "user.create", create,
       {with(Dana(EventKind::kUserCreated, create), [](auto& e) { e.name = "Dana Okafor"; }),
        Dana(EventKind::kUserEnabled, create)}},
      {"fusionauth.user.update", "531ae590-6eb5-4991-bbf0-f0ed99211f60", "user.update", update,
       {with(Dana(EventKind::kUserUpdated, update), [](auto& e) { e.name = "Dana Okafor-Reyes"; }),
        Dana(EventKind::kUserEnabled, update)}},
      {"fusionauth.user.deactivate", "76c28e52-8bc1-4cca-a207-a0dab22e538f", "user.deactivate", deactivate,
       {with(Dana(EventKind::kUserDisabled, deactivate), [](auto& e) { e.reason = "deactivated"; })}},
      {"fusionauth.user.reactivate", "20825ed7-6e4c-4124-8985-4b2664d0be29", "user.reactivate", reactivate,
       {Dana(EventKind::kUserEnabled, reactivate)}},
      {"fusionauth.user.delete", "4e27b7e2-4b69-4003-ae50-72d53c19178e", "user.delete", del,
       {with(Dana(EventKind::kUserDeleted, del), [](auto& e) { e.email.reset(); })}},
      {"fusionauth.user.delete.complete", "4e27b7e2-4b69-4003-ae50-72d53c19178e", "user.delete.complete", del,
       {with(Dana(EventKind::kUserDeleted, del), [](auto& e) { e.email.reset(); })}},
      {"fusionauth.user.registration.create", "55362442-457e-456b-a4bd-ac98f29831a3", "user.registration.create",
       reg_create,
       {with(Dana(EventKind::kMemberAdded, reg_create), [](auto& e) {
         e.account_id = kApp;
         e.name = "Dana Okafor";
         e.role = "member";
         e.joined_at = FromUnixMillis(1779293223251);
       })}},
      {"fusionauth.user.registration.update", "33a2afea-343a-42da-9a00-134a28c871fc", "user.registration.update",
       reg_update,
       {with(Dana(EventKind::kMemberRoleChanged, reg_update), [](auto& e) {
         e.account_id = kApp;
         e.name = "Dana Okafor";
         e.role = "admin";
       })}},
      {"fusionauth.user.registration.delete", "c2aacd76-a7cf-43d8-9cf3-44f0db4b6376", "user.registration.delete",
       reg_delete,
       {with(Dana(EventKind::kMemberRemoved, reg_delete), [](auto& e) {
         e.account_id = kApp;
         e.name = "Dana Okafor";
       })}},
      {"fusionauth.group.member.add", "f2734535-1c17-4f7b-96b8-c80391e95f15", "group.member.add", group_add,
       {member_of_group(EventKind::kMemberAdded, kDana, group_add, 1779293223400)}},
      {"fusionauth.group.member.remove", "4615ff05-e09d-4d68-96de-9daed67fccff", "group.member.remove", group_remove,
       {member_of_group(EventKind::kMemberRemoved, kDana, group_remove, std::nullopt)}},
      {"fusionauth.group.member.update", "ece69940-5101-4187-8d7f-3d73adbf863e", "group.member.update", group_update,
       {member_of_group(EventKind::kMemberAdded, "edb6767c-be06-4341-a888-addca22dad33", group_update,
                        1775131800000),
        {.kind = EventKind::kMembersReplaced, .account_id = kGroup, .fact_time = FromUnixMillis(group_update),
         .account_name = kGroupName}}},
      {"fusionauth.group.member.update.all-removed", "8c358f7f-f1e3-4c6a-b979-228ad9e81c70", "group.member.update",
       group_empty,
       {{.kind = EventKind::kMembersReplaced, .account_id = kGroup, .fact_time = FromUnixMillis(group_empty),
         .account_name = kGroupName}}},
  };
}

class FusionAuthFixtureTest : public FusionAuthAdapterTest, public ::testing::WithParamInterface<FixtureCase> {};

TEST_P(FusionAuthFixtureTest, DecodesEveryField) {
  const FixtureCase& c = GetParam();
  const std::string body = ReadFixture(c.file + ".json");
  absl::StatusOr<ProviderEvent> event = Decode(body);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->provider, domain::Provider::kFusionAuth);
  EXPECT_EQ(event->event_id, c.event_id);
  EXPECT_EQ(event->event_type, c.type);
  EXPECT_EQ(FormatRfc3339(event->fact_time), FormatRfc3339(FromUnixMillis(c.create_instant)));
  EXPECT_EQ(event->received_at, kNow);
  EXPECT_EQ(event->raw_body, body);
  EXPECT_FALSE(event->ignored);
  EXPECT_FALSE(event->dead_letter_reason.has_value()) << *event->dead_letter_reason;
  ASSERT_EQ(event->events.size(), c.expected.size());
  for (size_t i = 0; i < c.expected.size(); ++i) {
    SCOPED_TRACE(i);
    ExpectSameEvent(event->events[i], c.expected[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FusionAuthFixtureTest, ::testing::ValuesIn(FixtureCases()),
                         [](const auto& param_info) {
                           std::string name = param_info.param.file.substr(std::string("fusionauth.").size());
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

// ---------------------------------------------------------------------------------------------
// Authenticity.

TEST(FusionAuthSignatureTest, TheTestVectorVerifiesWithThePlainSecretAndWithItsKid) {
  json vector = json::parse(ReadFixture("fusionauth.signature-test-vector.json"));
  const std::string body = vector["rawBody"];
  const std::string secret = vector["hmacSecretUtf8"];
  const std::string token = vector["headers"]["X-FusionAuth-Signature-JWT"];
  EXPECT_EQ(json::parse(FusionAuthSignaturePayload(body)), vector["jwtPayload"]);
  for (const std::string& entry : {secret, std::string(vector["jwtHeader"]["kid"]) + ":" + secret}) {
    FusionAuthAdapter adapter({.keys = SecretKeys(entry)});
    absl::StatusOr<ProviderEvent> event = adapter.Decode(Headers({{"X-FusionAuth-Signature-JWT", token}}), body, kNow);
    ASSERT_TRUE(event.ok()) << event.status();
    EXPECT_EQ(event->event_type, "user.deactivate");
    ASSERT_EQ(event->events.size(), 1u);
    EXPECT_EQ(event->events[0].kind, EventKind::kUserDisabled);
  }
  FusionAuthAdapter other({.keys = SecretKeys("another-secret-entirely")});
  absl::StatusOr<ProviderEvent> refused = other.Decode(Headers({{"X-FusionAuth-Signature-JWT", token}}), body, kNow);
  EXPECT_TRUE(absl::IsUnauthenticated(refused.status())) << refused.status();
}

TEST_F(FusionAuthAdapterTest, RefusesWhatIsNotSignedForThisBody) {
  const std::string body = ReadFixture("fusionauth.user.deactivate.json");
  auto refused = [&](std::map<std::string, std::string> headers, std::string_view want, std::string_view with_body) {
    absl::StatusOr<ProviderEvent> event = adapter_.Decode(Headers(std::move(headers)), with_body, kNow);
    EXPECT_TRUE(absl::IsUnauthenticated(event.status())) << event.status();
    EXPECT_THAT(std::string(event.status().message()), HasSubstr(std::string(want)));
    // Nothing of the body or the token in the reason.
    EXPECT_THAT(std::string(event.status().message()), ::testing::Not(HasSubstr(kDana)));
  };
  refused({}, "signature header missing", body);
  refused({{"X-FusionAuth-Signature-JWT", Sign(body, "wrong-secret")}}, "signature", body);
  refused({{"X-FusionAuth-Signature-JWT", Sign(body)}}, "request_body_sha256 does not match", body + " ");
  refused({{"X-FusionAuth-Signature-JWT", "not.a-jwt"}}, "signature", body);
  refused({{"X-FusionAuth-Signature-JWT", ""}}, "signature", body);
  // alg none: the payload is right, the header says "none" and there is no signature.
  refused({{"X-FusionAuth-Signature-JWT", Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." +
                                             Base64UrlEncode(FusionAuthSignaturePayload(body)) + "."}},
          "signature", body);
  // A valid token without the claim, and with a claim of another type.
  absl::StatusOr<jwt::SigningKey> key = jwt::SigningKey::Hmac(jwt::Algorithm::kHS256, "", kSecret);
  ASSERT_TRUE(key.ok());
  refused({{"X-FusionAuth-Signature-JWT", *jwt::SignCompactJws(*key, R"({"sub":"x"})")}},
          "no request_body_sha256 claim", body);
  refused({{"X-FusionAuth-Signature-JWT", *jwt::SignCompactJws(*key, R"({"request_body_sha256":7})")}},
          "no request_body_sha256 claim", body);
  // base64url of the digest is not what FusionAuth sends (standard, padded).
  refused({{"X-FusionAuth-Signature-JWT",
            *jwt::SignCompactJws(*key, json{{"request_body_sha256", Base64UrlEncode(Sha256(body))}}.dump())}},
          "does not match", body);
  // No key configured at all.
  FusionAuthAdapter keyless({});
  absl::StatusOr<ProviderEvent> event =
      keyless.Decode(Headers({{"X-FusionAuth-Signature-JWT", Sign(body)}}), body, kNow);
  EXPECT_TRUE(absl::IsUnauthenticated(event.status()));
}

TEST_F(FusionAuthAdapterTest, EveryHmacStrengthVerifies) {
  const std::string body = ReadFixture("fusionauth.user.reactivate.json");
  for (jwt::Algorithm alg : {jwt::Algorithm::kHS256, jwt::Algorithm::kHS384, jwt::Algorithm::kHS512}) {
    absl::StatusOr<ProviderEvent> event =
        adapter_.Decode(Headers({{"x-fusionauth-signature-jwt", Sign(body, kSecret, alg)}}), body, kNow);
    EXPECT_TRUE(event.ok()) << jwt::AlgorithmName(alg) << ": " << event.status();
  }
}

TEST(FusionAuthUnsignedTest, AcceptedOnlyWhenAllowedAndWithTheBasicCredentials) {
  const std::string body = ReadFixture("fusionauth.user.deactivate.json");
  const std::string good = "Basic " + Base64Encode("fusionauth:s3cret-pass");
  FusionAuthAdapter allowed({.allow_unsigned = true, .basic_auth = "fusionauth:s3cret-pass"});
  EXPECT_TRUE(allowed.Decode(Headers({{"Authorization", good}}), body, kNow).ok());
  EXPECT_TRUE(allowed.Decode(Headers({{"Authorization", "basic " + Base64Encode("fusionauth:s3cret-pass")}}), body, kNow)
                  .ok());
  for (const std::string& bad : {"Basic " + Base64Encode("fusionauth:wrong"), std::string("Basic !!!"),
                                 std::string("Bearer abc"), "Basic " + Base64Encode("fusionauth:s3cret-pas")}) {
    absl::StatusOr<ProviderEvent> event = allowed.Decode(Headers({{"Authorization", bad}}), body, kNow);
    EXPECT_TRUE(absl::IsUnauthenticated(event.status())) << bad;
  }
  EXPECT_TRUE(absl::IsUnauthenticated(allowed.Decode(Headers({}), body, kNow).status()));
  // Off by default: the right credentials are not enough.
  FusionAuthAdapter strict({.basic_auth = "fusionauth:s3cret-pass"});
  EXPECT_TRUE(absl::IsUnauthenticated(strict.Decode(Headers({{"Authorization", good}}), body, kNow).status()));
  // A signature that is present is checked even when unsigned deliveries are allowed.
  EXPECT_TRUE(absl::IsUnauthenticated(
      allowed.Decode(Headers({{"Authorization", good}, {"X-FusionAuth-Signature-JWT", Sign(body)}}), body, kNow)
          .status()));
}

// ---------------------------------------------------------------------------------------------
// Envelope, tenants, options.

TEST_F(FusionAuthAdapterTest, AnUnusableEnvelopeIs400) {
  for (const std::string& body :
       {std::string("not json"), std::string("[1]"), std::string("{}"), std::string(R"({"event":[]})"),
        std::string(R"({"event":{"type":"user.create"}})"), std::string(R"({"event":{"id":"x"}})"),
        std::string(R"({"event":{"id":"","type":"user.create"}})"), std::string(R"({"event":{"id":7,"type":"x"}})"),
        std::string(R"({"event":{"id":")") + std::string(300, 'a') + R"(","type":"user.create"}})"}) {
    absl::StatusOr<ProviderEvent> event = Decode(body);
    EXPECT_TRUE(absl::IsInvalidArgument(event.status())) << body << ": " << event.status();
  }
}

TEST_F(FusionAuthAdapterTest, UnknownTypesAreIgnoredAndAMissingCreateInstantIsNow) {
  ProviderEvent event = DecodeEdited("fusionauth.user.create.json", [](json& b) {
    b["event"]["type"] = "user.login.success";
    b["event"].erase("createInstant");
  });
  EXPECT_TRUE(event.ignored);
  EXPECT_TRUE(event.events.empty());
  EXPECT_EQ(event.fact_time, kNow);
}

TEST(FusionAuthTenantTest, AnotherTenantsEventIsIgnored) {
  FusionAuthAdapterOptions options = Options();
  options.tenants = {"11111111-2222-4333-8444-555555555555", kTenant};
  FusionAuthAdapter adapter(std::move(options));
  auto decode = [&](const std::string& fixture, const std::function<void(json&)>& edit) {
    json body = json::parse(ReadFixture(fixture));
    edit(body);
    std::string text = body.dump();
    absl::StatusOr<ProviderEvent> event = adapter.Decode(Headers({{"X-FusionAuth-Signature-JWT", Sign(text)}}), text, kNow);
    EXPECT_TRUE(event.ok()) << event.status();
    return event.ok() ? *event : ProviderEvent{};
  };
  EXPECT_FALSE(decode("fusionauth.user.deactivate.json", [](json&) {}).ignored);
  ProviderEvent other = decode("fusionauth.user.deactivate.json", [](json& b) {
    b["event"]["tenantId"] = "99999999-2222-4333-8444-555555555555";
    b["event"]["user"]["tenantId"] = "99999999-2222-4333-8444-555555555555";
  });
  EXPECT_TRUE(other.ignored);
  EXPECT_TRUE(other.events.empty());
  EXPECT_EQ(other.event_id, "76c28e52-8bc1-4cca-a207-a0dab22e538f");
  // No event.tenantId: the user's says which tenant; none at all is not ours.
  EXPECT_FALSE(decode("fusionauth.user.deactivate.json", [](json& b) { b["event"].erase("tenantId"); }).ignored);
  EXPECT_TRUE(decode("fusionauth.user.deactivate.json", [](json& b) {
                b["event"].erase("tenantId");
                b["event"]["user"].erase("tenantId");
              }).ignored);
  EXPECT_FALSE(decode("fusionauth.group.member.add.json", [](json& b) { b["event"].erase("tenantId"); }).ignored);
}

TEST(FusionAuthMembershipsTest, RegistrationsOrGroupsCanBeLeftOut) {
  FusionAuthAdapterOptions options = Options();
  options.groups = false;
  FusionAuthAdapter registrations_only(std::move(options));
  options = Options();
  options.registrations = false;
  FusionAuthAdapter groups_only(std::move(options));
  auto ignored = [](const FusionAuthAdapter& adapter, const std::string& fixture) {
    std::string body = ReadFixture(fixture);
    absl::StatusOr<ProviderEvent> event = adapter.Decode(Headers({{"X-FusionAuth-Signature-JWT", Sign(body)}}), body, kNow);
    EXPECT_TRUE(event.ok()) << event.status();
    return event.ok() && event->ignored;
  };
  EXPECT_FALSE(ignored(registrations_only, "fusionauth.user.registration.create.json"));
  EXPECT_TRUE(ignored(registrations_only, "fusionauth.group.member.update.json"));
  EXPECT_TRUE(ignored(groups_only, "fusionauth.user.registration.create.json"));
  EXPECT_FALSE(ignored(groups_only, "fusionauth.group.member.update.json"));
  EXPECT_FALSE(ignored(groups_only, "fusionauth.user.deactivate.json"));
}

// ---------------------------------------------------------------------------------------------
// Mapping details.

TEST_F(FusionAuthAdapterTest, RolesAreSortedWithoutRepeatsAndMemberWhenNone) {
  auto role = [&](const json& roles) {
    ProviderEvent e = DecodeEdited("fusionauth.user.registration.update.json",
                                   [&](json& b) { b["event"]["registration"]["roles"] = roles; });
    return e.events.empty() ? std::string("(none)") : e.events[0].role.value_or("(unset)");
  };
  EXPECT_EQ(role(json::array({"viewer", "admin", "viewer", "billing"})), "admin,billing,viewer");
  EXPECT_EQ(role(json::array()), "member");
  EXPECT_EQ(role(nullptr), "member");
}

TEST_F(FusionAuthAdapterTest, TheApplicationMayComeFromTheRegistration) {
  ProviderEvent e = DecodeEdited("fusionauth.user.registration.create.json",
                                 [](json& b) { b["event"].erase("applicationId"); });
  ASSERT_EQ(e.events.size(), 1u);
  EXPECT_EQ(e.events[0].account_id, kApp);
}

TEST_F(FusionAuthAdapterTest, ActiveOnAnUpdateIsAStateFact) {
  ProviderEvent off = DecodeEdited("fusionauth.user.update.json", [](json& b) { b["event"]["user"]["active"] = false; });
  ASSERT_EQ(off.events.size(), 2u);
  EXPECT_EQ(off.events[1].kind, EventKind::kUserDisabled);
  EXPECT_EQ(off.events[1].reason, "deactivated");
  ProviderEvent unknown = DecodeEdited("fusionauth.user.update.json", [](json& b) { b["event"]["user"].erase("active"); });
  ASSERT_EQ(unknown.events.size(), 1u);
  EXPECT_EQ(unknown.events[0].kind, EventKind::kUserUpdated);
  ProviderEvent complete =
      DecodeEdited("fusionauth.user.update.json", [](json& b) { b["event"]["type"] = "user.update.complete"; });
  EXPECT_EQ(complete.events.size(), 2u);
}

TEST_F(FusionAuthAdapterTest, TheNameFallsBackToFirstAndLast) {
  ProviderEvent e = DecodeEdited("fusionauth.user.create.json", [](json& b) { b["event"]["user"].erase("fullName"); });
  ASSERT_FALSE(e.events.empty());
  EXPECT_EQ(e.events[0].name, "Dana Okafor");
}

TEST_F(FusionAuthAdapterTest, AGroupListRepeatsAMemberOnce) {
  ProviderEvent e = DecodeEdited("fusionauth.group.member.update.json", [](json& b) {
    json member = b["event"]["members"][0];
    b["event"]["members"].push_back(member);
  });
  ASSERT_EQ(e.events.size(), 2u);
  EXPECT_EQ(e.events[1].kind, EventKind::kMembersReplaced);
}

TEST_F(FusionAuthAdapterTest, UnusableDataDeadLetters) {
  ExpectDeadLetter("fusionauth.user.deactivate.json", [](json& b) { b["event"]["createInstant"] = -1; }, "createInstant");
  ExpectDeadLetter("fusionauth.user.deactivate.json", [](json& b) { b["event"]["createInstant"] = "soon"; },
                   "createInstant");
  ExpectDeadLetter("fusionauth.user.deactivate.json", [](json& b) { b["event"]["createInstant"] = 253402300800000; },
                   "createInstant");
  ExpectDeadLetter("fusionauth.user.deactivate.json", [](json& b) { b["event"].erase("user"); }, "event.user missing");
  ExpectDeadLetter("fusionauth.user.deactivate.json", [](json& b) { b["event"]["user"] = "dana"; }, "not an object");
  ExpectDeadLetter("fusionauth.user.deactivate.json", [](json& b) { b["event"]["user"].erase("id"); }, "event.user.id");
  ExpectDeadLetter("fusionauth.user.deactivate.json", [](json& b) { b["event"]["user"]["id"] = std::string(257, 'u'); },
                   "event.user.id");
  ExpectDeadLetter("fusionauth.user.registration.update.json",
                   [](json& b) { b["event"]["registration"]["roles"] = "admin"; }, "not an array");
  ExpectDeadLetter("fusionauth.user.registration.update.json",
                   [](json& b) { b["event"]["registration"]["roles"] = json::array({"admin", 3}); }, "not a string");
  ExpectDeadLetter("fusionauth.user.registration.update.json",
                   [](json& b) {
                     b["event"]["registration"]["roles"] = json::array({std::string(200, 'a'), std::string(100, 'b')});
                   },
                   "longer than 256 bytes");
  ExpectDeadLetter("fusionauth.user.registration.update.json", [](json& b) { b["event"].erase("registration"); },
                   "event.registration missing");
  ExpectDeadLetter("fusionauth.user.registration.delete.json",
                   [](json& b) {
                     b["event"].erase("applicationId");
                     b["event"]["registration"].erase("applicationId");
                   },
                   "applicationId");
  ExpectDeadLetter("fusionauth.group.member.add.json", [](json& b) { b["event"].erase("group"); }, "event.group missing");
  ExpectDeadLetter("fusionauth.group.member.add.json", [](json& b) { b["event"]["group"].erase("id"); }, "event.group.id");
  // A whole-list update without its list must not empty the group.
  ExpectDeadLetter("fusionauth.group.member.update.json", [](json& b) { b["event"].erase("members"); },
                   "event.members missing");
  ExpectDeadLetter("fusionauth.group.member.update.json", [](json& b) { b["event"]["members"] = json::object(); },
                   "not an array");
  ExpectDeadLetter("fusionauth.group.member.update.json", [](json& b) { b["event"]["members"][0].erase("userId"); },
                   "event.members[0].userId");
  ExpectDeadLetter("fusionauth.group.member.remove.json", [](json& b) { b["event"]["members"][0] = 5; },
                   "event.members[0] is not an object");
}

TEST_F(FusionAuthAdapterTest, AnIgnoredTypeIgnoresItsBadTime) {
  ProviderEvent e = DecodeEdited("fusionauth.user.create.json", [](json& b) {
    b["event"]["type"] = "jwt.refresh";
    b["event"]["createInstant"] = "never";
  });
  EXPECT_TRUE(e.ignored);
  EXPECT_FALSE(e.dead_letter_reason.has_value());
}

}  // namespace
}  // namespace mm::adapters
