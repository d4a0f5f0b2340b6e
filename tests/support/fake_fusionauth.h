#pragma once
// A fake FusionAuth Users API: read one user and search users, with the User object of the
// fixtures (tests/fixtures/fusionauth.user.*.json, `event.user`) and FusionAuth's error bodies
// (tests/fixtures/fusionauth.api-error.504-webhook-transaction.json). Common behaviour (faults,
// request log, thread-safety): fake_providers.h. base_url() is the FusionAuth root.
//   GET  /api/user/{id}
//        {"user": {...}}, or 404 with an empty body (also for a user of another tenant than the
//        one the request is scoped to).
//   POST /api/user/search
//        body {"search": {"queryString": "*", "numberOfResults": N (default 25), "startRow": S
//        (default 0), "sortFields": [{"name": "insertInstant"|"lastUpdateInstant"|"email"|"id",
//        "order": "asc"|"desc"}], "nextResults": "..."}} → {"total": T, "users": [...],
//        "nextResults": "..."}. Only queryString "*" (every user of the tenant) is supported;
//        another one, or neither queryString nor nextResults, is 400 fieldErrors. The order is
//        the sortFields, then id ascending (default: insertInstant ascending, then id).
//        `nextResults` is present while more users remain after the page. Both ways of paging
//        work: startRow (offset: computed on the state at each request, so a change between two
//        pages can shift users across them) and nextResults (a token naming the last user's sort
//        values: users present throughout the walk appear exactly once). When nextResults is
//        sent, the query and sort come from the token; numberOfResults may still be given.
// Auth: `Authorization: <API key>` (the raw key, no scheme), else 401 with an empty body.
// Tenants: with one tenant, X-FusionAuth-TenantId is optional (and must name it when sent); with
// several, every request must name one of them: an unknown or missing one is 400
// {"generalErrors": [{"code": "[TenantIdRequired]", "message": ...}]}. Other errors (faults) are
// {"generalErrors": [{"code", "message"}]}; 401 is always empty, as FusionAuth answers it; 504 is
// the fixture's [WebhookTransactionException].
//
// Admin endpoints (Options::admin_endpoints; no auth; JSON body; 200 {"user": ...}, 400 for a bad
// body, 404 for an unknown user):
//   POST /_fake/fusionauth/deactivate  {"user"}   active = false, lastUpdateInstant = now
//   POST /_fake/fusionauth/reactivate  {"user"}   active = true, lastUpdateInstant = now

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_providers.h"

namespace mm::testing {

struct FusionAuthUser {
  std::string id{};         // UUID; empty: a random one (UpsertUser returns it)
  std::string tenant_id{};  // empty: the fake's default tenant (Options::tenant_id)
  std::string email{};
  std::string username{};   // empty: left out
  std::string full_name{};  // firstName / lastName are its first word and the rest
  bool active = true;
  bool verified = true;
  int64_t insert_instant = 0;       // epoch ms; 0: last_update_instant
  int64_t last_update_instant = 0;  // epoch ms; 0: insert_instant
  nlohmann::json registrations = nlohmann::json::array();  // as in the fixtures' event.user
  nlohmann::json memberships = nlohmann::json::array();
};

// The User object as the Users API writes it.
nlohmann::json FusionAuthUserJson(const FusionAuthUser& user);

class FakeFusionAuth final : public FakeProvider {
 public:
  struct Options {
    std::string api_key = "fa_test_api_key";
    std::string tenant_id = "29b8006d-fbbc-45b7-86e8-90d91b0e7131";  // the fixtures' tenant
    bool admin_endpoints = false;
    const Clock* clock = nullptr;  // "now" of the admin endpoints and of UpsertUser defaults
  };

  // Listens at once, with the one tenant Options::tenant_id. Throws std::runtime_error if it
  // cannot.
  explicit FakeFusionAuth(Options options);
  FakeFusionAuth() : FakeFusionAuth(Options{}) {}
  ~FakeFusionAuth() override;

  void AddTenant(const std::string& tenant_id);  // idempotent
  // Keyed by id; returns it. Throws std::invalid_argument for a tenant the fake does not have.
  // Both instants 0: now.
  std::string UpsertUser(FusionAuthUser user);
  bool SetActive(const std::string& id, bool active, int64_t last_update_instant);  // false: unknown
  bool DeleteUser(const std::string& id);  // a hard delete: the user is gone
  std::optional<FusionAuthUser> User(const std::string& id) const;

 private:
  struct State;

  FakeResponse Serve(const FakeRequest& request) override;
  FakeResponse Error(int status, std::string_view message, const FakeRequest& request) override;
  FakeResponse Admin(const FakeRequest& request) override;
  FakeResponse Search(const FakeRequest& request, const std::string& tenant_id);

  const std::string default_tenant_;
  std::unique_ptr<State> state_;
};

}  // namespace mm::testing
