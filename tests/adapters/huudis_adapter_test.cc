#include "adapters/huudis_adapter.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "adapters/adapter_test_support.h"
#include "adapters/huudis_signature.h"

namespace mm::adapters {
namespace {

using domain::EventKind;
using domain::NormalizedEvent;
using domain::ProviderEvent;
using nlohmann::json;
using testing::ExpectSameEvent;
using testing::Headers;
using testing::ReadFixture;
using testing::Utc;

constexpr char kSecret[] = "whsec_adapter_test_secret_0000000";
constexpr int64_t kNowSeconds = 1780000000;  // 2026-05-28T20:26:40Z
const TimePoint kNow = FromUnixSeconds(kNowSeconds) + std::chrono::milliseconds{250};

HeaderLookup SignedHeaders(std::string_view body) {
  return Headers({{"Huudis-Signature", MakeHuudisSignatureHeader(kSecret, kNowSeconds, body)}});
}

class HuudisAdapterTest : public ::testing::Test {
 protected:
  absl::StatusOr<ProviderEvent> Decode(std::string_view body) const {
    return adapter_.Decode(SignedHeaders(body), body, kNow);
  }
  absl::StatusOr<ProviderEvent> DecodeJson(const json& body) const { return Decode(body.dump()); }

  // Decodes `fixture` after `edit`; expects an OK result.
  ProviderEvent DecodeEdited(const std::string& fixture, const std::function<void(json&)>& edit) {
    json body = json::parse(ReadFixture(fixture));
    edit(body);
    absl::StatusOr<ProviderEvent> event = DecodeJson(body);
    EXPECT_TRUE(event.ok()) << event.status();
    return event.ok() ? *std::move(event) : ProviderEvent{};
  }

