#include "store/pg_event_store.h"

#include <set>
#include <utility>

#include "domain/convergence.h"
#include "domain/records_json.h"
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
constexpr char kFindExisting[] = "find_existing_events";
constexpr char kLoadUsers[] = "load_users";
constexpr char kLoadAccounts[] = "load_accounts";
constexpr char kLoadMemberships[] = "load_memberships";
constexpr char kLoadPresentMembershipsOfUsers[] = "load_present_memberships_of_users";
constexpr char kUpsertUsers[] = "upsert_users";
constexpr char kUpsertAccounts[] = "upsert_accounts";
constexpr char kUpsertMemberships[] = "upsert_memberships";
constexpr char kEnsureSeatRows[] = "ensure_seat_rows";
constexpr char kApplySeatDeltas[] = "apply_seat_deltas";
constexpr char kDeleteEmptySeats[] = "delete_empty_seats";
constexpr char kAppendChanges[] = "append_changes";
constexpr char kInsertEvents[] = "insert_provider_events";
constexpr char kInsertDeadLetters[] = "insert_dead_letters";
constexpr char kAdvanceHead[] = "advance_head";
constexpr char kNotify[] = "notify_changes";

std::vector<PgConnection::Statement> Statements() {
  return {
      {kLockHead, "SELECT last_sequence FROM change_log_head WHERE singleton FOR UPDATE"},
      {kFindExisting,
       "SELECT k.provider, k.event_id FROM unnest($1::text[], $2::text[]) AS k(provider, event_id)"
       " JOIN provider_events p USING (provider, event_id)"},
      {kLoadUsers, "SELECT record::text FROM users WHERE user_id = ANY($1::text[])"},
      {kLoadAccounts, "SELECT record::text FROM accounts WHERE account_id = ANY($1::text[])"},
      {kLoadMemberships,
       "SELECT m.record::text FROM unnest($1::text[], $2::text[]) AS k(account_id, user_id)"
       " JOIN memberships m USING (account_id, user_id)"},
      {kLoadPresentMembershipsOfUsers,
       "SELECT record::text FROM memberships WHERE user_id = ANY($1::text[]) AND present"},
      {kUpsertUsers,
       "INSERT INTO users (user_id, state, state_changed_at, disabled_reason,"
       " sessions_valid_after, record)"
       " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[],"
       " $5::timestamptz[], $6::jsonb[])"
       " ON CONFLICT (user_id) DO UPDATE SET state = excluded.state,"
       " state_changed_at = excluded.state_changed_at,"
       " disabled_reason = excluded.disabled_reason,"
       " sessions_valid_after = excluded.sessions_valid_after,"
       " record = excluded.record, updated_at = now()"},
      {kUpsertAccounts,
       "INSERT INTO accounts (account_id, name, record)"
       " SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])"
       " ON CONFLICT (account_id) DO UPDATE SET name = excluded.name, record = excluded.record,"
       " updated_at = now()"},
      {kUpsertMemberships,
       "INSERT INTO memberships (account_id, user_id, present, role, record)"
       " SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[], $5::jsonb[])"
       " ON CONFLICT (account_id, user_id) DO UPDATE SET present = excluded.present,"
       " role = excluded.role, record = excluded.record, updated_at = now()"},
      // Two steps, not INSERT ... ON CONFLICT DO UPDATE: PostgreSQL checks CHECK constraints on
      // the proposed insert row before resolving the conflict, so a negative delta would trip
      // `members >= 0` even when the resulting row is fine. The UPDATE lets the constraints
      // judge the real result, so genuine drift still fails the batch.
      {kEnsureSeatRows,
       "INSERT INTO seat_counts (account_id, role, members, billable)"
       " SELECT a, r, 0, 0 FROM unnest($1::text[], $2::text[]) AS d(a, r)"
       " ON CONFLICT (account_id, role) DO NOTHING"},
      {kApplySeatDeltas,
       "UPDATE seat_counts s SET members = s.members + d.members,"
       " billable = s.billable + d.billable"
       " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])"
       " AS d(account_id, role, members, billable)"
       " WHERE s.account_id = d.account_id AND s.role = d.role"},
      {kDeleteEmptySeats,
       "DELETE FROM seat_counts WHERE account_id = ANY($1::text[]) AND members = 0"},
      {kAppendChanges,
       "INSERT INTO change_log (sequence, entity, entity_key, record)"
       " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::jsonb[])"},
      {kInsertEvents,
       "INSERT INTO provider_events (provider, event_id, event_type, fact_time, received_at,"
       " outcome, sequence, raw_body)"
       " SELECT x.provider, x.event_id, x.event_type, x.fact_time, x.received_at, x.outcome, $7,"
       " x.raw_body FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],"
       " $5::timestamptz[], $6::text[], $8::text[])"
       " AS x(provider, event_id, event_type, fact_time, received_at, outcome, raw_body)"},
      {kInsertDeadLetters,
       "INSERT INTO dead_letters (provider, event_id, reason)"
       " SELECT * FROM unnest($1::text[], $2::text[], $3::text[])"},
      {kAdvanceHead, "UPDATE change_log_head SET last_sequence = $1 WHERE singleton"},
      {kNotify, std::string("SELECT pg_notify('") + kChangesChannel + "', $1)"},
  };
}

