// FusionAuth webhooks end to end on the real binary: signed deliveries of every kind (HS256
// with rotated secrets, RS256/ES256 with a JWKS file the test makes with `openssl`, unsigned
// with HTTP Basic for FusionAuth before 1.48), in both orders and twice, the group member list
// that removes whom it does not name, tenants, dead letters, and `membershipctl send-webhook
// --provider fusionauth` as an operator would use it.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/util/time_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "adapters/fusionauth_adapter.h"
#include "common/crypto.h"
#include "e2e_helpers.h"
#include "jwt/jws.h"
#include "service_process.h"
#include "test_database.h"

namespace mm::testing {
namespace {

namespace v1 = membership::v1;
using nlohmann::json;

constexpr char kOldSecret[] = "fusionauth-e2e-old-hmac-secret-000001";
constexpr char kNewSecret[] = "fusionauth-e2e-new-hmac-secret-000002";
constexpr char kTenant[] = "29b8006d-fbbc-45b7-86e8-90d91b0e7131";
constexpr char kDana[] = "dd03f8bc-a5e3-49d4-8b7b-9ebabd24ee00";
constexpr char kApp[] = "0e91cedd-9a8f-421d-bdcf-581d19dda30c";
constexpr char kGroup[] = "fe0cfae9-5369-41d1-9f56-5e296bfdd1e9";
constexpr char kBasicUser[] = "fusionauth";
constexpr char kBasicPassword[] = "e2e-basic-password";

// Tokens in this suite's callers file.
constexpr char kChecker[] = "fa-checker";
constexpr char kReader[] = "fa-reader";

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A FusionAuth fixture whose ids carry `suffix` (so tests sharing a database never collide) and
// whose createInstant is `at_ms`.
json Event(const std::string& fixture, const std::string& suffix, int64_t at_ms) {
  std::string text = Fixture(fixture);
  for (const char* id : {kDana, kApp, kGroup, "edb6767c-be06-4341-a888-addca22dad33"}) {
    text = ReplaceAll(text, id, std::string(id) + "-" + suffix);
  }
  json body = json::parse(text);
  body["event"]["id"] = std::string(body["event"]["id"]) + "-" + suffix + "-" + std::to_string(at_ms);
  body["event"]["createInstant"] = at_ms;
  return body;
}

std::string User(const std::string& suffix) { return std::string(kDana) + "-" + suffix; }
std::string Group(const std::string& suffix) { return std::string(kGroup) + "-" + suffix; }
std::string App(const std::string& suffix) { return std::string(kApp) + "-" + suffix; }

std::string SignWith(const absl::StatusOr<jwt::SigningKey>& key, const std::string& body) {
  EXPECT_TRUE(key.ok()) << key.status();
  absl::StatusOr<std::string> token = adapters::MakeFusionAuthSignatureHeader(*key, body);
  EXPECT_TRUE(token.ok()) << token.status();
  return token.ok() ? *token : "";
}

std::string HmacToken(const std::string& body, const std::string& secret = kNewSecret, const std::string& kid = "") {
  return SignWith(jwt::SigningKey::Hmac(jwt::Algorithm::kHS256, kid, secret), body);
}

absl::StatusOr<client::HttpReply> Post(const std::string& base_url, const std::string& body,
                                       std::vector<std::pair<std::string, std::string>> headers) {
  headers.emplace_back("Content-Type", "application/json");
  return client::HttpRequest("POST", base_url + "/webhooks/fusionauth", headers, body);
}

// Posts `body` signed HS256 with the current secret; expects 200 and returns the answer.
json Deliver(const std::string& base_url, const json& body) {
  const std::string text = body.dump();
  auto reply = Post(base_url, text, {{"X-FusionAuth-Signature-JWT", HmacToken(text)}});
  EXPECT_TRUE(reply.ok()) << reply.status();
  if (!reply.ok()) return json::object();
  EXPECT_EQ(reply->status, 200) << reply->body;
  json answer = json::parse(reply->body, nullptr, false);
  return answer.is_object() ? answer : json::object();
}

class FusionAuthE2ETest : public SharedServiceTest {
 protected:
  static void SetUpTestSuite() {
    GuardSuiteSetUp([] {
      db_ = TestDatabase::Create("fusionauth").release();
      dir_ = new std::string(TempDir());
      const std::string callers =
          WriteCallersFile(*dir_, {{"checker", kChecker, {"users:check"}},
                                   {"helpers' checker", kCheckerToken, {"users:check"}},
                                   {"reader", kReader, {"users:read", "members:read", "seats:read"}}});
      service_ = ServiceProcess::Start(
                     {.binary = MM_SERVER_BINARY,
                      .env = {{"MM_DATABASE_URL", db_->url()},
                              {"MM_CALLERS_FILE", callers},
                              {"MM_HUUDIS_SECRETS", kSecret},
                              // Rotation: the old secret named by its Key Master kid, the new one plain.
                              {"MM_FUSIONAUTH_HMAC_SECRETS", std::string("old-kid:") + kOldSecret + "," + kNewSecret},
                              {"MM_FUSIONAUTH_TENANTS", kTenant},
                              {"MM_POLL_INTERVAL_MS", "100"}}})
                     .release();
    });
  }
  static void TearDownTestSuite() {
    delete service_;
    delete db_;
    delete dir_;
  }

