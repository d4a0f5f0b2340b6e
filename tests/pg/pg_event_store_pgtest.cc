// PgEventStore against the real PostgreSQL: the convergence rules of DESIGN §2 end to end,
// dedup, what is stored for every delivery, sequences, seat counts, the in-memory reference
// over a random history, and connection loss. Every test ends with ExpectStoreInvariants.

#include "store/pg_event_store.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "pg_event_builders.h"
#include "store/in_memory_event_store.h"
#include "store/migrator.h"
#include "store/pg_change_feed.h"
#include "store/pg_connection.h"
#include "store/pg_pruner.h"
#include "store/pg_read_store.h"

namespace mm::testing {
namespace {

using domain::SeatTable;
using store::SeatCountView;
using domain::UserState;

constexpr char kStoreApp[] = "mm_store_under_test";

// The seat counts of a history's facts with fact time <= t, applied in order (the truth the
// seat ledger must give at t).
SeatTable RecountAt(const std::vector<ProviderEvent>& history, TimePoint t) {
  domain::StateSet state;
  for (ProviderEvent e : history) {
    std::erase_if(e.events, [&](const domain::NormalizedEvent& n) { return n.fact_time > t; });
    domain::TouchedKeys changed;
    domain::Decide(e, /*duplicate=*/false, state, changed);
  }
  return domain::CountSeats(state);
}

// One account's counts in `table`, as ReadStore answers them.
SeatCountView CountsOf(const SeatTable& table, const std::string& account) {
  SeatCountView view;
  for (const auto& [key, tally] : table) {
    if (key.first != account) continue;
    view.by_role[key.second] = tally.members;
    view.total += tally.members;
    view.billable += tally.billable;
  }
  return view;
}

// The seat-ledger tests spread facts this far apart (about three hours, off the hour), so that
// their histories cross UTC days (seat_ledger_days) at unaligned times.
constexpr int64_t kStep = 3 * 3600 + 17;
TimePoint Step(int64_t s) { return At(s * kStep); }

class ManualClock final : public Clock {
 public:
  TimePoint Now() const override { return now; }
  TimePoint now{};
};

class PgEventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = TestDatabase::Create("store");
    sql_ = std::make_unique<SqlSession>(*db_);
    // Named, so that tests can find (and kill) the store's backend.
    store_ = std::make_unique<store::PgEventStore>(db_->url() + "?application_name=" + kStoreApp);
    absl::Status connected = store_->Connect();
    ASSERT_TRUE(connected.ok()) << connected;
  }

  void TearDown() override {
    if (sql_ != nullptr) ExpectStoreInvariants(*sql_);
  }

  Outcome Apply(const ProviderEvent& event) { return MustApplyOne(*store_, event); }

