#include "store/pg_read_store.h"

#include "domain/records_json.h"
#include "domain/seat_history.h"
#include "store/pg_array.h"
#include "store/pg_change_rows.h"
#include "store/pg_connection.h"
#include "store/pg_source_rows.h"
#include "store/pg_source_store.h"

namespace mm::store {
namespace {

constexpr char kGetUser[] = "get_user";
constexpr char kGetMembership[] = "get_membership";
constexpr char kListMembers[] = "list_members";
constexpr char kListMembersByRole[] = "list_members_by_role";
constexpr char kListUserMemberships[] = "list_user_memberships";
constexpr char kGetSeatCount[] = "get_seat_count";
constexpr char kListSeatCounts[] = "list_seat_counts";
constexpr char kGetSeatCountAt[] = "get_seat_count_at";
constexpr char kListSeatChanges[] = "list_seat_changes";
constexpr char kGetSeatUsage[] = "get_seat_usage";
constexpr char kListSources[] = "list_sources";
constexpr char kListDeadLetters[] = "list_dead_letters";
constexpr char kGetDeadLetters[] = "get_dead_letters";
constexpr char kListUserEvents[] = "list_user_events";
constexpr char kChangeLogHead[] = "change_log_head";

// Dead letters with their event; the body only when $1 is true.
#define MM_DEAD_LETTER_SELECT                                                                              \
  "SELECT d.provider, d.event_id, p.event_type, d.reason, " MM_SQL_MICROS("p.fact_time") ", "               \
  MM_SQL_MICROS("p.received_at") ", " MM_SQL_MICROS("d.created_at") ", " MM_SQL_MICROS("d.replayed_at") ", " \
  "d.replay_outcome, d.replay_reason, d.replay_attempts, coalesce(d.source, ''), coalesce(d.scope, ''),"    \
  " p.outcome, CASE WHEN $1 THEN p.raw_body END"                                                            \
  " FROM dead_letters d JOIN provider_events p USING (provider, event_id) "

// The seat ledger's horizon in microseconds, NULL for -infinity (it answers for all time).
#define MM_SEAT_HORIZON                                                         \
  "(SELECT CASE WHEN oldest = '-infinity' THEN NULL ELSE " MM_SQL_MICROS("oldest") \
  " END FROM seat_ledger_horizon)"

// Membership rows with what callers want beside them: the account's name and the user's
// email and name, as the mirror knows them now.
#define MM_MEMBERSHIP_SELECT                                                             \
  "SELECT m.record::text, " MM_SQL_MICROS("m.updated_at") ", a.name, u.record->>'email',"   \
  " u.record->>'name' FROM memberships m LEFT JOIN accounts a ON a.account_id = m.account_id" \
  " LEFT JOIN users u ON u.user_id = m.user_id "

std::vector<PgConnection::Statement> Statements() {
  return {
      {kGetUser, "SELECT record::text, " MM_SQL_MICROS("updated_at") " FROM users WHERE user_id = $1"},
      {kGetMembership,
       MM_MEMBERSHIP_SELECT "WHERE m.account_id = $1 AND m.user_id = $2 AND m.present"},
      {kListMembers, MM_MEMBERSHIP_SELECT
       "WHERE m.account_id = $1 AND m.present AND m.user_id > $2 ORDER BY m.user_id LIMIT $3"},
      {kListMembersByRole, MM_MEMBERSHIP_SELECT
       "WHERE m.account_id = $1 AND m.present AND m.role = $2 AND m.user_id > $3"
       " ORDER BY m.user_id LIMIT $4"},
      {kListUserMemberships, MM_MEMBERSHIP_SELECT
       "WHERE m.user_id = $1 AND m.present AND m.account_id > $2 ORDER BY m.account_id LIMIT $3"},
      // One statement, one snapshot: the counts and the sequence they reflect agree.
      {kGetSeatCount,
       "SELECT h.last_sequence, s.role, s.members, s.billable FROM change_log_head h"
       " LEFT JOIN seat_counts s ON s.account_id = $1 ORDER BY s.role"},
      // The counts at $2: the base (before the horizon) and the day sums, per role, with the
      // sequence and horizon of the same snapshot. From $2's day, whichever half is shorter:
      // before noon ($3 false) the day's rows up to $2 are added to the sums of the days before
      // it; after, the rows after $2 are taken from the sums up to and with its day.
      {kGetSeatCountAt,
       "WITH per_role AS ("
       " SELECT role, sum(members)::bigint AS members, sum(billable)::bigint AS billable FROM ("
       "  SELECT role, members, billable FROM seat_ledger_base WHERE account_id = $1"
       "  UNION ALL SELECT role, sum(members), sum(billable) FROM seat_ledger_days WHERE account_id = $1"
       "   AND day < " MM_DAY_OF("$2") " + CASE WHEN $3 THEN interval '1 day' ELSE interval '0' END GROUP BY role"
       "  UNION ALL SELECT role, sum(members), sum(billable) FROM seat_ledger WHERE NOT $3 AND account_id = $1"
       "   AND at >= " MM_DAY_OF("$2") " AND at <= $2::timestamptz GROUP BY role"
       "  UNION ALL SELECT role, -sum(members), -sum(billable) FROM seat_ledger WHERE $3 AND account_id = $1"
       "   AND at > $2::timestamptz AND at < " MM_DAY_OF("$2") " + interval '1 day' GROUP BY role) r"
       " GROUP BY role HAVING sum(members) <> 0 OR sum(billable) <> 0)"
       " SELECT h.last_sequence, " MM_SEAT_HORIZON ", p.role, p.members, p.billable"
       " FROM change_log_head h LEFT JOIN per_role p ON true ORDER BY p.role"},
      // Keyset on the ledger's key after the account (at, user_id, event_id, role).
      {kListSeatChanges,
       "WITH page AS (SELECT at, user_id, event_id, role, members, billable FROM seat_ledger"
       " WHERE account_id = $1 AND at >= $2::timestamptz AND at < $3::timestamptz AND ($4 OR billable <> 0)"
       " AND (at, user_id, event_id, role) > ($5::timestamptz, $6, $7, $8)"
       " ORDER BY at, user_id, event_id, role LIMIT $9)"
       " SELECT h.last_sequence, " MM_SEAT_HORIZON ", " MM_SQL_MICROS("p.at") ", p.user_id, p.event_id,"
       " p.role, p.members, p.billable"
       " FROM change_log_head h LEFT JOIN page p ON true ORDER BY p.at, p.user_id, p.event_id, p.role"},
      // Billable seats over [$2, $3): the level at $2 (as for kGetSeatCountAt), then a step at
      // every instant inside with a net change; the integral in exact numeric seconds.
      {kGetSeatUsage,
       "WITH start_level AS (SELECT"
       "  coalesce((SELECT sum(billable) FROM seat_ledger_base WHERE account_id = $1), 0)"
       "  + coalesce((SELECT sum(billable) FROM seat_ledger_days WHERE account_id = $1"
       "    AND day < " MM_DAY_OF("$2") "), 0)"
       "  + coalesce((SELECT sum(billable) FROM seat_ledger WHERE account_id = $1"
       "    AND at >= " MM_DAY_OF("$2") " AND at <= $2::timestamptz), 0)"
       "  AS v),"
       " steps AS (SELECT at, sum(billable) AS d FROM seat_ledger"
       "  WHERE account_id = $1 AND at > $2::timestamptz AND at < $3::timestamptz"
       "  GROUP BY at HAVING sum(billable) <> 0),"
       " levels AS (SELECT at, (SELECT v FROM start_level) + sum(d) OVER (ORDER BY at) AS level,"
       "  lead(at, 1, $3::timestamptz) OVER (ORDER BY at) AS next FROM steps)"
       " SELECT h.last_sequence, " MM_SEAT_HORIZON ", s.v::bigint,"
       "  (s.v * (extract(epoch FROM coalesce((SELECT min(at) FROM levels), $3::timestamptz))"
       "          - extract(epoch FROM $2::timestamptz))"
       "   + coalesce((SELECT sum(level * (extract(epoch FROM next) - extract(epoch FROM at))) FROM levels), 0)"
       "  )::text,"
       "  least(s.v, (SELECT min(level) FROM levels))::bigint,"
       "  greatest(s.v, (SELECT max(level) FROM levels))::bigint,"
       "  coalesce((SELECT level FROM levels ORDER BY at DESC LIMIT 1), s.v)::bigint"
       " FROM change_log_head h CROSS JOIN start_level s"},
      {kListSeatCounts,
       "WITH page AS (SELECT account_id FROM accounts WHERE account_id > $1"
       " ORDER BY account_id LIMIT $2)"
       " SELECT h.last_sequence, p.account_id, s.role, s.members, s.billable"
       " FROM page p CROSS JOIN change_log_head h"
       " LEFT JOIN seat_counts s ON s.account_id = p.account_id"
       " ORDER BY p.account_id, s.role"},
      ReadChangesStatement(),
      {kChangeLogHead, "SELECT last_sequence FROM change_log_head"},
      {kListSources, "SELECT " MM_SOURCE_STATUS_COLUMNS " FROM source_state ORDER BY source, scope"},
      // Keyset on (created_at, provider, event_id): the index dead_letters_by_created.
      {kListDeadLetters, MM_DEAD_LETTER_SELECT
       "WHERE ($2 = '' OR d.provider = $2) AND ($3 = '' OR strpos(d.reason, $3) > 0)"
       " AND (NOT $4 OR p.outcome = 'dead_lettered')"
       " AND (d.created_at, d.provider, d.event_id) > ($5::timestamptz, $6, $7)"
       " ORDER BY d.created_at, d.provider, d.event_id LIMIT $8"},
      {kGetDeadLetters, MM_DEAD_LETTER_SELECT
       "WHERE d.event_id = ANY($3::text[]) AND ($2 = '' OR d.provider = $2)"
       " ORDER BY d.created_at, d.provider, d.event_id"},
      // Keyset on event_users' primary key (user_id, fact_time, provider, event_id).
      {kListUserEvents,
       "SELECT e.provider, e.event_id, p.event_type, " MM_SQL_MICROS("e.fact_time") ", "
       MM_SQL_MICROS("p.received_at") ", p.outcome, p.sequence, d.reason"
       " FROM event_users e JOIN provider_events p USING (provider, event_id)"
       " LEFT JOIN dead_letters d USING (provider, event_id)"
       " WHERE e.user_id = $1 AND (e.fact_time, e.provider, e.event_id) > ($2::timestamptz, $3, $4)"
       " ORDER BY e.fact_time, e.provider, e.event_id LIMIT $5"},
  };
}

MembershipView ToMembershipView(const pqxx::row& r) {
  auto record = domain::MembershipFromJson(r[0].c_str());
  if (!record.ok()) throw std::runtime_error(std::string(record.status().message()));
  MembershipView view;
  view.record = std::move(*record);
  view.updated_at = FromUnixMicros(r[1].as<long long>());
  if (!r[2].is_null()) view.account_name = r[2].as<std::string>();
  if (!r[3].is_null()) view.user_email = r[3].as<std::string>();
  if (!r[4].is_null()) view.user_name = r[4].as<std::string>();
  return view;
}

DeadLetterView ToDeadLetterView(const pqxx::row& r) {
  DeadLetterView v;
  v.provider = r[0].as<std::string>();
  v.event_id = r[1].as<std::string>();
  v.event_type = r[2].as<std::string>();
  v.reason = r[3].as<std::string>();
  v.fact_time = FromUnixMicros(r[4].as<long long>());
  v.received_at = FromUnixMicros(r[5].as<long long>());
  v.created_at = FromUnixMicros(r[6].as<long long>());
  if (!r[7].is_null()) v.replayed_at = FromUnixMicros(r[7].as<long long>());
  if (!r[8].is_null()) v.replay_outcome = r[8].as<std::string>();
  if (!r[9].is_null()) v.replay_reason = r[9].as<std::string>();
  v.replay_attempts = r[10].as<int>();
  v.source = r[11].as<std::string>();
  v.scope = r[12].as<std::string>();
  v.outcome = r[13].as<std::string>();
  if (!r[14].is_null()) v.raw_body = r[14].as<std::string>();
  return v;
}

UserEventView ToUserEventView(const pqxx::row& r) {
  UserEventView v;
  v.provider = r[0].as<std::string>();
  v.event_id = r[1].as<std::string>();
  v.event_type = r[2].as<std::string>();
  v.fact_time = FromUnixMicros(r[3].as<long long>());
  v.received_at = FromUnixMicros(r[4].as<long long>());
  v.outcome = r[5].as<std::string>();
  v.sequence = static_cast<uint64_t>(r[6].as<long long>());
  if (!r[7].is_null()) v.dead_letter_reason = r[7].as<std::string>();
  return v;
}

// The keyset parameters of a position: the first page starts before every time.
std::string PositionTime(const std::optional<EventPosition>& after) {
  return after ? FormatRfc3339(after->at) : std::string("-infinity");
}

// `rows` holds at most limit + 1 rows: the extra one only says that another page follows.
template <typename View = MembershipView>
Page<View> ToPage(const pqxx::result& rows, int limit, View (*convert)(const pqxx::row&) = ToMembershipView) {
  Page<View> page;
  for (const auto& r : rows) {
    if (static_cast<int>(page.items.size()) == limit) {
      page.more = true;
      break;
    }
    page.items.push_back(convert(r));
  }
  return page;
}

void AddSeatRow(const pqxx::row& r, int first, SeatCountView& view) {
  view.sequence = static_cast<uint64_t>(r[0].as<long long>());
  if (r[first].is_null()) return;  // no seat rows: zeros
  int64_t members = r[first + 1].as<int64_t>(), billable = r[first + 2].as<int64_t>();
  view.by_role[r[first].as<std::string>()] = members;
  view.total += members;
  view.billable += billable;
}

// The horizon column (the second) of a seat-ledger answer: nullopt when it answers for all time.
std::optional<long long> HorizonOf(const pqxx::result& rows) {
  if (rows.empty() || rows[0][1].is_null()) return std::nullopt;
  return rows[0][1].as<long long>();
}

// OUT_OF_RANGE, naming the oldest time kept, for an instant before the ledger's horizon.
absl::Status CheckHorizon(const char* what, TimePoint t, std::optional<long long> horizon_micros) {
  if (!horizon_micros || ToUnixMicros(t) >= *horizon_micros) return absl::OkStatus();
  return absl::OutOfRangeError(std::string(what) + " " + FormatRfc3339(t) +
                               " is before the oldest time the seat ledger keeps, " +
                               FormatRfc3339(FromUnixMicros(*horizon_micros)));
}

}  // namespace

PgReadStore::PgReadStore(std::string database_url)
    : conn_(std::make_unique<PgConnection>(std::move(database_url), Statements())) {}

PgReadStore::~PgReadStore() = default;

template <typename Fn>
absl::Status PgReadStore::Run(Fn&& fn) {
  return conn_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction txn(conn);
    fn(txn);
    txn.commit();
  });
}