  static std::shared_ptr<grpc::Channel> Channel() {
    return grpc::CreateChannel(service_->grpc_target(), grpc::InsecureChannelCredentials());
  }
  static grpc::ClientContext& Authed(grpc::ClientContext& ctx) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ctx.AddMetadata("authorization", std::string("Bearer ") + kReader);
    return ctx;
  }
  // Calls `method` of a fresh stub with the reader's token; expects OK.
  template <typename Stub, typename Request, typename Response>
  static Response Call(std::unique_ptr<Stub> stub,
                       grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                       const Request& request) {
    Response response;
    grpc::ClientContext ctx;
    grpc::Status s = ((*stub).*method)(&Authed(ctx), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }
  static v1::User GetUser(const std::string& user_id) {
    v1::GetUserRequest req;
    req.set_user_id(user_id);
    return Call(v1::UserService::NewStub(Channel()), &v1::UserService::Stub::GetUser, req);
  }
  // Present members of `account`, user id -> role.
  static std::map<std::string, std::string> Members(const std::string& account) {
    v1::ListMembersRequest req;
    req.set_account_id(account);
    req.set_page_size(100);
    const v1::ListMembersResponse listed =
        Call(v1::MembershipService::NewStub(Channel()), &v1::MembershipService::Stub::ListMembers, req);
    std::map<std::string, std::string> out;
    for (const auto& m : listed.members()) out[m.user_id()] = m.role();
    return out;
  }
  static v1::SeatCount Seats(const std::string& account) {
    v1::GetSeatCountRequest req;
    req.set_account_id(account);
    return Call(v1::SeatService::NewStub(Channel()), &v1::SeatService::Stub::GetSeatCount, req);
  }
  static int64_t StoredEvents() { return std::stoll(db_->Scalar("SELECT count(*) FROM provider_events")); }

  UserClient checker() const { return UserClient(service_->grpc_target(), kChecker); }

  static TestDatabase* db_;
  static std::string* dir_;
  static ServiceProcess* service_;
};
TestDatabase* FusionAuthE2ETest::db_ = nullptr;
std::string* FusionAuthE2ETest::dir_ = nullptr;
ServiceProcess* FusionAuthE2ETest::service_ = nullptr;

TEST_F(FusionAuthE2ETest, AReactivateAfterADeactivateEndsActiveInEitherOrder) {
  const int64_t t = NowMillis() - 60000;
  for (bool in_order : {true, false}) {
    const std::string suffix = in_order ? "order" : "reversed";
    const json deactivate = Event("fusionauth.user.deactivate.json", suffix, t);
    const json reactivate = Event("fusionauth.user.reactivate.json", suffix, t + 1000);
    json first = Deliver(service_->http_url(), in_order ? deactivate : reactivate);
    json second = Deliver(service_->http_url(), in_order ? reactivate : deactivate);
    EXPECT_EQ(first["status"], "applied") << suffix;
    EXPECT_EQ(second["status"], in_order ? "applied" : "stale") << suffix;
    v1::IsUserActiveResponse active = checker().Check(User(suffix), second.value("sequence", uint64_t{0}));
    EXPECT_TRUE(active.active()) << suffix;
    EXPECT_EQ(active.state(), v1::USER_STATE_ACTIVE) << suffix;
    // Sessions issued before the deactivation stay revoked.
    v1::IsUserActiveRequest old_token;
    old_token.set_user_id(User(suffix));
    *old_token.mutable_token_issued_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(t - 1000);
    v1::IsUserActiveResponse revoked;
    ASSERT_TRUE(checker().IsUserActive(old_token, &revoked).ok());
    EXPECT_FALSE(revoked.active()) << suffix;
    v1::User user = GetUser(User(suffix));
    EXPECT_EQ(user.last_event_type(), "user.reactivate") << suffix;
    EXPECT_EQ(user.provider(), "fusionauth") << suffix;
  }
}

TEST_F(FusionAuthE2ETest, ADeactivateIsEnforcedAndADuplicateChangesNothing) {
  const json deactivate = Event("fusionauth.user.deactivate.json", "dup", NowMillis() - 5000);
  json first = Deliver(service_->http_url(), deactivate);
  ASSERT_EQ(first["status"], "applied");
  EXPECT_EQ(first["event_id"], deactivate["event"]["id"]);
  v1::IsUserActiveResponse answer = checker().Check(User("dup"), first["sequence"]);
  EXPECT_FALSE(answer.active());
  EXPECT_EQ(answer.state(), v1::USER_STATE_DISABLED);
  EXPECT_EQ(answer.disabled_reason(), "deactivated");
  const int64_t stored = StoredEvents();
  json again = Deliver(service_->http_url(), deactivate);
  EXPECT_EQ(again["status"], "duplicate");
  EXPECT_EQ(StoredEvents(), stored);
  // user.delete.complete carries the id of the user.delete it confirms.
  json del = Event("fusionauth.user.delete.json", "dup", NowMillis() - 4000);
  json complete = del;
  complete["event"]["type"] = "user.delete.complete";
  const json deleted = Deliver(service_->http_url(), del);
  EXPECT_EQ(deleted["status"], "applied");
  EXPECT_EQ(Deliver(service_->http_url(), complete)["status"], "duplicate");
  // Read-your-writes: at least as fresh as the delete's sequence.
  EXPECT_EQ(checker().Check(User("dup"), deleted.value("sequence", uint64_t{0})).state(), v1::USER_STATE_DELETED);
}

TEST_F(FusionAuthE2ETest, TheGroupMemberListRemovesWhomItDoesNotNameEvenALateOlderAdd) {
  const std::string s = "group";
  const int64_t t = NowMillis() - 60000;
  auto add = [&](const std::string& user, int64_t at) {
    json e = Event("fusionauth.group.member.add.json", s + user, at);
    e["event"]["group"]["id"] = Group(s);
    e["event"]["members"][0]["userId"] = user;
    return Deliver(service_->http_url(), e);
  };
  EXPECT_EQ(add("u1-" + s, t)["status"], "applied");
  EXPECT_EQ(add("u2-" + s, t)["status"], "applied");
  EXPECT_EQ(Members(Group(s)).size(), 2u);

  json update = Event("fusionauth.group.member.update.json", s, t + 3000);
  update["event"]["members"][0]["userId"] = "u1-" + s;
  json listed = Deliver(service_->http_url(), update);
  EXPECT_EQ(listed["status"], "applied");
  // An add older than the list, for a user the list did not name, arriving after it.
  json late = add("u3-" + s, t + 2000);
  EXPECT_EQ(late["status"], "stale");
  std::map<std::string, std::string> members = Members(Group(s));
  EXPECT_EQ(members, (std::map<std::string, std::string>{{"u1-" + s, "member"}}));
  v1::SeatCount seats = Seats(Group(s));
  EXPECT_EQ(seats.total(), 1);
  EXPECT_EQ(seats.billable(), 1);
  // A newer add is a real add.
  EXPECT_EQ(add("u3-" + s, t + 4000)["status"], "applied");
  EXPECT_EQ(Members(Group(s)).size(), 2u);
  // The list FusionAuth sends when the last members are removed: empty.
  json empty = Event("fusionauth.group.member.update.all-removed.json", s, t + 5000);
  EXPECT_EQ(Deliver(service_->http_url(), empty)["status"], "applied");
  EXPECT_TRUE(Members(Group(s)).empty());
  EXPECT_EQ(Seats(Group(s)).total(), 0);
  // A removal arriving late and older than the empty list changes nothing.
  json remove = Event("fusionauth.group.member.remove.json", s, t + 1000);
  remove["event"]["group"]["id"] = Group(s);
  remove["event"]["members"][0]["userId"] = "u1-" + s;
  EXPECT_EQ(Deliver(service_->http_url(), remove)["status"], "stale");
}

TEST_F(FusionAuthE2ETest, RegistrationsAreMembershipsOfTheApplicationWithSortedRoles) {
  const std::string s = "reg";
  const int64_t t = NowMillis() - 60000;
  EXPECT_EQ(Deliver(service_->http_url(), Event("fusionauth.user.registration.create.json", s, t))["status"],
            "applied");
  EXPECT_EQ(Members(App(s)), (std::map<std::string, std::string>{{User(s), "member"}}));
  json update = Event("fusionauth.user.registration.update.json", s, t + 1000);
  update["event"]["registration"]["roles"] = json::array({"viewer", "admin"});
  EXPECT_EQ(Deliver(service_->http_url(), update)["status"], "applied");
  EXPECT_EQ(Members(App(s)), (std::map<std::string, std::string>{{User(s), "admin,viewer"}}));
  EXPECT_EQ(Deliver(service_->http_url(), Event("fusionauth.user.registration.delete.json", s, t + 2000))["status"],
            "applied");
  EXPECT_TRUE(Members(App(s)).empty());
  // The create again, delivered late: the removal stays.
  EXPECT_EQ(Deliver(service_->http_url(), Event("fusionauth.user.registration.create.json", s + "x", t))["status"],
            "applied");  // another user (ids carry the suffix), so applied...
  json late = Event("fusionauth.user.registration.create.json", s, t + 500);
  EXPECT_EQ(Deliver(service_->http_url(), late)["status"], "stale");  // ...but this one is older than the removal
  EXPECT_TRUE(Members(App(s)).empty());
}

TEST_F(FusionAuthE2ETest, RefusedDeliveriesGetTheirStatusAndStoreNothing) {
  const json event = Event("fusionauth.user.deactivate.json", "refused", NowMillis());
  const std::string body = event.dump();
  const int64_t stored = StoredEvents();
  struct Case {
    std::string what;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    int status;
  };
  const std::string none_token = [&] {
    std::string token = HmacToken(body);
    return Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + token.substr(token.find('.'), token.rfind('.') - token.find('.')) + ".";
  }();
  const std::vector<Case> cases = {
      {"no signature", {}, body, 401},
      {"unknown secret", {{"X-FusionAuth-Signature-JWT", HmacToken(body, "not-a-configured-secret")}}, body, 401},
      {"signed for another body", {{"X-FusionAuth-Signature-JWT", HmacToken(body)}}, body + "\n", 401},
      {"alg none", {{"X-FusionAuth-Signature-JWT", none_token}}, body, 401},
      {"garbage token", {{"X-FusionAuth-Signature-JWT", "a.b.c"}}, body, 401},
      {"basic credentials are not enough when unsigned is off",
       {{"Authorization", "Basic " + Base64Encode(std::string(kBasicUser) + ":" + kBasicPassword)}},
       body,
       401},
      {"signed, not JSON", {{"X-FusionAuth-Signature-JWT", HmacToken("not json")}}, "not json", 400},
      {"signed, no event", {{"X-FusionAuth-Signature-JWT", HmacToken(R"({"evt":{}})")}}, R"({"evt":{}})", 400},
  };
  for (const Case& c : cases) {
    auto reply = Post(service_->http_url(), c.body, c.headers);
    ASSERT_TRUE(reply.ok()) << c.what;
    EXPECT_EQ(reply->status, c.status) << c.what << ": " << reply->body;
    EXPECT_THAT(reply->body, ::testing::HasSubstr("\"status\":" + std::to_string(c.status))) << c.what;
    EXPECT_EQ(reply->body.find(kDana), std::string::npos) << c.what << ": the answer echoes the body";
  }
  auto wrong_type = client::HttpRequest("POST", service_->http_url() + "/webhooks/fusionauth",
                                        {{"Content-Type", "text/plain"}, {"X-FusionAuth-Signature-JWT", HmacToken(body)}},
                                        body);
  ASSERT_TRUE(wrong_type.ok());
  EXPECT_EQ(wrong_type->status, 415);
  EXPECT_EQ(StoredEvents(), stored);
  EXPECT_EQ(service_->Log().find("dana.okafor"), std::string::npos) << "a refused body reached the log";
}

TEST_F(FusionAuthE2ETest, RotatedSecretsAndTheirKidsBothVerify) {
  const json old_signed = Event("fusionauth.user.reactivate.json", "rotation-old", NowMillis() - 2000);
  const json new_signed = Event("fusionauth.user.reactivate.json", "rotation-new", NowMillis() - 2000);
  for (const auto& [event, token] :
       {std::pair{old_signed, HmacToken(old_signed.dump(), kOldSecret, "old-kid")},
        std::pair{new_signed, HmacToken(new_signed.dump(), kNewSecret, "some-new-kid")}}) {
    auto reply = Post(service_->http_url(), event.dump(), {{"X-FusionAuth-Signature-JWT", token}});
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->status, 200) << reply->body;
  }
  // The old secret under another kid is not tried: a kid that names a secret picks it.
  const json wrong_kid = Event("fusionauth.user.reactivate.json", "rotation-wrong", NowMillis() - 2000);
  auto reply = Post(service_->http_url(), wrong_kid.dump(),
                    {{"X-FusionAuth-Signature-JWT", HmacToken(wrong_kid.dump(), kNewSecret, "old-kid")}});
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 401) << reply->body;
}

