// Dead letters and a user's history end to end on the real binary (AdminService, scope admin;
// membershipctl dead-letters and history): a letter that an older version wrote and today's
// rules can apply is replayed (a dry run first, which writes nothing), then not again; a letter
// that is still unusable stays one and is marked; ListUserEvents gives every event that named a
// user, oldest fact first, page by page; the arguments each RPC refuses.

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e_helpers.h"
#include "service_process.h"
#include "test_database.h"

namespace mm::testing {
namespace {

namespace v1 = membership::v1;
using nlohmann::json;

class AdminE2ETest : public SharedServiceTest {
 protected:
  static void SetUpTestSuite() {
    GuardSuiteSetUp([] {
      db_ = TestDatabase::Create("admin").release();
      dir_ = new std::string(TempDir());
      service_ = ServiceProcess::Start({.binary = MM_SERVER_BINARY,
                                        .env = {{"MM_DATABASE_URL", db_->url()},
                                                {"MM_HUUDIS_SECRETS", kSecret},
                                                {"MM_CALLERS_FILE", WriteCallersFile(*dir_)}}})
                     .release();
      admin_ = v1::AdminService::NewStub(grpc::CreateChannel(service_->grpc_target(),
                                                             grpc::InsecureChannelCredentials()))
                   .release();
    });
  }
  static void TearDownTestSuite() {
    delete admin_;
    delete service_;
    delete db_;
    delete dir_;
  }

  static grpc::ClientContext* Context(grpc::ClientContext& ctx, const std::string& token = kAdminToken) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ctx.AddMetadata("authorization", "Bearer " + token);
    return &ctx;
  }

  // Posts a signed Huudis webhook; returns the answer's JSON (status, sequence).
  static json Post(const json& body) {
    auto reply = PostSigned(service_->http_url(), body.dump());
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return json();
    EXPECT_EQ(reply->status, 200) << reply->body;
    return json::parse(reply->body, nullptr, false);
  }

  static json Disable(const std::string& id, const std::string& user, const std::string& at,
                      const std::string& reason = "e2e") {
    return {{"id", id}, {"type", "huudis.user.disabled.v1"}, {"createdAt", at},
            {"data", {{"id", user}, {"disabledAt", at}, {"reason", reason}}}};
  }
  static json Enable(const std::string& id, const std::string& user, const std::string& at) {
    return {{"id", id}, {"type", "huudis.user.enabled.v1"}, {"createdAt", at},
            {"data", {{"id", user}, {"enabledAt", at}}}};
  }