std::optional<std::string> TimeText(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return FormatRfc3339(*t);
}

std::string KeyArray(const std::set<std::string>& keys) {
  PgArrayBuilder b;
  for (const std::string& k : keys) b.Add(std::string_view(k));
  return b.Finish();
}

// Parses `record::text` rows into records, failing the batch on a corrupt row.
template <typename ParseFn, typename Sink>
void ParseRows(const pqxx::result& rows, ParseFn parse, Sink sink) {
  for (const auto& row : rows) {
    auto record = parse(row[0].c_str());
    if (!record.ok()) throw std::runtime_error(std::string(record.status().message()));
    sink(std::move(*record));
  }
}

void LoadMemberships(pqxx::work& txn, const std::set<MembershipKey>& keys, StateSet& state) {
  if (keys.empty()) return;
  PgArrayBuilder accounts, users;
  for (const auto& [account_id, user_id] : keys) {
    accounts.Add(std::string_view(account_id));
    users.Add(std::string_view(user_id));
  }
  ParseRows(txn.exec_prepared(kLoadMemberships, accounts.Finish(), users.Finish()),
            domain::MembershipFromJson, [&](domain::MembershipRecord&& m) {
              MembershipKey key{m.account_id, m.user_id};
              state.memberships.emplace(std::move(key), std::move(m));
            });
}

void LoadState(pqxx::work& txn, const domain::TouchedKeys& keys, StateSet& state) {
  if (!keys.users.empty()) {
    ParseRows(txn.exec_prepared(kLoadUsers, KeyArray(keys.users)), domain::UserFromJson,
              [&](domain::UserRecord&& u) { state.users.emplace(u.user_id, std::move(u)); });
  }
  if (!keys.accounts.empty()) {
    ParseRows(txn.exec_prepared(kLoadAccounts, KeyArray(keys.accounts)), domain::AccountFromJson,
              [&](domain::AccountRecord&& a) {
                state.accounts.emplace(a.account_id, std::move(a));
              });
  }
  LoadMemberships(txn, keys.memberships, state);
}

// Seat counts depend on memberships that changed and on every present membership of a user
// whose billability flipped (disabled/enabled/deleted). Loads the latter into both StateSets
// and returns the deltas.
domain::SeatTable ComputeSeatDeltas(pqxx::work& txn, StateSet& before, StateSet& after,
                                    const domain::TouchedKeys& changed) {
  std::set<MembershipKey> pairs = changed.memberships;
  std::set<std::string> flipped;
  for (const std::string& user_id : changed.users) {
    auto old_user = before.users.find(user_id);
    bool was = old_user == before.users.end() || domain::IsBillable(old_user->second);
    if (was != domain::IsBillable(after.users.at(user_id))) flipped.insert(user_id);
  }
  if (!flipped.empty()) {
    ParseRows(txn.exec_prepared(kLoadPresentMembershipsOfUsers, KeyArray(flipped)),
              domain::MembershipFromJson, [&](domain::MembershipRecord&& m) {
                MembershipKey key{m.account_id, m.user_id};
                pairs.insert(key);
                // Records already in the batch are newer in `after`; keep those.
                before.memberships.try_emplace(key, m);
                after.memberships.try_emplace(key, std::move(m));
              });
  }
  return domain::SeatDeltas(before, after, pairs);
}