TEST_F(FusionAuthE2ETest, AnotherTenantsEventIsStoredAndIgnored) {
  json other = Event("fusionauth.user.deactivate.json", "tenant", NowMillis());
  other["event"]["tenantId"] = "00000000-1111-4222-8333-444444444444";
  other["event"]["user"]["tenantId"] = "00000000-1111-4222-8333-444444444444";
  json answer = Deliver(service_->http_url(), other);
  EXPECT_EQ(answer["status"], "ignored");
  EXPECT_EQ(db_->Scalar("SELECT outcome FROM provider_events WHERE provider = 'fusionauth' AND event_id = '" +
                        std::string(other["event"]["id"]) + "'"),
            "ignored");
  EXPECT_EQ(checker().Check(User("tenant"), answer.value("sequence", uint64_t{0})).state(), v1::USER_STATE_UNKNOWN);
}

TEST_F(FusionAuthE2ETest, AnAuthenticEventWithUnusableDataIsDeadLetteredAndOthersStillApply) {
  json broken = Event("fusionauth.group.member.update.json", "dead", NowMillis());
  broken["event"].erase("members");  // must not be read as "the group is empty"
  json answer = Deliver(service_->http_url(), broken);
  EXPECT_EQ(answer["status"], "dead_lettered");
  EXPECT_THAT(db_->Scalar("SELECT reason FROM dead_letters WHERE provider = 'fusionauth' AND event_id = '" +
                          std::string(broken["event"]["id"]) + "'"),
              ::testing::HasSubstr("event.members missing"));
  json far = Event("fusionauth.user.deactivate.json", "dead-time", NowMillis());
  far["event"]["createInstant"] = 253402300800000;  // year 10000
  EXPECT_EQ(Deliver(service_->http_url(), far)["status"], "dead_lettered");
  json fine = Event("fusionauth.user.deactivate.json", "after-dead", NowMillis());
  json applied = Deliver(service_->http_url(), fine);
  EXPECT_EQ(applied["status"], "applied");
  EXPECT_FALSE(checker().Check(User("after-dead"), applied.value("sequence", uint64_t{0})).active());
  ExpectOrdinaryEventsStillApply(service_->http_url(), service_->grpc_target(), "fusionauth_dead");
}

