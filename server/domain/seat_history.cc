#include "domain/seat_history.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <tuple>
#include <utility>

#include "domain/seats.h"

namespace mm::domain {
namespace {

bool Concerns(const MembershipKey& pair, const SeatFact& f) {
  switch (f.kind) {
    case SeatFactKind::kMembership:
      return f.account_id == pair.first && f.user_id == pair.second;
    case SeatFactKind::kUserState:
      return f.user_id == pair.second;
    case SeatFactKind::kMemberList:
      return f.account_id == pair.first;
  }
  return false;
}

auto KeyOf(const SeatChange& c) { return std::tie(c.account_id, c.user_id, c.at, c.event_id, c.role); }

bool KeyLess(const SeatChange& a, const SeatChange& b) { return KeyOf(a) < KeyOf(b); }

// Adds `sign` times the seat of (present, role, active) to the row of `role` in `rows`.
void AddSeat(std::map<std::string, SeatChange>& rows, const SeatChange& proto, bool present, const std::string& role,
             bool active, int sign) {
  if (!present) return;
  auto [it, inserted] = rows.try_emplace(role, proto);
  if (inserted) it->second.role = role;
  it->second.members += sign;
  if (active) it->second.billable += sign;
}

}  // namespace

PairSeat PairSeatOf(const StateSet& state, const MembershipKey& pair) {
  PairSeat seat;
  if (auto m = state.memberships.find(pair); m != state.memberships.end()) {
    seat.present = m->second.present;
    if (seat.present) seat.role = m->second.role;
    seat.membership_version = m->second.version;
  } else if (auto a = state.accounts.find(pair.first); a != state.accounts.end()) {
    // No membership yet: the account's newest member list (if any) already left it absent.
    seat.membership_version = a->second.member_list_version;
  }
  if (auto u = state.users.find(pair.second); u != state.users.end()) {
    seat.active = IsBillable(u->second);
    seat.user_version = u->second.state_version;
  }
  return seat;
}

std::optional<Version> HeadOf(const PairSeat& seat) {
  if (!seat.membership_version) return seat.user_version;
  if (!seat.user_version) return seat.membership_version;
  return std::max(*seat.membership_version, *seat.user_version);
}

std::vector<SeatChange> SeatHistory(const MembershipKey& pair, PairSeat seat, std::vector<SeatFact> facts) {
  std::erase_if(facts, [&](const SeatFact& f) { return !Concerns(pair, f); });
  std::sort(facts.begin(), facts.end(), [](const SeatFact& a, const SeatFact& b) {
    return std::tie(a.version, a.ordinal) < std::tie(b.version, b.ordinal);
  });
  std::vector<SeatChange> out;
  for (const SeatFact& f : facts) {
    PairSeat next = seat;
    if (f.kind == SeatFactKind::kUserState) {
      if (!IsNewer(f.version, seat.user_version)) continue;
      next.active = f.on;
      next.user_version = f.version;
    } else {
      if (!IsNewer(f.version, seat.membership_version)) continue;
      next.present = f.kind == SeatFactKind::kMembership && f.on;
      next.role = next.present ? f.role : std::string();
      next.membership_version = f.version;
    }
    SeatChange proto{.account_id = pair.first,
                     .user_id = pair.second,
                     .role = {},
                     .at = f.version.fact_time,
                     .event_id = f.version.event_id};
    std::map<std::string, SeatChange> rows;
    AddSeat(rows, proto, seat.present, seat.role, seat.active, -1);
    AddSeat(rows, proto, next.present, next.role, next.active, +1);
    for (auto& [role, row] : rows) {
      if (row.members != 0 || row.billable != 0) out.push_back(std::move(row));
    }
    seat = std::move(next);
  }
  // Merge rows of one key (two facts of one event at one instant), drop those that cancel.
  std::stable_sort(out.begin(), out.end(), KeyLess);
  std::vector<SeatChange> merged;
  for (SeatChange& c : out) {
    if (!merged.empty() && SameKey(merged.back(), c)) {
      merged.back().members += c.members;
      merged.back().billable += c.billable;
    } else {
      merged.push_back(std::move(c));
    }
  }
  std::erase_if(merged, [](const SeatChange& c) { return c.members == 0 && c.billable == 0; });
  return merged;
}

bool AllNewer(const MembershipKey& pair, const PairSeat& start, const std::vector<SeatFact>& facts) {
  const std::optional<Version> head = HeadOf(start);
  return std::all_of(facts.begin(), facts.end(),
                     [&](const SeatFact& f) { return !Concerns(pair, f) || IsNewer(f.version, head); });
}

SeatLedgerDiff DiffSeatHistory(const std::vector<SeatChange>& before, const std::vector<SeatChange>& after) {
  SeatLedgerDiff diff;
  auto b = before.begin();
  auto a = after.begin();
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && KeyLess(*b, *a))) {
      diff.deletes.push_back(*b++);
    } else if (b == before.end() || KeyLess(*a, *b)) {
      diff.upserts.push_back(*a++);
    } else {
      if (*a != *b) diff.upserts.push_back(*a);
      ++a, ++b;
    }
  }
  return diff;
}

