// Seat history (domain/seat_history.h): the ledger a store keeps incrementally — appending the
// rows of in-order facts, recomputing a pair when a fact lands in its past — equals the pair's
// whole history recomputed, and summing it up to any instant t gives the seats a recount of
// the history up to t gives, whatever order the events arrived in.

#include "domain/seat_history.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <iterator>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "domain/convergence.h"
#include "domain/seats.h"
#include "event_builders.h"
#include "history_generator.h"

namespace mm::domain {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testutil::At;
using testutil::HistoryGenerator;
using testutil::MemberAdded;
using testutil::MemberList;
using testutil::MemberRemoved;
using testutil::MemberRoleChanged;
using testutil::UserDisabled;
using testutil::UserEnabled;

using Counts = std::map<std::string, std::pair<int64_t, int64_t>>;  // role -> (members, billable)

// The ledger as a store keeps it: rows by key.
using Ledger = std::map<std::tuple<std::string, std::string, TimePoint, std::string, std::string>, SeatChange>;

auto Key(const SeatChange& c) { return std::tuple(c.account_id, c.user_id, c.at, c.event_id, c.role); }

std::vector<SeatChange> Rows(const Ledger& ledger) {
  std::vector<SeatChange> rows;
  for (const auto& [key, row] : ledger) rows.push_back(row);
  return rows;
}

// Applies `batch` to `state` and its ledger writes to `ledger` and `base` as the PostgreSQL
// store does (SeatLedgerPlan): the facts it needs are looked up among those stored before the
// batch. Returns how many pairs took the recompute.
int ApplyBatch(const std::vector<const ProviderEvent*>& batch, StateSet& state, std::vector<SeatFact>& all_facts,
               Ledger& ledger, std::optional<TimePoint> horizon = std::nullopt, SeatTable* base = nullptr,
               SeatDayTable* days = nullptr) {
  const StateSet before = state;
  std::vector<SeatFact> facts;
  TouchedKeys changed;
  for (const ProviderEvent* e : batch) ApplyProviderEvent(*e, state, changed, &facts);
  const SeatLedgerPlan plan(before, state, std::move(facts), horizon);
  std::vector<SeatFact> stored;
  std::copy_if(all_facts.begin(), all_facts.end(), std::back_inserter(stored),
               [&](const SeatFact& f) { return plan.Needs(f); });
  const SeatLedgerWrites writes = plan.Finish(stored);
  for (const SeatChange& c : writes.deletes) EXPECT_EQ(ledger.erase(Key(c)), 1u);
  for (const SeatChange& c : writes.upserts) {
    EXPECT_FALSE(horizon && c.at < *horizon) << "a row before the horizon is kept";
    ledger.insert_or_assign(Key(c), c);
  }
  if (base) {
    for (const auto& [key, delta] : writes.base) {
      (*base)[key].members += delta.members;
      (*base)[key].billable += delta.billable;
    }
    DropZeroRows(*base);
  } else {
    EXPECT_THAT(writes.base, IsEmpty());
  }
  if (days) {
    for (const auto& [key, delta] : writes.days) {
      (*days)[key].members += delta.members;
      (*days)[key].billable += delta.billable;
    }
    std::erase_if(*days, [](const auto& entry) { return entry.second == SeatTally{}; });
  }
  all_facts.insert(all_facts.end(), plan.facts().begin(), plan.facts().end());
  return static_cast<int>(plan.recompute().size());
}

// The rows summed by (account, UTC day, role), as seat_ledger_days must hold them.
SeatDayTable DaySums(const std::vector<SeatChange>& rows) {
  SeatDayTable out;
  for (const SeatChange& c : rows) {
    SeatTally& t = out[{c.account_id, DayOf(c.at), c.role}];
    t.members += c.members;
    t.billable += c.billable;
  }
  std::erase_if(out, [](const auto& entry) { return entry.second == SeatTally{}; });
  return out;
}

// The seats of every account at `t`: the history's facts up to t applied, then recounted.
std::map<std::string, Counts> RecountAt(const std::vector<ProviderEvent>& events, TimePoint t) {
  StateSet state;
  for (ProviderEvent e : events) {
    std::erase_if(e.events, [&](const NormalizedEvent& n) { return n.fact_time > t; });
    TouchedKeys changed;
    ApplyProviderEvent(e, state, changed);
  }
  std::map<std::string, Counts> out;
  for (const auto& [key, tally] : CountSeats(state)) out[key.first][key.second] = {tally.members, tally.billable};
  return out;
}

// The ledger's counts at `t`: the base (what was folded before a horizon) plus the rows up to t.
std::map<std::string, Counts> SumAt(const std::vector<SeatChange>& rows, TimePoint t, const SeatTable& base = {}) {
  std::set<std::string> accounts;
  for (const SeatChange& c : rows) accounts.insert(c.account_id);
  for (const auto& [key, tally] : base) accounts.insert(key.first);
  std::map<std::string, Counts> out;
  for (const std::string& a : accounts) {
    Counts counts = SumSeatChanges(rows, a, t);
    for (const auto& [key, tally] : base) {
      if (key.first != a) continue;
      auto& [members, billable] = counts[key.second];
      members += tally.members;
      billable += tally.billable;
      if (members == 0 && billable == 0) counts.erase(key.second);
    }
    if (!counts.empty()) out[a] = std::move(counts);
  }
  return out;
}

constexpr int kSeeds = 300;
constexpr int kEventsPerHistory = 60;

TEST(SeatHistoryPropertyTest, ShuffledDeliveriesGiveTheInOrderCountsAtEveryInstant) {
  int recomputed = 0;
  for (uint32_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    HistoryGenerator gen(seed);
    const std::vector<ProviderEvent> events = gen.History(kEventsPerHistory);
    std::vector<size_t> order(events.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), gen.rng());

    // Delivered in batches of 1 to 4 in the shuffled order.
    // A second ledger keeps nothing before a horizon at At(2): what came before is its base.
    StateSet state, state_h;
    std::vector<SeatFact> facts, facts_h;
    Ledger ledger, ledger_h;
    SeatTable base;
    SeatDayTable days, days_h;
    for (size_t i = 0; i < order.size();) {
      const size_t n = std::min<size_t>(order.size() - i, 1 + gen.rng()() % 4);
      std::vector<const ProviderEvent*> batch;
      for (size_t j = i; j < i + n; ++j) batch.push_back(&events[order[j]]);
      recomputed += ApplyBatch(batch, state, facts, ledger, std::nullopt, nullptr, &days);
      ApplyBatch(batch, state_h, facts_h, ledger_h, At(2), &base, &days_h);
      i += n;
    }
    const std::vector<SeatChange> rows = Rows(ledger);
    EXPECT_EQ(days, DaySums(rows)) << "the day sums follow the rows kept";
    EXPECT_EQ(days_h, DaySums(Rows(ledger_h))) << "and, with a horizon, only those";
    for (int s = 2; s <= 6; ++s) EXPECT_EQ(SumAt(Rows(ledger_h), At(s), base), RecountAt(events, At(s))) << "at " << s;
    std::vector<SeatChange> from_horizon = rows;
    std::erase_if(from_horizon, [](const SeatChange& c) { return c.at < At(2); });
    EXPECT_EQ(Rows(ledger_h), from_horizon);

    // The kept ledger is the whole history recomputed.
    std::vector<SeatChange> whole;
    for (const auto& [pair, m] : state.memberships) {
      for (SeatChange& c : SeatHistory(pair, {}, facts)) whole.push_back(std::move(c));
    }
    std::sort(whole.begin(), whole.end(), [](const SeatChange& a, const SeatChange& b) { return Key(a) < Key(b); });
    EXPECT_EQ(rows, whole);

    // At every instant (facts are at At(0)..At(5)), and after all of it equals the counts now.
    for (int s = -1; s <= 6; ++s) EXPECT_EQ(SumAt(rows, At(s)), RecountAt(events, At(s))) << "at " << s;
    std::map<std::string, Counts> now;
    for (const auto& [key, tally] : CountSeats(state)) now[key.first][key.second] = {tally.members, tally.billable};
    EXPECT_EQ(SumAt(rows, At(6)), now);
  }
  // The shuffles exercise the recompute, not only the append.
  EXPECT_GT(recomputed, kSeeds);
}