TEST_F(FusionAuthE2ETest, MembershipctlSignsWithTheSecretAsFusionAuthDoes) {
  const json event = Event("fusionauth.user.deactivate.json", "ctl", NowMillis() - 1000);
  const std::string file = *dir_ + "/ctl-deactivate.json";
  std::ofstream(file) << event.dump();
  CommandResult sent = RunCommand("MM_HTTP_URL=" + service_->http_url() + " MM_FUSIONAUTH_HMAC_SECRETS=" + kNewSecret +
                                  " " + MM_CTL_BINARY + " send-webhook " + file + " --provider fusionauth --json");
  EXPECT_EQ(sent.code, 0) << sent.output;
  EXPECT_EQ(json::parse(sent.output, nullptr, false).value("status", ""), "applied") << sent.output;
  CommandResult wrong = RunCommand("MM_HTTP_URL=" + service_->http_url() + " " + MM_CTL_BINARY + " send-webhook " +
                                   file + " --provider fusionauth --secret nope --alg HS512");
  EXPECT_EQ(wrong.code, 1) << wrong.output;
  EXPECT_THAT(wrong.output, ::testing::HasSubstr("HTTP 401"));
}

// --- Public keys (JWKS) and unsigned deliveries, on a service of their own ---------------------

class FusionAuthKeysE2ETest : public SharedServiceTest {
 protected:
  static void SetUpTestSuite() {
    GuardSuiteSetUp([] {
      db_ = TestDatabase::Create("fusionauth_keys").release();
      dir_ = new std::string(TempDir());
      // Three keys made by openssl: two published in the JWKS (rotation), one not.
      for (const auto& [name, command] :
           std::vector<std::pair<std::string, std::string>>{
               {"rsa", "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048"},
               {"ec", "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256"},
               {"stranger", "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048"}}) {
        CommandResult made = RunCommand(command + " -out " + *dir_ + "/" + name + ".pem");
        if (made.code != 0) throw std::runtime_error("openssl: " + made.output);
      }
      json jwks{{"keys", json::array()}};
      for (const auto& [name, alg] : {std::pair{"rsa", jwt::Algorithm::kRS256}, std::pair{"ec", jwt::Algorithm::kES256}}) {
        absl::StatusOr<jwt::SigningKey> key = Key(name, alg);
        if (!key.ok()) throw std::runtime_error(std::string(key.status().message()));
        absl::StatusOr<json> jwk = jwt::PublicJwk(*key);
        if (!jwk.ok()) throw std::runtime_error(std::string(jwk.status().message()));
        jwks["keys"].push_back(*jwk);
      }
      std::ofstream(*dir_ + "/jwks.json") << jwks.dump(2);
      std::ofstream(*dir_ + "/basic") << kBasicUser << ":" << kBasicPassword << "\n";
      service_ = ServiceProcess::Start({.binary = MM_SERVER_BINARY,
                                        .env = {{"MM_DATABASE_URL", db_->url()},
                                                {"MM_INSECURE_NO_AUTH", "1"},
                                                {"MM_FUSIONAUTH_PUBLIC_KEYS_FILE", *dir_ + "/jwks.json"},
                                                {"MM_FUSIONAUTH_ALLOW_UNSIGNED", "1"},
                                                {"MM_FUSIONAUTH_BASIC_AUTH_FILE", *dir_ + "/basic"},
                                                {"MM_FUSIONAUTH_KEYS_RELOAD_SECONDS", "1"},
                                                {"MM_POLL_INTERVAL_MS", "100"}}})
                     .release();
    });
  }
  static void TearDownTestSuite() {
    delete service_;
    delete db_;
    delete dir_;
  }