  static v1::ListDeadLettersResponse Letters(v1::ListDeadLettersRequest request) {
    grpc::ClientContext ctx;
    v1::ListDeadLettersResponse resp;
    grpc::Status s = admin_->ListDeadLetters(Context(ctx), request, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }
  static std::optional<v1::DeadLetter> Find(const v1::ListDeadLettersResponse& page, const std::string& event_id) {
    for (const v1::DeadLetter& d : page.dead_letters()) {
      if (d.event_id() == event_id) return d;
    }
    return std::nullopt;
  }
  static grpc::Status Replay(const v1::ReplayDeadLettersRequest& request, v1::ReplayDeadLettersResponse* resp) {
    grpc::ClientContext ctx;
    return admin_->ReplayDeadLetters(Context(ctx), request, resp);
  }
  static std::vector<v1::UserEvent> History(const std::string& user, int page_size, int* pages = nullptr) {
    std::vector<v1::UserEvent> out;
    std::string token;
    int n = 0;
    do {
      v1::ListUserEventsRequest request;
      request.set_user_id(user);
      request.set_page_size(page_size);
      request.set_page_token(token);
      v1::ListUserEventsResponse resp;
      grpc::ClientContext ctx;
      grpc::Status s = admin_->ListUserEvents(Context(ctx), request, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      out.insert(out.end(), resp.events().begin(), resp.events().end());
      token = resp.next_page_token();
      ++n;
    } while (!token.empty() && n < 100);
    if (pages != nullptr) *pages = n;
    return out;
  }

  // A dead letter as an older version of the mirror stored it: a Huudis disable whose data that
  // version could not read. Today's adapter reads it.
  static void StoreLetterOfAnOlderVersion(const std::string& event_id, const std::string& user) {
    const std::string at = FormatRfc3339(SystemClock::Instance().Now() - std::chrono::minutes(5));
    const std::string body = Disable(event_id, user, at, "found_by_v2").dump();
    ASSERT_EQ(db_->Scalar("WITH e AS (INSERT INTO provider_events (provider, event_id, event_type, fact_time,"
                          " received_at, outcome, sequence, raw_body) VALUES ('huudis', '" + event_id +
                          "', 'huudis.user.disabled.v1', '" + at + "', now(), 'dead_lettered', 0, $b$" + body +
                          "$b$) RETURNING 1), d AS (INSERT INTO dead_letters (provider, event_id, reason)"
                          " SELECT 'huudis', '" + event_id + "', 'v1: data.reason is not a known reason'"
                          " FROM e RETURNING 1) SELECT count(*) FROM d"),
              "1");
  }

  static TestDatabase* db_;
  static std::string* dir_;
  static ServiceProcess* service_;
  static v1::AdminService::Stub* admin_;
};

TestDatabase* AdminE2ETest::db_ = nullptr;
std::string* AdminE2ETest::dir_ = nullptr;
ServiceProcess* AdminE2ETest::service_ = nullptr;
v1::AdminService::Stub* AdminE2ETest::admin_ = nullptr;

TEST_F(AdminE2ETest, ALetterTodaysRulesCanApplyIsReplayedOnceAfterADryRunThatWritesNothing) {
  const std::string user = "usr_admin_upgrade";
  const std::string id = "evt_admin_upgrade_1";
  StoreLetterOfAnOlderVersion(id, user);
  UserClient checker(service_->grpc_target(), kCheckerToken);
  EXPECT_TRUE(checker.Check(user).active()) << "the letter changed nothing yet";

  v1::ListDeadLettersRequest pending;
  pending.set_pending_only(true);
  pending.set_reason("v1: data.reason");
  const v1::ListDeadLettersResponse before = Letters(pending);
  const std::optional<v1::DeadLetter> letter = Find(before, id);
  ASSERT_TRUE(letter.has_value());
  EXPECT_EQ(letter->provider(), "huudis");
  EXPECT_EQ(letter->event_type(), "huudis.user.disabled.v1");
  EXPECT_EQ(letter->replay_attempts(), 0);
  EXPECT_FALSE(letter->has_replayed_at());

  // Dry run by filter: says "applied", writes nothing.
  const std::string head_before = db_->Scalar("SELECT last_sequence FROM change_log_head");
  v1::ReplayDeadLettersRequest by_filter;
  by_filter.set_reason("v1: data.reason");
  by_filter.set_dry_run(true);
  v1::ReplayDeadLettersResponse dry;
  ASSERT_TRUE(Replay(by_filter, &dry).ok());
  EXPECT_TRUE(dry.dry_run());
  ASSERT_EQ(dry.results_size(), 1);
  EXPECT_EQ(dry.results(0).event_id(), id);
  EXPECT_EQ(dry.results(0).outcome(), "applied");
  EXPECT_EQ(dry.results(0).sequence(), 0u);
  EXPECT_EQ(db_->Scalar("SELECT last_sequence FROM change_log_head"), head_before);
  EXPECT_EQ(db_->Scalar("SELECT outcome FROM provider_events WHERE event_id = '" + id + "'"), "dead_lettered");
  EXPECT_EQ(db_->Scalar("SELECT replay_attempts FROM dead_letters WHERE event_id = '" + id + "'"), "0");
  EXPECT_TRUE(checker.Check(user).active());

  // The replay applies it: the user is cut off, the letter is marked, not deleted.
  by_filter.set_dry_run(false);
  v1::ReplayDeadLettersResponse done;
  ASSERT_TRUE(Replay(by_filter, &done).ok());
  ASSERT_EQ(done.results_size(), 1);
  EXPECT_EQ(done.results(0).outcome(), "applied");
  EXPECT_GT(done.results(0).sequence(), 0u);
  v1::IsUserActiveResponse now = checker.Check(user, done.results(0).sequence());
  EXPECT_FALSE(now.active());
  EXPECT_EQ(now.disabled_reason(), "found_by_v2");
  EXPECT_EQ(db_->Scalar("SELECT outcome FROM provider_events WHERE event_id = '" + id + "'"), "applied");

  v1::ListDeadLettersRequest all;
  all.set_provider("huudis");
  const std::optional<v1::DeadLetter> marked = Find(Letters(all), id);
  ASSERT_TRUE(marked.has_value()) << "a replayed letter is never deleted";
  EXPECT_EQ(marked->replay_outcome(), "applied");
  EXPECT_EQ(marked->replay_attempts(), 1);
  EXPECT_TRUE(marked->has_replayed_at());
  EXPECT_EQ(marked->reason(), "v1: data.reason is not a known reason") << "the first reason stays";
  EXPECT_FALSE(Find(Letters(pending), id).has_value()) << "no longer pending";

  // Again, by id: nothing to do.
  v1::ReplayDeadLettersRequest by_id;
  by_id.add_event_ids(id);
  v1::ReplayDeadLettersResponse again;
  ASSERT_TRUE(Replay(by_id, &again).ok());
  ASSERT_EQ(again.results_size(), 1);
  EXPECT_EQ(again.results(0).outcome(), "duplicate");
  EXPECT_EQ(db_->Scalar("SELECT replay_attempts FROM dead_letters WHERE event_id = '" + id + "'"), "1");

  // The history names the replayed event with its outcome and its first reason.
  const std::vector<v1::UserEvent> history = History(user, 10);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].event_id(), id);
  EXPECT_EQ(history[0].outcome(), "applied");
  EXPECT_EQ(history[0].dead_letter_reason(), "v1: data.reason is not a known reason");
}

TEST_F(AdminE2ETest, ALetterStillUnusableStaysOneAndIsMarkedWithTheReplay) {
  const std::string user = "usr_admin_still_bad";
  const std::string at = FormatRfc3339(SystemClock::Instance().Now() - std::chrono::minutes(1));
  const json added = {{"id", "evt_admin_bad_role"}, {"type", "huudis.account.member_added.v1"}, {"createdAt", at},
                      {"data", {{"accountId", "acc_admin"}, {"userId", user}, {"role", std::string(300, 'r')},
                                {"joinedAt", at}}}};
  json answer = Post(added);
  ASSERT_EQ(answer.value("status", ""), "dead_lettered") << answer.dump();

  v1::ListDeadLettersRequest request;
  request.set_reason("role");
  const std::optional<v1::DeadLetter> letter = Find(Letters(request), "evt_admin_bad_role");
  ASSERT_TRUE(letter.has_value());
  EXPECT_EQ(letter->source(), "") << "a webhook, not a pull source";

  v1::ReplayDeadLettersRequest by_id;
  by_id.add_event_ids("evt_admin_bad_role");
  by_id.set_provider("huudis");
  v1::ReplayDeadLettersResponse resp;
  ASSERT_TRUE(Replay(by_id, &resp).ok());
  ASSERT_EQ(resp.results_size(), 1);
  EXPECT_EQ(resp.results(0).outcome(), "dead_lettered");
  EXPECT_NE(resp.results(0).reason().find("role"), std::string::npos) << resp.results(0).reason();

  const std::optional<v1::DeadLetter> marked = Find(Letters(request), "evt_admin_bad_role");
  ASSERT_TRUE(marked.has_value());
  EXPECT_EQ(marked->replay_attempts(), 1);
  EXPECT_EQ(marked->replay_outcome(), "dead_lettered");
  EXPECT_NE(marked->replay_reason().find("role"), std::string::npos);
  EXPECT_EQ(db_->Scalar("SELECT count(*) FROM memberships WHERE user_id = '" + user + "'"), "0");

  // The dead letter is in the user's history, though its facts were not kept.
  const std::vector<v1::UserEvent> history = History(user, 10);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].outcome(), "dead_lettered");
  EXPECT_NE(history[0].dead_letter_reason().find("role"), std::string::npos);
  ExpectOrdinaryEventsStillApply(service_->http_url(), service_->grpc_target(), "admin_bad_role");
}

