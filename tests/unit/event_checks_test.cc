// The ingest step's last check (domain/event_checks.h): clamping of future fact times, the
// documented limits, and the invariant it exists for — every event it accepts yields records
// that serialize and parse back to themselves, so no change-log row can be unreadable.

#include "domain/event_checks.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "domain/convergence.h"
#include "domain/records_json.h"
#include "event_builders.h"

namespace mm::domain {
namespace {

using testutil::At;
using namespace std::chrono_literals;

constexpr std::chrono::seconds kSkew{300};

ProviderEvent Received(ProviderEvent e, TimePoint received) {
  e.received_at = received;
  return e;
}

TEST(ClampFutureFactTimesTest, TimesBeyondTheSkewAreTakenAsReceiveTime) {
  ProviderEvent e = Received(testutil::UserDisabled("e1", "u1", At(1000)), At(0));
  e.fact_time = At(1000);
  EXPECT_EQ(ClampFutureFactTimes(e, kSkew), 2);  // the envelope's and the normalized event's
  EXPECT_EQ(e.fact_time, At(0));
  EXPECT_EQ(e.events[0].fact_time, At(0));

  ProviderEvent at_bound = Received(testutil::UserDisabled("e2", "u1", At(300)), At(0));
  at_bound.fact_time = At(300);
  EXPECT_EQ(ClampFutureFactTimes(at_bound, kSkew), 0);
  EXPECT_EQ(at_bound.events[0].fact_time, At(300));

  ProviderEvent far = Received(testutil::UserDisabled("e3", "u1", kLatestFactTime), At(0));
  far.fact_time = At(-5);  // the past is left alone
  EXPECT_EQ(ClampFutureFactTimes(far, kSkew), 1);
  EXPECT_EQ(far.fact_time, At(-5));
  EXPECT_EQ(far.events[0].fact_time, At(0));
}

TEST(PrepareForStoreTest, AFarFutureDisableDoesNotRevokeSessionsForYears) {
  ProviderEvent e = Received(testutil::UserDisabled("e1", "u1", FromUnixSeconds(253402300799)), At(0));
  auto prepared = PrepareForStore(e, kSkew);
  ASSERT_TRUE(prepared.ok());
  EXPECT_EQ(prepared->clamped, 2);  // the envelope's time and the disable's
  StateSet state;
  testutil::Apply(state, e);
  EXPECT_EQ(state.users.at("u1").sessions_valid_after, At(0));
}

TEST(PrepareForStoreTest, EnvelopeProblemsCannotBeStored) {
  auto refused = [](auto edit) {
    ProviderEvent e = testutil::UserDisabled("e1", "u1", At(0));
    edit(e);
    return PrepareForStore(e, kSkew).status();
  };
  EXPECT_EQ(refused([](ProviderEvent& e) { e.event_id.clear(); }).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused([](ProviderEvent& e) { e.event_id = std::string(257, 'e'); }).message(),
            "event id is longer than 256 bytes");
  EXPECT_TRUE(refused([](ProviderEvent& e) { e.event_id = std::string(256, 'e'); }).ok());
  EXPECT_EQ(refused([](ProviderEvent& e) { e.event_type = std::string(257, 't'); }).message(),
            "event type is longer than 256 bytes");
  EXPECT_EQ(refused([](ProviderEvent& e) { e.event_id = std::string("a\0b", 3); }).message(),
            "event id contains a NUL character");
  EXPECT_EQ(refused([](ProviderEvent& e) { e.raw_body = std::string("{\0}", 3); }).message(),
            "body contains a NUL character");
  EXPECT_EQ(refused([](ProviderEvent& e) { e.raw_body = "{\"x\":\"\xC3\x28\"}"; }).message(),
            "body is not UTF-8");
  EXPECT_EQ(refused([](ProviderEvent& e) { e.received_at = kLatestFactTime + 1us; }).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PrepareForStoreTest, ValuesOutOfBoundsMakeADeadLetter) {
  struct Case {
    std::function<void(NormalizedEvent&)> edit;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {[](NormalizedEvent& n) { n.user_id = std::string(257, 'u'); }, "user id is longer than 256 bytes"},
      {[](NormalizedEvent& n) { n.user_id.clear(); }, "user id is empty"},
      {[](NormalizedEvent& n) { n.fact_time = FromUnixSeconds(-1); }, "fact time is outside 1970-01-01..9999-12-31"},
      {[](NormalizedEvent& n) { n.email = std::string(321, 'e'); }, "email is longer than 320 bytes"},
      {[](NormalizedEvent& n) { n.name = std::string(1025, 'n'); }, "name is longer than 1024 bytes"},
      {[](NormalizedEvent& n) { n.reason = std::string(1025, 'r'); }, "reason is longer than 1024 bytes"},
      {[](NormalizedEvent& n) { n.actor = std::string(257, 'a'); }, "actor is longer than 256 bytes"},
      {[](NormalizedEvent& n) { n.role = std::string(257, 'r'); }, "role is longer than 256 bytes"},
      {[](NormalizedEvent& n) { n.reason = std::string("a\0", 2); }, "reason contains a NUL character"},
      {[](NormalizedEvent& n) { n.name = "\xC0\xAF"; }, "name is not UTF-8"},          // overlong '/'
      {[](NormalizedEvent& n) { n.name = "\xED\xA0\x80"; }, "name is not UTF-8"},      // a surrogate
      {[](NormalizedEvent& n) { n.name = "ok\xE2\x82"; }, "name is not UTF-8"},        // cut short
      {[](NormalizedEvent& n) { n.name = "\xF4\x90\x80\x80"; }, "name is not UTF-8"},  // past U+10FFFF
  };
  for (const Case& c : cases) {
    ProviderEvent e = testutil::UserDisabled("e1", "u1", At(0));
    c.edit(e.events[0]);
    auto prepared = PrepareForStore(e, kSkew);
    ASSERT_TRUE(prepared.ok()) << c.reason;
    EXPECT_TRUE(prepared->dead_lettered) << c.reason;
    EXPECT_EQ(e.dead_letter_reason, c.reason);
    EXPECT_TRUE(e.events.empty());
  }
  // At the bounds, and real UTF-8 of every length, everything is accepted.
  ProviderEvent ok = testutil::MemberAdded("e2", std::string(256, 'a'), std::string(256, 'u'), At(0),
                                           std::string(256, 'r'));
  ok.events[0].email = std::string(320, 'e');
  ok.events[0].name = "Zoë 🚀 " + std::string(1000, 'n');
  ok.events[0].account_name = std::string(1024, 'a');
  ok.events[0].fact_time = kEarliestFactTime;
  ok.fact_time = kEarliestFactTime;
  auto prepared = PrepareForStore(ok, kSkew);
  ASSERT_TRUE(prepared.ok());
  EXPECT_FALSE(prepared->dead_lettered) << *ok.dead_letter_reason;
}

TEST(PrepareForStoreTest, AnUnrepresentableEventTimeIsReplacedSoTheLetterCanBeStored) {
  ProviderEvent e = testutil::UserDisabled("e1", "u1", At(0));
  e.fact_time = FromUnixSeconds(-86400);
  ASSERT_TRUE(PrepareForStore(e, kSkew).ok());
  EXPECT_EQ(e.dead_letter_reason, "event time is outside 1970-01-01..9999-12-31");
  EXPECT_EQ(e.fact_time, e.received_at);

  ProviderEvent ignored = testutil::UserDisabled("e2", "u1", At(0));
  ignored.events.clear();
  ignored.ignored = true;
  ignored.fact_time = FromUnixSeconds(-86400);
  auto prepared = PrepareForStore(ignored, kSkew);
  ASSERT_TRUE(prepared.ok());
  EXPECT_FALSE(prepared->dead_lettered);  // its time decides nothing
  EXPECT_TRUE(ignored.ignored);
  EXPECT_EQ(ignored.fact_time, ignored.received_at);
}

TEST(PrepareForStoreTest, AnAdaptersReasonIsKeptButBounded) {
  ProviderEvent e = testutil::UserDisabled("e1", "u1", At(0));
  e.events.clear();
  e.dead_letter_reason = std::string(2000, 'x') + std::string("\0", 1);
  ASSERT_TRUE(PrepareForStore(e, kSkew).ok());
  EXPECT_EQ(e.dead_letter_reason, std::string(1024, 'x'));
}

TEST(TruncateUtf8Test, NeverSplitsASequence) {
  EXPECT_EQ(TruncateUtf8("abc", 5), "abc");
  EXPECT_EQ(TruncateUtf8("abé", 3), "ab");     // é is 2 bytes: cut before it
  EXPECT_EQ(TruncateUtf8("ab🚀", 5), "ab");    // 4-byte sequence
  EXPECT_EQ(TruncateUtf8("ab🚀", 6), "ab🚀");
  EXPECT_EQ(TruncateUtf8("é", 1), "");
}

// The invariant behind the hardening issue's worst case (an unreadable change-log row stalls
// every replica): whatever PrepareForStore accepts, applied by the convergence rules, gives
// records whose JSON parses back to the same record. Hostile values are drawn at and past
// every bound, with multi-byte text and raw control characters.
TEST(PrepareForStoreTest, EveryAcceptedEventYieldsRecordsThatReadBack) {
  std::mt19937_64 rng(20261203);
  const std::vector<TimePoint> times = {
      kEarliestFactTime,          kEarliestFactTime - 1us,  kLatestFactTime,
      kLatestFactTime + 1us,      At(0),                    At(301),
      At(299),                    FromUnixSeconds(-62135596800), FromUnixMicros(INT64_MAX / 2)};
  const std::vector<std::string> texts = {
      "", "x", std::string(255, 'a'), std::string(256, 'b'), std::string(257, 'c'),
      std::string(1024, 'd'), std::string(1025, 'e'), "Zoë 🚀\t\n\x01\x1f\"\\/", std::string("n\0l", 3),
      "\xFF\xFE", "\xC3", "\u00e9\u4e2d\U0001F600", std::string(320, 'f'), std::string(321, 'g')};
  auto pick_text = [&] { return texts[rng() % texts.size()]; };
  auto maybe_text = [&]() -> std::optional<std::string> {
    if (rng() % 3 == 0) return std::nullopt;
    return pick_text();
  };
  const EventKind kinds[] = {EventKind::kUserCreated,   EventKind::kUserUpdated,      EventKind::kUserDisabled,
                             EventKind::kUserEnabled,   EventKind::kUserDeleted,      EventKind::kAccountCreated,
                             EventKind::kMemberAdded,   EventKind::kMemberRoleChanged, EventKind::kMemberRemoved};
  int accepted = 0, dead = 0;
  StateSet state;
  for (int i = 0; i < 20000; ++i) {
    NormalizedEvent n;
    n.kind = kinds[rng() % std::size(kinds)];
    n.user_id = n.kind == EventKind::kAccountCreated ? "" : (rng() % 4 == 0 ? pick_text() : "u" + std::to_string(rng() % 20));
    n.account_id = rng() % 4 == 0 ? pick_text() : "a" + std::to_string(rng() % 5);
    if (n.kind != EventKind::kAccountCreated && n.kind != EventKind::kMemberAdded &&
        n.kind != EventKind::kMemberRoleChanged && n.kind != EventKind::kMemberRemoved) {
      n.account_id.clear();
    }
    n.fact_time = times[rng() % times.size()];
    n.email = maybe_text();
    n.name = maybe_text();
    n.account_name = maybe_text();
    n.role = maybe_text();
    n.reason = maybe_text();
    n.actor = maybe_text();
    n.added_via = maybe_text();
    ProviderEvent e = testutil::Wrap("e" + std::to_string(i), std::move(n));
    e.received_at = At(0);
    e.fact_time = times[rng() % times.size()];
    auto prepared = PrepareForStore(e, kSkew);
    if (!prepared.ok()) continue;
    ++accepted;
    if (e.dead_letter_reason) {
      ++dead;
      continue;
    }
    TouchedKeys changed;
    ApplyProviderEvent(e, state, changed);
  }
  EXPECT_GT(accepted, 15000);
  EXPECT_GT(dead, 1000);
  EXPECT_GT(accepted - dead, 500);
  EXPECT_GT(state.users.size() + state.accounts.size() + state.memberships.size(), 50u);
  for (const auto& [id, user] : state.users) {
    absl::StatusOr<UserRecord> back = UserFromJson(ToJson(user));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, user);
  }
  for (const auto& [id, account] : state.accounts) {
    absl::StatusOr<AccountRecord> back = AccountFromJson(ToJson(account));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, account);
  }
  for (const auto& [key, membership] : state.memberships) {
    absl::StatusOr<MembershipRecord> back = MembershipFromJson(ToJson(membership));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, membership);
  }
}

}  // namespace
}  // namespace mm::domain