  static absl::StatusOr<jwt::SigningKey> Key(const std::string& name, jwt::Algorithm alg) {
    return jwt::SigningKey::FromPrivateKeyPem(alg, name + "-kid", ReadFile(*dir_ + "/" + name + ".pem"));
  }
  static int Status(const json& event, std::vector<std::pair<std::string, std::string>> headers) {
    auto reply = Post(service_->http_url(), event.dump(), std::move(headers));
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? reply->status : -1;
  }

  static TestDatabase* db_;
  static std::string* dir_;
  static ServiceProcess* service_;
};
TestDatabase* FusionAuthKeysE2ETest::db_ = nullptr;
std::string* FusionAuthKeysE2ETest::dir_ = nullptr;
ServiceProcess* FusionAuthKeysE2ETest::service_ = nullptr;

TEST_F(FusionAuthKeysE2ETest, EitherPublishedKeyVerifiesAndAnUnpublishedOneDoesNot) {
  const json rsa = Event("fusionauth.user.deactivate.json", "rsa", NowMillis());
  const json ec = Event("fusionauth.user.deactivate.json", "ec", NowMillis());
  const json stranger = Event("fusionauth.user.deactivate.json", "stranger", NowMillis());
  EXPECT_EQ(Status(rsa, {{"X-FusionAuth-Signature-JWT", SignWith(Key("rsa", jwt::Algorithm::kRS256), rsa.dump())}}),
            200);
  EXPECT_EQ(Status(ec, {{"X-FusionAuth-Signature-JWT", SignWith(Key("ec", jwt::Algorithm::kES256), ec.dump())}}), 200);
  // An unpublished key, even under a published kid; and the RSA key's token as RS512 against a
  // JWK that says RS256.
  absl::StatusOr<jwt::SigningKey> impostor =
      jwt::SigningKey::FromPrivateKeyPem(jwt::Algorithm::kRS256, "rsa-kid", ReadFile(*dir_ + "/stranger.pem"));
  EXPECT_EQ(Status(stranger, {{"X-FusionAuth-Signature-JWT", SignWith(impostor, stranger.dump())}}), 401);
  EXPECT_EQ(Status(stranger, {{"X-FusionAuth-Signature-JWT", SignWith(Key("stranger", jwt::Algorithm::kRS256),
                                                                      stranger.dump())}}),
            401);
  // The classic confusion: HS256 keyed with the public key's bytes.
  std::string jwks = ReadFile(*dir_ + "/jwks.json");
  EXPECT_EQ(Status(stranger, {{"X-FusionAuth-Signature-JWT", HmacToken(stranger.dump(), jwks, "rsa-kid")}}), 401);
}

