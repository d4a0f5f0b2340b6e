// The hardening issue's table of hostile inputs, against the real binary and PostgreSQL: HTTP
// that is malformed, unsigned or oversized; JSON that is not an event; values at and past every
// bound (times, ids, roles, texts); gRPC arguments out of range; operator calls without the
// right key. Each case states its documented answer (README "HTTP", "gRPC", "Values the mirror
// survives"). After each, the test checks that nothing outside the case's own rows changed
// (every table, fingerprinted) and that an ordinary disable still applies and reaches
// IsUserActive.

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "adapters/fusionauth_adapter.h"
#include "e2e_helpers.h"
#include "jwt/jws.h"
#include "raw_http.h"
#include "service_process.h"
#include "test_database.h"

namespace mm::testing {
namespace {

constexpr char kFusionAuthSecret[] = "fusionauth-hostile-inputs-secret";

namespace v1 = membership::v1;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kMembersToken[] = "token-hostile-members";  // members:read
constexpr char kWriterToken[] = "token-hostile-writer";    // users:write
constexpr char kSeatsToken[] = "token-hostile-seats";      // seats:read
// Present before any case: what a case must leave exactly as it was.
constexpr char kSeedUser[] = "usr_seed";
constexpr char kSeedAccount[] = "acc_seed";

std::string IsoNow() { return FormatRfc3339(SystemClock::Instance().Now()); }

json Disable(const std::string& event_id, const std::string& user_id) {
  return {{"id", event_id},
          {"type", "huudis.user.disabled.v1"},
          {"createdAt", IsoNow()},
          {"data", {{"id", user_id}, {"disabledAt", IsoNow()}, {"reason", "hostile"}}}};
}

json MemberAdded(const std::string& event_id, const std::string& account_id, const std::string& user_id,
                 const std::string& role) {
  return {{"id", event_id},
          {"type", "huudis.account.member_added.v1"},
          {"createdAt", IsoNow()},
          {"data", {{"accountId", account_id}, {"userId", user_id}, {"role", role}, {"joinedAt", IsoNow()}}}};
}

// What the service answered: an HTTP status (and the body, parsed when JSON) or a gRPC code.
struct Answer {
  int http = 0;
  json body;
  std::optional<grpc::StatusCode> grpc;
  std::string detail;  // for failure messages
};

struct Expected {
  int http = 0;                             // HTTP cases: the status
  std::string webhook;                      // HTTP 200 webhook answers: its "status"
  std::optional<grpc::StatusCode> grpc;     // gRPC cases: the code
  int stored = 0;                           // provider_events rows of this case
  int dead_letters = 0;                     // dead_letters rows of this case
};

class HostileInputsE2ETest : public SharedServiceTest {
 protected:
  static void SetUpTestSuite() {
    GuardSuiteSetUp([] {
      db_ = TestDatabase::Create("hostile_inputs").release();
      dir_ = new std::string(TempDir());
      const std::string callers = WriteCallersFile(*dir_, {{"checker", kCheckerToken, {"users:check"}},
                                                           {"reader", kReaderToken, {"users:read"}},
                                                           {"members", kMembersToken, {"members:read"}},
                                                           {"seats", kSeatsToken, {"seats:read"}},
                                                           {"writer", kWriterToken, {"users:write"}}});
      service_ = ServiceProcess::Start({.binary = MM_SERVER_BINARY,
                                        .env = {{"MM_DATABASE_URL", db_->url()},
                                                {"MM_HUUDIS_SECRETS", kSecret},
                                                {"MM_FUSIONAUTH_HMAC_SECRETS", kFusionAuthSecret},
                                                {"MM_CALLERS_FILE", callers},
                                                {"MM_POLL_INTERVAL_MS", "100"}}})
                     .release();
      // The seed: an active member of a workspace, and another disabled.
      for (const json& seed : {MemberAdded("evt_seed_1", kSeedAccount, kSeedUser, "admin"),
                               MemberAdded("evt_seed_2", kSeedAccount, "usr_seed_other", "member"),
                               Disable("evt_seed_3", "usr_seed_other")}) {
        auto reply = PostSigned(service_->http_url(), seed.dump());
        if (!reply.ok() || reply->status != 200) throw std::runtime_error("seed event refused");
      }
    });
  }
  static void TearDownTestSuite() {
    delete service_;
    delete db_;
    delete dir_;
  }

