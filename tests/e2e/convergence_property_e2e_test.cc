// Convergence property, end to end: a random history of thousands of signed webhooks — Huudis
// and FusionAuth mixed, over the same users: disables and enables from both, Huudis workspace
// members, FusionAuth registrations and whole group member lists — delivered shuffled and
// duplicated by several concurrent senders to the real service, must end in exactly the state
// that applying the history in order gives (users, accounts, memberships with tombstones, seat
// counts, and IsUserActive answers).

#include <algorithm>
#include <atomic>
#include <iostream>
#include <random>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "adapters/fusionauth_adapter.h"
#include "adapters/huudis_adapter.h"
#include "domain/convergence.h"
#include "domain/records_json.h"
#include "domain/seats.h"
#include "e2e_helpers.h"
#include "jwt/jws.h"
#include "service_process.h"
#include "test_database.h"

namespace mm::testing {
namespace {

namespace v1 = membership::v1;
using nlohmann::json;

constexpr char kFusionAuthSecret[] = "fusionauth-property-hmac-secret";

struct History {
  std::vector<std::string> bodies;
  std::vector<bool> fusionauth;  // per body: a FusionAuth delivery, else Huudis
};

// One FusionAuth event about `user` at `at`: a deactivate or reactivate, a registration created,
// updated or deleted, a group member added or removed, or a group's whole member list.
json FusionAuthEvent(std::mt19937& rng, const std::string& id, const std::string& user, int users, TimePoint at) {
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  const int64_t ms = ToUnixMicros(at) / 1000;
  json e{{"id", id}, {"createInstant", ms}, {"tenantId", "29b8006d-fbbc-45b7-86e8-90d91b0e7131"}};
  const std::string app = "app_p" + std::to_string(pick(3));
  const json group{{"id", "grp_p" + std::to_string(pick(4))}, {"name", "Group " + id}};
  auto roles = [&] {
    json r = json::array();
    for (const char* role : {"viewer", "admin", "member"}) {
      if (pick(2) == 0) r.push_back(role);
    }
    return r;
  };
  switch (pick(7)) {
    case 0:
      e["type"] = "user.deactivate";
      e["user"] = {{"id", user}, {"active", false}, {"email", user + "@fa.example.net"}};
      break;
    case 1:
      e["type"] = "user.reactivate";
      e["user"] = {{"id", user}, {"active", true}, {"email", user + "@fa.example.net"}};
      break;
    case 2:
      e["type"] = pick(2) == 0 ? "user.registration.create" : "user.registration.update";
      e["applicationId"] = app;
      e["registration"] = {{"applicationId", app}, {"roles", roles()}};
      e["user"] = {{"id", user}, {"active", true}};
      break;
    case 3:
      e["type"] = "user.registration.delete";
      e["applicationId"] = app;
      e["registration"] = {{"applicationId", app}, {"roles", roles()}};
      e["user"] = {{"id", user}, {"active", true}};
      break;
    case 4:
      e["type"] = pick(2) == 0 ? "group.member.add" : "group.member.remove";
      e["group"] = group;
      e["members"] = json::array({{{"userId", user}}});
      break;
    default: {
      e["type"] = pick(2) == 0 ? "group.member.update" : "group.member.update.complete";
      e["group"] = group;
      e["members"] = json::array();
      for (int n = pick(4); n > 0; --n) e["members"].push_back({{"userId", "usr_p" + std::to_string(pick(users))}});
      break;
    }
  }
  return {{"event", e}};
}

// Fact times come from a small set of minutes so that ties (broken by event id) are common.
std::string FactTime(std::mt19937& rng) {
  int minute = std::uniform_int_distribution<int>(0, 599)(rng);
  char buf[40];
  std::snprintf(buf, sizeof buf, "2026-03-%02dT%02d:%02d:00.000Z", 1 + minute / 600, (minute / 60) % 24,
                minute % 60);
  return buf;
}

History MakeHistory(uint32_t seed, int events, int users, int accounts) {
  std::mt19937 rng(seed);
  const char* roles[] = {"owner", "admin", "member", "viewer"};
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  History h;
  for (int i = 0; i < events; ++i) {
    std::string user = "usr_p" + std::to_string(pick(users));
    std::string account = "acc_p" + std::to_string(pick(accounts));
    std::string at = FactTime(rng);
    if (pick(3) == 0) {  // a third from FusionAuth
      h.bodies.push_back(
          FusionAuthEvent(rng, "fa_p" + std::to_string(seed) + "_" + std::to_string(i), user, users, *ParseRfc3339(at))
              .dump());
      h.fusionauth.push_back(true);
      continue;
    }
    h.fusionauth.push_back(false);
    json e{{"id", "evt_p" + std::to_string(seed) + "_" + std::to_string(i)}, {"createdAt", at}};
    switch (pick(7)) {
      case 0:
        e["type"] = "huudis.user.created.v1";
        e["data"] = {{"id", user}, {"email", user + "@example.net"}, {"name", "Name " + std::to_string(i)},
                     {"createdAt", at}};
        break;
      case 1:
        e["type"] = "huudis.user.disabled.v1";
        e["data"] = {{"id", user}, {"disabledAt", at}, {"disabledBy", "usr_ops"},
                     {"reason", "reason_" + std::to_string(pick(3))}};
        break;
      case 2:
        e["type"] = "huudis.user.enabled.v1";
        e["data"] = {{"id", user}, {"enabledAt", at}, {"enabledBy", "usr_ops"}};
        break;
      case 3:
        e["type"] = "huudis.account.created.v1";
        e["data"] = {{"id", account}, {"name", "Workspace " + std::to_string(i)}, {"createdAt", at}};
        break;
      case 4:
        e["type"] = "huudis.account.member_added.v1";
        e["data"] = {{"accountId", account}, {"accountName", "WS " + std::to_string(i)}, {"userId", user},
                     {"userEmail", user + "+" + std::to_string(i) + "@example.net"}, {"role", roles[pick(4)]},
                     {"joinedAt", at}, {"addedVia", "direct_add"}, {"addedByUserId", "usr_owner"}};
        break;
      case 5:
        e["type"] = "huudis.account.member_role_changed.v1";
        e["data"] = {{"accountId", account}, {"userId", user}, {"previousRole", "member"},
                     {"role", roles[pick(4)]}, {"changedAt", at}, {"changedByUserId", "usr_owner"}};
        break;
      default:
        e["type"] = "huudis.account.member_removed.v1";
        e["data"] = {{"accountId", account}, {"userId", user}, {"role", roles[pick(4)]},
                     {"removedAt", at}, {"removedByUserId", "usr_owner"}};
        break;
    }
    h.bodies.push_back(e.dump());
  }
  return h;
}

// Reads the whole mirror back from PostgreSQL through the one record serializer.
domain::StateSet LoadState(const TestDatabase& db) {
  domain::StateSet state;
  for (const auto& row : db.Query("SELECT record::text FROM users")) {
    auto u = domain::UserFromJson(row[0].c_str());
    EXPECT_TRUE(u.ok());
    state.users[u->user_id] = *u;
  }
  for (const auto& row : db.Query("SELECT record::text FROM accounts")) {
    auto a = domain::AccountFromJson(row[0].c_str());
    EXPECT_TRUE(a.ok());
    state.accounts[a->account_id] = *a;
  }
  for (const auto& row : db.Query("SELECT record::text FROM memberships")) {
    auto m = domain::MembershipFromJson(row[0].c_str());
    EXPECT_TRUE(m.ok());
    state.memberships[{m->account_id, m->user_id}] = *m;
  }
  return state;
}

template <typename Map>
void ExpectSameMap(const Map& actual, const Map& expected, const char* what) {
  EXPECT_EQ(actual.size(), expected.size()) << what;
  int reported = 0;
  for (const auto& [key, value] : expected) {
    auto it = actual.find(key);
    if (it == actual.end() || !(it->second == value)) {
      if (++reported <= 5) {
        ADD_FAILURE() << what << " differs for a key; expected "
                      << domain::ToJson(value) << "\n got "
                      << (it == actual.end() ? std::string("(missing)") : domain::ToJson(it->second));
      }
    }
  }
}

TEST(ConvergencePropertyE2ETest, ShuffledDuplicatedConcurrentDeliveryConvergesToInOrderState) {
  constexpr int kEvents = 4000, kUsers = 300, kAccounts = 40, kSenders = 8;
  constexpr double kDuplicateShare = 0.3;
  const uint32_t seed = 20261122;
  History history = MakeHistory(seed, kEvents, kUsers, kAccounts);

  // Reference: the same bytes through the same adapters, applied in fact-time order.
  adapters::HuudisAdapter huudis({.secrets = {kSecret}});
  jwt::KeySet fusionauth_keys;
  ASSERT_TRUE(fusionauth_keys.AddHmacSecretEntry(kFusionAuthSecret).ok());
  adapters::FusionAuthAdapter fusionauth({.keys = fusionauth_keys});
  const absl::StatusOr<jwt::SigningKey> fusionauth_key =
      jwt::SigningKey::Hmac(jwt::Algorithm::kHS256, "property-kid", kFusionAuthSecret);
  ASSERT_TRUE(fusionauth_key.ok());
  // The signature header of each body, as its provider sends it.
  std::vector<std::pair<std::string, std::string>> signatures;
  std::vector<domain::ProviderEvent> decoded;
  int member_lists = 0;
  for (size_t i = 0; i < history.bodies.size(); ++i) {
    const std::string& body = history.bodies[i];
    int64_t t = NowSeconds();
    if (history.fusionauth[i]) {
      absl::StatusOr<std::string> token =
          adapters::MakeFusionAuthSignatureHeader(*fusionauth_key, body);
      ASSERT_TRUE(token.ok());
      signatures.emplace_back(adapters::FusionAuthAdapter::kSignatureHeader, *token);
    } else {
      signatures.emplace_back("Huudis-Signature", adapters::MakeHuudisSignatureHeader(kSecret, t, body));
    }
    const adapters::WebhookAdapter& adapter = history.fusionauth[i] ? static_cast<const adapters::WebhookAdapter&>(fusionauth) : huudis;
    auto event = adapter.Decode(
        [&](std::string_view name) -> std::optional<std::string_view> {
          if (name == signatures.back().first) return signatures.back().second;
          return std::nullopt;
        },
        body, FromUnixSeconds(t));
    ASSERT_TRUE(event.ok()) << event.status();
    ASSERT_FALSE(event->dead_letter_reason.has_value()) << *event->dead_letter_reason;
    ASSERT_FALSE(event->ignored);
    ASSERT_FALSE(event->events.empty());
    member_lists += event->events.back().kind == domain::EventKind::kMembersReplaced;
    decoded.push_back(std::move(*event));
  }
  ASSERT_GT(member_lists, 50) << "the history must exercise whole member lists";
  std::vector<const domain::ProviderEvent*> in_order;
  for (const auto& e : decoded) in_order.push_back(&e);
  std::sort(in_order.begin(), in_order.end(), [](const auto* a, const auto* b) {
    return std::tie(a->events[0].fact_time, a->event_id) < std::tie(b->events[0].fact_time, b->event_id);
  });
  domain::StateSet expected;
  domain::TouchedKeys ignored;
  for (const auto* e : in_order) domain::ApplyProviderEvent(*e, expected, ignored);

  // Delivery: every event once, 30% a second time, all shuffled, spread over 8 senders.
  std::mt19937 rng(seed + 1);
  std::vector<size_t> deliveries;
  for (size_t i = 0; i < history.bodies.size(); ++i) {
    deliveries.push_back(i);
    if (std::bernoulli_distribution(kDuplicateShare)(rng)) deliveries.push_back(i);
  }
  std::shuffle(deliveries.begin(), deliveries.end(), rng);

  auto db = TestDatabase::Create("property");
  std::string dir = TempDir();
  auto service = ServiceProcess::Start(
      {.binary = MM_SERVER_BINARY,
       .env = {{"MM_DATABASE_URL", db->url()}, {"MM_HUUDIS_SECRETS", kSecret},
               {"MM_FUSIONAUTH_HMAC_SECRETS", kFusionAuthSecret}, {"MM_CALLERS_FILE", WriteCallersFile(dir)}}});

  std::atomic<size_t> next{0};
  std::atomic<uint64_t> max_sequence{0};
  std::atomic<int> non_duplicates{0}, failures{0};
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&] {
      for (size_t k; (k = next.fetch_add(1)) < deliveries.size();) {
        const size_t i = deliveries[k];
        // Huudis signatures are re-made at send time (their timestamp must be fresh).
        auto reply = history.fusionauth[i]
                         ? client::HttpRequest("POST", service->http_url() + "/webhooks/fusionauth",
                                               {{"Content-Type", "application/json"}, signatures[i]}, history.bodies[i])
                         : PostSigned(service->http_url(), history.bodies[i]);
        if (!reply.ok() || reply->status != 200) {
          if (failures.fetch_add(1) < 5) {
            ADD_FAILURE() << (reply.ok() ? reply->body : std::string(reply.status().message()));
          }
          continue;
        }
        json answer = json::parse(reply->body);
        if (answer["status"] != "duplicate") non_duplicates.fetch_add(1);
        uint64_t seq = answer["sequence"];
        uint64_t seen = max_sequence.load();
        while (seq > seen && !max_sequence.compare_exchange_weak(seen, seq)) {
        }
      }
    });
  }
  for (auto& t : senders) t.join();
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
  const double rate = static_cast<double>(deliveries.size()) / elapsed.count();
  std::cout << "[ figures  ] " << deliveries.size() << " deliveries (" << kEvents << " events) by "
            << kSenders << " senders in " << elapsed.count() << " s: " << static_cast<int>(rate)
            << " webhooks/s acknowledged after commit\n";
  RecordProperty("webhooks_per_second", static_cast<int>(rate));

  ASSERT_EQ(failures.load(), 0) << "service log:\n" << service->Log().substr(0, 20000);
  EXPECT_EQ(non_duplicates.load(), kEvents) << "exactly one non-duplicate answer per event";

  for (const auto& row : db->Query("SELECT event_id, reason FROM dead_letters LIMIT 5")) {
    ADD_FAILURE() << "dead letter " << row[0].c_str() << ": " << row[1].c_str();
  }
  domain::StateSet actual = LoadState(*db);
  ExpectSameMap(actual.users, expected.users, "user");
  ExpectSameMap(actual.accounts, expected.accounts, "account");
  ExpectSameMap(actual.memberships, expected.memberships, "membership");

  domain::SeatTable seats;
  for (const auto& row : db->Query("SELECT account_id, role, members, billable FROM seat_counts")) {
    seats[{row[0].as<std::string>(), row[1].as<std::string>()}] = {row[2].as<int64_t>(), row[3].as<int64_t>()};
  }
  EXPECT_TRUE(seats == domain::CountSeats(expected)) << "maintained seat counts equal a recount";

  // Every replica answer agrees, at least as fresh as the last acknowledged write.
  UserClient users(service->grpc_target(), kCheckerToken);
  v1::BatchIsUserActiveRequest batch;
  batch.set_min_sequence(max_sequence.load());
  for (int u = 0; u < kUsers; ++u) batch.add_user_ids("usr_p" + std::to_string(u));
  v1::BatchIsUserActiveResponse answers;
  ASSERT_TRUE(users.BatchIsUserActive(batch, &answers).ok());
  ASSERT_EQ(answers.results_size(), kUsers);
  for (const auto& r : answers.results()) {
    auto it = expected.users.find(r.user_id());
    if (it == expected.users.end()) {
      EXPECT_EQ(r.state(), v1::USER_STATE_UNKNOWN) << r.user_id();
      continue;
    }
    bool disabled = it->second.state == domain::UserState::kDisabled;
    EXPECT_EQ(r.state(), disabled ? v1::USER_STATE_DISABLED : v1::USER_STATE_ACTIVE) << r.user_id();
    EXPECT_EQ(r.active(), !disabled) << r.user_id();
    EXPECT_EQ(r.disabled_reason(), it->second.disabled_reason.value_or("")) << r.user_id();
  }
}

}  // namespace
}  // namespace mm::testing