std::map<std::string, std::pair<int64_t, int64_t>> SumSeatChanges(const std::vector<SeatChange>& rows,
                                                                  const std::string& account, TimePoint t) {
  std::map<std::string, std::pair<int64_t, int64_t>> sums;
  for (const SeatChange& c : rows) {
    if (c.account_id != account || c.at > t) continue;
    auto& [members, billable] = sums[c.role];
    members += c.members;
    billable += c.billable;
  }
  std::erase_if(sums, [](const auto& s) { return s.second.first == 0 && s.second.second == 0; });
  return sums;
}

namespace {

// Every membership record in `after` that a fact concerns.
std::set<MembershipKey> PairsConcerned(const std::vector<SeatFact>& facts, const StateSet& after) {
  std::set<MembershipKey> pairs, out;
  std::set<std::string> users, accounts;
  for (const SeatFact& f : facts) {
    switch (f.kind) {
      case SeatFactKind::kMembership:
        pairs.emplace(f.account_id, f.user_id);
        break;
      case SeatFactKind::kUserState:
        users.insert(f.user_id);
        break;
      case SeatFactKind::kMemberList:
        accounts.insert(f.account_id);
        break;
    }
  }
  for (const auto& [key, m] : after.memberships) {
    if (pairs.contains(key) || users.contains(key.second) || accounts.contains(key.first)) out.insert(key);
  }
  return out;
}

bool BeforeHorizon(const SeatChange& c, const std::optional<TimePoint>& horizon) {
  return horizon && c.at < *horizon;
}

void AddTo(SeatTally& t, const SeatChange& c, int sign) {
  t.members += sign * c.members;
  t.billable += sign * c.billable;
}

void AddToBase(const SeatChange& c, int sign, SeatTable& base) { AddTo(base[{c.account_id, c.role}], c, sign); }

void AddToDays(const SeatChange& c, int sign, SeatDayTable& days) {
  AddTo(days[{c.account_id, DayOf(c.at), c.role}], c, sign);
}

}  // namespace

SeatLedgerPlan::SeatLedgerPlan(const StateSet& before, const StateSet& after, std::vector<SeatFact> facts,
                               std::optional<TimePoint> horizon)
    : facts_(std::move(facts)), horizon_(horizon) {
  for (const MembershipKey& pair : PairsConcerned(facts_, after)) {
    const PairSeat start = PairSeatOf(before, pair);
    if (!AllNewer(pair, start, facts_)) {
      recompute_.insert(pair);
      continue;
    }
    for (SeatChange& c : SeatHistory(pair, start, facts_)) appended_.push_back(std::move(c));
  }
}

std::set<std::string> SeatLedgerPlan::RecomputeUsers() const {
  std::set<std::string> out;
  for (const auto& pair : recompute_) out.insert(pair.second);
  return out;
}

std::set<std::string> SeatLedgerPlan::RecomputeAccounts() const {
  std::set<std::string> out;
  for (const auto& pair : recompute_) out.insert(pair.first);
  return out;
}

bool SeatLedgerPlan::Needs(const SeatFact& f) const {
  return std::any_of(recompute_.begin(), recompute_.end(), [&](const MembershipKey& pair) { return Concerns(pair, f); });
}

TimePoint DayOf(TimePoint t) { return std::chrono::floor<std::chrono::days>(t); }

SeatLedgerWrites SeatLedgerPlan::Finish(const std::vector<SeatFact>& stored) const {
  SeatLedgerWrites w;
  for (const SeatChange& c : appended_) {
    if (BeforeHorizon(c, horizon_)) {
      AddToBase(c, +1, w.base);
    } else {
      AddToDays(c, +1, w.days);
      w.upserts.push_back(c);
    }
  }
  if (!recompute_.empty()) {
    std::vector<SeatFact> with_new = stored;
    with_new.insert(with_new.end(), facts_.begin(), facts_.end());
    for (const MembershipKey& pair : recompute_) {
      // Rows before the horizon are not kept: their change goes to the base; the change of
      // the rows kept goes to their days.
      auto split = [&](std::vector<SeatChange> rows, int sign) {
        std::erase_if(rows, [&](const SeatChange& c) {
          if (!BeforeHorizon(c, horizon_)) {
            AddToDays(c, sign, w.days);
            return false;
          }
          AddToBase(c, sign, w.base);
          return true;
        });
        return rows;
      };
      SeatLedgerDiff diff =
          DiffSeatHistory(split(SeatHistory(pair, {}, stored), -1), split(SeatHistory(pair, {}, with_new), +1));
      for (SeatChange& c : diff.upserts) w.upserts.push_back(std::move(c));
      for (SeatChange& c : diff.deletes) w.deletes.push_back(std::move(c));
    }
  }
  DropZeroRows(w.base);
  std::erase_if(w.days, [](const auto& entry) { return entry.second == SeatTally{}; });
  return w;
}

}  // namespace mm::domain