  // Everything the service stores, except rows whose id holds `tag` (a case's own rows).
  static std::string Fingerprint(const std::string& tag) {
    const std::string t = "'" + tag + "'";
    return db_->Scalar(
        "SELECT concat_ws(' | ',"
        " (SELECT count(*) || ':' || md5(coalesce(string_agg(provider || event_id || outcome || fact_time::text, ','"
        "   ORDER BY provider, event_id), '')) FROM provider_events WHERE position(" + t + " in event_id) = 0),"
        " (SELECT count(*) FROM dead_letters WHERE position(" + t + " in event_id) = 0),"
        " (SELECT md5(coalesce(string_agg(user_id || state || record::text, ',' ORDER BY user_id), ''))"
        "   FROM users WHERE position(" + t + " in user_id) = 0),"
        " (SELECT md5(coalesce(string_agg(account_id || record::text, ',' ORDER BY account_id), ''))"
        "   FROM accounts WHERE position(" + t + " in account_id) = 0),"
        " (SELECT md5(coalesce(string_agg(account_id || user_id || present::text || role || record::text, ','"
        "   ORDER BY account_id, user_id), '')) FROM memberships"
        "   WHERE position(" + t + " in account_id) = 0 AND position(" + t + " in user_id) = 0),"
        " (SELECT md5(coalesce(string_agg(account_id || role || members || '/' || billable, ','"
        "   ORDER BY account_id, role), '')) FROM seat_counts WHERE position(" + t + " in account_id) = 0),"
        " (SELECT count(*) FROM change_log WHERE position(" + t + " in entity_key) = 0))");
  }
  static int64_t Count(const std::string& table, const std::string& tag) {
    return std::stoll(db_->Scalar("SELECT count(*) FROM " + table + " WHERE position('" + tag + "' in event_id) > 0"));
  }