  domain::UserRecord User(const std::string& id) const { return ReadState(*sql_).users.at(id); }
  domain::MembershipRecord Membership(const std::string& account, const std::string& user) const {
    return ReadState(*sql_).memberships.at({account, user});
  }
  std::string Sql(const std::string& sql) const { return sql_->Scalar(sql); }
  uint64_t Head() const { return std::stoull(Sql("SELECT last_sequence FROM change_log_head")); }
  std::string StoredOutcome(const std::string& event_id) const {
    return Sql("SELECT outcome FROM provider_events WHERE event_id = '" + event_id + "'");
  }
  std::string StoreBackendPid() const {
    return Sql(std::string("SELECT pid FROM pg_stat_activity WHERE application_name = '") +
               kStoreApp + "' AND datname = current_database()");
  }
  void TerminateBackend(const std::string& pid) const {
    ASSERT_EQ(Sql("SELECT pg_terminate_backend(" + pid + ", 5000)"), "t");
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<SqlSession> sql_;
  std::unique_ptr<store::PgEventStore> store_;
};

// ---- Users: disable, enable, stale, ties, sessions, deletion. ----

TEST_F(PgEventStoreTest, DisableRecordsReasonActorAndRevokesSessions) {
  EXPECT_EQ(Apply(UserCreated("c1", "u1", At(1), "u1@example.com", "Ann")), Outcome::kApplied);
  EXPECT_EQ(Apply(UserDisabled("d1", "u1", At(10), "compromised", "admin-7")), Outcome::kApplied);

  EXPECT_EQ(Sql("SELECT state FROM users WHERE user_id = 'u1'"), "disabled");
  EXPECT_EQ(Sql("SELECT disabled_reason FROM users WHERE user_id = 'u1'"), "compromised");
  EXPECT_EQ(Sql("SELECT extract(epoch FROM sessions_valid_after)::bigint FROM users"),
            std::to_string(kBaseUnixSeconds + 10));
  domain::UserRecord u = User("u1");
  EXPECT_EQ(u.state, UserState::kDisabled);
  EXPECT_EQ(u.disabled_at, At(10));
  EXPECT_EQ(u.disabled_by, "admin-7");
  EXPECT_EQ(u.sessions_valid_after, At(10));
  ASSERT_TRUE(u.state_version.has_value());
  EXPECT_EQ(u.state_version->event_id, "d1");
  EXPECT_EQ(u.state_event_type, "test.UserDisabled");
  EXPECT_EQ(u.email.value, "u1@example.com");
}

TEST_F(PgEventStoreTest, EnableClearsReasonButSessionsStayRevoked) {
  Apply(UserDisabled("d1", "u1", At(10), "compromised"));
  EXPECT_EQ(Apply(UserEnabled("e1", "u1", At(20), "admin")), Outcome::kApplied);

  EXPECT_EQ(Sql("SELECT state FROM users WHERE user_id = 'u1'"), "active");
  EXPECT_EQ(Sql("SELECT disabled_reason IS NULL FROM users WHERE user_id = 'u1'"), "t");
  domain::UserRecord u = User("u1");
  EXPECT_EQ(u.enabled_at, At(20));
  EXPECT_EQ(u.disabled_at, std::nullopt);
  EXPECT_EQ(u.sessions_valid_after, At(10));  // re-enabling does not lower it
}

TEST_F(PgEventStoreTest, OlderEventIsStaleAndChangesNothing) {
  Apply(UserDisabled("d1", "u1", At(20), "compromised"));
  const std::string record = Sql("SELECT record::text FROM users WHERE user_id = 'u1'");
  const uint64_t head = Head();

  auto results = MustApply(*store_, {UserEnabled("e1", "u1", At(10))});
  EXPECT_EQ(results[0].outcome, Outcome::kStale);
  EXPECT_EQ(results[0].sequence, head);
  EXPECT_EQ(Sql("SELECT record::text FROM users WHERE user_id = 'u1'"), record);
  EXPECT_EQ(Head(), head) << "a stale event appended a change";
  EXPECT_EQ(StoredOutcome("e1"), "stale");
}

TEST_F(PgEventStoreTest, StaleDisableStillRaisesSessionsValidAfter) {
  Apply(UserDisabled("d1", "u1", At(30)));
  Apply(UserEnabled("e1", "u1", At(40)));
  EXPECT_EQ(Apply(UserDisabled("d0", "u1", At(35), "late")), Outcome::kStale);

  domain::UserRecord u = User("u1");
  EXPECT_EQ(u.state, UserState::kActive);
  EXPECT_EQ(u.disabled_reason, std::nullopt);
  EXPECT_EQ(u.sessions_valid_after, At(35));
  // An older disable does not lower it again.
  EXPECT_EQ(Apply(UserDisabled("d-old", "u1", At(5))), Outcome::kStale);
  EXPECT_EQ(User("u1").sessions_valid_after, At(35));
}

TEST_F(PgEventStoreTest, TieOnFactTimeGoesToTheGreaterEventId) {
  // Same fact time: "b-disable" > "a-enable" in byte order, whatever the arrival order.
  EXPECT_EQ(Apply(UserEnabled("a-enable", "first", At(10))), Outcome::kApplied);
  EXPECT_EQ(Apply(UserDisabled("b-disable", "first", At(10))), Outcome::kApplied);
  EXPECT_EQ(Apply(UserDisabled("b-disable2", "second", At(10))), Outcome::kApplied);
  EXPECT_EQ(Apply(UserEnabled("a-enable2", "second", At(10))), Outcome::kStale);

  EXPECT_EQ(Sql("SELECT string_agg(user_id || ':' || state, ',' ORDER BY user_id) FROM users"),
            "first:disabled,second:disabled");
}

TEST_F(PgEventStoreTest, DeletedUserStaysDeletedAgainstOlderEvents) {
  EXPECT_EQ(Apply(UserDeleted("del", "u1", At(20))), Outcome::kApplied);
  EXPECT_EQ(Apply(UserEnabled("en", "u1", At(10))), Outcome::kStale);
  EXPECT_EQ(Apply(UserDisabled("dis", "u1", At(15))), Outcome::kStale);

  EXPECT_EQ(Sql("SELECT state FROM users WHERE user_id = 'u1'"), "deleted");
  domain::UserRecord u = User("u1");
  EXPECT_EQ(u.deleted_at, At(20));
  EXPECT_EQ(u.sessions_valid_after, At(15));  // the stale disable still revokes sessions
  // A newer enable does win over the deletion (newer wins, per fact).
  EXPECT_EQ(Apply(UserEnabled("en2", "u1", At(30))), Outcome::kApplied);
  EXPECT_EQ(Sql("SELECT state FROM users WHERE user_id = 'u1'"), "active");
}

TEST_F(PgEventStoreTest, AnyEventNamingAUserMakesItKnown) {
  EXPECT_EQ(Apply(MemberRemoved("r1", "acct", "ghost", At(5))), Outcome::kApplied);
  EXPECT_EQ(Sql("SELECT state FROM users WHERE user_id = 'ghost'"), "active");
  EXPECT_EQ(Sql("SELECT count(*) FROM accounts WHERE account_id = 'acct'"), "1");
}

// ---- Memberships: tombstones, role change before add, several facts in one delivery. ----

TEST_F(PgEventStoreTest, RemovalTombstoneBlocksALateOlderAdd) {
  EXPECT_EQ(Apply(MemberRemoved("rm", "acct", "u1", At(20), "owner-1")), Outcome::kApplied);
  EXPECT_EQ(Apply(MemberAdded("add", "acct", "u1", At(10), "admin")), Outcome::kStale);

  EXPECT_EQ(Sql("SELECT present FROM memberships WHERE account_id = 'acct' AND user_id = 'u1'"), "f");
  domain::MembershipRecord m = Membership("acct", "u1");
  EXPECT_EQ(m.removed_at, At(20));
  EXPECT_EQ(m.removed_by, "owner-1");
  EXPECT_EQ(Sql("SELECT count(*) FROM seat_counts"), "0");
}

TEST_F(PgEventStoreTest, RoleChangeBeforeAddImpliesPresenceAndKeepsJoinDetails) {
  EXPECT_EQ(Apply(MemberRoleChanged("rc", "acct", "u1", At(20), "admin")), Outcome::kApplied);
  ProviderEvent add = MemberAdded("add", "acct", "u1", At(10), "member");
  add.events[0].added_via = "invite";
  add.events[0].actor = "owner-1";
  EXPECT_EQ(Apply(add), Outcome::kStale);

  EXPECT_EQ(Sql("SELECT present || ':' || role FROM memberships WHERE user_id = 'u1'"),
            "true:admin");
  domain::MembershipRecord m = Membership("acct", "u1");
  EXPECT_EQ(m.joined_at, At(10));
  EXPECT_EQ(m.added_via, "invite");
  EXPECT_EQ(m.added_by, "owner-1");
  EXPECT_EQ(ReadSeats(*sql_), (SeatTable{{{"acct", "admin"}, {1, 1}}}));
}

TEST_F(PgEventStoreTest, FactsOfOneDeliveryAreAppliedTogether) {
  ProviderEvent pe = MemberAdded("multi", "acct", "u1", At(10), "owner");
  pe.events[0].account_name = "Acme";
  pe.events.push_back(UserCreated("multi", "u1", At(10), "u1@example.com").events[0]);
  pe.events.push_back(UserDisabled("multi", "u2", At(10), "why").events[0]);
  EXPECT_EQ(Apply(pe), Outcome::kApplied);

  domain::StateSet state = ReadState(*sql_);
  EXPECT_EQ(state.accounts.at("acct").name.value, "Acme");
  EXPECT_EQ(state.users.at("u1").email.value, "u1@example.com");
  EXPECT_EQ(state.users.at("u2").state, UserState::kDisabled);
  EXPECT_TRUE(state.memberships.at({"acct", "u1"}).present);
  EXPECT_EQ(Sql("SELECT count(*) FROM provider_events"), "1");
}

// ---- Seat counts (DESIGN §2 rule 6), maintained incrementally by the store. ----

TEST_F(PgEventStoreTest, SeatCountsFollowAddsRoleChangesAndRemovals) {
  MustApply(*store_, {MemberAdded("a1", "acct", "u1", At(1), "member"),
                      MemberAdded("a2", "acct", "u2", At(1), "member"),
                      MemberAdded("a3", "acct", "u3", At(1), "admin")});
  EXPECT_EQ(ReadSeats(*sql_),
            (SeatTable{{{"acct", "admin"}, {1, 1}}, {{"acct", "member"}, {2, 2}}}));

  EXPECT_EQ(Apply(MemberRoleChanged("rc", "acct", "u1", At(2), "admin")), Outcome::kApplied);
  EXPECT_EQ(ReadSeats(*sql_),
            (SeatTable{{{"acct", "admin"}, {2, 2}}, {{"acct", "member"}, {1, 1}}}));

  EXPECT_EQ(Apply(MemberRemoved("rm", "acct", "u2", At(3))), Outcome::kApplied);
  EXPECT_EQ(Sql("SELECT present FROM memberships WHERE user_id = 'u2'"), "f");
  EXPECT_EQ(ReadSeats(*sql_), (SeatTable{{{"acct", "admin"}, {2, 2}}}));
}

TEST_F(PgEventStoreTest, DisabledAndDeletedMembersAreNotBillable) {
  MustApply(*store_, {MemberAdded("a1", "acct", "u1", At(1)), MemberAdded("a2", "acct", "u2", At(1)),
                      MemberAdded("a3", "other", "u1", At(1), "owner")});

  EXPECT_EQ(Apply(UserDisabled("d1", "u1", At(5))), Outcome::kApplied);
  EXPECT_EQ(ReadSeats(*sql_),
            (SeatTable{{{"acct", "member"}, {2, 1}}, {{"other", "owner"}, {1, 0}}}));

  EXPECT_EQ(Apply(UserDeleted("x2", "u2", At(5))), Outcome::kApplied);
  EXPECT_EQ(ReadSeats(*sql_),
            (SeatTable{{{"acct", "member"}, {2, 0}}, {{"other", "owner"}, {1, 0}}}));

  EXPECT_EQ(Apply(UserEnabled("e1", "u1", At(6))), Outcome::kApplied);
  EXPECT_EQ(ReadSeats(*sql_),
            (SeatTable{{{"acct", "member"}, {2, 1}}, {{"other", "owner"}, {1, 1}}}));
}

TEST_F(PgEventStoreTest, AMemberListRemovesUnlistedMembersAndFreesTheirSeatsWhateverTheirState) {
  MustApply(*store_, {MemberAdded("a1", "grp", "u1", At(1)), MemberAdded("a2", "grp", "u2", At(1)),
                      MemberAdded("a3", "grp", "u3", At(1), "admin"), MemberAdded("a4", "other", "u2", At(1))});
  // u2 is disabled, u3 deleted: their seats are members but not billable.
  MustApply(*store_, {UserDisabled("d2", "u2", At(2)), UserDeleted("x3", "u3", At(2))});
  EXPECT_EQ(ReadSeats(*sql_), (SeatTable{{{"grp", "admin"}, {1, 0}}, {{"grp", "member"}, {2, 1}},
                                         {{"other", "member"}, {1, 0}}}));
  // The list names only u1; in the same batch u1 is disabled too.
  auto results = MustApply(*store_, {MemberList("list", "grp", {"u1"}, At(5)), UserDisabled("d1", "u1", At(6))});
  EXPECT_EQ(results[0].outcome, Outcome::kApplied);
  EXPECT_FALSE(Membership("grp", "u2").present);
  EXPECT_FALSE(Membership("grp", "u3").present);
  EXPECT_EQ(Membership("grp", "u2").last_event_type, "group.member.update");
  EXPECT_TRUE(Membership("other", "u2").present);
  EXPECT_EQ(ReadSeats(*sql_), (SeatTable{{{"grp", "member"}, {1, 0}}, {{"other", "member"}, {1, 0}}}));
  // A late, older add of a member the list did not name stays removed.
  EXPECT_EQ(Apply(MemberAdded("late", "grp", "u4", At(3))), Outcome::kStale);
  EXPECT_FALSE(Membership("grp", "u4").present);
  EXPECT_EQ(Membership("grp", "u4").version, (domain::Version{At(5), "list"}));
  EXPECT_EQ(ReadSeats(*sql_), (SeatTable{{{"grp", "member"}, {1, 0}}, {{"other", "member"}, {1, 0}}}));
}

// ---- Dedup (DESIGN §2 rule 1). ----

TEST_F(PgEventStoreTest, DuplicateAcrossBatchesIsStoredOnceAndChangesNothing) {
  const ProviderEvent e = UserDisabled("d1", "u1", At(10), "first");
  auto first = MustApply(*store_, {e});
  ASSERT_EQ(first[0].outcome, Outcome::kApplied);
  const uint64_t head = Head();

  auto second = MustApply(*store_, {e});
  EXPECT_EQ(second[0].outcome, Outcome::kDuplicate);
  EXPECT_GE(second[0].sequence, first[0].sequence);
  EXPECT_EQ(Head(), head);
  EXPECT_EQ(Sql("SELECT count(*) FROM provider_events"), "1");
  EXPECT_EQ(StoredOutcome("d1"), "applied");
}

TEST_F(PgEventStoreTest, DuplicateWithinOneBatchIsStoredOnce) {
  const ProviderEvent e = UserDisabled("d1", "u1", At(10));
  ProviderEvent same_id_other_provider = UserEnabled("d1", "u2", At(10));
  same_id_other_provider.provider = Provider::kFusionAuth;

  auto results = MustApply(*store_, {e, e, same_id_other_provider, e});
  EXPECT_EQ(results[0].outcome, Outcome::kApplied);
  EXPECT_EQ(results[1].outcome, Outcome::kDuplicate);
  EXPECT_EQ(results[2].outcome, Outcome::kApplied) << "dedup is on (provider, event id)";
  EXPECT_EQ(results[3].outcome, Outcome::kDuplicate);
  EXPECT_EQ(Sql("SELECT string_agg(provider || '/' || event_id, ',' ORDER BY provider)"
                " FROM provider_events"),
            "fusionauth/d1,huudis/d1");
}

// ---- Ignored and dead-lettered deliveries: stored byte-exact, change no state. ----

TEST_F(PgEventStoreTest, IgnoredAndDeadLetteredAreStoredExactlyAndChangeNoState) {
  const std::string tricky =
      "{\"name\":\"Zoë \\\"the\\\" ✓ 🚀\",\"path\":\"C:\\\\dir\\\\file\",\"set\":\"{a,b}\","
      "\"quote\":'\"'}\n\r\t end";
  const std::vector<ProviderEvent> batch = {
      Ignored("ign", tricky),
      DeadLetter("dl", tricky + " (dead)", "data.disabledAt is not a time: \"yesterday\" \\ ✗"),
      Ignored("null-word", "NULL"),
      Ignored("empty", ""),
  };
  auto results = MustApply(*store_, batch);
  EXPECT_EQ(results[0].outcome, Outcome::kIgnored);
  EXPECT_EQ(results[1].outcome, Outcome::kDeadLettered);
  EXPECT_EQ(results[2].outcome, Outcome::kIgnored);

  EXPECT_EQ(Sql("SELECT raw_body FROM provider_events WHERE event_id = 'ign'"), tricky);
  EXPECT_EQ(Sql("SELECT raw_body FROM provider_events WHERE event_id = 'dl'"), tricky + " (dead)");
  EXPECT_EQ(Sql("SELECT raw_body IS NOT NULL AND raw_body = 'NULL' FROM provider_events"
                " WHERE event_id = 'null-word'"),
            "t");
  EXPECT_EQ(Sql("SELECT raw_body = '' FROM provider_events WHERE event_id = 'empty'"), "t");
  EXPECT_EQ(StoredOutcome("ign"), "ignored");
  EXPECT_EQ(StoredOutcome("dl"), "dead_lettered");
  EXPECT_EQ(Sql("SELECT reason FROM dead_letters WHERE event_id = 'dl'"),
            "data.disabledAt is not a time: \"yesterday\" \\ ✗");
  EXPECT_EQ(Sql("SELECT event_type || ' ' || extract(epoch FROM fact_time)::bigint || ' '"
                " || extract(epoch FROM received_at)::bigint FROM provider_events"
                " WHERE event_id = 'ign'"),
            "test.unused.type " + std::to_string(kBaseUnixSeconds) + " " +
                std::to_string(kBaseUnixSeconds + 1));

  // A dead letter names a user in no normalized event; nothing of state is touched.
  EXPECT_EQ(Sql("SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM accounts)"
                " + (SELECT count(*) FROM memberships) + (SELECT count(*) FROM change_log)"),
            "0");
  EXPECT_EQ(Head(), 0u);
  // Redelivered: duplicates, still stored once.
  EXPECT_EQ(MustApply(*store_, batch)[1].outcome, Outcome::kDuplicate);
  EXPECT_EQ(Sql("SELECT count(*) FROM dead_letters"), "1");
}

TEST_F(PgEventStoreTest, AppliedEventsKeepTheirRawBodyExactly) {
  ProviderEvent e = UserCreated("c1", "u1", At(1), "ünï@example.com");
  e.raw_body = "{\"user\":\"ünï\",\"q\":\"\\\"\",\"b\":\"\\\\\"}";
  Apply(e);
  EXPECT_EQ(Sql("SELECT raw_body FROM provider_events WHERE event_id = 'c1'"), e.raw_body);
  EXPECT_EQ(User("u1").email.value, "ünï@example.com");
}

// ---- Sequences: every result says where its effect is visible. ----

TEST_F(PgEventStoreTest, ResultsCarryTheSequenceAtWhichTheyAreVisible) {
  auto first = MustApply(*store_, {UserCreated("c1", "u1", At(1)), UserDisabled("d2", "u2", At(5)),
                                   AccountCreated("a1", "acct", At(1), "Acme")});
  EXPECT_EQ(Head(), 3u);
  for (const ApplyResult& r : first) EXPECT_EQ(r.sequence, 3u);
  EXPECT_EQ(Sql("SELECT string_agg(DISTINCT sequence::text, ',') FROM provider_events"), "3");

  auto nothing = MustApply(*store_, {UserEnabled("e-old", "u2", At(1)), Ignored("i", "{}"),
                                     UserCreated("c1", "u1", At(1))});
  EXPECT_EQ(nothing[0].outcome, Outcome::kStale);
  EXPECT_EQ(nothing[2].outcome, Outcome::kDuplicate);
  for (const ApplyResult& r : nothing) EXPECT_EQ(r.sequence, 3u);

  auto third = MustApply(*store_, {UserEnabled("e-new", "u2", At(9))});
  EXPECT_EQ(third[0].sequence, 4u);
  EXPECT_EQ(Head(), 4u);
  // Visible at that sequence: the change feed up to it holds u2's new state.
  store::PgChangeFeed feed(db_->url());
  auto changes = ReadAllChanges(feed);
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes.back().sequence, third[0].sequence);
  EXPECT_EQ(ReplayChanges(changes).users.at("u2").state, UserState::kActive);
  EXPECT_EQ(ReplayChanges({changes.begin(), changes.begin() + 3}).users.at("u2").state,
            UserState::kDisabled);
}