absl::StatusOr<std::optional<UserView>> PgReadStore::GetUser(const std::string& user_id) {
  std::optional<UserView> out;
  absl::Status s = Run([&](pqxx::read_transaction& txn) {
    pqxx::result r = Exec(txn, kGetUser, user_id);
    if (r.empty()) return;
    auto record = domain::UserFromJson(r[0][0].c_str());
    if (!record.ok()) throw std::runtime_error(std::string(record.status().message()));
    out = UserView{std::move(*record), FromUnixMicros(r[0][1].as<long long>())};
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::optional<MembershipView>> PgReadStore::GetMembership(const std::string& account_id,
                                                                         const std::string& user_id) {
  std::optional<MembershipView> out;
  absl::Status s = Run([&](pqxx::read_transaction& txn) {
    pqxx::result r = Exec(txn, kGetMembership, account_id, user_id);
    if (!r.empty()) out = ToMembershipView(r[0]);
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Page<MembershipView>> PgReadStore::ListMembers(const std::string& account_id,
                                                              const std::string& role,
                                                              const std::string& after_user_id,
                                                              int limit) {
  Page<MembershipView> page;
  absl::Status s = Run([&](pqxx::read_transaction& txn) {
    page = ToPage(role.empty() ? Exec(txn, kListMembers, account_id, after_user_id, limit + 1)
                               : Exec(txn, kListMembersByRole, account_id, role,
                                                   after_user_id, limit + 1),
                  limit);
  });
  if (!s.ok()) return s;
  return page;
}

absl::StatusOr<Page<MembershipView>> PgReadStore::ListUserMemberships(const std::string& user_id,
                                                                      const std::string& after_account_id,
                                                                      int limit) {
  Page<MembershipView> page;
  absl::Status s = Run([&](pqxx::read_transaction& txn) {
    page = ToPage(Exec(txn, kListUserMemberships, user_id, after_account_id, limit + 1), limit);
  });
  if (!s.ok()) return s;
  return page;
}

absl::StatusOr<SeatCountView> PgReadStore::GetSeatCount(const std::string& account_id) {
  SeatCountView view;
  view.account_id = account_id;
  absl::Status s = Run([&](pqxx::read_transaction& txn) {
    for (const auto& r : Exec(txn, kGetSeatCount, account_id)) AddSeatRow(r, 1, view);
  });
  if (!s.ok()) return s;
  return view;
}

absl::StatusOr<Page<SeatCountView>> PgReadStore::ListSeatCounts(const std::string& after_account_id,
                                                                int limit) {
  Page<SeatCountView> page;
  absl::Status s = Run([&](pqxx::read_transaction& txn) {
    for (const auto& r : Exec(txn, kListSeatCounts, after_account_id, limit + 1)) {
      std::string account_id = r[1].as<std::string>();
      if (page.items.empty() || page.items.back().account_id != account_id) {
        if (static_cast<int>(page.items.size()) == limit) {
          page.more = true;
          break;
        }
        page.items.emplace_back();
        page.items.back().account_id = account_id;
      }
      AddSeatRow(r, 2, page.items.back());
    }
  });
  if (!s.ok()) return s;
  return page;
}

absl::StatusOr<SeatCountView> PgReadStore::GetSeatCountAt(const std::string& account_id, TimePoint as_of) {
  SeatCountView view;
  view.account_id = account_id;
  std::optional<long long> horizon;
  absl::Status s = Run([&](pqxx::read_transaction& txn) {
    const bool afternoon = as_of - domain::DayOf(as_of) >= std::chrono::hours(12);
    pqxx::result rows = Exec(txn, kGetSeatCountAt, account_id, FormatRfc3339(as_of), afternoon);
    horizon = HorizonOf(rows);
    for (const auto& r : rows) AddSeatRow(r, 2, view);
  });
  if (!s.ok()) return s;
  if (absl::Status range = CheckHorizon("as_of", as_of, horizon); !range.ok()) return range;
  return view;
}

absl::StatusOr<Page<SeatChangeView>> PgReadStore::ListSeatChanges(const std::string& account_id, TimePoint start,
                                                                  TimePoint end,
                                                                  const std::optional<SeatChangePosition>& after,
                                                                  int limit, bool include_non_billable,
                                                                  uint64_t& sequence) {
  Page<SeatChangeView> page;
  std::optional<long long> horizon;
  absl::Status s = Run([&](pqxx::read_transaction& txn) {
    pqxx::result rows = Exec(txn, 
        kListSeatChanges, account_id, FormatRfc3339(start), FormatRfc3339(end), include_non_billable,
        after ? FormatRfc3339(after->at) : std::string("-infinity"), after ? after->user_id : std::string(),
        after ? after->event_id : std::string(), after ? after->role : std::string(), limit + 1);
    horizon = HorizonOf(rows);
    sequence = static_cast<uint64_t>(rows[0][0].as<long long>());
    for (const auto& r : rows) {
      if (r[2].is_null()) break;  // no rows: the head alone
      if (static_cast<int>(page.items.size()) == limit) {
        page.more = true;
        break;
      }
      page.items.push_back({FromUnixMicros(r[2].as<long long>()), r[3].as<std::string>(), r[4].as<std::string>(),
                            r[5].as<std::string>(), r[6].as<int>(), r[7].as<int>()});
    }
  });
  if (!s.ok()) return s;
  if (absl::Status range = CheckHorizon("start", start, horizon); !range.ok()) return range;
  return page;
}

absl::StatusOr<SeatUsageView> PgReadStore::GetSeatUsage(const std::string& account_id, TimePoint start,
                                                        TimePoint end) {
  SeatUsageView usage;
  std::optional<long long> horizon;
  absl::Status s = Run([&](pqxx::read_transaction& txn) {
    pqxx::result rows = Exec(txn, kGetSeatUsage, account_id, FormatRfc3339(start), FormatRfc3339(end));
    horizon = HorizonOf(rows);
    const pqxx::row r = rows[0];
    usage.sequence = static_cast<uint64_t>(r[0].as<long long>());
    usage.start_billable = r[2].as<int64_t>();
    usage.billable_seat_seconds = std::stod(r[3].as<std::string>());
    usage.min_billable = r[4].as<int64_t>();
    usage.max_billable = r[5].as<int64_t>();
    usage.end_billable = r[6].as<int64_t>();
  });
  if (!s.ok()) return s;
  if (absl::Status range = CheckHorizon("start", start, horizon); !range.ok()) return range;
  return usage;
}

void PgReadStore::Reconnect() { conn_->Reset(); }

absl::StatusOr<uint64_t> PgReadStore::ChangeLogHead() {
  uint64_t head = 0;
  absl::Status s = Run([&](pqxx::read_transaction& txn) {
    head = static_cast<uint64_t>(Exec1(txn, kChangeLogHead)[0].as<long long>());
  });
  if (!s.ok()) return s;
  return head;
}

absl::StatusOr<std::vector<ChangeRow>> PgReadStore::ReadChanges(uint64_t after, int limit) {
  std::vector<ChangeRow> rows;
  absl::Status s = Run([&](pqxx::read_transaction& txn) { rows = ReadChangeRows(txn, after, limit); });
  if (!s.ok()) return s;
  return rows;
}

absl::StatusOr<std::vector<SourceStatus>> PgReadStore::ListSources() {
  std::vector<SourceStatus> out;
  absl::Status s = Run([&](pqxx::read_transaction& txn) {
    for (const auto& r : Exec(txn, kListSources)) out.push_back(SourceStatusFrom(r));
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Page<DeadLetterView>> PgReadStore::ListDeadLetters(const DeadLetterFilter& filter,
                                                                  const std::optional<EventPosition>& after,
                                                                  int limit, bool with_bodies) {
  Page<DeadLetterView> page;
  absl::Status s = Run([&](pqxx::read_transaction& txn) {
    page = ToPage(Exec(txn, kListDeadLetters, with_bodies, filter.provider, filter.reason, filter.pending_only,
                                    PositionTime(after), after ? after->provider : "", after ? after->event_id : "",
                                    limit + 1),
                  limit, ToDeadLetterView);
  });
  if (!s.ok()) return s;
  return page;
}

absl::StatusOr<std::vector<DeadLetterView>> PgReadStore::GetDeadLetters(const std::string& provider,
                                                                        const std::vector<std::string>& event_ids) {
  std::vector<DeadLetterView> out;
  absl::Status s = Run([&](pqxx::read_transaction& txn) {
    for (const auto& r : Exec(txn, kGetDeadLetters, true, provider, ToPgArray(event_ids))) {
      out.push_back(ToDeadLetterView(r));
    }
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Page<UserEventView>> PgReadStore::ListUserEvents(const std::string& user_id,
                                                                const std::optional<EventPosition>& after, int limit) {
  Page<UserEventView> page;
  absl::Status s = Run([&](pqxx::read_transaction& txn) {
    page = ToPage(Exec(txn, kListUserEvents, user_id, PositionTime(after), after ? after->provider : "",
                                    after ? after->event_id : "", limit + 1),
                  limit, ToUserEventView);
  });
  if (!s.ok()) return s;
  return page;
}

}  // namespace mm::store
