#pragma once
// A fake MonoCloud management API (users and group members) in the shapes of
// tests/fixtures/monocloud.user.json and monocloud.problem.*.json. Common behaviour (faults,
// request log, thread-safety): fake_providers.h. base_url() is the tenant root; paths are:
//   GET /api/users?page=&size=&sort=&filter=
//       a JSON array of UserSummary objects (the User minus public_data/private_data, plus
//       connections: []). `page` is 1-based (default 1), `size` defaults to 10 and is taken as 100
//       above that; anything but a positive decimal number is 400. `sort` is last_updated:-1,
//       last_updated:1, creation_time:1 or creation_time:-1 (default creation_time:1; ties by
//       user_id ascending; any other value is 400). `filter` is empty, `disabled:true` or
//       `disabled:false` (the fake's subset of MonoCloud's Lucene-style filters; anything else is
//       400). Paging metadata is the response header X-Pagination, JSON {"page_size",
//       "current_page", "total_count", "has_previous", "has_next"}; a page past the end is [].
//   GET /api/users/{user_id}
//       the User, or 404.
//   GET /api/users/groups/{group_id}/assigned?page=&size=
//       the group's users (UserSummary array) in the order they were assigned, paged the same way;
//       an unknown group is 404.
// Offset paging is honest: every page is computed from the state at the time of its request, so
// a user added, removed or re-sorted (last_updated changed) between two pages shifts the others —
// one may be skipped or seen twice, as with the real API. Tests of a walk under change must
// expect that.
// Requests need the header X-API-KEY (any case) equal to the key, else 401. Errors are
// application/problem+json {type: "https://httpstatuses.io/<status>", title, status, detail,
// instance: the request path}; an unknown path is 404, another method 405.
//
// Admin endpoints (Options::admin_endpoints; no auth; JSON body; 200 with the user, 400 for a bad
// body, 404 for an unknown user or group):
//   POST /_fake/monocloud/disable   {"user"}            disabled = true, last_updated = now
//   POST /_fake/monocloud/enable    {"user"}            disabled = false, last_updated = now
//   POST /_fake/monocloud/assign    {"group", "user"}
//   POST /_fake/monocloud/unassign  {"group", "user"}

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_providers.h"

namespace mm::testing {

struct MonoCloudUser {
  std::string user_id{};  // empty: a random UUID (UpsertUser returns it)
  std::string email{};    // the primary emails[] entry
  std::string name{};     // claims.name (given_name / family_name: its first word and the rest)
  bool disabled = false;
  int64_t creation_time = 0;  // epoch seconds
  int64_t last_updated = 0;   // epoch seconds; 0: creation_time
};

// The User as GET /api/users/{id} answers it, and the UserSummary of the lists.
nlohmann::json MonoCloudUserJson(const MonoCloudUser& user);
nlohmann::json MonoCloudUserSummaryJson(const MonoCloudUser& user);

class FakeMonoCloud final : public FakeProvider {
 public:
  struct Options {
    std::string api_key = "mc_test_api_key";
    bool admin_endpoints = false;
    const Clock* clock = nullptr;  // "now" of the admin endpoints; nullptr: the system clock
  };

  // Listens at once. Throws std::runtime_error if it cannot.
  explicit FakeMonoCloud(Options options);
  FakeMonoCloud() : FakeMonoCloud(Options{}) {}
  ~FakeMonoCloud() override;

  // The scripting API. Unknown users and groups are not an error: the calls return false.
  std::string UpsertUser(MonoCloudUser user);  // keyed by user_id; returns it
  bool DeleteUser(const std::string& user_id);  // also leaves every group
  bool SetDisabled(const std::string& user_id, bool disabled, int64_t last_updated);
  void AddGroup(const std::string& group_id, const std::string& name);  // idempotent (renames)
  bool AssignToGroup(const std::string& group_id, const std::string& user_id);    // false: unknown or already in it
  bool RemoveFromGroup(const std::string& group_id, const std::string& user_id);  // false: not in it
  std::optional<MonoCloudUser> User(const std::string& user_id) const;

 private:
  struct State;

  FakeResponse Serve(const FakeRequest& request) override;
  FakeResponse Error(int status, std::string_view message, const FakeRequest& request) override;
  FakeResponse Admin(const FakeRequest& request) override;

  std::unique_ptr<State> state_;
};

}  // namespace mm::testing