std::vector<SeatChange> HistoryOf(const std::vector<ProviderEvent>& events, const MembershipKey& pair) {
  StateSet state;
  std::vector<SeatFact> facts;
  for (const ProviderEvent& e : events) {
    TouchedKeys changed;
    ApplyProviderEvent(e, state, changed, &facts);
  }
  return SeatHistory(pair, {}, facts);
}

SeatChange Row(std::string user, std::string role, int64_t seconds, std::string event, int64_t members,
               int64_t billable) {
  return SeatChange{.account_id = "a1",
                    .user_id = std::move(user),
                    .role = std::move(role),
                    .at = At(seconds),
                    .event_id = std::move(event),
                    .members = members,
                    .billable = billable};
}

TEST(SeatHistoryTest, AJoinAndALeaveAreOneRowEach) {
  EXPECT_THAT(HistoryOf({MemberAdded("e1", "a1", "u1", At(10), "admin"), MemberRemoved("e2", "a1", "u1", At(30))},
                        {"a1", "u1"}),
              ElementsAre(Row("u1", "admin", 10, "e1", 1, 1), Row("u1", "admin", 30, "e2", -1, -1)));
}

TEST(SeatHistoryTest, ALateAddCorrectsThePastBeforeTheRemovalThatArrivedFirst) {
  // The removal arrived first and changed nothing; the add dated earlier makes 10..30 a seat.
  EXPECT_THAT(HistoryOf({MemberRemoved("e2", "a1", "u1", At(30)), MemberAdded("e1", "a1", "u1", At(10), "member")},
                        {"a1", "u1"}),
              ElementsAre(Row("u1", "member", 10, "e1", 1, 1), Row("u1", "member", 30, "e2", -1, -1)));
}