  HuudisAdapter adapter_{HuudisAdapterOptions{.secrets = {kSecret}}};
};

// ---------------------------------------------------------------------------------------------
// Every huudis.*.v1.json webhook fixture, every field.

constexpr char kDana[] = "usr_01KS325EWE6RW751J81QV16TCW";
constexpr char kDanaEmail[] = "dana.okafor@example.net";
constexpr char kOperator[] = "usr_01KBMF8Q60H0WWZ4KGT675KR39";
constexpr char kOwner[] = "usr_01KHNBGW5677S9QXWZK6SRZPG6";
constexpr char kLumen[] = "acc_01KHNBH9JCVBRBAVHNB1HYYFDX";
constexpr char kLumenName[] = "Lumen Analytics";

struct FixtureCase {
  std::string type;  // the fixture file is <type>.json
  std::string event_id;
  TimePoint created_at;
  NormalizedEvent expected;
  std::vector<std::string> required_keys;  // keys of `data` whose absence dead-letters
};

// Names the case in test listings (gtest_discover_tests puts GetParam() into ctest names).
void PrintTo(const FixtureCase& c, std::ostream* os) { *os << c.type; }

const std::vector<FixtureCase>& FixtureCases() {
  static const auto* cases = new std::vector<FixtureCase>{
      {"huudis.user.disabled.v1",
       "evt_01KT6C8BBSXFRYZ5FQKXXR0EDF",
       Utc(2026, 6, 3, 9, 15, 27, 481),
       {.kind = EventKind::kUserDisabled,
        .user_id = kDana,
        .fact_time = Utc(2026, 6, 3, 9, 15, 27, 402),
        .email = kDanaEmail,
        .reason = "account_compromise",
        .actor = kOperator},
       {"id"}},
      {"huudis.user.enabled.v1",
       "evt_01KT9F23J3NN4NYA09KG0A573D",
       Utc(2026, 6, 4, 14, 2, 11, 907),
       {.kind = EventKind::kUserEnabled,
        .user_id = kDana,
        .fact_time = Utc(2026, 6, 4, 14, 2, 11, 850),
        .email = kDanaEmail,
        .actor = kOperator},
       {"id"}},
      {"huudis.user.created.v1",
       "evt_01KS325EY3ZQ25YEMAB2ZAHJT6",
       Utc(2026, 5, 20, 16, 5, 41, 955),
       {.kind = EventKind::kUserCreated,
        .user_id = kDana,
        .fact_time = Utc(2026, 5, 20, 16, 5, 41, 902),
        .email = kDanaEmail,
        .name = "Dana Okafor"},
       {"id"}},
      {"huudis.account.created.v1",
       "evt_01KHNBH9MRZ8NE49MV0DAHV2TB",
       Utc(2026, 2, 17, 8, 30, 12, 120),
       {.kind = EventKind::kAccountCreated,
        .account_id = kLumen,
        .fact_time = Utc(2026, 2, 17, 8, 30, 12, 44),
        .account_name = kLumenName},
       {"id"}},
      {"huudis.account.member_added.v1",
       "evt_01KS327YCP2VNSZCWM8761JP2W",
       Utc(2026, 5, 20, 16, 7, 3, 318),
       {.kind = EventKind::kMemberAdded,
        .user_id = kDana,
        .account_id = kLumen,
        .fact_time = Utc(2026, 5, 20, 16, 7, 3, 251),
        .email = kDanaEmail,
        .name = "Dana Okafor",
        .account_name = kLumenName,
        .role = "member",
        .actor = kOwner,
        .added_via = "invite_accept"},
       {"accountId", "userId"}},
      {"huudis.account.member_removed.v1",
       "evt_01KTRNST96E76BTDKBTERCG429",
       Utc(2026, 6, 10, 11, 48, 36, 774),
       {.kind = EventKind::kMemberRemoved,
        .user_id = kDana,
        .account_id = kLumen,
        .fact_time = Utc(2026, 6, 10, 11, 48, 36, 702),
        .email = kDanaEmail,
        .name = "Dana Okafor",
        .account_name = kLumenName,
        .role = "admin",
        .actor = kOwner},
       {"accountId", "userId"}},
      {"huudis.account.member_role_changed.v1",
       "evt_01KSPQAQRMS6EZBFYSHBZGG8P1",
       Utc(2026, 5, 28, 7, 21, 9, 140),
       {.kind = EventKind::kMemberRoleChanged,
        .user_id = kDana,
        .account_id = kLumen,
        .fact_time = Utc(2026, 5, 28, 7, 21, 9, 88),
        .email = kDanaEmail,
        .account_name = kLumenName,
        .role = "admin",
        .actor = kOwner},
       {"accountId", "userId", "role"}},
  };
  return *cases;
}

class HuudisFixtureTest : public HuudisAdapterTest,
                          public ::testing::WithParamInterface<FixtureCase> {
 protected:
  std::string File() const { return GetParam().type + ".json"; }
  bool IsRequired(const std::string& key) const {
    const std::vector<std::string>& keys = GetParam().required_keys;
    return std::find(keys.begin(), keys.end(), key) != keys.end();
  }
  // The fixture with `data` reduced to its required keys.
  json RequiredOnly() const {
    json body = json::parse(ReadFixture(File()));
    json data = json::object();
    for (const std::string& key : GetParam().required_keys) data[key] = body["data"][key];
    body["data"] = data;
    return body;
  }
  // What RequiredOnly() decodes to: no optional field, the envelope's fact time.
  NormalizedEvent RequiredOnlyExpectation() const {
    const NormalizedEvent& full = GetParam().expected;
    return {.kind = full.kind,
            .user_id = full.user_id,
            .account_id = full.account_id,
            .fact_time = GetParam().created_at,
            .role = IsRequired("role") ? full.role : std::nullopt};
  }
};

TEST_P(HuudisFixtureTest, DecodesEveryField) {
  const FixtureCase& c = GetParam();
  const std::string raw = ReadFixture(File());
  absl::StatusOr<ProviderEvent> event = Decode(raw);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->provider, domain::Provider::kHuudis);
  EXPECT_EQ(event->event_id, c.event_id);
  EXPECT_EQ(event->event_type, c.type);
  EXPECT_EQ(FormatRfc3339(event->fact_time), FormatRfc3339(c.created_at));
  EXPECT_EQ(FormatRfc3339(event->received_at), FormatRfc3339(kNow));
  EXPECT_EQ(event->raw_body, raw);
  EXPECT_FALSE(event->ignored);
  EXPECT_EQ(event->dead_letter_reason, std::nullopt);
  ASSERT_EQ(event->events.size(), 1u);
  ExpectSameEvent(event->events[0], c.expected);
}

TEST_P(HuudisFixtureTest, UlidOfEventIdEncodesCreatedAt) {
  EXPECT_EQ(HuudisEventIdTime(GetParam().event_id), GetParam().created_at);
}

TEST_P(HuudisFixtureTest, MissingOptionalFieldsStayUnset) {
  absl::StatusOr<ProviderEvent> event = DecodeJson(RequiredOnly());
  ASSERT_TRUE(event.ok()) << event.status();
  ASSERT_EQ(event->events.size(), 1u) << event->dead_letter_reason.value_or("");
  ExpectSameEvent(event->events[0], RequiredOnlyExpectation());
}

// The one data key whose value is the fixture's expected fact time.
std::string FactKey(const std::string& file, TimePoint expected) {
  json fixture = json::parse(ReadFixture(file));
  std::string fact_key;
  for (const auto& [key, value] : fixture["data"].items()) {
    if (value.is_string() && ParseRfc3339(value.get<std::string>()) == expected) fact_key = key;
  }
  return fact_key;
}

// Optional fields other than the fact time (a present but unusable time dead-letters the
// event: UnrepresentableFactTimeDeadLetters); a null time counts as missing like the others.
TEST_P(HuudisFixtureTest, NullOrMistypedOptionalFieldsCountAsMissing) {
  const std::string fact_key = FactKey(File(), GetParam().expected.fact_time);
  for (const json& odd : {json(nullptr), json(42), json::array({"x"}), json::object({{"a", 1}})}) {
    SCOPED_TRACE(odd.dump());
    ProviderEvent event = DecodeEdited(File(), [&](json& body) {
      for (auto& [key, value] : body["data"].items()) {
        if (!IsRequired(key) && key != fact_key) value = odd;
        if (key == fact_key) value = nullptr;
      }
    });
    ASSERT_EQ(event.events.size(), 1u);
    ExpectSameEvent(event.events[0], RequiredOnlyExpectation());
  }
}

TEST_P(HuudisFixtureTest, IgnoresUnknownFields) {
  ProviderEvent event = DecodeEdited(File(), [](json& body) {
    body["deliveryAttempt"] = 3;
    body["meta"] = {{"nested", {{"deep", json::array({1, 2, 3})}}}};
    body["data"]["futureField"] = "x";
    body["data"]["labels"] = json::array({"a", "b"});
  });
  ASSERT_EQ(event.events.size(), 1u);
  ExpectSameEvent(event.events[0], GetParam().expected);
}

TEST_P(HuudisFixtureTest, RequiredFieldProblemsDeadLetter) {
  const FixtureCase& c = GetParam();
  const std::vector<std::pair<json, std::string>> problems = {
      {json(nullptr), "missing"},
      {json(7), "is not a string"},
      {json::array({c.event_id}), "is not a string"},
      {json(""), "is empty"},
      {json(std::string(HuudisAdapter::kMaxIdBytes + 1, 'u')), "is longer than 256 bytes"},
  };
  for (const std::string& key : c.required_keys) {
    SCOPED_TRACE(key);
    ProviderEvent removed = DecodeEdited(File(), [&](json& body) { body["data"].erase(key); });
    EXPECT_EQ(removed.dead_letter_reason, "data." + key + " missing");
    EXPECT_TRUE(removed.events.empty());
    for (const auto& entry : problems) {
      // Not a structured binding: clang 14 (scripts/sanitize) cannot capture one in a lambda.
      const json& value = entry.first;
      const std::string& problem = entry.second;
      ProviderEvent event = DecodeEdited(File(), [&](json& body) { body["data"][key] = value; });
      EXPECT_EQ(event.dead_letter_reason, "data." + key + " " + problem) << value.dump();
      EXPECT_TRUE(event.events.empty());
      EXPECT_FALSE(event.ignored);
    }
  }
}

TEST_P(HuudisFixtureTest, RequiredFieldOfExactly256BytesIsAccepted) {
  const std::string longest(HuudisAdapter::kMaxIdBytes, 'x');
  for (const std::string& key : GetParam().required_keys) {
    ProviderEvent event = DecodeEdited(File(), [&](json& body) { body["data"][key] = longest; });
    EXPECT_EQ(event.dead_letter_reason, std::nullopt);
    EXPECT_EQ(event.events.size(), 1u);
  }
}

TEST_P(HuudisFixtureTest, UnusableDataDeadLetters) {
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& body) { body.erase("data"); }, "data missing"},
      {[](json& body) { body["data"] = nullptr; }, "data missing"},
      {[](json& body) { body["data"] = json::array({1}); }, "data is not an object"},
      {[](json& body) { body["data"] = "usr_x"; }, "data is not an object"},
      {[](json& body) { body["data"] = 1; }, "data is not an object"},
  };
  for (const auto& [edit, reason] : cases) {
    ProviderEvent event = DecodeEdited(File(), edit);
    EXPECT_EQ(event.dead_letter_reason, reason);
    EXPECT_TRUE(event.events.empty());
    // A dead letter is still a complete, storable provider event.
    EXPECT_EQ(event.event_id, GetParam().event_id);
    EXPECT_EQ(event.event_type, GetParam().type);
    EXPECT_EQ(event.fact_time, GetParam().created_at);
    EXPECT_FALSE(event.raw_body.empty());
  }
}