TEST_F(PgEventStoreTest, EmptyBatchCommitsNothing) {
  auto results = MustApply(*store_, {});
  EXPECT_TRUE(results.empty());
  EXPECT_EQ(Head(), 0u);
  EXPECT_EQ(Sql("SELECT count(*) FROM provider_events"), "0");
}

// ---- The in-memory reference over a random history (DESIGN §2 guarantee). ----

TEST_F(PgEventStoreTest, RandomHistoryMatchesTheInMemoryReference) {
  const std::vector<ProviderEvent> history = RandomHistory(20260528, HistoryShape{});
  store::InMemoryEventStore reference;
  int batch_number = 0;
  for (const auto& batch : SplitIntoBatches(history, 7, 64)) {
    auto want = MustApply(reference, batch);
    auto got = ApplyEvents(*store_, batch);
    ASSERT_TRUE(got.ok()) << "batch " << batch_number << " of " << batch.size() << " events: "
                          << got.status();
    for (size_t i = 0; i < batch.size(); ++i) {
      EXPECT_EQ((*got)[i].outcome, want[i].outcome) << ProviderName(batch[i].provider) << "/"
                                                    << batch[i].event_id;
      EXPECT_EQ((*got)[i].sequence, want[i].sequence) << batch[i].event_id;
    }
    ++batch_number;
  }

  const domain::StateSet expected = reference.State();
  ExpectSameState(expected, ReadState(*sql_), "PostgreSQL vs in-memory");
  EXPECT_EQ(ReadSeats(*sql_), domain::CountSeats(expected));
  EXPECT_GT(expected.memberships.size(), 100u) << "the history should exercise memberships";

  // The change logs agree row by row.
  store::PgChangeFeed feed(db_->url());
  const auto want_log = ReadAllChanges(reference), got_log = ReadAllChanges(feed, 0, 333);
  ASSERT_EQ(got_log.size(), want_log.size());
  for (size_t i = 0; i < want_log.size(); ++i) {
    EXPECT_EQ(got_log[i].sequence, want_log[i].sequence);
    EXPECT_EQ(got_log[i].entity, want_log[i].entity) << "sequence " << want_log[i].sequence;
    EXPECT_EQ(CanonicalRecord(got_log[i]), CanonicalRecord(want_log[i]))
        << "sequence " << want_log[i].sequence;
  }

  // Every delivery stored once, with the reference's outcome and its exact body.
  std::map<std::pair<std::string, std::string>, std::pair<std::string, std::string>> stored;
  for (const auto& row : sql_->Query("SELECT provider, event_id, outcome, raw_body FROM provider_events")) {
    stored[{row[0].as<std::string>(), row[1].as<std::string>()}] = {row[2].as<std::string>(),
                                                                    row[3].as<std::string>()};
  }
  std::set<std::pair<std::string, std::string>> distinct;
  for (const ProviderEvent& e : history) {
    std::pair<std::string, std::string> key{std::string(ProviderName(e.provider)), e.event_id};
    distinct.insert(key);
    auto it = stored.find(key);
    ASSERT_NE(it, stored.end()) << key.first << "/" << key.second << " not stored";
    EXPECT_EQ(it->second.first, OutcomeName(*reference.StoredOutcome(e.provider, e.event_id)));
    EXPECT_EQ(it->second.second, e.raw_body);
  }
  EXPECT_EQ(stored.size(), distinct.size());
  EXPECT_LT(distinct.size(), history.size()) << "the history should hold redeliveries";
}