TEST(SeatHistoryTest, ADisableFreesTheBillableSeatButKeepsTheMember) {
  EXPECT_THAT(HistoryOf({UserDisabled("e2", "u1", At(20)), MemberAdded("e1", "a1", "u1", At(10), "member"),
                         UserEnabled("e3", "u1", At(40))},
                        {"a1", "u1"}),
              ElementsAre(Row("u1", "member", 10, "e1", 1, 1), Row("u1", "member", 20, "e2", 0, -1),
                          Row("u1", "member", 40, "e3", 0, 1)));
}

TEST(SeatHistoryTest, ARoleChangeMovesTheSeatBetweenRoles) {
  EXPECT_THAT(HistoryOf({MemberRoleChanged("e2", "a1", "u1", At(20), "owner"),
                         MemberAdded("e1", "a1", "u1", At(10), "member")},
                        {"a1", "u1"}),
              ElementsAre(Row("u1", "member", 10, "e1", 1, 1), Row("u1", "member", 20, "e2", -1, -1),
                          Row("u1", "owner", 20, "e2", 1, 1)));
}

TEST(SeatHistoryTest, AMemberListRemovesTheUnnamedFromItsTimeOn) {
  EXPECT_THAT(HistoryOf({MemberAdded("e1", "a1", "u1", At(10), "member"), MemberAdded("e2", "a1", "u2", At(10), "member"),
                         MemberList("e3", "a1", {"u2"}, At(20))},
                        {"a1", "u1"}),
              ElementsAre(Row("u1", "member", 10, "e1", 1, 1), Row("u1", "member", 20, "e3", -1, -1)));
  EXPECT_THAT(HistoryOf({MemberList("e3", "a1", {"u2"}, At(20)), MemberAdded("e2", "a1", "u2", At(10), "member")},
                        {"a1", "u2"}),
              ElementsAre(Row("u2", "member", 10, "e2", 1, 1)));
}

TEST(SeatHistoryTest, AFactOlderThanTheHeadIsNotAnAppend) {
  StateSet state;
  testutil::Apply(state, MemberAdded("e1", "a1", "u1", At(10), "member"));
  testutil::Apply(state, UserDisabled("e2", "u1", At(30)));
  const PairSeat start = PairSeatOf(state, {"a1", "u1"});
  EXPECT_TRUE(start.present);
  EXPECT_FALSE(start.active);
  std::vector<SeatFact> late;
  TouchedKeys changed;
  StateSet copy = state;
  ApplyProviderEvent(UserEnabled("e3", "u1", At(20)), copy, changed, &late);
  ASSERT_EQ(late.size(), 1u);  // stale for the state, still a fact of the past
  EXPECT_FALSE(AllNewer({"a1", "u1"}, start, late));
  std::vector<SeatFact> later;
  ApplyProviderEvent(UserEnabled("e4", "u1", At(40)), copy, changed, &later);
  EXPECT_TRUE(AllNewer({"a1", "u1"}, start, later));
  // A fact of another pair does not concern this one.
  std::vector<SeatFact> other;
  ApplyProviderEvent(MemberAdded("e5", "a2", "u2", At(1), "member"), copy, changed, &other);
  EXPECT_TRUE(AllNewer({"a1", "u1"}, start, other));
}

TEST(SeatHistoryTest, DiffWritesChangedAndNewRowsAndDeletesGoneOnes) {
  const std::vector<SeatChange> before = {Row("u1", "member", 10, "e1", 1, 1), Row("u1", "member", 30, "e2", -1, -1)};
  const std::vector<SeatChange> after = {Row("u1", "member", 10, "e1", 1, 1), Row("u1", "member", 20, "e3", 0, -1),
                                         Row("u1", "member", 30, "e2", -1, 0)};
  SeatLedgerDiff diff = DiffSeatHistory(before, after);
  EXPECT_THAT(diff.upserts, ElementsAre(Row("u1", "member", 20, "e3", 0, -1), Row("u1", "member", 30, "e2", -1, 0)));
  EXPECT_THAT(diff.deletes, IsEmpty());
  diff = DiffSeatHistory(after, {});
  EXPECT_EQ(diff.deletes, after);
}

}  // namespace
}  // namespace mm::domain