TEST_F(FusionAuthKeysE2ETest, ARotatedKeysFileTakesEffectWithoutARestart) {
  auto stranger_status = [&](const std::string& suffix) {
    const json event = Event("fusionauth.user.reactivate.json", suffix, NowMillis());
    return Status(event, {{"X-FusionAuth-Signature-JWT", SignWith(Key("stranger", jwt::Algorithm::kRS256), event.dump())}});
  };
  ASSERT_EQ(stranger_status("rotate-before"), 401);
  // The new key is published: the file is replaced as a ConfigMap update does (rename over it).
  json jwks = json::parse(ReadFile(*dir_ + "/jwks.json"));
  absl::StatusOr<jwt::SigningKey> stranger = Key("stranger", jwt::Algorithm::kRS256);
  ASSERT_TRUE(stranger.ok());
  jwks["keys"].push_back(*jwt::PublicJwk(*stranger));
  std::ofstream(*dir_ + "/jwks.next") << jwks.dump();
  std::filesystem::rename(*dir_ + "/jwks.next", *dir_ + "/jwks.json");
  int status = 0;
  for (int i = 0; i < 100 && (status = stranger_status("rotate-" + std::to_string(i))) != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, 200) << service_->Log();
  EXPECT_NE(service_->Log().find("FusionAuth public keys reloaded"), std::string::npos);
  // A file that does not load leaves the keys as they were.
  std::ofstream(*dir_ + "/jwks.next") << "{\"keys\": [{\"kty\": \"RSA\"}]}";
  std::filesystem::rename(*dir_ + "/jwks.next", *dir_ + "/jwks.json");
  bool refused_logged = false;
  for (int i = 0; i < 100 && !refused_logged; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    refused_logged = service_->Log().find("does not load; the previous keys stay") != std::string::npos;
  }
  EXPECT_TRUE(refused_logged) << service_->Log();
  EXPECT_EQ(stranger_status("rotate-after-bad-file"), 200);
}

