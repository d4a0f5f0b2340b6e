#pragma once
// Random provider histories for the order-independence property tests (convergence_test,
// seat_history_test): few users, accounts and fact times, so that facts collide, tie and
// supersede each other; every kind of event, member lists included; no operator actions
// (their outcome depends on what came first, by design).

#include <initializer_list>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "event_builders.h"

namespace mm::testutil {

class HistoryGenerator {
 public:
  explicit HistoryGenerator(uint32_t seed) : rng_(seed) {}

  std::vector<ProviderEvent> History(int n) {
    std::vector<ProviderEvent> events;
    for (int i = 0; i < n; ++i) {
      if (Chance(8)) {
        events.push_back(MemberList(EventId(i)));
        continue;
      }
      ProviderEvent pe = testutil::Wrap(EventId(i), Normalized());
      // Not the operator: its actions take effect over what they replace, by design (see
      // OperatorActionTest), so their outcome depends on what came first.
      pe.provider = Pick({Provider::kHuudis, Provider::kFusionAuth, Provider::kMonoCloud});
      // Now and then one delivery carries two facts (each with its own fact time).
      if (Chance(10)) pe.events.push_back(Normalized());
      events.push_back(std::move(pe));
    }
    return events;
  }

  std::mt19937& rng() { return rng_; }

 private:
  template <typename T>
  T Pick(std::initializer_list<T> values) {
    std::uniform_int_distribution<size_t> d(0, values.size() - 1);
    return *(values.begin() + d(rng_));
  }
  bool Chance(int percent) { return std::uniform_int_distribution<int>(0, 99)(rng_) < percent; }
  std::optional<std::string> Maybe(std::initializer_list<const char*> values) {
    if (!Chance(60)) return std::nullopt;
    return std::string(Pick(values));
  }
  std::string EventId(int i) {
    // Random prefix: the byte order of ids must not follow arrival or fact time.
    return std::to_string(std::uniform_int_distribution<int>(0, 99)(rng_)) + "-" +
           std::to_string(i);
  }

  NormalizedEvent Normalized() {
    using K = EventKind;
    K kind =
        Pick({K::kUserCreated, K::kUserUpdated, K::kUserDisabled, K::kUserEnabled, K::kUserDeleted,
              K::kAccountCreated, K::kMemberAdded, K::kMemberRoleChanged, K::kMemberRemoved});
    NormalizedEvent e;
    e.kind = kind;
    e.fact_time = At(std::uniform_int_distribution<int>(0, 5)(rng_));
    const std::string user = Pick({"u0", "u1", "u2", "u3", "u4"});
    const std::string account = Pick({"a0", "a1", "a2"});
    const bool member_kind =
        kind == K::kMemberAdded || kind == K::kMemberRoleChanged || kind == K::kMemberRemoved;
    if (kind != K::kAccountCreated) e.user_id = user;
    if (kind == K::kAccountCreated || member_kind) e.account_id = account;
    // The fields each kind carries (DESIGN §2's table), each present or not.
    switch (kind) {
      case K::kUserCreated:
      case K::kUserUpdated:
        e.email = Maybe({"x@example.com", "y@example.com", "z@example.com"});
        e.name = Maybe({"X", "Y", "Z"});
        break;
      case K::kUserDisabled:
        e.email = Maybe({"x@example.com", "y@example.com"});
        e.reason = Maybe({"fraud", "left", "chargeback"});
        e.actor = Maybe({"admin-1", "admin-2"});
        break;
      case K::kUserEnabled:
        e.email = Maybe({"x@example.com", "y@example.com"});
        e.actor = Maybe({"admin-1", "admin-2"});
        break;
      case K::kUserDeleted:
        break;
      case K::kAccountCreated:
        e.account_name = Maybe({"Acme", "Globex", "Initech"});
        break;
      case K::kMemberAdded:
        e.role = Maybe({"member", "admin", "owner"});
        e.account_name = Maybe({"Acme", "Globex"});
        e.email = Maybe({"x@example.com", "z@example.com"});
        e.name = Maybe({"X", "Z"});
        e.added_via = Maybe({"invite", "sso", "scim"});
        e.actor = Maybe({"u0", "u1"});
        break;
      case K::kMemberRoleChanged:
        e.role = Pick({"member", "admin", "owner"});
        break;
      case K::kMemberRemoved:
        e.actor = Maybe({"u0", "u1"});
        break;
      case K::kMembersReplaced:
        break;
    }
    return e;
  }

  // A whole member list as the FusionAuth adapter makes one (group.member.update): adds of the
  // listed users, then the list, all at one fact time.
  ProviderEvent MemberList(std::string id) {
    const TimePoint t = At(std::uniform_int_distribution<int>(0, 5)(rng_));
    const std::string account = Pick({"a0", "a1", "a2"});
    ProviderEvent pe;
    pe.provider = Provider::kFusionAuth;
    pe.event_id = std::move(id);
    pe.event_type = Pick({"group.member.update", "group.member.update.complete"});
    pe.fact_time = pe.received_at = t;
    for (const char* user : {"u0", "u1", "u2", "u3", "u4"}) {
      if (!Chance(40)) continue;
      NormalizedEvent add = testutil::MemberFact(EventKind::kMemberAdded, account, user, t);
      add.role = "member";
      add.account_name = Maybe({"Acme", "Globex"});
      pe.events.push_back(std::move(add));
    }
    NormalizedEvent list = testutil::MemberFact(EventKind::kMembersReplaced, account, "", t);
    list.account_name = Maybe({"Acme", "Globex"});
    pe.events.push_back(std::move(list));
    return pe;
  }

  std::mt19937 rng_;
};

}  // namespace mm::testutil
