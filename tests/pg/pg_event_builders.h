#pragma once
// Helpers shared by the *_pgtest.cc files:
// - the event builders of the unit tests (tests/unit/event_builders.h: At(), UserDisabled(), ...),
//   plus builders for ignored and dead-lettered deliveries;
// - a seeded random history (duplicates, shuffling, ties on fact time, ignored and dead-lettered
//   deliveries) and its split into batches;
// - readers that turn the database back into domain values (records parsed with records_json),
//   so that tests compare the PostgreSQL store with the in-memory reference by value.
// Helpers that cannot go on throw std::runtime_error: GoogleTest reports it as a failure of the
// test that called them.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <ostream>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../unit/event_builders.h"
#include "domain/records_json.h"
#include "domain/seats.h"
#include "store/event_store.h"
#include "store/pg_change_feed.h"
#include "test_database.h"

namespace mm::testing {

using domain::Outcome;
using store::ApplyResult;
using namespace testutil;  // the unit tests' event builders: At(), UserDisabled(), ...

// ---- Builders for deliveries that apply nothing. ----

inline ProviderEvent Ignored(std::string id, std::string raw_body,
                             Provider provider = Provider::kHuudis) {
  ProviderEvent pe;
  pe.provider = provider;
  pe.event_id = std::move(id);
  pe.event_type = "test.unused.type";
  pe.fact_time = At(0);
  pe.received_at = At(1);
  pe.raw_body = std::move(raw_body);
  pe.ignored = true;
  return pe;
}

inline ProviderEvent DeadLetter(std::string id, std::string raw_body, std::string reason,
                                Provider provider = Provider::kHuudis) {
  ProviderEvent pe = Ignored(std::move(id), std::move(raw_body), provider);
  pe.ignored = false;
  pe.event_type = "test.UserDisabled";
  pe.dead_letter_reason = std::move(reason);
  return pe;
}

// ---- Applying. ----

inline absl::StatusOr<std::vector<ApplyResult>> ApplyEvents(store::EventStore& store,
                                                            const std::vector<ProviderEvent>& batch) {
  std::vector<const ProviderEvent*> pointers;
  pointers.reserve(batch.size());
  for (const ProviderEvent& e : batch) pointers.push_back(&e);
  return store.ApplyBatch(pointers);
}

// Applies a batch that must succeed.
inline std::vector<ApplyResult> MustApply(store::EventStore& store,
                                          const std::vector<ProviderEvent>& batch) {
  auto results = ApplyEvents(store, batch);
  if (!results.ok()) throw std::runtime_error("ApplyBatch failed: " + results.status().ToString());
  if (results->size() != batch.size()) throw std::runtime_error("ApplyBatch: wrong result count");
  return *std::move(results);
}

inline Outcome MustApplyOne(store::EventStore& store, const ProviderEvent& event) {
  return MustApply(store, {event})[0].outcome;
}

// ---- Random histories. ----

struct HistoryShape {
  int events = 2000;
  int users = 50;
  int accounts = 10;
  int fact_seconds = 120;       // fact times in At(0..fact_seconds): small, so ties happen
  int fact_step = 1;            // ... times this many seconds apart (spread over days, say)
  int duplicate_percent = 10;   // redeliveries of an earlier event (same provider and id)
  std::string id_prefix = "ev";
  // Only events that never lower a seat count: memberships are only added (one role) and state
  // changes go to users that are members of nothing. For tests about something other than seat
  // counts (the change feed), so that a seat-count failure cannot hide what they check.
  bool never_lower_seats = false;
};

// A body with the characters that break naive escaping (quotes, backslashes, braces, commas,
// unicode, newlines, the word NULL).
inline std::string AwkwardText(int n) {
  return "{\"n\":" + std::to_string(n) +
         ",\"s\":\"ünïcødé ✓ 🚀 \\\"q\\\" \\\\ back\\\\slash {a,b} NULL\",\r\n\t\"x\":'}";
}

// One random delivery of `shape` from `provider`.
inline ProviderEvent RandomEvent(std::mt19937& rng, const HistoryShape& shape, std::string id,
                                 Provider provider) {
  auto pick = [&rng](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  static const char* const kRoles[] = {"member", "admin", "owner"};
  static const char* const kReasons[] = {"compromised", "left \"the\" company", "ß\\policy 🚫"};
  const TimePoint t = At(int64_t{pick(shape.fact_seconds)} * shape.fact_step);
  const std::string account = "acct-" + std::to_string(pick(shape.accounts));
  const int user_n = pick(shape.users);
  // With never_lower_seats, even users take state changes and odd users take memberships.
  const std::string user = "user-" + std::to_string(shape.never_lower_seats ? user_n * 2 : user_n);
  const std::string member =
      "user-" + std::to_string(shape.never_lower_seats ? user_n * 2 + 1 : user_n);
  const std::string role = shape.never_lower_seats ? "member" : kRoles[pick(3)];

  ProviderEvent pe;
  int kind = pick(100);
  if (shape.never_lower_seats && kind >= 64 && kind < 80) kind = 52;  // no role change, removal
  if (kind < 4) {
    pe = Ignored(id, AwkwardText(kind));
  } else if (kind < 8) {
    pe = DeadLetter(id, AwkwardText(kind), kReasons[pick(3)]);
  } else if (kind < 16) {
    pe = UserCreated(id, user, t, user + "@example.com", "Name " + std::to_string(pick(5)));
  } else if (kind < 22) {
    pe = UserUpdated(id, user, t, std::nullopt, "Renamed ✓ " + std::to_string(pick(5)));
  } else if (kind < 32) {
    pe = UserDisabled(id, user, t, kReasons[pick(3)], "admin-" + std::to_string(pick(3)));
  } else if (kind < 42) {
    pe = UserEnabled(id, user, t, "admin-" + std::to_string(pick(3)));
  } else if (kind < 46) {
    pe = UserDeleted(id, user, t);
  } else if (kind < 52) {
    pe = AccountCreated(id, account, t, "Workspace " + std::to_string(pick(4)));
  } else if (kind < 64) {
    pe = MemberAdded(id, account, member, t, pick(5) == 0 ? std::nullopt : std::optional(role));
    pe.events[0].added_via = pick(2) == 0 ? "invite" : "sso";
    pe.events[0].actor = "admin-" + std::to_string(pick(3));
  } else if (kind < 72) {
    pe = MemberRoleChanged(id, account, member, t, role);
  } else if (kind < 80) {
    pe = MemberRemoved(id, account, member, t, "admin-" + std::to_string(pick(3)));
  } else if (kind >= 92 && !shape.never_lower_seats) {
    // A whole member list (FusionAuth group.member.update): removes every older membership of
    // the account it does not name, whatever its user's state.
    pe = MemberList(id, account, {}, t);
    for (int n = pick(4); n > 0; --n) {
      NormalizedEvent add = MemberFact(EventKind::kMemberAdded, account, "user-" + std::to_string(pick(shape.users)), t);
      add.role = "member";
      pe.events.insert(pe.events.end() - 1, std::move(add));
    }
  } else {
    // Several facts in one delivery: applied together or not at all.
    pe = MemberAdded(id, account, member, t, role);
    pe.events[0].account_name = "Workspace " + std::to_string(pick(4));
    pe.events.push_back(UserCreated(id, member, t, member + "@example.org").events[0]);
  }
  pe.provider = provider;
  if (!pe.ignored && !pe.dead_letter_reason) pe.raw_body = "{\"id\":\"" + pe.event_id + "\"}";
  return pe;
}

// `shape.events` deliveries, shuffled. Redeliveries are exact copies of an earlier delivery;
// a few new deliveries reuse an earlier event id under another provider (a different event).
inline std::vector<ProviderEvent> RandomHistory(uint32_t seed, const HistoryShape& shape) {
  std::mt19937 rng(seed);
  auto percent = [&rng] { return std::uniform_int_distribution<int>(0, 99)(rng); };
  std::vector<ProviderEvent> history;
  std::set<std::pair<Provider, std::string>> keys;
  for (int i = 0; static_cast<int>(history.size()) < shape.events; ++i) {
    size_t earlier = history.empty()
                         ? 0
                         : std::uniform_int_distribution<size_t>(0, history.size() - 1)(rng);
    if (!history.empty() && percent() < shape.duplicate_percent) {
      history.push_back(history[earlier]);
      continue;
    }
    // Not the operator: its actions take effect over what they replace (DESIGN §3), so their
    // outcome depends on what came first and no order-free reference can predict it.
    constexpr Provider kProviders[] = {Provider::kHuudis, Provider::kFusionAuth, Provider::kMonoCloud};
    const Provider provider = kProviders[std::uniform_int_distribution<int>(0, 2)(rng)];
    std::string id = shape.id_prefix + "-" + std::to_string(i);
    if (!history.empty() && percent() < 3 && !keys.contains({provider, history[earlier].event_id})) {
      id = history[earlier].event_id;
    }
    keys.emplace(provider, id);
    history.push_back(RandomEvent(rng, shape, id, provider));
  }
  std::shuffle(history.begin(), history.end(), rng);
  return history;
}

// Consecutive batches of 1..max_batch events.
inline std::vector<std::vector<ProviderEvent>> SplitIntoBatches(const std::vector<ProviderEvent>& events,
                                                                uint32_t seed, int max_batch) {
  std::mt19937 rng(seed);
  std::vector<std::vector<ProviderEvent>> batches;
  for (size_t i = 0; i < events.size();) {
    size_t n = std::min<size_t>(events.size() - i,
                                std::uniform_int_distribution<size_t>(1, static_cast<size_t>(max_batch))(rng));
    batches.emplace_back(events.begin() + static_cast<std::ptrdiff_t>(i),
                         events.begin() + static_cast<std::ptrdiff_t>(i + n));
    i += n;
  }
  return batches;
}

// ---- Reading the database back. ----

// One connection for a test's own queries (TestDatabase::Query opens one per call).
class SqlSession {
 public:
  explicit SqlSession(const TestDatabase& db) : url_(db.url()), conn_(db.url()) {}
  const std::string& url() const { return url_; }
  pqxx::result Query(const std::string& sql) { return pqxx::nontransaction(conn_).exec(sql); }
  // First column of the first row as text ("" if none or NULL).
  std::string Scalar(const std::string& sql) {
    pqxx::result r = Query(sql);
    return r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
  }

 private:
  std::string url_;
  pqxx::connection conn_;
};

template <typename Record>
Record MustParse(absl::StatusOr<Record> record, const std::string& text) {
  if (!record.ok()) throw std::runtime_error("record does not parse: " + text);
  return *std::move(record);
}

// users, accounts and memberships, from their `record` columns.
inline domain::StateSet ReadState(SqlSession& db) {
  domain::StateSet state;
  for (const auto& row : db.Query("SELECT record::text FROM users")) {
    domain::UserRecord u = MustParse(domain::UserFromJson(row[0].c_str()), row[0].c_str());
    state.users.emplace(u.user_id, std::move(u));
  }
  for (const auto& row : db.Query("SELECT record::text FROM accounts")) {
    domain::AccountRecord a = MustParse(domain::AccountFromJson(row[0].c_str()), row[0].c_str());
    state.accounts.emplace(a.account_id, std::move(a));
  }
  for (const auto& row : db.Query("SELECT record::text FROM memberships")) {
    domain::MembershipRecord m =
        MustParse(domain::MembershipFromJson(row[0].c_str()), row[0].c_str());
    state.memberships.emplace(domain::MembershipKey{m.account_id, m.user_id}, std::move(m));
  }
  return state;
}

inline domain::SeatTable ReadSeats(SqlSession& db) {
  domain::SeatTable seats;
  for (const auto& row : db.Query("SELECT account_id, role, members, billable FROM seat_counts")) {
    seats[{row[0].as<std::string>(), row[1].as<std::string>()}] = {row[2].as<int64_t>(),
                                                                    row[3].as<int64_t>()};
  }
  return seats;
}

// A change row's record, parsed by its entity kind and serialized again: equal strings mean
// equal records whatever jsonb did to key order and spacing.
inline std::string CanonicalRecord(const store::ChangeRow& row) {
  switch (row.entity) {
    case store::EntityKind::kUser:
      return domain::ToJson(MustParse(domain::UserFromJson(row.record_json), row.record_json));
    case store::EntityKind::kAccount:
      return domain::ToJson(MustParse(domain::AccountFromJson(row.record_json), row.record_json));
    case store::EntityKind::kMembership:
      return domain::ToJson(
          MustParse(domain::MembershipFromJson(row.record_json), row.record_json));
  }
  throw std::runtime_error("unknown entity kind");
}

// Every change after `after`, read in pages of `page`.
inline std::vector<store::ChangeRow> ReadAllChanges(store::ChangeFeed& feed, uint64_t after = 0,
                                                    int page = 1000) {
  std::vector<store::ChangeRow> all;
  while (true) {
    auto read = feed.ReadChanges(after, page);
    if (!read.ok()) throw std::runtime_error("ReadChanges: " + read.status().ToString());
    const std::vector<store::ChangeRow>& rows = read->rows;
    if (rows.empty()) return all;
    after = rows.back().sequence;
    all.insert(all.end(), rows.begin(), rows.end());
  }
}

// The state a follower rebuilds by replaying the change log: the last record of each entity.
inline domain::StateSet ReplayChanges(const std::vector<store::ChangeRow>& changes) {
  domain::StateSet state;
  for (const store::ChangeRow& row : changes) {
    switch (row.entity) {
      case store::EntityKind::kUser: {
        auto u = MustParse(domain::UserFromJson(row.record_json), row.record_json);
        state.users.insert_or_assign(u.user_id, u);
        break;
      }
      case store::EntityKind::kAccount: {
        auto a = MustParse(domain::AccountFromJson(row.record_json), row.record_json);
        state.accounts.insert_or_assign(a.account_id, a);
        break;
      }
      case store::EntityKind::kMembership: {
        auto m = MustParse(domain::MembershipFromJson(row.record_json), row.record_json);
        state.memberships.insert_or_assign(domain::MembershipKey{m.account_id, m.user_id}, m);
        break;
      }
    }
  }
  return state;
}

// Adds a failure naming the first records that differ (a whole-StateSet diff is unreadable).
inline void ExpectSameState(const domain::StateSet& expected, const domain::StateSet& actual,
                            const std::string& what) {
  if (expected == actual) return;
  auto diff = [&](const auto& want, const auto& got, const char* kind) {
    int shown = 0;
    for (const auto& [key, record] : want) {
      auto it = got.find(key);
      if (it == got.end()) {
        ADD_FAILURE() << what << ": " << kind << " missing: " << domain::ToJson(record);
      } else if (!(it->second == record)) {
        ADD_FAILURE() << what << ": " << kind << " differs\n  expected " << domain::ToJson(record)
                      << "\n  actual   " << domain::ToJson(it->second);
      } else {
        continue;
      }
      if (++shown == 3) return;
    }
    for (const auto& [key, record] : got) {
      if (!want.contains(key)) {
        ADD_FAILURE() << what << ": unexpected " << kind << ": " << domain::ToJson(record);
        if (++shown == 3) return;
      }
    }
  };
  diff(expected.users, actual.users, "user");
  diff(expected.accounts, actual.accounts, "account");
  diff(expected.memberships, actual.memberships, "membership");
}

// What must hold after any sequence of batches (each test of the store ends with it):
// - change_log sequences are exactly 1..N and change_log_head.last_sequence = N;
// - replaying the change log through PgChangeFeed gives exactly the tables' records;
// - seat_counts equals a recount (domain::CountSeats) of the tables' records, and the seat
//   ledger summed over all time (its base plus every row) equals seat_counts;
// - the real columns (state, reason, times, presence, role, name) agree with `record`;
// - dead letters are exactly the events stored as dead_lettered; no event is beyond the head.
inline void ExpectStoreInvariants(SqlSession& db) {
  pqxx::result log = db.Query(
      "SELECT count(*), coalesce(min(sequence), 0), coalesce(max(sequence), 0),"
      " (SELECT last_sequence FROM change_log_head) FROM change_log");
  const auto count = log[0][0].as<int64_t>(), max = log[0][2].as<int64_t>();
  EXPECT_EQ(log[0][1].as<int64_t>(), count > 0 ? 1 : 0) << "change log does not start at 1";
  EXPECT_EQ(max, count) << "change log has a gap";
  EXPECT_EQ(log[0][3].as<int64_t>(), max) << "change_log_head is not the last sequence";

  const domain::StateSet tables = ReadState(db);
  store::PgChangeFeed feed(db.url());
  ExpectSameState(tables, ReplayChanges(ReadAllChanges(feed)), "change-log replay vs tables");
  EXPECT_EQ(ReadSeats(db), domain::CountSeats(tables)) << "seat_counts vs a recount";
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM (SELECT account_id, role, sum(members) AS members,"
                      " sum(billable) AS billable FROM (SELECT account_id, role, members, billable"
                      " FROM seat_ledger_base UNION ALL SELECT account_id, role, members, billable FROM seat_ledger) x"
                      " GROUP BY account_id, role HAVING sum(members) <> 0 OR sum(billable) <> 0) l"
                      " FULL JOIN seat_counts s USING (account_id, role)"
                      " WHERE l.members IS DISTINCT FROM s.members OR l.billable IS DISTINCT FROM s.billable"),
            "0")
      << "the seat ledger summed over all time vs seat_counts";
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM (SELECT account_id, date_trunc('day', at, 'UTC') AS day, role,"
                      " sum(members) AS members, sum(billable) AS billable FROM seat_ledger GROUP BY 1, 2, 3) l"
                      " FULL JOIN (SELECT * FROM seat_ledger_days WHERE members <> 0 OR billable <> 0) d"
                      " USING (account_id, day, role)"
                      " WHERE coalesce(l.members, 0) <> coalesce(d.members, 0)"
                      " OR coalesce(l.billable, 0) <> coalesce(d.billable, 0)"),
            "0")
      << "seat_ledger_days vs the ledger's rows summed by day";