TEST_F(FusionAuthKeysE2ETest, MembershipctlSignsWithAPrivateKeyFile) {
  const json event = Event("fusionauth.user.deactivate.json", "ctl-rsa", NowMillis());
  const std::string file = *dir_ + "/ctl-rsa.json";
  std::ofstream(file) << event.dump();
  CommandResult sent = RunCommand("MM_HTTP_URL=" + service_->http_url() + " " + MM_CTL_BINARY + " send-webhook " +
                                  file + " --provider fusionauth --private-key " + *dir_ + "/rsa.pem --kid rsa-kid");
  EXPECT_EQ(sent.code, 0) << sent.output;
  EXPECT_THAT(sent.output, ::testing::HasSubstr("\"status\":\"applied\""));
}

TEST_F(FusionAuthKeysE2ETest, UnsignedDeliveriesNeedTheBasicCredentials) {
  const json event = Event("fusionauth.user.reactivate.json", "basic", NowMillis());
  const std::string good = "Basic " + Base64Encode(std::string(kBasicUser) + ":" + kBasicPassword);
  EXPECT_EQ(Status(event, {{"Authorization", "Basic " + Base64Encode(std::string(kBasicUser) + ":wrong")}}), 401);
  EXPECT_EQ(Status(event, {}), 401);
  EXPECT_EQ(Status(event, {{"Authorization", good}}), 200);
}

}  // namespace
}  // namespace mm::testing