struct ChangeRows {
  PgArrayBuilder sequences, entities, keys, records;
  uint64_t next = 0;
  void Add(const char* entity, std::string_view key, const std::string& record) {
    sequences.AddInt(static_cast<int64_t>(++next));
    entities.Add(std::string_view(entity));
    keys.Add(key);
    records.Add(std::string_view(record));
  }
};

void WriteState(pqxx::work& txn, const StateSet& after, const domain::TouchedKeys& changed,
                ChangeRows& changes) {
  if (!changed.users.empty()) {
    PgArrayBuilder ids, states, changed_at, reasons, sva, records;
    for (const std::string& user_id : changed.users) {
      const domain::UserRecord& u = after.users.at(user_id);
      std::string record = domain::ToJson(u);
      ids.Add(std::string_view(u.user_id));
      states.Add(domain::UserStateName(u.state));
      changed_at.Add(u.state_version ? TimeText(u.state_version->fact_time) : std::nullopt);
      reasons.Add(u.disabled_reason);
      sva.Add(TimeText(u.sessions_valid_after));
      records.Add(std::string_view(record));
      changes.Add("user", u.user_id, record);
    }
    txn.exec_prepared(kUpsertUsers, ids.Finish(), states.Finish(), changed_at.Finish(),
                      reasons.Finish(), sva.Finish(), records.Finish());
  }
  if (!changed.accounts.empty()) {
    PgArrayBuilder ids, names, records;
    for (const std::string& account_id : changed.accounts) {
      const domain::AccountRecord& a = after.accounts.at(account_id);
      std::string record = domain::ToJson(a);
      ids.Add(std::string_view(a.account_id));
      names.Add(a.name.value);
      records.Add(std::string_view(record));
      changes.Add("account", a.account_id, record);
    }
    txn.exec_prepared(kUpsertAccounts, ids.Finish(), names.Finish(), records.Finish());
  }
  if (!changed.memberships.empty()) {
    PgArrayBuilder accounts, users, present, roles, records;
    for (const MembershipKey& key : changed.memberships) {
      const domain::MembershipRecord& m = after.memberships.at(key);
      std::string record = domain::ToJson(m);
      accounts.Add(std::string_view(m.account_id));
      users.Add(std::string_view(m.user_id));
      present.AddBool(m.present);
      roles.Add(std::string_view(m.role));
      records.Add(std::string_view(record));
      changes.Add("membership", m.account_id + "/" + m.user_id, record);
    }
    txn.exec_prepared(kUpsertMemberships, accounts.Finish(), users.Finish(), present.Finish(),
                      roles.Finish(), records.Finish());
  }
}

void WriteSeatDeltas(pqxx::work& txn, const domain::SeatTable& deltas) {
  if (deltas.empty()) return;
  PgArrayBuilder accounts, roles, members, billable;
  std::set<std::string> touched_accounts;
  for (const auto& [key, tally] : deltas) {
    accounts.Add(std::string_view(key.first));
    roles.Add(std::string_view(key.second));
    members.AddInt(tally.members);
    billable.AddInt(tally.billable);
    touched_accounts.insert(key.first);
  }
  txn.exec_prepared(kEnsureSeatRows, accounts.Finish(), roles.Finish());
  txn.exec_prepared(kApplySeatDeltas, accounts.Finish(), roles.Finish(), members.Finish(),
                    billable.Finish());
  txn.exec_prepared(kDeleteEmptySeats, KeyArray(touched_accounts));
}

}  // namespace

PgEventStore::PgEventStore(std::string database_url)
    : conn_(std::make_unique<PgConnection>(std::move(database_url), Statements())) {}

PgEventStore::~PgEventStore() = default;