  EXPECT_EQ(db.Scalar("SELECT count(*) FROM users WHERE user_id <> record->>'user_id'"
                      " OR state <> record->>'state'"
                      " OR state_changed_at IS DISTINCT FROM"
                      "    (record->'state_version'->>'at')::timestamptz"
                      " OR disabled_reason IS DISTINCT FROM record->>'disabled_reason'"
                      " OR sessions_valid_after IS DISTINCT FROM"
                      "    (record->>'sessions_valid_after')::timestamptz"),
            "0")
      << "users columns disagree with record";
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM memberships WHERE account_id <> record->>'account_id'"
                      " OR user_id <> record->>'user_id'"
                      " OR present <> (record->>'present')::boolean OR role <> record->>'role'"),
            "0")
      << "memberships columns disagree with record";
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM accounts WHERE account_id <> record->>'account_id'"
                      " OR name IS DISTINCT FROM record->>'name'"),
            "0")
      << "accounts columns disagree with record";
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM provider_events p FULL JOIN dead_letters d"
                      " USING (provider, event_id)"
                      " WHERE (p.outcome = 'dead_lettered') IS DISTINCT FROM (d.reason IS NOT NULL)"),
            "0")
      << "dead_letters and provider_events disagree";
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM provider_events"
                      " WHERE sequence > (SELECT last_sequence FROM change_log_head)"),
            "0")
      << "an event claims a sequence beyond the head";
}

}  // namespace mm::testing

namespace mm::domain {
// Lets EXPECT_EQ print seat tables and tallies.
inline void PrintTo(const SeatTally& t, std::ostream* os) {
  *os << "{members " << t.members << ", billable " << t.billable << "}";
}
}  // namespace mm::domain