TEST_F(AdminE2ETest, HistoryListsEveryEventThatNamedTheUserOldestFactFirstAcrossPages) {
  const std::string user = "usr_admin_history";
  const TimePoint base = SystemClock::Instance().Now() - std::chrono::hours(1);
  auto at = [&](int minutes) { return FormatRfc3339(base + std::chrono::minutes(minutes)); };
  // Delivered out of order, one twice, one about somebody else.
  EXPECT_EQ(Post(Disable("evt_hist_3", user, at(30))).value("status", ""), "applied");
  EXPECT_EQ(Post(Enable("evt_hist_1", user, at(10))).value("status", ""), "stale");
  EXPECT_EQ(Post(Enable("evt_hist_4", user, at(40))).value("status", ""), "applied");
  EXPECT_EQ(Post(Enable("evt_hist_4", user, at(40))).value("status", ""), "duplicate");
  EXPECT_EQ(Post(Disable("evt_hist_2", user, at(20))).value("status", ""), "stale");
  EXPECT_EQ(Post(Disable("evt_hist_other", "usr_admin_someone_else", at(25))).value("status", ""), "applied");
  EXPECT_EQ(Post(json{{"id", "evt_hist_5"}, {"type", "huudis.account.member_added.v1"}, {"createdAt", at(50)},
                      {"data", {{"accountId", "acc_hist"}, {"userId", user}, {"role", "member"}, {"joinedAt", at(50)}}}})
                .value("status", ""),
            "applied");

  int pages = 0;
  const std::vector<v1::UserEvent> history = History(user, 2, &pages);
  std::vector<std::string> ids, outcomes;
  for (const v1::UserEvent& e : history) {
    ids.push_back(e.event_id());
    outcomes.push_back(e.outcome());
    EXPECT_EQ(e.provider(), "huudis");
    EXPECT_TRUE(e.has_received_at());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"evt_hist_1", "evt_hist_2", "evt_hist_3", "evt_hist_4", "evt_hist_5"}));
  EXPECT_EQ(outcomes, (std::vector<std::string>{"stale", "stale", "applied", "applied", "applied"}));
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(history[0].event_type(), "huudis.user.enabled.v1");
  EXPECT_EQ(History("usr_admin_never_seen", 10).size(), 0u);

  // A token is bound to its user.
  v1::ListUserEventsRequest first;
  first.set_user_id(user);
  first.set_page_size(2);
  v1::ListUserEventsResponse page;
  grpc::ClientContext c1;
  ASSERT_TRUE(admin_->ListUserEvents(Context(c1), first, &page).ok());
  ASSERT_FALSE(page.next_page_token().empty());
  first.set_user_id("usr_admin_someone_else");
  first.set_page_token(page.next_page_token());
  grpc::ClientContext c2;
  EXPECT_EQ(admin_->ListUserEvents(Context(c2), first, &page).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AdminE2ETest, ArgumentsEachRpcRefusesAndTheScopeItNeeds) {
  v1::ReplayDeadLettersResponse resp;
  v1::ReplayDeadLettersRequest too_many;
  for (int i = 0; i < 101; ++i) too_many.add_event_ids("evt_" + std::to_string(i));
  EXPECT_EQ(Replay(too_many, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::ReplayDeadLettersRequest both;
  both.add_event_ids("evt_x");
  both.set_reason("x");
  EXPECT_EQ(Replay(both, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::ReplayDeadLettersRequest big_page;
  big_page.set_reason("x");
  big_page.set_page_size(101);
  EXPECT_EQ(Replay(big_page, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::ReplayDeadLettersRequest bad_provider;
  bad_provider.set_provider("okta");
  EXPECT_EQ(Replay(bad_provider, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::ReplayDeadLettersRequest empty_id;
  empty_id.add_event_ids("");
  EXPECT_EQ(Replay(empty_id, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::ReplayDeadLettersRequest unknown;
  unknown.add_event_ids("evt_no_such_letter");
  ASSERT_TRUE(Replay(unknown, &resp).ok());
  EXPECT_EQ(resp.results_size(), 0);

  v1::ListDeadLettersRequest bad_token;
  bad_token.set_page_token("not-a-token");
  v1::ListDeadLettersResponse letters;
  grpc::ClientContext c1;
  EXPECT_EQ(admin_->ListDeadLetters(Context(c1), bad_token, &letters).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::ListUserEventsRequest no_user;
  v1::ListUserEventsResponse events;
  grpc::ClientContext c2;
  EXPECT_EQ(admin_->ListUserEvents(Context(c2), no_user, &events).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // admin only: a users:read caller is refused.
  grpc::ClientContext c3;
  EXPECT_EQ(admin_->ListDeadLetters(Context(c3, kReaderToken), v1::ListDeadLettersRequest(), &letters).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AdminE2ETest, MembershipctlListsReplaysAndShowsHistory) {
  const std::string user = "usr_admin_ctl";
  StoreLetterOfAnOlderVersion("evt_admin_ctl_1", user);
  const std::string env = "MM_GRPC_ADDR=" + service_->grpc_target() + " MM_TOKEN=" + kAdminToken + " ";
  auto ctl = [&](const std::string& args) { return RunCommand(env + MM_CTL_BINARY + " " + args); };

  CommandResult list = ctl("dead-letters list --pending --provider huudis");
  EXPECT_EQ(list.code, 0) << list.output;
  EXPECT_NE(list.output.find("evt_admin_ctl_1"), std::string::npos) << list.output;
  CommandResult dry = ctl("dead-letters replay evt_admin_ctl_1 --dry-run");
  EXPECT_EQ(dry.code, 0) << dry.output;
  EXPECT_NE(dry.output.find("evt_admin_ctl_1\tapplied"), std::string::npos) << dry.output;
  EXPECT_NE(dry.output.find("dry run"), std::string::npos) << dry.output;
  CommandResult replay = ctl("dead-letters replay evt_admin_ctl_1");
  EXPECT_EQ(replay.code, 0) << replay.output;
  EXPECT_EQ(db_->Scalar("SELECT state FROM users WHERE user_id = '" + user + "'"), "disabled");
  CommandResult history = ctl("history " + user + " --json");
  EXPECT_EQ(history.code, 0) << history.output;
  const json page = json::parse(history.output, nullptr, false);
  ASSERT_TRUE(page.is_object()) << history.output;
  ASSERT_EQ(page["events"].size(), 1u) << history.output;
  EXPECT_EQ(page["events"][0]["outcome"], "applied");
  EXPECT_EQ(ctl("dead-letters replay").code, 2) << "usage: ids or a filter";
  EXPECT_EQ(ctl("dead-letters list").code, 0);
  CommandResult denied = RunCommand("MM_GRPC_ADDR=" + service_->grpc_target() + " MM_TOKEN=" + kReaderToken + " " +
                                    MM_CTL_BINARY + " history " + user);
  EXPECT_EQ(denied.code, 3) << denied.output;
}

}  // namespace
}  // namespace mm::testing
