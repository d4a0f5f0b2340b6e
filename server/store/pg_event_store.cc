#include "store/pg_event_store.h"

#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/convergence.h"
#include "domain/records_json.h"
#include "domain/seat_history.h"
#include "domain/seats.h"
#include "store/pg_array.h"
#include "store/pg_connection.h"

namespace mm::store {
namespace {

using domain::MembershipKey;
using domain::Outcome;
using domain::ProviderEvent;
using domain::StateSet;

// Statement names double as metric labels.
constexpr char kLockHead[] = "lock_head";
constexpr char kLoadBatchState[] = "load_batch_state";
constexpr char kLoadSeatFacts[] = "load_seat_facts";
constexpr char kWriteBatch[] = "write_batch";
constexpr char kWriteCheckpoint[] = "write_checkpoint";
constexpr char kLoadReplayable[] = "load_replayable";
constexpr char kWriteReplays[] = "write_replays";

// A batch costs four round trips whatever its size: lock, read, write, commit. The read must be
// its own statement after the lock (in READ COMMITTED each statement takes a new snapshot, so
// it sees everything the previous lock holder committed); the writes are one statement of
// data-modifying CTEs, which all see the snapshot from before the statement and must therefore
// touch disjoint rows.
std::vector<PgConnection::Statement> Statements() {
  return {
      {kLockHead, kLockChangeLogHeadSql},
      // Row kinds: 'e' an already stored (provider, event id); 'u', 'a', 'm' the records the
      // batch's events name; 'p' every membership of a user named by a state event (the only
      // users whose billability can flip, so the seat counts of all their workspaces move, and
      // whose state facts enter the seat history of each); 'm' and 'u' also every membership of
      // an account whose whole member list an event carries, with its user (whose state says
      // whether the seat a removal frees was billable); 'h' the seat ledger's horizon in
      // microseconds (NULL: it keeps everything).
      {kLoadBatchState,
       "SELECT 'e', k.provider, k.event_id FROM unnest($1::text[], $2::text[]) AS k(provider, event_id)"
       " JOIN provider_events p USING (provider, event_id)"
       " UNION ALL SELECT 'u', record::text, NULL FROM users WHERE user_id = ANY($3::text[])"
       " UNION ALL SELECT 'a', record::text, NULL FROM accounts WHERE account_id = ANY($4::text[])"
       " UNION ALL SELECT 'm', m.record::text, NULL"
       " FROM unnest($5::text[], $6::text[]) AS k(account_id, user_id)"
       " JOIN memberships m USING (account_id, user_id)"
       " UNION ALL SELECT 'p', record::text, NULL FROM memberships WHERE user_id = ANY($7::text[])"
       " UNION ALL SELECT 'm', record::text, NULL FROM memberships WHERE account_id = ANY($8::text[])"
       " UNION ALL SELECT 'u', u.record::text, NULL FROM users u WHERE u.user_id IN"
       " (SELECT user_id FROM memberships WHERE account_id = ANY($8::text[]))"
       " UNION ALL SELECT 'h', CASE WHEN oldest = '-infinity' THEN NULL"
       " ELSE " MM_SQL_MICROS("oldest") "::text END, NULL FROM seat_ledger_horizon"},
      // The stored seat facts a recompute needs (domain::SeatLedgerPlan::Needs): membership
      // facts of its pairs, state facts of their users, member lists of their accounts.
      {kLoadSeatFacts,
       "SELECT kind::text, account_id, user_id, " MM_SQL_MICROS("fact_time") ", event_id, ordinal, is_on, role"
       " FROM seat_facts WHERE kind = 'm' AND (account_id, user_id) IN"
       " (SELECT * FROM unnest($1::text[], $2::text[]))"
       " UNION ALL SELECT kind::text, account_id, user_id, " MM_SQL_MICROS("fact_time") ", event_id, ordinal,"
       " is_on, role FROM seat_facts WHERE kind = 'u' AND account_id = '' AND user_id = ANY($3::text[])"
       " UNION ALL SELECT kind::text, account_id, user_id, " MM_SQL_MICROS("fact_time") ", event_id, ordinal,"
       " is_on, role FROM seat_facts WHERE kind = 'l' AND user_id = '' AND account_id = ANY($4::text[])"},
      // Seat counts: one delta per (account, role), split three ways on disjoint rows — new rows
      // inserted with the delta, existing rows updated, rows the delta empties deleted — so the
      // CHECK constraints judge every real result and genuine drift still fails the batch.
      // Change-log rows take their records from the upserts' RETURNING: each record is sent
      // and parsed as jsonb once. The seat ledger (domain::SeatLedgerPlan): the batch's facts
      // added, its rows upserted and deleted (disjoint keys), its base counts and day sums moved.
      {kWriteBatch,
       "WITH d AS ("
       "  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])"
       "  AS d(account_id, role, members, billable) WHERE members <> 0 OR billable <> 0),"
       " seats_added AS ("
       "  INSERT INTO seat_counts (account_id, role, members, billable)"
       "  SELECT d.account_id, d.role, d.members, d.billable FROM d WHERE NOT EXISTS"
       "  (SELECT 1 FROM seat_counts s WHERE s.account_id = d.account_id AND s.role = d.role)),"
       " seats_updated AS ("
       "  UPDATE seat_counts s SET members = s.members + d.members, billable = s.billable + d.billable"
       "  FROM d WHERE s.account_id = d.account_id AND s.role = d.role"
       "  AND (s.members + d.members <> 0 OR s.billable + d.billable <> 0)),"
       " seats_emptied AS ("
       "  DELETE FROM seat_counts s USING d WHERE s.account_id = d.account_id AND s.role = d.role"
       "  AND s.members + d.members = 0 AND s.billable + d.billable = 0),"
       " users_written AS ("
       "  INSERT INTO users (user_id, state, state_changed_at, disabled_reason, sessions_valid_after, record)"
       "  SELECT * FROM unnest($5::text[], $6::text[], $7::timestamptz[], $8::text[], $9::timestamptz[],"
       "  $10::jsonb[])"
       "  ON CONFLICT (user_id) DO UPDATE SET state = excluded.state,"
       "  state_changed_at = excluded.state_changed_at, disabled_reason = excluded.disabled_reason,"
       "  sessions_valid_after = excluded.sessions_valid_after, record = excluded.record,"
       "  updated_at = now()"
       "  RETURNING user_id, record),"
       " accounts_written AS ("
       "  INSERT INTO accounts (account_id, name, record)"
       "  SELECT * FROM unnest($12::text[], $13::text[], $14::jsonb[])"
       "  ON CONFLICT (account_id) DO UPDATE SET name = excluded.name, record = excluded.record,"
       "  updated_at = now()"
       "  RETURNING account_id, record),"
       " memberships_written AS ("
       "  INSERT INTO memberships (account_id, user_id, present, role, record)"
       "  SELECT * FROM unnest($16::text[], $17::text[], $18::boolean[], $19::text[], $20::jsonb[])"
       "  ON CONFLICT (account_id, user_id) DO UPDATE SET present = excluded.present,"
       "  role = excluded.role, record = excluded.record, updated_at = now()"
       "  RETURNING account_id, user_id, record),"
       " changes AS ("
       "  INSERT INTO change_log (sequence, entity, entity_key, record)"
       "  SELECT c.sequence, 'user', w.user_id, w.record FROM users_written w"
       "  JOIN unnest($5::text[], $11::bigint[]) AS c(user_id, sequence) USING (user_id)"
       "  UNION ALL SELECT c.sequence, 'account', w.account_id, w.record FROM accounts_written w"
       "  JOIN unnest($12::text[], $15::bigint[]) AS c(account_id, sequence) USING (account_id)"
       "  UNION ALL SELECT c.sequence, 'membership', w.account_id || '/' || w.user_id, w.record"
       "  FROM memberships_written w"
       "  JOIN unnest($16::text[], $17::text[], $21::bigint[]) AS c(account_id, user_id, sequence)"
       "  USING (account_id, user_id)),"
       " events AS ("
       "  INSERT INTO provider_events (provider, event_id, event_type, fact_time, received_at,"
       "  outcome, sequence, raw_body)"
       "  SELECT x.provider, x.event_id, x.event_type, x.fact_time, x.received_at, x.outcome, $22,"
       "  x.raw_body FROM unnest($23::text[], $24::text[], $25::text[], $26::timestamptz[],"
       "  $27::timestamptz[], $28::text[], $29::text[])"
       "  AS x(provider, event_id, event_type, fact_time, received_at, outcome, raw_body)),"
       " dead AS ("
       "  INSERT INTO dead_letters (provider, event_id, reason, source, scope)"
       "  SELECT * FROM unnest($30::text[], $31::text[], $32::text[], $37::text[], $38::text[])),"
       " named AS ("
       "  INSERT INTO event_users (user_id, fact_time, provider, event_id)"
       "  SELECT * FROM unnest($33::text[], $34::timestamptz[], $35::text[], $36::text[])),"
       " facts AS ("
       "  INSERT INTO seat_facts (kind, account_id, user_id, fact_time, event_id, ordinal, is_on, role)"
       "  SELECT f.kind::\"char\", f.account_id, f.user_id, f.fact_time, f.event_id, f.ordinal, f.is_on, f.role"
       "  FROM unnest($39::text[], $40::text[], $41::text[], $42::timestamptz[], $43::text[], $44::integer[],"
       "  $45::boolean[], $46::text[])"
       "  AS f(kind, account_id, user_id, fact_time, event_id, ordinal, is_on, role) ON CONFLICT DO NOTHING),"
       " ledger_written AS ("
       "  INSERT INTO seat_ledger (account_id, at, user_id, event_id, role, members, billable)"
       "  SELECT * FROM unnest($47::text[], $48::timestamptz[], $49::text[], $50::text[], $51::text[],"
       "  $52::integer[], $53::integer[])"
       "  ON CONFLICT (account_id, at, user_id, event_id, role) DO UPDATE SET members = excluded.members,"
       "  billable = excluded.billable),"
       " ledger_deleted AS ("
       "  DELETE FROM seat_ledger l USING unnest($54::text[], $55::timestamptz[], $56::text[], $57::text[],"
       "  $58::text[]) AS d(account_id, at, user_id, event_id, role)"
       "  WHERE l.account_id = d.account_id AND l.at = d.at AND l.user_id = d.user_id"
       "  AND l.event_id = d.event_id AND l.role = d.role),"
       " ledger_base AS ("
       "  INSERT INTO seat_ledger_base (account_id, role, members, billable)"
       "  SELECT * FROM unnest($59::text[], $60::text[], $61::bigint[], $62::bigint[])"
       "  ON CONFLICT (account_id, role) DO UPDATE SET members = seat_ledger_base.members + excluded.members,"
       "  billable = seat_ledger_base.billable + excluded.billable),"
       " ledger_days AS ("
       "  INSERT INTO seat_ledger_days (account_id, day, role, members, billable)"
       "  SELECT * FROM unnest($63::text[], $64::timestamptz[], $65::text[], $66::bigint[], $67::bigint[])"
       "  ON CONFLICT (account_id, day, role) DO UPDATE SET members = seat_ledger_days.members + excluded.members,"
       "  billable = seat_ledger_days.billable + excluded.billable),"
       " head AS ("
       "  UPDATE change_log_head SET last_sequence = $22 WHERE singleton AND last_sequence <> $22"
       "  RETURNING last_sequence)"
       " SELECT pg_notify('" + std::string(kChangesChannel) + "', last_sequence::text) FROM head"},
      // Replays (ProviderEvent::replay): which of the batch's events are stored as dead letters
      // not yet replayed into another outcome. The head lock serializes this with every writer.
      {kLoadReplayable,
       "SELECT k.provider, k.event_id FROM unnest($1::text[], $2::text[]) AS k(provider, event_id)"
       " JOIN provider_events p USING (provider, event_id) WHERE p.outcome = 'dead_lettered'"},
      // A replayed event takes its new outcome and the batch's sequence, its letter is marked
      // (never deleted), and the users its decoding names join its history.
      {kWriteReplays,
       "WITH r AS ("
       "  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])"
       "  AS r(provider, event_id, outcome, reason)),"
       " events AS ("
       "  UPDATE provider_events p SET outcome = r.outcome, sequence = $5"
       "  FROM r WHERE p.provider = r.provider AND p.event_id = r.event_id),"
       " letters AS ("
       "  UPDATE dead_letters d SET replayed_at = now(), replay_outcome = r.outcome,"
       "  replay_attempts = d.replay_attempts + 1, replay_reason = r.reason"
       "  FROM r WHERE d.provider = r.provider AND d.event_id = r.event_id),"
       " named AS ("
       "  INSERT INTO event_users (user_id, fact_time, provider, event_id)"
       "  SELECT * FROM unnest($6::text[], $7::timestamptz[], $8::text[], $9::text[]) ON CONFLICT DO NOTHING)"
       " SELECT 1"},
      // A pull source's checkpoint (store/event_store.h SourceCheckpoint): its position and
      // watermark replaced when given, its count of events added to, its items as a diff.
      {kWriteCheckpoint,
       "WITH state AS ("
       "  INSERT INTO source_state (source, scope, position, watermark, events_yielded)"
       "  VALUES ($1, $2, coalesce($3::jsonb, '{}'), $4::timestamptz, $5)"
       "  ON CONFLICT (source, scope) DO UPDATE SET"
       "  position = coalesce($3::jsonb, source_state.position),"
       "  watermark = coalesce($4::timestamptz, source_state.watermark),"
       "  events_yielded = source_state.events_yielded + $5, updated_at = now()),"
       " added AS ("
       "  INSERT INTO source_items (source, scope, item_id) SELECT $1, $2, unnest($6::text[])"
       "  ON CONFLICT DO NOTHING),"
       " removed AS ("
       "  DELETE FROM source_items WHERE source = $1 AND scope = $2 AND item_id = ANY($7::text[]))"
       " SELECT 1"},
  };
}

std::optional<std::string> TimeText(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return FormatRfc3339(*t);
}

bool ChangesState(domain::EventKind kind) {
  return kind == domain::EventKind::kUserDisabled || kind == domain::EventKind::kUserEnabled ||
         kind == domain::EventKind::kUserDeleted;
}

// Parses one `record::text` field, failing the batch on a corrupt row.
template <typename ParseFn>
auto ParseRecord(const pqxx::field& field, ParseFn parse) {
  auto record = parse(field.c_str());
  if (!record.ok()) throw std::runtime_error(std::string(record.status().message()));
  return std::move(*record);
}

// What the batch reads after taking the lock.
struct LoadedState {
  std::set<std::pair<std::string, std::string>> stored;  // (provider, event id) already stored
  StateSet state;  // records the batch's events name
  std::vector<domain::MembershipRecord> memberships_of_state_users;
  std::optional<TimePoint> seat_horizon;  // the seat ledger's oldest instant (nullopt: no limit)
};

LoadedState LoadBatchState(pqxx::work& txn, std::span<const ProviderEvent* const> batch) {
  PgArrayBuilder providers, ids, users, accounts, member_accounts, member_users, state_users, listed_accounts;
  domain::TouchedKeys keys;
  std::set<std::string> state_user_ids;
  for (const ProviderEvent* e : batch) {
    providers.Add(domain::ProviderName(e->provider));
    ids.Add(std::string_view(e->event_id));
    // Duplicates are not known yet: their keys are read too, which changes nothing.
    if (e->ignored || e->dead_letter_reason) continue;
    keys.Merge(domain::KeysOf(*e));
    for (const domain::NormalizedEvent& n : e->events) {
      if (ChangesState(n.kind) && !n.user_id.empty()) state_user_ids.insert(n.user_id);
    }
  }
  for (const std::string& u : keys.users) users.Add(std::string_view(u));
  for (const std::string& a : keys.accounts) accounts.Add(std::string_view(a));
  for (const auto& [account_id, user_id] : keys.memberships) {
    member_accounts.Add(std::string_view(account_id));
    member_users.Add(std::string_view(user_id));
  }
  for (const std::string& u : state_user_ids) state_users.Add(std::string_view(u));
  for (const std::string& a : keys.member_lists) listed_accounts.Add(std::string_view(a));

  LoadedState loaded;
  for (const auto& row : Exec(txn, kLoadBatchState, providers.Finish(), ids.Finish(),
                                           users.Finish(), accounts.Finish(), member_accounts.Finish(),
                                           member_users.Finish(), state_users.Finish(),
                                           listed_accounts.Finish())) {
    switch (row[0].c_str()[0]) {
      case 'e':
        loaded.stored.emplace(row[1].as<std::string>(), row[2].as<std::string>());
        break;
      case 'u': {
        domain::UserRecord u = ParseRecord(row[1], domain::UserFromJson);
        loaded.state.users.emplace(u.user_id, std::move(u));
        break;
      }
      case 'a': {
        domain::AccountRecord a = ParseRecord(row[1], domain::AccountFromJson);
        loaded.state.accounts.emplace(a.account_id, std::move(a));
        break;
      }
      case 'm': {
        domain::MembershipRecord m = ParseRecord(row[1], domain::MembershipFromJson);
        MembershipKey key{m.account_id, m.user_id};
        loaded.state.memberships.emplace(std::move(key), std::move(m));
        break;
      }
      case 'h':
        if (!row[1].is_null()) loaded.seat_horizon = FromUnixMicros(row[1].as<int64_t>());
        break;
      default:
        loaded.memberships_of_state_users.push_back(ParseRecord(row[1], domain::MembershipFromJson));
    }
  }
  return loaded;
}

// Seat counts depend on memberships that changed and on every present membership of a user
// whose billability flipped (disabled/enabled/deleted). Adds every membership of a state
// event's user to both StateSets (the seat ledger plans their history) and returns the deltas.
domain::SeatTable ComputeSeatDeltas(StateSet& before, StateSet& after, const domain::TouchedKeys& changed,
                                    std::vector<domain::MembershipRecord>& memberships_of_state_users) {
  std::set<MembershipKey> pairs = changed.memberships;
  std::set<std::string> flipped;
  for (const std::string& user_id : changed.users) {
    auto old_user = before.users.find(user_id);
    bool was = old_user == before.users.end() || domain::IsBillable(old_user->second);
    if (was != domain::IsBillable(after.users.at(user_id))) flipped.insert(user_id);
  }
  for (domain::MembershipRecord& m : memberships_of_state_users) {
    MembershipKey key{m.account_id, m.user_id};
    if (flipped.contains(m.user_id)) pairs.insert(key);
    // Records already in the batch are newer in `after`; keep those.
    before.memberships.try_emplace(key, m);
    after.memberships.try_emplace(key, std::move(m));
  }
  return domain::SeatDeltas(before, after, pairs);
}

// The arrays of kWriteBatch, in parameter order.
struct WriteArrays {
  PgArrayBuilder seat_accounts, seat_roles, seat_members, seat_billable;
  PgArrayBuilder user_ids, user_states, user_changed_at, user_reasons, user_sva, user_records, user_seqs;
  PgArrayBuilder account_ids, account_names, account_records, account_seqs;
  PgArrayBuilder member_accounts, member_users, member_present, member_roles, member_records, member_seqs;
  PgArrayBuilder event_providers, event_ids, event_types, event_fact_times, event_received, event_outcomes,
      event_bodies;
  PgArrayBuilder dead_providers, dead_ids, dead_reasons;
  PgArrayBuilder named_users, named_fact_times, named_providers, named_ids;
  PgArrayBuilder dead_sources, dead_scopes;
  PgArrayBuilder fact_kinds, fact_accounts, fact_users, fact_times, fact_events, fact_ordinals, fact_on, fact_roles;
  PgArrayBuilder ledger_accounts, ledger_at, ledger_users, ledger_events, ledger_roles, ledger_members,
      ledger_billable;
  PgArrayBuilder gone_accounts, gone_at, gone_users, gone_events, gone_roles;
  PgArrayBuilder base_accounts, base_roles, base_members, base_billable;
  PgArrayBuilder day_accounts, day_days, day_roles, day_members, day_billable;
};

// The arrays of kWriteReplays, in parameter order.
struct ReplayArrays {
  PgArrayBuilder providers, ids, outcomes, reasons;
  PgArrayBuilder named_users, named_fact_times, named_providers, named_ids;
};

void AddNamedUsers(const ProviderEvent& e, PgArrayBuilder& users, PgArrayBuilder& fact_times,
                   PgArrayBuilder& providers, PgArrayBuilder& ids) {
  if (e.named_users.empty()) return;
  const std::string fact_time = FormatRfc3339(e.fact_time);
  for (const std::string& user_id : e.named_users) {
    users.Add(std::string_view(user_id));
    fact_times.Add(std::string_view(fact_time));
    providers.Add(domain::ProviderName(e.provider));
    ids.Add(std::string_view(e.event_id));
  }
}

using EventKey = std::pair<std::string, std::string>;  // (provider, event id)

// The stored seat facts `plan` needs (one round trip, only when a fact landed in the past).
std::vector<domain::SeatFact> LoadSeatFacts(pqxx::work& txn, const domain::SeatLedgerPlan& plan) {
  PgArrayBuilder pair_accounts, pair_users, users, accounts;
  for (const auto& [account_id, user_id] : plan.recompute()) {
    pair_accounts.Add(std::string_view(account_id));
    pair_users.Add(std::string_view(user_id));
  }
  for (const std::string& u : plan.RecomputeUsers()) users.Add(std::string_view(u));
  for (const std::string& a : plan.RecomputeAccounts()) accounts.Add(std::string_view(a));
  std::vector<domain::SeatFact> out;
  for (const auto& row : Exec(txn, kLoadSeatFacts, pair_accounts.Finish(), pair_users.Finish(),
                                           users.Finish(), accounts.Finish())) {
    domain::SeatFact f;
    f.kind = static_cast<domain::SeatFactKind>(row[0].c_str()[0]);
    f.account_id = row[1].as<std::string>();
    f.user_id = row[2].as<std::string>();
    f.version = {.fact_time = FromUnixMicros(row[3].as<int64_t>()), .event_id = row[4].as<std::string>()};
    f.ordinal = row[5].as<int>();
    f.on = row[6].as<bool>();
    f.role = row[7].as<std::string>();
    out.push_back(std::move(f));
  }
  return out;
}

void AddLedgerKey(const domain::SeatChange& c, PgArrayBuilder& accounts, PgArrayBuilder& at, PgArrayBuilder& users,
                  PgArrayBuilder& events, PgArrayBuilder& roles) {
  accounts.Add(std::string_view(c.account_id));
  at.Add(std::string_view(FormatRfc3339(c.at)));
  users.Add(std::string_view(c.user_id));
  events.Add(std::string_view(c.event_id));
  roles.Add(std::string_view(c.role));
}

// Fills the seat ledger's arrays: the batch's facts and what the plan writes.
void AddSeatLedgerWrites(const domain::SeatLedgerPlan& plan, const domain::SeatLedgerWrites& writes, WriteArrays& w) {
  for (const domain::SeatFact& f : plan.facts()) {
    const char kind[2] = {static_cast<char>(f.kind), '\0'};
    w.fact_kinds.Add(std::string_view(kind, 1));
    w.fact_accounts.Add(std::string_view(f.account_id));
    w.fact_users.Add(std::string_view(f.user_id));
    w.fact_times.Add(std::string_view(FormatRfc3339(f.version.fact_time)));
    w.fact_events.Add(std::string_view(f.version.event_id));
    w.fact_ordinals.AddInt(f.ordinal);
    w.fact_on.AddBool(f.on);
    w.fact_roles.Add(std::string_view(f.role));
  }
  for (const domain::SeatChange& c : writes.upserts) {
    AddLedgerKey(c, w.ledger_accounts, w.ledger_at, w.ledger_users, w.ledger_events, w.ledger_roles);
    w.ledger_members.AddInt(c.members);
    w.ledger_billable.AddInt(c.billable);
  }
  for (const domain::SeatChange& c : writes.deletes) {
    AddLedgerKey(c, w.gone_accounts, w.gone_at, w.gone_users, w.gone_events, w.gone_roles);
  }
  for (const auto& [key, tally] : writes.base) {
    w.base_accounts.Add(std::string_view(key.first));
    w.base_roles.Add(std::string_view(key.second));
    w.base_members.AddInt(tally.members);
    w.base_billable.AddInt(tally.billable);
  }
  for (const auto& [key, tally] : writes.days) {
    w.day_accounts.Add(std::string_view(std::get<0>(key)));
    w.day_days.Add(std::string_view(FormatRfc3339(std::get<1>(key))));
    w.day_roles.Add(std::string_view(std::get<2>(key)));
    w.day_members.AddInt(tally.members);
    w.day_billable.AddInt(tally.billable);
  }
}

std::set<EventKey> LoadReplayable(pqxx::work& txn, std::span<const ProviderEvent* const> batch) {
  PgArrayBuilder providers, ids;
  size_t replays = 0;
  for (const ProviderEvent* e : batch) {
    if (!e->replay) continue;
    ++replays;
    providers.Add(domain::ProviderName(e->provider));
    ids.Add(std::string_view(e->event_id));
  }
  std::set<EventKey> out;
  if (replays == 0) return out;
  for (const auto& row : Exec(txn, kLoadReplayable, providers.Finish(), ids.Finish())) {
    out.emplace(row[0].as<std::string>(), row[1].as<std::string>());
  }
  return out;
}

// Fills the state and seat arrays; change-log sequences follow `next` (users, then accounts,
// then memberships, each in key order). Returns the last sequence used.
uint64_t AddStateWrites(const StateSet& after, const domain::TouchedKeys& changed,
                        const domain::SeatTable& deltas, uint64_t next, WriteArrays& w) {
  for (const auto& [key, tally] : deltas) {
    w.seat_accounts.Add(std::string_view(key.first));
    w.seat_roles.Add(std::string_view(key.second));
    w.seat_members.AddInt(tally.members);
    w.seat_billable.AddInt(tally.billable);
  }
  for (const std::string& user_id : changed.users) {
    const domain::UserRecord& u = after.users.at(user_id);
    w.user_ids.Add(std::string_view(u.user_id));
    w.user_states.Add(domain::UserStateName(u.state));
    w.user_changed_at.Add(u.state_version ? TimeText(u.state_version->fact_time) : std::nullopt);
    w.user_reasons.Add(u.disabled_reason);
    w.user_sva.Add(TimeText(u.sessions_valid_after));
    w.user_records.Add(std::string_view(domain::ToJson(u)));
    w.user_seqs.AddInt(static_cast<int64_t>(++next));
  }
  for (const std::string& account_id : changed.accounts) {
    const domain::AccountRecord& a = after.accounts.at(account_id);
    w.account_ids.Add(std::string_view(a.account_id));
    w.account_names.Add(a.name.value);
    w.account_records.Add(std::string_view(domain::ToJson(a)));
    w.account_seqs.AddInt(static_cast<int64_t>(++next));
  }
  for (const MembershipKey& key : changed.memberships) {
    const domain::MembershipRecord& m = after.memberships.at(key);
    w.member_accounts.Add(std::string_view(m.account_id));
    w.member_users.Add(std::string_view(m.user_id));
    w.member_present.AddBool(m.present);
    w.member_roles.Add(std::string_view(m.role));
    w.member_records.Add(std::string_view(domain::ToJson(m)));
    w.member_seqs.AddInt(static_cast<int64_t>(++next));
  }
  return next;
}

}  // namespace

PgEventStore::PgEventStore(std::string database_url, Options options)
    : conn_(std::make_unique<PgConnection>(std::move(database_url), Statements())), options_(options) {}

PgEventStore::~PgEventStore() = default;

absl::Status PgEventStore::Connect() {
  absl::Status status = conn_->Run([](pqxx::connection&) {});
  if (!status.ok()) conn_->Reset();
  return status;
}

absl::Status PgEventStore::Ping() {
  return conn_->Run([](pqxx::connection& conn) {
    pqxx::nontransaction txn(conn);
    txn.exec("SELECT 1");
  });
}

absl::StatusOr<std::vector<ApplyResult>> PgEventStore::ApplyBatch(
    std::span<const ProviderEvent* const> batch, std::span<const SourceCheckpoint* const> checkpoints) {
  return Apply(batch, checkpoints, /*commit=*/true);
}

absl::StatusOr<std::vector<ApplyResult>> PgEventStore::TryBatch(std::span<const ProviderEvent* const> batch) {
  absl::StatusOr<std::vector<ApplyResult>> results = Apply(batch, {}, /*commit=*/false);
  if (results.ok()) {
    for (ApplyResult& r : *results) r.sequence = 0;
  }
  return results;
}

absl::StatusOr<std::vector<ApplyResult>> PgEventStore::Apply(std::span<const ProviderEvent* const> batch,
                                                             std::span<const SourceCheckpoint* const> checkpoints,
                                                             bool commit) {
  std::vector<ApplyResult> results(batch.size());
  absl::Status status = conn_->Run([&](pqxx::connection& conn) {
    pqxx::work txn(conn);
    const auto head = static_cast<uint64_t>(Exec1(txn, kLockHead)[0].as<long long>());
    LoadedState loaded = LoadBatchState(txn, batch);
    std::set<EventKey> replayable = LoadReplayable(txn, batch);

    // Duplicates: already stored, or earlier in this same batch (concurrent retries). A replay
    // is new if its letter has not been replayed into another outcome (once per batch).
    std::set<EventKey>& seen = loaded.stored;
    std::vector<bool> is_new(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const ProviderEvent& e = *batch[i];
      EventKey key{std::string(domain::ProviderName(e.provider)), e.event_id};
      is_new[i] = e.replay ? replayable.erase(key) > 0 : seen.insert(std::move(key)).second;
    }

    StateSet& after = loaded.state;
    StateSet before = after;
    domain::TouchedKeys changed;
    std::vector<domain::SeatFact> seat_facts;
    for (size_t i = 0; i < batch.size(); ++i) {
      results[i].outcome =
          domain::Decide(*batch[i], !is_new[i], after, changed, options_.seat_ledger ? &seat_facts : nullptr);
    }

    WriteArrays w;
    const uint64_t last = AddStateWrites(
        after, changed, ComputeSeatDeltas(before, after, changed, loaded.memberships_of_state_users), head, w);
    if (options_.seat_ledger) {
      const domain::SeatLedgerPlan plan(before, after, std::move(seat_facts), loaded.seat_horizon);
      AddSeatLedgerWrites(plan, plan.Finish(plan.recompute().empty() ? std::vector<domain::SeatFact>{}
                                                                     : LoadSeatFacts(txn, plan)),
                          w);
    }
    size_t new_events = 0;
    ReplayArrays r;
    size_t replays = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      results[i].sequence = last;
      if (!is_new[i]) continue;
      const ProviderEvent& e = *batch[i];
      if (e.replay) {
        ++replays;
        r.providers.Add(domain::ProviderName(e.provider));
        r.ids.Add(std::string_view(e.event_id));
        r.outcomes.Add(domain::OutcomeName(results[i].outcome));
        r.reasons.Add(e.dead_letter_reason);
        AddNamedUsers(e, r.named_users, r.named_fact_times, r.named_providers, r.named_ids);
        continue;
      }
      ++new_events;
      AddNamedUsers(e, w.named_users, w.named_fact_times, w.named_providers, w.named_ids);
      w.event_providers.Add(domain::ProviderName(e.provider));
      w.event_ids.Add(std::string_view(e.event_id));
      w.event_types.Add(std::string_view(e.event_type));
      w.event_fact_times.Add(std::string_view(FormatRfc3339(e.fact_time)));
      w.event_received.Add(std::string_view(FormatRfc3339(e.received_at)));
      w.event_outcomes.Add(domain::OutcomeName(results[i].outcome));
      w.event_bodies.Add(std::string_view(e.raw_body));
      if (e.dead_letter_reason) {
        w.dead_providers.Add(domain::ProviderName(e.provider));
        w.dead_ids.Add(std::string_view(e.event_id));
        w.dead_reasons.Add(std::string_view(*e.dead_letter_reason));
        if (e.source.empty()) {
          w.dead_sources.AddNull();
          w.dead_scopes.AddNull();
        } else {
          w.dead_sources.Add(std::string_view(e.source));
          w.dead_scopes.Add(std::string_view(e.scope));
        }
      }
    }
    // Only new events change anything: a batch of duplicates writes nothing. (Replays write
    // their state here too; their own rows are updated below.)
    if (new_events + replays > 0) {
      Exec(txn, kWriteBatch, w.seat_accounts.Finish(), w.seat_roles.Finish(), w.seat_members.Finish(),
                        w.seat_billable.Finish(), w.user_ids.Finish(), w.user_states.Finish(),
                        w.user_changed_at.Finish(), w.user_reasons.Finish(), w.user_sva.Finish(),
                        w.user_records.Finish(), w.user_seqs.Finish(), w.account_ids.Finish(),
                        w.account_names.Finish(), w.account_records.Finish(), w.account_seqs.Finish(),
                        w.member_accounts.Finish(), w.member_users.Finish(), w.member_present.Finish(),
                        w.member_roles.Finish(), w.member_records.Finish(), w.member_seqs.Finish(),
                        static_cast<long long>(last), w.event_providers.Finish(), w.event_ids.Finish(),
                        w.event_types.Finish(), w.event_fact_times.Finish(), w.event_received.Finish(),
                        w.event_outcomes.Finish(), w.event_bodies.Finish(), w.dead_providers.Finish(),
                        w.dead_ids.Finish(), w.dead_reasons.Finish(), w.named_users.Finish(),
                        w.named_fact_times.Finish(), w.named_providers.Finish(), w.named_ids.Finish(),
                        w.dead_sources.Finish(), w.dead_scopes.Finish(), w.fact_kinds.Finish(),
                        w.fact_accounts.Finish(), w.fact_users.Finish(), w.fact_times.Finish(),
                        w.fact_events.Finish(), w.fact_ordinals.Finish(), w.fact_on.Finish(), w.fact_roles.Finish(),
                        w.ledger_accounts.Finish(), w.ledger_at.Finish(), w.ledger_users.Finish(),
                        w.ledger_events.Finish(), w.ledger_roles.Finish(), w.ledger_members.Finish(),
                        w.ledger_billable.Finish(), w.gone_accounts.Finish(), w.gone_at.Finish(),
                        w.gone_users.Finish(), w.gone_events.Finish(), w.gone_roles.Finish(),
                        w.base_accounts.Finish(), w.base_roles.Finish(), w.base_members.Finish(),
                        w.base_billable.Finish(), w.day_accounts.Finish(), w.day_days.Finish(),
                        w.day_roles.Finish(), w.day_members.Finish(), w.day_billable.Finish());
    }
    if (replays > 0) {
      Exec(txn, kWriteReplays, r.providers.Finish(), r.ids.Finish(), r.outcomes.Finish(), r.reasons.Finish(),
                        static_cast<long long>(last), r.named_users.Finish(), r.named_fact_times.Finish(),
                        r.named_providers.Finish(), r.named_ids.Finish());
    }
    for (const SourceCheckpoint* c : checkpoints) {
      long long yielded = 0;
      for (size_t i = c->page_begin; i < c->page_end && i < batch.size(); ++i) yielded += is_new[i] ? 1 : 0;
      Exec(txn, kWriteCheckpoint, c->source, c->scope, c->position_json, TimeText(c->watermark), yielded,
                        ToPgArray(c->items_added), ToPgArray(c->items_removed));
    }
    if (commit) txn.commit();  // otherwise rolled back: a dry run
  });
  if (!status.ok()) return status;
  return results;
}

}  // namespace mm::store