TEST_P(HuudisFixtureTest, MissingFactTimeFallsBackToCreatedAt) {
  const std::string fact_key = FactKey(File(), GetParam().expected.fact_time);
  ASSERT_FALSE(fact_key.empty());
  ProviderEvent null_time = DecodeEdited(File(), [&](json& body) { body["data"][fact_key] = nullptr; });
  ASSERT_EQ(null_time.events.size(), 1u);
  EXPECT_EQ(null_time.events[0].fact_time, GetParam().created_at);
  ProviderEvent removed = DecodeEdited(File(), [&](json& body) { body["data"].erase(fact_key); });
  ASSERT_EQ(removed.events.size(), 1u);
  EXPECT_EQ(removed.events[0].fact_time, GetParam().created_at);
}

// DESIGN §5a: a time that is there but cannot be represented is not guessed at.
TEST_P(HuudisFixtureTest, UnrepresentableFactTimeDeadLetters) {
  const std::string fact_key = FactKey(File(), GetParam().expected.fact_time);
  ASSERT_FALSE(fact_key.empty());
  for (const json& bad : {json("yesterday"), json("2026-13-01T00:00:00Z"), json(""), json(1780000000),
                          json("1969-12-31T23:59:59.999Z"), json("0000-01-01T00:00:00Z"),
                          json("9999-12-31T23:59:59-01:00"), json("10000-01-01T00:00:00Z"),
                          json::object(), json(true)}) {
    ProviderEvent event = DecodeEdited(File(), [&](json& body) { body["data"][fact_key] = bad; });
    EXPECT_TRUE(event.events.empty()) << bad.dump();
    EXPECT_EQ(event.dead_letter_reason,
              "data." + fact_key + " is not an RFC 3339 time in 1970..9999")
        << bad.dump();
    EXPECT_EQ(event.fact_time, GetParam().created_at) << bad.dump();
  }
  for (const char* edge : {"1970-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"}) {
    ProviderEvent event = DecodeEdited(File(), [&](json& body) { body["data"][fact_key] = edge; });
    ASSERT_EQ(event.events.size(), 1u) << edge;
    EXPECT_EQ(event.events[0].fact_time, *ParseRfc3339(edge));
  }
}