// The seat ledger (domain/seat_history.h) through the real store: a random history delivered
// out of fact-time order, in batches, with redeliveries. At every instant t the ledger's counts
// (its base plus its rows up to t) equal a recount of the history's facts up to t.
TEST_F(PgEventStoreTest, SeatLedgerAtAnyInstantEqualsARecountOfTheHistoryUpToIt) {
  const std::vector<ProviderEvent> history = RandomHistory(20261204, HistoryShape{.events = 1500, .fact_step = kStep});
  for (const auto& batch : SplitIntoBatches(history, 5, 40)) {
    auto got = ApplyEvents(*store_, batch);
    ASSERT_TRUE(got.ok()) << got.status();
  }
  EXPECT_GT(std::stoll(Sql("SELECT count(*) FROM seat_ledger")), 100);
  EXPECT_EQ(Sql("SELECT count(*) FROM seat_ledger_base"), "0") << "a fresh database keeps all history";
  EXPECT_GE(std::stoll(Sql("SELECT count(DISTINCT day) FROM seat_ledger_days")), 14) << "the history spans days";

  auto recount_at = [&](TimePoint t) { return RecountAt(history, t); };
  auto ledger_at = [&](TimePoint t) {
    SeatTable table;
    for (const auto& row : sql_->Query(
             "SELECT account_id, role, sum(members), sum(billable) FROM (SELECT account_id, role, members,"
             " billable FROM seat_ledger_base UNION ALL SELECT account_id, role, members, billable"
             " FROM seat_ledger WHERE at <= '" + FormatRfc3339(t) + "') x GROUP BY account_id, role"
             " HAVING sum(members) <> 0 OR sum(billable) <> 0")) {
      table[{row[0].as<std::string>(), row[1].as<std::string>()}] = {row[2].as<int64_t>(), row[3].as<int64_t>()};
    }
    return table;
  };
  for (int s = -1; s <= 121; s += 3) {
    for (TimePoint t : {Step(s), Step(s) - std::chrono::microseconds(1)}) {
      EXPECT_EQ(ledger_at(t), recount_at(t)) << "at " << FormatRfc3339(t);
    }
  }

  // What SeatService reads from it (PgReadStore). Facts are at the steps Step(0..119), so the
  // counts are constant on [Step(s), Step(s + 1)): the recount at each step is the truth.
  std::map<int, SeatTable> truth;
  std::set<std::string> accounts;
  for (int s = -1; s <= 120; ++s) {
    truth[s] = recount_at(Step(s));
    for (const auto& [key, tally] : truth[s]) accounts.insert(key.first);
  }
  ASSERT_GE(accounts.size(), 5u);
  auto billable_at = [&](const std::string& account, int s) {
    int64_t n = 0;
    for (const auto& [key, tally] : truth.at(std::clamp(s, -1, 120))) n += key.first == account ? tally.billable : 0;
    return n;
  };
  store::PgReadStore reads(db_->url());
  const auto half = std::chrono::milliseconds(500);
  for (const std::string& account : accounts) {
    auto want_at = [&](int s) { return CountsOf(truth.at(std::clamp(s, -1, 120)), account); };
    // At, half a second after and just before each sampled step: a fact counts from its time on.
    for (int s = -1; s <= 120; s += 7) {
      for (auto [t, second] : {std::pair{Step(s), s}, {Step(s) + half, s}, {Step(s) - std::chrono::microseconds(1), s - 1}}) {
        auto got = reads.GetSeatCountAt(account, t);
        ASSERT_TRUE(got.ok()) << got.status();
        const SeatCountView want = want_at(second);
        EXPECT_EQ(got->by_role, want.by_role) << account << " at " << FormatRfc3339(t);
        EXPECT_EQ(got->total, want.total) << account << " at " << FormatRfc3339(t);
        EXPECT_EQ(got->billable, want.billable) << account << " at " << FormatRfc3339(t);
        EXPECT_EQ(got->sequence, Head());
      }
    }
    // Usage over [Step(a) + fa, Step(b) + fb) (fa, fb in steps): (1 - fa) of a step at a's
    // level, whole steps between, fb of one at b's.
    struct Interval {
      int a;
      double fa;
      int b;
      double fb;
    };
    for (const Interval& i : std::vector<Interval>{
             {-5, 0.5, 130, 0.25}, {3, 0, 4, 0}, {10, 0.5, 60, 0}, {59, 0, 61, 0.75}, {0, 0, 119, 0.5}, {7, 0.25, 7, 0.5}}) {
      auto offset = [](double f) { return std::chrono::microseconds(static_cast<int64_t>(f * kStep * 1e6)); };
      auto usage = reads.GetSeatUsage(account, Step(i.a) + offset(i.fa), Step(i.b) + offset(i.fb));
      ASSERT_TRUE(usage.ok()) << usage.status();
      double seconds = i.a == i.b ? (i.fb - i.fa) * billable_at(account, i.a)
                                  : (1 - i.fa) * billable_at(account, i.a) + i.fb * billable_at(account, i.b);
      for (int s = i.a + 1; s < i.b; ++s) seconds += billable_at(account, s);
      seconds *= kStep;
      const int last = i.fb > 0 ? i.b : i.b - 1;  // the last step the interval reaches into
      int64_t lo = billable_at(account, i.a), hi = lo;
      for (int s = i.a; s <= last; ++s) lo = std::min(lo, billable_at(account, s)), hi = std::max(hi, billable_at(account, s));
      const std::string where = account + " over " + std::to_string(i.a) + ".." + std::to_string(i.b);
      EXPECT_NEAR(usage->billable_seat_seconds, seconds, 1e-6) << where;
      EXPECT_EQ(usage->start_billable, billable_at(account, i.a)) << where;
      EXPECT_EQ(usage->end_billable, billable_at(account, last)) << where;
      EXPECT_EQ(usage->min_billable, lo) << where;
      EXPECT_EQ(usage->max_billable, hi) << where;
      EXPECT_EQ(usage->sequence, Head());
    }
    // The changes, paged by 7, are the ledger's rows of the account in [start, end), in key
    // order; billable-only drops the rows that move no billable seat.
    for (bool all : {true, false}) {
      std::vector<std::string> paged;
      std::optional<store::SeatChangePosition> after;
      for (int page = 0; page < 1000; ++page) {
        uint64_t sequence = 0;
        auto got = reads.ListSeatChanges(account, Step(20), Step(100), after, 7, all, sequence);
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(sequence, Head());
        ASSERT_LE(got->items.size(), 7u);
        for (const auto& c : got->items) {
          paged.push_back(FormatRfc3339(c.at) + " " + c.user_id + " " + c.event_id + " " + c.role + " " +
                          std::to_string(c.members) + " " + std::to_string(c.billable));
        }
        if (!got->more) break;
        const auto& last = got->items.back();
        after = store::SeatChangePosition{last.at, last.user_id, last.event_id, last.role};
      }
      std::vector<std::string> want;
      for (const auto& row : sql_->Query(
               "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || ' ' || user_id || ' ' ||"
               " event_id || ' ' || role || ' ' || members || ' ' || billable FROM seat_ledger WHERE account_id = '" +
               account + "' AND at >= '" + FormatRfc3339(Step(20)) + "' AND at < '" + FormatRfc3339(Step(100)) + "'" +
               (all ? "" : " AND billable <> 0") + " ORDER BY at, user_id, event_id, role")) {
        want.push_back(row[0].as<std::string>());
      }
      EXPECT_EQ(paged, want) << account << (all ? " all" : " billable");
      EXPECT_FALSE(want.empty()) << account;
    }
  }
}