  // --- ways to send (public: the case builders below use them) -------------------------------
 public:
  static Answer Http(const std::string& method, const std::string& path,
                     const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body) {
    Answer a;
    auto reply = client::HttpRequest(method, service_->http_url() + path, headers, body);
    if (!reply.ok()) {
      a.detail = std::string(reply.status().message());
      return a;
    }
    a.http = reply->status;
    a.detail = reply->body.substr(0, 300);
    a.body = json::parse(reply->body, nullptr, false);
    return a;
  }
  static Answer Signed(const std::string& body, int64_t t = NowSeconds(), const std::string& secret = kSecret) {
    return Http("POST", "/webhooks/huudis",
                {{"Content-Type", "application/json"},
                 {"Huudis-Signature", adapters::MakeHuudisSignatureHeader(secret, t, body)}},
                body);
  }
  // POST /webhooks/fusionauth with `headers` (Content-Type added).
  static Answer FusionAuth(const std::string& body, std::vector<std::pair<std::string, std::string>> headers) {
    headers.emplace_back("Content-Type", "application/json");
    return Http("POST", "/webhooks/fusionauth", headers, body);
  }
  // The same, signed HS256 as FusionAuth signs (`payload`: the JWT payload; default the body's hash).
  static Answer FusionAuthSigned(const std::string& body, std::optional<std::string> payload = std::nullopt) {
    absl::StatusOr<jwt::SigningKey> key = jwt::SigningKey::Hmac(jwt::Algorithm::kHS256, "", kFusionAuthSecret);
    absl::StatusOr<std::string> token =
        jwt::SignCompactJws(*key, payload.value_or(adapters::FusionAuthSignaturePayload(body)));
    return FusionAuth(body, {{"X-FusionAuth-Signature-JWT", token.ok() ? *token : ""}});
  }
  static Answer Raw(const std::string& request) {
    RawExchange r = SendRaw(service_->http_port(), request);
    Answer a;
    a.http = r.status();
    a.detail = r.received.substr(0, 300) + " (send errno " + std::to_string(r.send_error) + ", read errno " +
               std::to_string(r.read_error) + ")";
    return a;
  }
  static std::shared_ptr<grpc::Channel> Channel() {
    return grpc::CreateChannel(service_->grpc_target(), grpc::InsecureChannelCredentials());
  }
  static void Prepare(grpc::ClientContext& ctx, const std::string& token, std::chrono::milliseconds deadline = 5s) {
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  }
  static Answer Grpc(const grpc::Status& s) {
    Answer a;
    a.grpc = s.error_code();
    a.detail = s.error_message();
    return a;
  }
  static Answer IsActive(const v1::IsUserActiveRequest& req, const std::string& token = kCheckerToken,
                         std::chrono::milliseconds deadline = 5s) {
    grpc::ClientContext ctx;
    Prepare(ctx, token, deadline);
    v1::IsUserActiveResponse resp;
    return Grpc(v1::UserService::NewStub(Channel())->IsUserActive(&ctx, req, &resp));
  }
  static Answer BatchActive(const v1::BatchIsUserActiveRequest& req) {
    grpc::ClientContext ctx;
    Prepare(ctx, kCheckerToken);
    v1::BatchIsUserActiveResponse resp;
    return Grpc(v1::UserService::NewStub(Channel())->BatchIsUserActive(&ctx, req, &resp));
  }
  static Answer ListMembers(const v1::ListMembersRequest& req) {
    grpc::ClientContext ctx;
    Prepare(ctx, kMembersToken);
    v1::ListMembersResponse resp;
    return Grpc(v1::MembershipService::NewStub(Channel())->ListMembers(&ctx, req, &resp));
  }
  // A valid page token of the seed workspace (page size 1: it has two members).
  static std::string SeedPageToken() {
    grpc::ClientContext ctx;
    Prepare(ctx, kMembersToken);
    v1::ListMembersRequest req;
    req.set_account_id(kSeedAccount);
    req.set_page_size(1);
    v1::ListMembersResponse resp;
    grpc::Status s = v1::MembershipService::NewStub(Channel())->ListMembers(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_FALSE(resp.next_page_token().empty());
    return resp.next_page_token();
  }
  static v1::IsUserActiveRequest ActiveRequest(const std::string& user_id) {
    v1::IsUserActiveRequest req;
    req.set_user_id(user_id);
    return req;
  }
  static Answer Operator(const std::string& user_id, const std::vector<std::pair<std::string, std::string>>& headers,
                         const std::string& body = "") {
    return Http("POST", "/v1/users/" + user_id + "/disable", headers, body);
  }

  static v1::User User(const std::string& user_id) {
    grpc::ClientContext ctx;
    Prepare(ctx, kReaderToken);
    v1::GetUserRequest req;
    req.set_user_id(user_id);
    v1::User user;
    grpc::Status s = v1::UserService::NewStub(Channel())->GetUser(&ctx, req, &user);
    EXPECT_TRUE(s.ok()) << user_id << ": " << s.error_message();
    return user;
  }

  static TestDatabase* db_;
  static std::string* dir_;
  static ServiceProcess* service_;
};
TestDatabase* HostileInputsE2ETest::db_ = nullptr;
std::string* HostileInputsE2ETest::dir_ = nullptr;
ServiceProcess* HostileInputsE2ETest::service_ = nullptr;

// A FusionAuth user.deactivate of `fa-user-<tag>` (event `fa-<tag>`), edited by `edit`.
std::string FusionAuthDeactivate(const std::string& tag, const std::function<void(json&)>& edit = nullptr) {
  json body = {{"event",
                {{"id", "fa-" + tag},
                 {"type", "user.deactivate"},
                 {"createInstant", std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count()},
                 {"user", {{"id", "fa-user-" + tag}, {"active", false}, {"email", "x@example.net"}}}}}};
  if (edit) edit(body);
  return body.dump();
}

struct Case {
  std::string name;  // with its index, the tag in every id the case uses (fingerprints leave those out)
  std::function<Answer(const std::string& tag)> send;
  Expected expected;
  std::function<void(const std::string& tag)> check = nullptr;  // the case's own effect, if any
};

// A signed disable of user `usr_<tag>` (event `evt_<tag>`), edited by `edit`.
std::function<Answer(const std::string&)> SignedDisable(std::function<void(json&)> edit) {
  return [edit](const std::string& tag) {
    json body = Disable("evt_" + tag, "usr_" + tag);
    edit(body);
    return HostileInputsE2ETest::Signed(body.dump());
  };
}
std::function<Answer(const std::string&)> SignedDisableTime(const std::string& disabled_at) {
  return SignedDisable([disabled_at](json& b) { b["data"]["disabledAt"] = disabled_at; });
}
std::function<Answer(const std::string&)> SignedBody(std::function<std::string(const std::string& tag)> body) {
  return [body](const std::string& tag) { return HostileInputsE2ETest::Signed(body(tag)); };
}

const Expected kUnauthorized{.http = 401};
const Expected kBadRequest{.http = 400};
const Expected kApplied{.http = 200, .webhook = "applied", .stored = 1};
const Expected kDeadLettered{.http = 200, .webhook = "dead_lettered", .stored = 1, .dead_letters = 1};
const Expected kInvalidArgument{.grpc = grpc::StatusCode::INVALID_ARGUMENT};

std::string Head(const std::string& request_line, const std::string& headers, size_t content_length) {
  return request_line + "\r\nHost: mirror\r\n" + headers + "Content-Length: " + std::to_string(content_length) +
         "\r\n\r\n";
}

TEST_F(HostileInputsE2ETest, EveryHostileInputGetsItsDocumentedAnswerAndChangesNothingElse) {
  const std::string ok_body = Disable("evt_unused", "usr_unused").dump();
  const std::vector<Case> cases = {
      // --- HTTP: signature, content type, framing ------------------------------------------
      {"no_signature",
       [](const std::string& tag) {
         return Http("POST", "/webhooks/huudis", {{"Content-Type", "application/json"}},
                     Disable("evt_" + tag, "usr_" + tag).dump());
       },
       kUnauthorized},
      {"wrong_secret",
       [](const std::string& tag) { return Signed(Disable("evt_" + tag, "usr_" + tag).dump(), NowSeconds(), "whsec_other"); },
       kUnauthorized},
      {"signature_too_old",
       [](const std::string& tag) { return Signed(Disable("evt_" + tag, "usr_" + tag).dump(), NowSeconds() - 301); },
       kUnauthorized},
      {"signature_from_the_future",
       [](const std::string& tag) { return Signed(Disable("evt_" + tag, "usr_" + tag).dump(), NowSeconds() + 301); },
       kUnauthorized},
      {"signature_header_garbled",
       [](const std::string& tag) {
         return Http("POST", "/webhooks/huudis",
                     {{"Content-Type", "application/json"}, {"Huudis-Signature", "t=soon,v1=zz,,=="}},
                     Disable("evt_" + tag, "usr_" + tag).dump());
       },
       kUnauthorized},
      {"signature_of_another_body",
       [](const std::string& tag) {
         const std::string body = Disable("evt_" + tag, "usr_" + tag).dump();
         return Http("POST", "/webhooks/huudis",
                     {{"Content-Type", "application/json"},
                      {"Huudis-Signature", adapters::MakeHuudisSignatureHeader(kSecret, NowSeconds(), body + " ")}},
                     body);
       },
       kUnauthorized},
      {"content_type_text",
       [](const std::string& tag) {
         const std::string body = Disable("evt_" + tag, "usr_" + tag).dump();
         return Http("POST", "/webhooks/huudis",
                     {{"Content-Type", "text/plain"},
                      {"Huudis-Signature", adapters::MakeHuudisSignatureHeader(kSecret, NowSeconds(), body)}},
                     body);
       },
       {.http = 415}},
      {"content_type_missing",
       [](const std::string& tag) {
         const std::string body = Disable("evt_" + tag, "usr_" + tag).dump();
         return Http("POST", "/webhooks/huudis",
                     {{"Huudis-Signature", adapters::MakeHuudisSignatureHeader(kSecret, NowSeconds(), body)}}, body);
       },
       {.http = 415}},
      {"body_over_the_limit",
       [](const std::string&) {
         return Raw(Head("POST /webhooks/huudis HTTP/1.1", "Content-Type: application/json\r\n", (1 << 20) + 1) +
                    std::string((1 << 20) + 1, ' '));
       },
       {.http = 413}},
      {"headers_over_the_limit",
       [](const std::string&) {
         return Raw(Head("POST /webhooks/huudis HTTP/1.1",
                         "Content-Type: application/json\r\nX-Padding: " + std::string(20000, 'p') + "\r\n", 2) +
                    "{}");
       },
       {.http = 431}},
      {"request_line_garbage", [](const std::string&) { return Raw("GARBAGE\r\n\r\n"); }, kBadRequest},
      {"chunk_size_not_hex",
       [](const std::string&) {
         return Raw("POST /webhooks/huudis HTTP/1.1\r\nHost: mirror\r\nContent-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n");
       },
       kBadRequest},
      {"content_length_twice_differing",
       [](const std::string&) {
         return Raw("POST /webhooks/huudis HTTP/1.1\r\nHost: mirror\r\nContent-Type: application/json\r\n"
                    "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{} ");
       },
       kBadRequest},
      {"get_on_the_webhook", [](const std::string&) { return Http("GET", "/webhooks/huudis", {}, ""); }, {.http = 405}},
      {"unknown_provider_path",
       [ok_body](const std::string&) {
         return Http("POST", "/webhooks/nobody", {{"Content-Type", "application/json"}}, ok_body);
       },
       {.http = 404}},
      // --- JSON that is not an event (signed) ------------------------------------------------
      {"body_not_json", SignedBody([](const std::string&) { return std::string("{not json"); }), kBadRequest},
      {"body_empty", SignedBody([](const std::string&) { return std::string(); }), kBadRequest},
      {"body_an_array", SignedBody([](const std::string&) { return std::string("[1,2,3]"); }), kBadRequest},
      {"body_nested_deeply",
       SignedBody([](const std::string&) { return std::string(200000, '[') + std::string(200000, ']'); }),
       kBadRequest},
      {"id_missing", SignedDisable([](json& b) { b.erase("id"); }), kBadRequest},
      {"type_missing", SignedDisable([](json& b) { b.erase("type"); }), kBadRequest},
      {"id_a_number", SignedDisable([](json& b) { b["id"] = 42; }), kBadRequest},
      {"id_empty", SignedDisable([](json& b) { b["id"] = ""; }), kBadRequest},
      {"id_over_256_bytes", SignedDisable([](json& b) { b["id"] = std::string(257, 'e'); }), kBadRequest},
      {"type_over_256_bytes", SignedDisable([](json& b) { b["type"] = std::string(257, 't'); }), kBadRequest},
      {"id_holding_nul",
       SignedDisable([](json& b) { b["id"] = b["id"].get<std::string>() + std::string(1, '\0'); }), kBadRequest},
      {"id_malformed_utf8",
       SignedBody([](const std::string& tag) {
         std::string body = Disable("evt_" + tag, "usr_" + tag).dump();
         return ReplaceAll(body, "\"evt_" + tag + "\"", "\"evt_" + tag + "\xff\xfe\"");
       }),
       kBadRequest},
      {"reason_lone_surrogate",
       SignedBody([](const std::string& tag) {
         return ReplaceAll(Disable("evt_" + tag, "usr_" + tag).dump(), "\"hostile\"", "\"\\ud800\"");
       }),
       kBadRequest},
      // --- Times at and past every bound -----------------------------------------------------
      {"time_year_zero", SignedDisableTime("0000-01-01T00:00:00Z"), kDeadLettered},
      {"time_year_10000", SignedDisableTime("10000-01-01T00:00:00Z"), kDeadLettered},
      {"time_past_9999_after_offset", SignedDisableTime("9999-12-31T23:30:00-01:00"), kDeadLettered},
      {"time_last_representable", SignedDisableTime("9999-12-31T23:59:59.999999Z"), kApplied,
       [](const std::string& tag) {
         // Years ahead of the receive time: taken as the receive time.
         v1::User user = User("usr_" + tag);
         EXPECT_EQ(user.state(), v1::USER_STATE_DISABLED);
         EXPECT_LT(std::abs(user.sessions_valid_after().seconds() - NowSeconds()), 120);
       }},
      {"time_the_epoch", SignedDisableTime("1970-01-01T00:00:00Z"), kApplied,
       [](const std::string& tag) { EXPECT_EQ(User("usr_" + tag).state(), v1::USER_STATE_DISABLED); }},
      {"time_before_the_epoch", SignedDisableTime("1969-12-31T23:59:59.999999Z"), kDeadLettered},
      {"time_nanoseconds", SignedDisableTime("2026-06-03T09:15:27.123456789Z"), kApplied},
      {"time_offset_out_of_range", SignedDisableTime("2026-06-03T09:15:27+25:00"), kDeadLettered},
      {"time_month_13", SignedDisableTime("2026-13-03T09:15:27Z"), kDeadLettered},
      {"time_february_30", SignedDisableTime("2026-02-30T09:15:27Z"), kDeadLettered},
      {"time_not_a_time", SignedDisableTime("yesterday"), kDeadLettered},
      {"time_a_number", SignedDisable([](json& b) { b["data"]["disabledAt"] = 1780000000; }), kDeadLettered},
      {"envelope_time_year_zero", SignedDisable([](json& b) { b["createdAt"] = "0000-01-01T00:00:00Z"; }),
       kDeadLettered},
      // --- Values inside an authentic event --------------------------------------------------
      {"type_unknown", SignedDisable([](json& b) { b["type"] = "huudis.user.frobnicated.v1"; }),
       {.http = 200, .webhook = "ignored", .stored = 1}},
      {"data_missing", SignedDisable([](json& b) { b.erase("data"); }), kDeadLettered},
      {"data_a_string", SignedDisable([](json& b) { b["data"] = "usr"; }), kDeadLettered},
      {"user_id_missing", SignedDisable([](json& b) { b["data"].erase("id"); }), kDeadLettered},
      {"user_id_over_256_bytes",
       SignedDisable([](json& b) { b["data"]["id"] = b["data"]["id"].get<std::string>() + std::string(257, 'u'); }),
       kDeadLettered},
      {"user_id_holding_nul",
       SignedDisable([](json& b) { b["data"]["id"] = b["data"]["id"].get<std::string>() + std::string(1, '\0'); }),
       kDeadLettered},
      {"role_of_256_bytes",
       [](const std::string& tag) {
         return Signed(MemberAdded("evt_" + tag, "acc_" + tag, "usr_" + tag, std::string(256, 'r')).dump());
       },
       kApplied,
       [](const std::string& tag) {
         EXPECT_EQ(db_->Scalar("SELECT length(role) FROM memberships WHERE user_id = 'usr_" + tag + "'"), "256");
       }},
      {"role_over_256_bytes",
       [](const std::string& tag) {
         return Signed(MemberAdded("evt_" + tag, "acc_" + tag, "usr_" + tag, std::string(257, 'r')).dump());
       },
       kDeadLettered},
      {"reason_of_100_kB", SignedDisable([](json& b) { b["data"]["reason"] = std::string(100000, 'x'); }), kApplied,
       [](const std::string& tag) { EXPECT_EQ(User("usr_" + tag).disabled_reason().size(), 1024u); }},
      {"email_over_320_bytes",
       SignedDisable([](json& b) { b["data"]["email"] = std::string(321, 'm') + "@example.net"; }), kApplied,
       [](const std::string& tag) {
         EXPECT_EQ(db_->Scalar("SELECT record->>'email' IS NULL FROM users WHERE user_id = 'usr_" + tag + "'"), "t");
       }},
      {"duplicate_of_a_stored_event",
       [](const std::string&) { return Signed(MemberAdded("evt_seed_1", kSeedAccount, kSeedUser, "admin").dump()); },
       {.http = 200, .webhook = "duplicate"}},
      {"older_than_the_state_it_would_replace",
       [](const std::string& tag) {
         // usr_seed_other was disabled at set-up: an enable dated 2001 changes nothing.
         const json body = {{"id", "evt_" + tag},
                            {"type", "huudis.user.enabled.v1"},
                            {"createdAt", "2001-01-01T00:00:00Z"},
                            {"data", {{"id", "usr_seed_other"}, {"enabledAt", "2001-01-01T00:00:00Z"}}}};
         return Signed(body.dump());
       },
       {.http = 200, .webhook = "stale", .stored = 1}},
      // --- gRPC arguments --------------------------------------------------------------------
      {"grpc_id_empty", [](const std::string&) { return IsActive(ActiveRequest("")); }, kInvalidArgument},
      {"grpc_id_over_256_bytes", [](const std::string&) { return IsActive(ActiveRequest(std::string(257, 'u'))); },
       kInvalidArgument},
      {"grpc_no_token", [](const std::string&) { return IsActive(ActiveRequest(kSeedUser), ""); },
       {.grpc = grpc::StatusCode::UNAUTHENTICATED}},
      {"grpc_unknown_token", [](const std::string&) { return IsActive(ActiveRequest(kSeedUser), "token-nobody"); },
       {.grpc = grpc::StatusCode::UNAUTHENTICATED}},
      {"grpc_token_without_the_scope",
       [](const std::string&) { return IsActive(ActiveRequest(kSeedUser), kReaderToken); },
       {.grpc = grpc::StatusCode::PERMISSION_DENIED}},
      {"grpc_min_sequence_never_reached",
       [](const std::string&) {
         v1::IsUserActiveRequest req = ActiveRequest(kSeedUser);
         req.set_min_sequence(std::numeric_limits<uint64_t>::max());
         return IsActive(req, kCheckerToken, 300ms);
       },
       {.grpc = grpc::StatusCode::DEADLINE_EXCEEDED}},
      {"grpc_token_issued_at_past_9999",
       [](const std::string&) {
         v1::IsUserActiveRequest req = ActiveRequest(kSeedUser);
         req.mutable_token_issued_at()->set_seconds(std::numeric_limits<int64_t>::max());
         return IsActive(req);
       },
       kInvalidArgument},
      {"grpc_token_issued_at_negative_nanos",
       [](const std::string&) {
         v1::IsUserActiveRequest req = ActiveRequest(kSeedUser);
         req.mutable_token_issued_at()->set_seconds(NowSeconds());
         req.mutable_token_issued_at()->set_nanos(-1);
         return IsActive(req);
       },
       kInvalidArgument},
      {"grpc_batch_of_1001",
       [](const std::string&) {
         v1::BatchIsUserActiveRequest req;
         for (int i = 0; i < 1001; ++i) req.add_user_ids("usr_" + std::to_string(i));
         return BatchActive(req);
       },
       kInvalidArgument},
      {"grpc_batch_token_issued_at_before_year_1",
       [](const std::string&) {
         v1::BatchIsUserActiveRequest req;
         req.add_user_ids(kSeedUser);
         req.mutable_token_issued_at()->set_seconds(std::numeric_limits<int64_t>::min());
         return BatchActive(req);
       },
       kInvalidArgument},
      {"grpc_batch_with_an_empty_id",
       [](const std::string&) {
         v1::BatchIsUserActiveRequest req;
         req.add_user_ids(kSeedUser);
         req.add_user_ids("");
         return BatchActive(req);
       },
       kInvalidArgument},
      {"grpc_page_size_negative",
       [](const std::string&) {
         v1::ListMembersRequest req;
         req.set_account_id(kSeedAccount);
         req.set_page_size(-1);
         return ListMembers(req);
       },
       kInvalidArgument},
      {"grpc_page_size_1001",
       [](const std::string&) {
         v1::ListMembersRequest req;
         req.set_account_id(kSeedAccount);
         req.set_page_size(1001);
         return ListMembers(req);
       },
       kInvalidArgument},
      {"grpc_page_token_garbage",
       [](const std::string&) {
         v1::ListMembersRequest req;
         req.set_account_id(kSeedAccount);
         req.set_page_token("bm90IGEgdG9rZW4=");
         return ListMembers(req);
       },
       kInvalidArgument},
      // A proto3 string that is not UTF-8 never reaches the service: gRPC's callback API cannot
      // parse the request and answers UNIMPLEMENTED itself.
      {"grpc_string_not_utf8",
       [](const std::string&) {
         v1::ListMembersRequest req;
         req.set_account_id(kSeedAccount);
         req.set_page_token(std::string("\x01\xff not a token", 15));
         return ListMembers(req);
       },
       {.grpc = grpc::StatusCode::UNIMPLEMENTED}},
      {"grpc_page_token_of_another_workspace",
       [](const std::string&) {
         v1::ListMembersRequest req;
         req.set_account_id("acc_other");
         req.set_page_token(SeedPageToken());
         return ListMembers(req);
       },
       kInvalidArgument},
      {"grpc_seat_count_id_over_256_bytes",
       [](const std::string&) {
         grpc::ClientContext ctx;
         Prepare(ctx, kSeatsToken);
         v1::GetSeatCountRequest req;
         req.set_account_id(std::string(257, 'a'));
         v1::SeatCount resp;
         return Grpc(v1::SeatService::NewStub(Channel())->GetSeatCount(&ctx, req, &resp));
       },
       kInvalidArgument},
      // --- FusionAuth webhooks ----------------------------------------------------------------
      {"fa_no_signature", [](const std::string& tag) { return FusionAuth(FusionAuthDeactivate(tag), {}); },
       kUnauthorized},
      {"fa_alg_none",
       [](const std::string& tag) {
         const std::string body = FusionAuthDeactivate(tag);
         return FusionAuth(body, {{"X-FusionAuth-Signature-JWT",
                                   Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." +
                                       Base64UrlEncode(adapters::FusionAuthSignaturePayload(body)) + "."}});
       },
       kUnauthorized},
      {"fa_signed_for_another_body",
       [](const std::string& tag) {
         return FusionAuthSigned(FusionAuthDeactivate(tag),
                                 adapters::FusionAuthSignaturePayload(FusionAuthDeactivate(tag + "x")));
       },
       kUnauthorized},
      {"fa_token_of_15_kib",
       [](const std::string& tag) {
         return FusionAuth(FusionAuthDeactivate(tag), {{"X-FusionAuth-Signature-JWT", std::string(15 * 1024, 'a')}});
       },
       kUnauthorized},
      {"fa_token_header_a_json_bomb",
       [](const std::string& tag) {
         return FusionAuth(FusionAuthDeactivate(tag),
                           {{"X-FusionAuth-Signature-JWT",
                             Base64UrlEncode(std::string(5000, '[') + std::string(5000, ']')) + ".e30.AA"}});
       },
       kUnauthorized},
      {"fa_event_id_over_256_bytes",
       [](const std::string& tag) {
         return FusionAuthSigned(FusionAuthDeactivate(tag, [&](json& b) { b["event"]["id"] = "fa-" + tag + std::string(257, 'x'); }));
       },
       kBadRequest},
      {"fa_create_instant_year_10000",
       [](const std::string& tag) {
         return FusionAuthSigned(FusionAuthDeactivate(tag, [](json& b) { b["event"]["createInstant"] = 253402300800000; }));
       },
       kDeadLettered},
      {"fa_create_instant_negative",
       [](const std::string& tag) {
         return FusionAuthSigned(FusionAuthDeactivate(tag, [](json& b) { b["event"]["createInstant"] = -1; }));
       },
       kDeadLettered},
      {"fa_user_id_holding_nul",
       [](const std::string& tag) {
         return FusionAuthSigned(FusionAuthDeactivate(tag, [](json& b) { b["event"]["user"]["id"] = std::string("u\0v", 3); }));
       },
       kDeadLettered},
      {"fa_roles_joined_over_256_bytes",
       [](const std::string& tag) {
         return FusionAuthSigned(FusionAuthDeactivate(tag, [](json& b) {
           b["event"]["type"] = "user.registration.create";
           b["event"]["applicationId"] = "app";
           b["event"]["registration"] = {{"roles", {std::string(200, 'r'), std::string(100, 's')}}};
         }));
       },
       kDeadLettered},
      {"fa_group_list_without_members",
       [](const std::string& tag) {
         return FusionAuthSigned(FusionAuthDeactivate(tag, [](json& b) {
           b["event"]["type"] = "group.member.update";
           b["event"]["group"] = {{"id", "grp_hostile"}};
         }));
       },
       kDeadLettered},
      // --- Operator API ----------------------------------------------------------------------
      {"operator_without_a_key", [](const std::string&) { return Operator(kSeedUser, {}); }, {.http = 401}},
      {"operator_key_without_the_scope",
       [](const std::string&) { return Operator(kSeedUser, {{"X-API-Key", kReaderToken}}); }, {.http = 403}},
      {"operator_user_never_seen",
       [](const std::string& tag) { return Operator("usr_" + tag, {{"X-API-Key", kWriterToken}}); }, {.http = 404}},
      {"operator_body_not_json",
       [](const std::string&) {
         return Operator(kSeedUser, {{"X-API-Key", kWriterToken}, {"Content-Type", "application/json"}}, "{reason");
       },
       {.http = 422}},
      {"operator_id_over_256_bytes",
       [](const std::string&) { return Operator(std::string(257, 'u'), {{"X-API-Key", kWriterToken}}); },
       {.http = 422}},
      {"operator_id_not_utf8",
       [](const std::string&) { return Operator("usr_seed%F9", {{"X-API-Key", kWriterToken}}); }, {.http = 422}},
      {"operator_id_holding_nul",
       [](const std::string&) { return Operator("usr_seed%00x", {{"X-API-Key", kWriterToken}}); }, {.http = 422}},
  };
  ASSERT_GE(cases.size(), 40u);

  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.name);
    // "c07_name": no case's tag is a substring of another's ids.
    const std::string tag = "c" + std::string(i < 10 ? "0" : "") + std::to_string(i) + "_" + c.name;
    const std::string before = Fingerprint(tag);
    Answer got = c.send(tag);
    if (c.expected.grpc) {
      ASSERT_TRUE(got.grpc.has_value()) << c.name;
      EXPECT_EQ(*got.grpc, *c.expected.grpc) << c.name << ": " << got.detail;
    } else {
      EXPECT_EQ(got.http, c.expected.http) << c.name << ": " << got.detail;
      if (!c.expected.webhook.empty() && got.http == 200) {
        EXPECT_EQ(got.body.value("status", ""), c.expected.webhook) << c.name << ": " << got.detail;
      }
      if (c.expected.http >= 400 && got.http == c.expected.http && got.body.is_object()) {
        EXPECT_EQ(got.body.value("status", 0), c.expected.http) << c.name << ": problem+json names the status";
      }
    }
    EXPECT_EQ(Count("provider_events", tag), c.expected.stored) << c.name;
    EXPECT_EQ(Count("dead_letters", tag), c.expected.dead_letters) << c.name;
    if (c.check) c.check(tag);
    EXPECT_EQ(Fingerprint(tag), before) << c.name << ": something outside the case's own rows changed";
    ExpectOrdinaryEventsStillApply(service_->http_url(), service_->grpc_target(), tag);
  }

  // The seed is as it was: its active member is active, its disabled one disabled.
  UserClient checker(service_->grpc_target(), kCheckerToken);
  EXPECT_TRUE(checker.Check(kSeedUser).active());
  EXPECT_FALSE(checker.Check("usr_seed_other").active());
  auto ready = client::HttpRequest("GET", service_->http_url() + "/readyz", {}, "");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200) << ready->body;
}

}  // namespace
}  // namespace mm::testing