INSTANTIATE_TEST_SUITE_P(AllWebhookFixtures, HuudisFixtureTest, ::testing::ValuesIn(FixtureCases()),
                         [](const auto& param_info) {
                           std::string name = param_info.param.type;
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });

TEST(HuudisFixtureSet, EveryWebhookFixtureHasACase) {
  std::set<std::string> on_disk, covered;
  for (const auto& entry : std::filesystem::directory_iterator(MM_FIXTURES_DIR)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("huudis.") && name.ends_with(".v1.json")) on_disk.insert(name);
  }
  for (const FixtureCase& c : FixtureCases()) covered.insert(c.type + ".json");
  EXPECT_EQ(on_disk, covered);
}

// ---------------------------------------------------------------------------------------------
// Signature handling in Decode.

TEST_F(HuudisAdapterTest, DecodesSignatureTestVectorUnderBothHeaderNames) {
  const json vector = json::parse(ReadFixture("huudis.signature-test-vector.json"));
  const std::string body = vector["rawBody"];
  const std::string header = vector["headers"]["Huudis-Signature"];
  const TimePoint at = FromUnixSeconds(vector["timestamp"].get<int64_t>());
  const HuudisAdapter adapter({.secrets = {"whsec_other", vector["secret"]}});
  for (std::string name : {"Huudis-Signature", "X-Huudis-Signature", "x-huudis-signature"}) {
    absl::StatusOr<ProviderEvent> event = adapter.Decode(Headers({{name, header}}), body, at);
    ASSERT_TRUE(event.ok()) << name << ": " << event.status();
    EXPECT_EQ(event->event_id, vector["headers"]["Huudis-Event-Id"]);
    ASSERT_EQ(event->events.size(), 1u);
    EXPECT_EQ(event->events[0].kind, EventKind::kUserDisabled);
  }
  const std::string trailing_space = vector["negativeCase"]["rawBodyWithTrailingSpace"];
  absl::StatusOr<ProviderEvent> rejected =
      adapter.Decode(Headers({{"Huudis-Signature", header}}), trailing_space, at);
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(HuudisAdapterTest, MissingSignatureHeaderIsUnauthenticated) {
  const std::string body = ReadFixture("huudis.user.disabled.v1.json");
  absl::StatusOr<ProviderEvent> event = adapter_.Decode(Headers({}), body, kNow);
  EXPECT_EQ(event.status(), absl::UnauthenticatedError("signature header missing"));
  event = adapter_.Decode(Headers({{"Huudis-Signature-Typo", "t=1,v1=00"}}), body, kNow);
  EXPECT_EQ(event.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(HuudisAdapterTest, EitherHeaderMayVerifyWhenBothPresent) {
  const std::string body = ReadFixture("huudis.user.enabled.v1.json");
  const std::string good = MakeHuudisSignatureHeader(kSecret, kNowSeconds, body);
  const std::string bad = MakeHuudisSignatureHeader("whsec_wrong", kNowSeconds, body);
  for (const auto& [primary, sdk] : {std::pair{good, bad}, std::pair{bad, good}}) {
    absl::StatusOr<ProviderEvent> event = adapter_.Decode(
        Headers({{"Huudis-Signature", primary}, {"X-Huudis-Signature", sdk}}), body, kNow);
    EXPECT_TRUE(event.ok()) << event.status();
  }
}

TEST_F(HuudisAdapterTest, BothHeadersBadReportsThePreferredHeader) {
  const std::string body = ReadFixture("huudis.user.enabled.v1.json");
  const std::string stale = MakeHuudisSignatureHeader(kSecret, kNowSeconds - 301, body);
  absl::StatusOr<ProviderEvent> event = adapter_.Decode(
      Headers({{"Huudis-Signature", stale}, {"X-Huudis-Signature", "garbage"}}), body, kNow);
  EXPECT_EQ(event.status(), absl::UnauthenticatedError("signature timestamp outside tolerance"));
}

TEST_F(HuudisAdapterTest, StaleOrFutureSignatureIsUnauthenticated) {
  const std::string body = ReadFixture("huudis.user.enabled.v1.json");
  for (int64_t t : {kNowSeconds - 301, kNowSeconds + 301}) {
    absl::StatusOr<ProviderEvent> event = adapter_.Decode(
        Headers({{"Huudis-Signature", MakeHuudisSignatureHeader(kSecret, t, body)}}), body, kNow);
    EXPECT_EQ(event.status().code(), absl::StatusCode::kUnauthenticated);
  }
}

TEST_F(HuudisAdapterTest, ConfiguredToleranceApplies) {
  const std::string body = ReadFixture("huudis.user.enabled.v1.json");
  const HuudisAdapter strict({.secrets = {kSecret}, .tolerance = std::chrono::seconds{10}});
  const HeaderLookup eleven_seconds_old =
      Headers({{"Huudis-Signature", MakeHuudisSignatureHeader(kSecret, kNowSeconds - 11, body)}});
  EXPECT_EQ(strict.Decode(eleven_seconds_old, body, kNow).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(adapter_.Decode(eleven_seconds_old, body, kNow).ok());
}

TEST_F(HuudisAdapterTest, SignatureIsCheckedBeforeJson) {
  for (std::string body : {"not json", "", "{\"id\":"}) {
    absl::StatusOr<ProviderEvent> forged = adapter_.Decode(
        Headers({{"Huudis-Signature", MakeHuudisSignatureHeader("whsec_x", kNowSeconds, body)}}),
        body, kNow);
    EXPECT_EQ(forged.status().code(), absl::StatusCode::kUnauthenticated) << body;
    EXPECT_EQ(Decode(body).status().code(), absl::StatusCode::kInvalidArgument) << body;
  }
}

// ---------------------------------------------------------------------------------------------
// Envelope.

TEST_F(HuudisAdapterTest, UnusableBodiesAreInvalidArgument) {
  const std::string long_id = "evt_" + std::string(HuudisAdapter::kMaxIdBytes - 3, 'A');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "body is not JSON"},
      {"not json", "body is not JSON"},
      {R"({"id":"evt_1","type":"t"} trailing)", "body is not JSON"},
      {R"({"id":"evt_1","type":"t","n":1e999})", "body is not JSON"},
      {"{\"id\":\"evt_\xff\",\"type\":\"t\"}", "body is not JSON"},
      {"[]", "body is not a JSON object"},
      {R"("evt_1")", "body is not a JSON object"},
      {"null", "body is not a JSON object"},
      {"{}", "envelope id missing"},
      {R"({"id":null,"type":"t"})", "envelope id missing"},
      {R"({"id":12,"type":"t"})", "envelope id is not a string"},
      {R"({"id":"","type":"t"})", "envelope id is empty"},
      {R"({"id":")" + long_id + R"(","type":"t"})", "envelope id is longer than 256 bytes"},
      {R"({"id":"evt_1"})", "envelope type missing"},
      {R"({"id":"evt_1","type":["huudis.user.disabled.v1"]})", "envelope type is not a string"},
      {R"({"id":"evt_1","type":""})", "envelope type is empty"},
  };
  for (const auto& [body, reason] : cases) {
    EXPECT_EQ(Decode(body).status(), absl::InvalidArgumentError(reason)) << body;
  }
}

TEST_F(HuudisAdapterTest, EventIdOfExactly256BytesIsAccepted) {
  const std::string id = "evt_" + std::string(HuudisAdapter::kMaxIdBytes - 4, 'A');
  absl::StatusOr<ProviderEvent> event = DecodeJson(json{{"id", id}, {"type", "huudis.x.v1"}});
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->event_id, id);
}

TEST_F(HuudisAdapterTest, UnknownTypesAreIgnoredButKept) {
  for (std::string type : {"huudis.account.service_enabled.v1", "huudis.user.disabled.v2",
                           "HUUDIS.USER.DISABLED.V1", "anything"}) {
    const std::string body = json{
        {"id", "evt_01KT6C8BBSXFRYZ5FQKXXR0EDF"},
        {"type", type},
        {"data", {{"id", 1}}}}.dump();
    absl::StatusOr<ProviderEvent> event = Decode(body);
    ASSERT_TRUE(event.ok()) << event.status();
    EXPECT_TRUE(event->ignored);
    EXPECT_TRUE(event->events.empty());
    EXPECT_EQ(event->dead_letter_reason, std::nullopt);
    EXPECT_EQ(event->event_type, type);
    EXPECT_EQ(event->event_id, "evt_01KT6C8BBSXFRYZ5FQKXXR0EDF");
    EXPECT_EQ(event->raw_body, body);
    EXPECT_EQ(event->received_at, kNow);
  }
}

TEST_F(HuudisAdapterTest, EnvelopeTimeFallsBackToUlidThenReceiveTime) {
  const std::string file = "huudis.user.disabled.v1.json";
  const TimePoint created_at = Utc(2026, 6, 3, 9, 15, 27, 481);
  const TimePoint ulid_time = created_at;  // fixtures' ULIDs encode createdAt
  const auto with = [&](auto edit) {
    return DecodeEdited(file, [&](json& body) {
      body["data"].erase("disabledAt");  // so the event's fact time shows the envelope's
      edit(body);
    });
  };
  ProviderEvent other_time =
      with([](json& body) { body["createdAt"] = "2026-06-03T11:15:27+02:00"; });
  EXPECT_EQ(other_time.fact_time, Utc(2026, 6, 3, 9, 15, 27, 0));
  EXPECT_EQ(other_time.events.at(0).fact_time, other_time.fact_time);

  ProviderEvent null_time = with([&](json& body) { body["createdAt"] = nullptr; });
  EXPECT_EQ(null_time.fact_time, ulid_time);
  EXPECT_EQ(null_time.events.at(0).fact_time, ulid_time);
  ProviderEvent missing = with([](json& body) { body.erase("createdAt"); });
  EXPECT_EQ(missing.fact_time, ulid_time);
  // Present but not a representable time: a dead letter (the ULID's time kept for the letter).
  for (const json& bad : {json("not a time"), json(1780478129), json("9999-12-31T23:30:00-01:00")}) {
    ProviderEvent event = with([&](json& body) { body["createdAt"] = bad; });
    EXPECT_EQ(event.dead_letter_reason, "envelope createdAt is not an RFC 3339 time in 1970..9999")
        << bad.dump();
    EXPECT_TRUE(event.events.empty());
    EXPECT_EQ(event.fact_time, ulid_time) << bad.dump();
  }
  // An unknown type's time decides nothing: it is ignored, not dead-lettered.
  ProviderEvent unknown = with([](json& body) {
    body["type"] = "huudis.something.new.v1";
    body["createdAt"] = "garbage";
  });
  EXPECT_TRUE(unknown.ignored);
  EXPECT_FALSE(unknown.dead_letter_reason.has_value());

  ProviderEvent opaque_id = with([](json& body) {
    body.erase("createdAt");
    body["id"] = "evt_not-a-ulid";
  });
  EXPECT_EQ(opaque_id.fact_time, kNow);
  EXPECT_EQ(opaque_id.events.at(0).fact_time, kNow);
  EXPECT_EQ(opaque_id.events.at(0).user_id, kDana);
}

TEST_F(HuudisAdapterTest, RoleIsOptionalExceptForRoleChanges) {
  ProviderEvent added = DecodeEdited("huudis.account.member_added.v1.json",
                                     [](json& body) { body["data"].erase("role"); });
  ASSERT_EQ(added.events.size(), 1u);
  EXPECT_EQ(added.events[0].role, std::nullopt);
  ProviderEvent changed = DecodeEdited("huudis.account.member_role_changed.v1.json",
                                       [](json& body) { body["data"].erase("role"); });
  EXPECT_EQ(changed.dead_letter_reason, "data.role missing");
}

// Limits (domain/event_checks.h), each at and past its bound.
TEST_F(HuudisAdapterTest, OverLongValuesAreBoundedAsDocumented) {
  const std::string added = "huudis.account.member_added.v1.json";
  auto member_with = [&](const std::string& key, const std::string& value) {
    return DecodeEdited(added, [&](json& body) { body["data"][key] = value; });
  };
  // Display text is shortened to its limit, at a UTF-8 boundary ("é" is two bytes).
  ProviderEvent long_name = member_with("userName", std::string(1023, 'n') + "é");
  ASSERT_EQ(long_name.events.size(), 1u);
  EXPECT_EQ(long_name.events[0].name, std::string(1023, 'n'));
  ProviderEvent exact_name = member_with("accountName", std::string(1024, 'a'));
  EXPECT_EQ(exact_name.events.at(0).account_name, std::string(1024, 'a'));
  EXPECT_EQ(member_with("accountName", std::string(5000, 'a')).events.at(0).account_name,
            std::string(1024, 'a'));
  // An address or an id cut short would be wrong: left out.
  EXPECT_EQ(member_with("userEmail", std::string(320, 'e')).events.at(0).email, std::string(320, 'e'));
  EXPECT_FALSE(member_with("userEmail", std::string(321, 'e')).events.at(0).email.has_value());
  EXPECT_FALSE(member_with("addedByUserId", std::string(257, 'u')).events.at(0).actor.has_value());
  EXPECT_FALSE(member_with("addedVia", std::string(257, 'v')).events.at(0).added_via.has_value());
  // A role decides seats: past 256 bytes the event is a dead letter, never a made-up role.
  EXPECT_EQ(member_with("role", std::string(256, 'r')).events.at(0).role, std::string(256, 'r'));
  ProviderEvent long_role = member_with("role", std::string(257, 'r'));
  EXPECT_TRUE(long_role.events.empty());
  EXPECT_EQ(long_role.dead_letter_reason, "data.role is longer than 256 bytes");
  ProviderEvent long_changed_role = DecodeEdited("huudis.account.member_role_changed.v1.json",
                                                 [](json& body) { body["data"]["role"] = std::string(300, 'r'); });
  EXPECT_EQ(long_changed_role.dead_letter_reason, "data.role is longer than 256 bytes");
  // A disable's reason is shortened: the disable itself must apply.
  ProviderEvent reason = DecodeEdited("huudis.user.disabled.v1.json",
                                      [](json& body) { body["data"]["reason"] = std::string(100000, 'x'); });
  ASSERT_EQ(reason.events.size(), 1u);
  EXPECT_EQ(reason.events[0].reason->size(), 1024u);
  // The envelope's type: at most 256 bytes, else the envelope is unusable (400).
  json body = json::parse(ReadFixture("huudis.user.disabled.v1.json"));
  body["type"] = std::string(256, 't');
  EXPECT_TRUE(DecodeJson(body).ok());
  body["type"] = std::string(257, 't');
  EXPECT_EQ(DecodeJson(body).status().code(), absl::StatusCode::kInvalidArgument);
  // Whatever the adapter accepts passes the ingest step's own check unchanged.
  for (const ProviderEvent& e : {long_name, long_role, reason}) {
    ProviderEvent copy = e;
    auto prepared = domain::PrepareForStore(copy, std::chrono::seconds(300));
    ASSERT_TRUE(prepared.ok()) << prepared.status();
    EXPECT_FALSE(prepared->dead_lettered);
  }
}

TEST_F(HuudisAdapterTest, DeeplyNestedJsonDoesNotCrash) {
  const size_t depth = 100000;
  const std::string body =
      R"({"id":"evt_1","type":"huudis.user.disabled.v1","data":{"id":"u","x":)" +
      std::string(depth, '[') + std::string(depth, ']') + "}}";
  absl::StatusOr<ProviderEvent> event = Decode(body);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->events.size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// ULID time of event ids.

TEST(HuudisEventIdTimeTest, DecodesCrockfordBase32InEitherCase) {
  const TimePoint expected = Utc(2026, 6, 3, 9, 15, 27, 481);
  EXPECT_EQ(HuudisEventIdTime("evt_01KT6C8BBSXFRYZ5FQKXXR0EDF"), expected);
  EXPECT_EQ(HuudisEventIdTime("evt_01kt6c8bbsxfryz5fqkxxr0edf"), expected);
  EXPECT_EQ(HuudisEventIdTime("evt_00000000000000000000000000"), FromUnixMillis(0));
  // The last representable millisecond (9999-12-31T23:59:59.999Z); 48 bits reach further, to
  // year 10889, which could not be stored and read back.
  EXPECT_EQ(HuudisEventIdTime("evt_76EZ91ZPZZ0000000000000000"), FromUnixMillis(253402300799999));
  EXPECT_EQ(HuudisEventIdTime("evt_76EZ91ZQ000000000000000000"), std::nullopt);
  EXPECT_EQ(HuudisEventIdTime("evt_7ZZZZZZZZZ0000000000000000"), std::nullopt);
}

TEST(HuudisEventIdTimeTest, RejectsAnythingElse) {
  for (std::string_view id :
       {"", "evt_", "01KT6C8BBSXFRYZ5FQKXXR0EDF", "usr_01KT6C8BBSXFRYZ5FQKXXR0EDF",
        "evt_01KT6C8BBSXFRYZ5FQKXXR0ED", "evt_01KT6C8BBSXFRYZ5FQKXXR0EDFF",
        "evt_01KT6C8BBSXFRYZ5FQKXXR0EDU", "evt_01KT6C8BBIXFRYZ5FQKXXR0EDF",
        "evt_01KT6C8BBSXFRYZ5FQKXXR0ED!", "evt_80000000000000000000000000", "evt_not-a-ulid"}) {
    EXPECT_EQ(HuudisEventIdTime(id), std::nullopt) << id;
  }
}

}  // namespace
}  // namespace mm::adapters