// Retention (MM_SEAT_LEDGER_RETENTION_DAYS): the pruner folds the rows before now − retention
// into the base, in chunks, moves the horizon there and deletes superseded facts; reads at or
// after the horizon still equal the recount, before it are OUT_OF_RANGE; late events, before
// and after the horizon, still land right; a later pass moves the horizon on.
TEST_F(PgEventStoreTest, SeatLedgerRetentionFoldsThePastAndStillAnswersFromTheHorizon) {
  std::vector<ProviderEvent> history = RandomHistory(41, HistoryShape{.events = 1200, .fact_step = kStep});
  for (const auto& batch : SplitIntoBatches(history, 5, 40)) ASSERT_TRUE(ApplyEvents(*store_, batch).ok());
  const int64_t rows_before = std::stoll(Sql("SELECT count(*) FROM seat_ledger"));
  const int64_t facts_before = std::stoll(Sql("SELECT count(*) FROM seat_facts"));
  const auto day = std::chrono::hours(24);
  ManualClock clock;
  clock.now = Step(60) + day;
  store::PgPruner pruner(db_->url(),
                         {.change_log = std::chrono::seconds(int64_t{10} * 365 * 86400), .seat_ledger = day,
                          .seat_ledger_chunk = 7},
                         std::chrono::hours(1), clock);
  auto pruned = pruner.PruneOnce();
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(pruned->seat_horizon, Step(60));
  EXPECT_GT(pruned->seat_ledger_rows, 7) << "more than one chunk";
  EXPECT_GT(pruned->seat_facts, 0);
  EXPECT_EQ(std::stoll(Sql("SELECT count(*) FROM seat_ledger")), rows_before - pruned->seat_ledger_rows);
  EXPECT_EQ(std::stoll(Sql("SELECT count(*) FROM seat_facts")), facts_before - pruned->seat_facts);
  EXPECT_EQ(Sql("SELECT count(*) FROM seat_ledger WHERE at < '" + FormatRfc3339(Step(60)) + "'"), "0");
  EXPECT_EQ(pruned->change_log_rows, 0);
  ExpectStoreInvariants(*sql_);  // base + rows == seat_counts

  store::PgReadStore reads(db_->url());
  auto expect_recount_from = [&](int first, const std::string& when) {
    std::set<std::string> accounts;
    for (const auto& [key, tally] : RecountAt(history, Step(200))) accounts.insert(key.first);
    for (int s = first; s <= 121; s += 5) {
      const SeatTable truth = RecountAt(history, Step(s));
      for (const std::string& account : accounts) {
        auto got = reads.GetSeatCountAt(account, Step(s));
        ASSERT_TRUE(got.ok()) << got.status();
        const SeatCountView want = CountsOf(truth, account);
        EXPECT_EQ(got->by_role, want.by_role) << when << ": " << account << " at " << s;
        EXPECT_EQ(got->billable, want.billable) << when << ": " << account << " at " << s;
      }
    }
  };
  expect_recount_from(60, "after the fold");
  auto old = reads.GetSeatCountAt("acct-1", Step(60) - std::chrono::microseconds(1));
  EXPECT_EQ(old.status().code(), absl::StatusCode::kOutOfRange) << old.status();
  EXPECT_NE(old.status().message().find(FormatRfc3339(Step(60))), std::string::npos) << old.status();

  // Late events, dated all over the history, on top of the compacted facts.
  std::vector<ProviderEvent> late = RandomHistory(42, HistoryShape{.events = 600, .fact_step = kStep, .id_prefix = "late"});
  for (const auto& batch : SplitIntoBatches(late, 5, 40)) ASSERT_TRUE(ApplyEvents(*store_, batch).ok());
  history.insert(history.end(), late.begin(), late.end());
  ExpectStoreInvariants(*sql_);
  expect_recount_from(60, "after late events");

  // Idempotent; then the cut-off moves on.
  auto again = pruner.PruneOnce();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->seat_ledger_rows, 0) << "late rows before the horizon went to the base";
  EXPECT_EQ(again->seat_horizon, Step(60));
  clock.now = Step(100) + day;
  auto later = pruner.PruneOnce();
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(later->seat_horizon, Step(100));
  EXPECT_GT(later->seat_ledger_rows, 0);
  ExpectStoreInvariants(*sql_);
  expect_recount_from(100, "after the second fold");
}