absl::Status PgEventStore::Connect() {
  absl::Status status = CatchAll([&] { conn_->Get(); });
  if (!status.ok()) conn_->Reset();
  return status;
}

absl::StatusOr<std::vector<ApplyResult>> PgEventStore::ApplyBatch(
    std::span<const ProviderEvent* const> batch) {
  std::vector<ApplyResult> results(batch.size());
  absl::Status status = CatchAll([&] {
    pqxx::work txn(conn_->Get());
    const auto head = static_cast<uint64_t>(txn.exec_prepared1(kLockHead)[0].as<long long>());

    // Duplicates: already stored, or earlier in this same batch (concurrent retries).
    std::set<std::pair<std::string, std::string>> seen;
    {
      PgArrayBuilder providers, ids;
      for (const ProviderEvent* e : batch) {
        providers.Add(domain::ProviderName(e->provider));
        ids.Add(std::string_view(e->event_id));
      }
      for (const auto& row : txn.exec_prepared(kFindExisting, providers.Finish(), ids.Finish())) {
        seen.emplace(row[0].as<std::string>(), row[1].as<std::string>());
      }
    }
    std::vector<bool> is_new(batch.size());
    domain::TouchedKeys keys;
    for (size_t i = 0; i < batch.size(); ++i) {
      const ProviderEvent& e = *batch[i];
      is_new[i] = seen.emplace(std::string(domain::ProviderName(e.provider)), e.event_id).second;
      if (is_new[i] && !e.ignored && !e.dead_letter_reason) keys.Merge(domain::KeysOf(e));
    }

    StateSet after;
    LoadState(txn, keys, after);
    StateSet before = after;
    domain::TouchedKeys changed;
    for (size_t i = 0; i < batch.size(); ++i) {
      results[i].outcome = domain::Decide(*batch[i], !is_new[i], after, changed);
    }

    ChangeRows changes;
    changes.next = head;
    WriteSeatDeltas(txn, ComputeSeatDeltas(txn, before, after, changed));
    WriteState(txn, after, changed, changes);
    if (changes.next > head) {
      txn.exec_prepared(kAppendChanges, changes.sequences.Finish(), changes.entities.Finish(),
                        changes.keys.Finish(), changes.records.Finish());
      txn.exec_prepared(kAdvanceHead, static_cast<long long>(changes.next));
      txn.exec_prepared(kNotify, std::to_string(changes.next));
    }

    PgArrayBuilder providers, ids, types, fact_times, received, outcomes, bodies;
    PgArrayBuilder dl_providers, dl_ids, dl_reasons;
    for (size_t i = 0; i < batch.size(); ++i) {
      results[i].sequence = changes.next;
      if (!is_new[i]) continue;
      const ProviderEvent& e = *batch[i];
      providers.Add(domain::ProviderName(e.provider));
      ids.Add(std::string_view(e.event_id));
      types.Add(std::string_view(e.event_type));
      fact_times.Add(std::string_view(FormatRfc3339(e.fact_time)));
      received.Add(std::string_view(FormatRfc3339(e.received_at)));
      outcomes.Add(domain::OutcomeName(results[i].outcome));
      bodies.Add(std::string_view(e.raw_body));
      if (e.dead_letter_reason) {
        dl_providers.Add(domain::ProviderName(e.provider));
        dl_ids.Add(std::string_view(e.event_id));
        dl_reasons.Add(std::string_view(*e.dead_letter_reason));
      }
    }
    if (providers.size() > 0) {
      txn.exec_prepared(kInsertEvents, providers.Finish(), ids.Finish(), types.Finish(),
                        fact_times.Finish(), received.Finish(), outcomes.Finish(),
                        static_cast<long long>(changes.next), bodies.Finish());
    }
    if (dl_providers.size() > 0) {
      txn.exec_prepared(kInsertDeadLetters, dl_providers.Finish(), dl_ids.Finish(),
                        dl_reasons.Finish());
    }
    txn.commit();
  });
  if (!status.ok()) {
    if (absl::IsUnavailable(status)) conn_->Reset();
    return status;
  }
  return results;
}

}  // namespace mm::store