// PostgreSQL text and jsonb cannot hold NUL: an id carrying \u0000 is unusable (dead letter or
// 400 for the envelope), an optional field carrying it is treated as absent.
namespace mm::adapters {
namespace {

TEST(HuudisAdapterNulTest, NulCharactersNeverReachTheStore) {
  HuudisAdapter adapter({.secrets = {"whsec_nul"}});
  auto decode = [&](const std::string& body) {
    const int64_t t = 1780478129;
    std::string header = MakeHuudisSignatureHeader("whsec_nul", t, body);
    return adapter.Decode(
        [&](std::string_view name) -> std::optional<std::string_view> {
          if (name == "Huudis-Signature") return header;
          return std::nullopt;
        },
        body, FromUnixSeconds(t));
  };
  auto envelope = decode(R"({"id":"evt_a\u0000b","type":"huudis.user.disabled.v1","data":{"id":"usr_1"}})");
  EXPECT_EQ(envelope.status().code(), absl::StatusCode::kInvalidArgument);
  auto user = decode(R"({"id":"evt_1","type":"huudis.user.disabled.v1","data":{"id":"usr_\u0000"}})");
  ASSERT_TRUE(user.ok());
  EXPECT_TRUE(user->dead_letter_reason.has_value());
  auto optional = decode(
      R"({"id":"evt_2","type":"huudis.user.disabled.v1","data":{"id":"usr_1","email":"a\u0000b","reason":"x"}})");
  ASSERT_TRUE(optional.ok());
  ASSERT_EQ(optional->events.size(), 1u);
  EXPECT_FALSE(optional->events[0].email.has_value());
  EXPECT_EQ(optional->events[0].reason, "x");
}

}  // namespace
}  // namespace mm::adapters