// Migrations 0004 and 0005 on a populated database: its current records become the ledger's facts, its
// current counts the base, and the ledger answers from the migration's time on. Late events
// dated before it move the base; events after it are rows.
TEST_F(PgEventStoreTest, SeatLedgerMigrationOfAPopulatedDatabaseStartsFromTheCurrentCounts) {
  for (const auto& batch : SplitIntoBatches(RandomHistory(7, HistoryShape{.events = 600}), 5, 40)) {
    ASSERT_TRUE(ApplyEvents(*store_, batch).ok());
  }
  // The database as it was before 0004, then 0004 and 0005 applied to it.
  sql_->Query("DROP TABLE seat_facts, seat_ledger, seat_ledger_base, seat_ledger_horizon, seat_ledger_days;"
              " DELETE FROM schema_migrations WHERE version IN (4, 5)");
  auto migrations = store::PrepareMigrations(store::EmbeddedMigrationSources());
  ASSERT_TRUE(migrations.ok());
  auto report = store::ApplyMigrations(db_->url(), *migrations);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->applied, (std::vector<std::string>{"0004_seat_ledger.sql", "0005_seat_ledger_days.sql"}));
  EXPECT_EQ(Sql("SELECT count(*) FROM seat_ledger"), "0");
  EXPECT_EQ(Sql("SELECT (SELECT oldest FROM seat_ledger_horizon) > (SELECT max(fact_time) FROM seat_facts)"), "t");
  EXPECT_EQ(Sql("SELECT count(*) FROM seat_facts"),
            Sql("SELECT (SELECT count(*) FROM memberships) + (SELECT count(*) FROM users"
                " WHERE record ? 'state_version') + (SELECT count(*) FROM accounts WHERE record ? 'member_list_version')"));
  ExpectStoreInvariants(*sql_);  // base == seat_counts

  // Reads answer from the horizon on, and refuse to guess before it.
  const TimePoint horizon = FromUnixMicros(std::stoll(Sql("SELECT " MM_SQL_MICROS("oldest") " FROM seat_ledger_horizon")));
  const std::string account = Sql("SELECT account_id FROM seat_counts ORDER BY billable DESC, account_id LIMIT 1");
  store::PgReadStore reads(db_->url());
  auto now = reads.GetSeatCount(account);
  auto at_horizon = reads.GetSeatCountAt(account, horizon);
  ASSERT_TRUE(now.ok() && at_horizon.ok()) << at_horizon.status();
  EXPECT_GT(now->billable, 0);
  EXPECT_EQ(at_horizon->by_role, now->by_role);
  EXPECT_EQ(at_horizon->billable, now->billable);
  const TimePoint before = horizon - std::chrono::microseconds(1);
  auto too_old = reads.GetSeatCountAt(account, before);
  EXPECT_EQ(too_old.status().code(), absl::StatusCode::kOutOfRange) << too_old.status();
  EXPECT_NE(too_old.status().message().find(FormatRfc3339(horizon)), std::string::npos) << too_old.status();
  EXPECT_EQ(reads.GetSeatUsage(account, before, horizon + std::chrono::hours(1)).status().code(),
            absl::StatusCode::kOutOfRange);
  uint64_t sequence = 0;
  EXPECT_EQ(reads.ListSeatChanges(account, before, horizon, std::nullopt, 10, true, sequence).status().code(),
            absl::StatusCode::kOutOfRange);
  auto usage = reads.GetSeatUsage(account, horizon, horizon + std::chrono::seconds(10));
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_NEAR(usage->billable_seat_seconds, 10.0 * now->billable, 1e-9);

  // Late events (all dated before the horizon) and then events after it.
  store_ = std::make_unique<store::PgEventStore>(db_->url());
  ASSERT_TRUE(store_->Connect().ok());
  for (const auto& batch : SplitIntoBatches(RandomHistory(8, HistoryShape{.events = 600, .id_prefix = "late"}), 5, 40)) {
    ASSERT_TRUE(ApplyEvents(*store_, batch).ok());
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM seat_ledger"), "0") << "rows before the horizon are kept";
  ExpectStoreInvariants(*sql_);
  const TimePoint later = SystemClock::Instance().Now() + std::chrono::hours(1);
  EXPECT_EQ(Apply(MemberAdded("after1", "acct-new", "u-new", later, "member")), Outcome::kApplied);
  EXPECT_EQ(Sql("SELECT count(*) FROM seat_ledger WHERE account_id = 'acct-new' AND members = 1"), "1");
}

// Two replicas receive the same deliveries in different orders and batches, concurrently:
// each delivery is applied by exactly one of them, and the result is the reference state.
TEST_F(PgEventStoreTest, ConcurrentReplicasDeduplicateAndConverge) {
  HistoryShape shape;
  shape.events = 400;
  shape.users = 20;
  shape.accounts = 4;
  shape.duplicate_percent = 0;
  const std::vector<ProviderEvent> history = RandomHistory(99, shape);
  std::vector<ProviderEvent> reversed(history.rbegin(), history.rend());
  store::PgEventStore other(db_->url());

  std::map<std::pair<Provider, std::string>, int> applied_by;
  std::mutex mu;
  auto replica = [&](store::EventStore& store, const std::vector<ProviderEvent>& events,
                     uint32_t seed) {
    for (const auto& batch : SplitIntoBatches(events, seed, 8)) {
      auto results = ApplyEvents(store, batch);
      ASSERT_TRUE(results.ok()) << results.status();
      std::lock_guard lock(mu);
      for (size_t i = 0; i < batch.size(); ++i) {
        int& count = applied_by[{batch[i].provider, batch[i].event_id}];
        if ((*results)[i].outcome != Outcome::kDuplicate) ++count;
      }
    }
  };
  std::thread a([&] { replica(*store_, history, 1); });
  std::thread b([&] { replica(other, reversed, 2); });
  a.join();
  b.join();

  ASSERT_EQ(applied_by.size(), history.size());
  for (const auto& [key, count] : applied_by) {
    EXPECT_EQ(count, 1) << key.second << " processed (not as duplicate) " << count << " times";
  }
  store::InMemoryEventStore reference;
  MustApply(reference, history);
  ExpectSameState(reference.State(), ReadState(*sql_), "replicas vs reference");
}

// ---- Connection loss: UNAVAILABLE, nothing committed, then a reconnect. ----

TEST_F(PgEventStoreTest, DeadConnectionBetweenBatchesIsUnavailableThenReconnects) {
  Apply(UserCreated("c1", "u1", At(1)));
  TerminateBackend(StoreBackendPid());

  const std::vector<ProviderEvent> batch = {UserDisabled("d1", "u1", At(5), "gone")};
  auto lost = ApplyEvents(*store_, batch);
  EXPECT_TRUE(absl::IsUnavailable(lost.status())) << lost.status();
  EXPECT_EQ(Sql("SELECT count(*) FROM provider_events WHERE event_id = 'd1'"), "0");
  EXPECT_EQ(Head(), 1u);

  auto retried = ApplyEvents(*store_, batch);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ((*retried)[0].outcome, Outcome::kApplied);
  EXPECT_EQ(Sql("SELECT state FROM users WHERE user_id = 'u1'"), "disabled");
}

TEST_F(PgEventStoreTest, ConnectionLostInsideABatchCommitsNothing) {
  Apply(UserCreated("c1", "u1", At(1)));
  const std::string store_pid = StoreBackendPid();
  // Hold the head lock so the store's transaction is open and waiting when its connection dies.
  pqxx::connection locker(db_->url());
  pqxx::work lock_txn(locker);
  lock_txn.exec("SELECT 1 FROM change_log_head FOR UPDATE");

  const std::vector<ProviderEvent> batch = {UserDisabled("d1", "u1", At(5)),
                                            Ignored("i1", "{}")};
  absl::StatusOr<std::vector<ApplyResult>> lost;
  std::thread writer([&] { lost = ApplyEvents(*store_, batch); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Sql("SELECT wait_event_type FROM pg_stat_activity WHERE pid = " + store_pid) != "Lock" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  TerminateBackend(store_pid);
  writer.join();
  lock_txn.abort();

  EXPECT_TRUE(absl::IsUnavailable(lost.status())) << lost.status();
  EXPECT_EQ(Sql("SELECT count(*) FROM provider_events"), "1");
  EXPECT_EQ(Sql("SELECT state FROM users WHERE user_id = 'u1'"), "active");
  EXPECT_EQ(Head(), 1u);

  auto retried = ApplyEvents(*store_, batch);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ((*retried)[0].outcome, Outcome::kApplied);
  EXPECT_EQ(Head(), 2u);
}

}  // namespace
}  // namespace mm::testing
