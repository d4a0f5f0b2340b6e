#pragma once
// A fake Huudis admin API: the audit log, workspace members and end users of each workspace, in
// the documented shapes (tests/fixtures/huudis.audit-log.page.json, huudis.iam-users.page.json,
// huudis.end-users.page.json, huudis.api-error.json). Common behaviour (faults, request log,
// thread-safety): fake_providers.h.
//
// Served under a path prefix ("/api" by default: base_url() is "http://127.0.0.1:<port>/api" and
// the documented paths "/v1/..." are appended to it):
//   GET <prefix>/v1/account/audit?since=&until=&limit=&cursor=&event=&outcome=
//       the workspace's audit entries, newest first (createdAt descending, ties by id
//       descending); `since` is inclusive and `until` exclusive (RFC 3339), `event` matches
//       eventType exactly, `outcome` is success|failure|denied.
//   GET <prefix>/v1/iam/users?limit=&cursor=
//       members, oldest joined first (joinedAt ascending, ties by id ascending).
//   GET <prefix>/v1/ops/end-users?limit=&cursor=&search=
//       end users, firstSignInAt descending (ties by id descending); `search` is a
//       case-insensitive substring of email or name.
// Requests need `Authorization: Bearer <token>` (else 401 UNAUTHORIZED) and
// `X-Huudis-Workspace-Id: acc_...` naming a workspace the fake has (else 403 FORBIDDEN). Errors
// are the Forjio envelope {"data": null, "error": {code, message}, "meta": {requestId,
// timestamp}} with INVALID_REQUEST 400, UNAUTHORIZED 401, FORBIDDEN 403, NOT_FOUND 404 (unknown
// path or method), CONFLICT 409, RATE_LIMITED 429 and INTERNAL for 5xx.
//
// Paging: `limit` defaults to 25, a larger value than 100 is taken as 100, and anything but a
// positive decimal number is 400. `cursor` is opaque; it names the sort key and id of the last
// item returned (and the page index, for FailPage), never an offset, so a walk stays valid while
// items are added or removed: items present throughout the walk appear exactly once; one added
// behind the cursor is missed by this walk (the next one sees it). A cursor that does not decode,
// or comes from another listing, is 400. Pages come in one of two shapes (set_page_shape):
//   kEnvelope (documented): {"data": [...], "error": null, "meta": {requestId, timestamp,
//                           cursor: "..."|null, hasMore: bool}}
//   kItems (the Go SDK's):  {"items": [...], "nextCursor": "..."|null}, no envelope (errors keep
//                           the envelope).
// Times are kept at millisecond precision and written like Huudis: "2026-06-03T09:15:27.402Z".
//
// Admin endpoints (Options::admin_endpoints; no auth; JSON body; 200 {"audit": <the entry
// written, as the API shows it>}, 400 for a bad body, 404 for an unknown workspace, or for
// remove-member / set-role a user who is not a member):
//   POST /_fake/huudis/disable        {"workspace", "user", "reason"?, "by"?}
//   POST /_fake/huudis/enable         {"workspace", "user", "by"?}
//   POST /_fake/huudis/add-member     {"workspace", "user", "email", "name"?, "role"?, "by"?}
//   POST /_fake/huudis/remove-member  {"workspace", "user", "by"?}
//   POST /_fake/huudis/set-role       {"workspace", "user", "role", "by"?}
// Each appends the audit entry the real Huudis writes and applies the change to the lists; "by"
// defaults to the fixtures' operator, usr_01KBMF8Q60H0WWZ4KGT675KR39.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_providers.h"

namespace mm::testing {

enum class HuudisPageShape { kEnvelope, kItems };
// kCli: {id, eventType, outcome, createdAt, ipAddress, metadata} (the CLI reader, the fixture).
// kGo:  {id, accountId, actor, action, resource, outcome, details, timestamp} (the older Go SDK
//       type; action = eventType, timestamp = createdAt, details = metadata).
enum class HuudisAuditShape { kCli, kGo };

struct HuudisGroupRef {
  std::string id{};  // grp_...
  std::string name{};
};

struct HuudisMember {
  std::string id{};  // usr_...
  std::string email{};
  std::string name{};
  std::string role = "member";
  TimePoint joined_at{};
  bool email_verified = true;
  std::optional<TimePoint> last_login_at{};  // null when absent
  std::optional<TimePoint> created_at{};     // absent: joined_at
  bool is_you = false;
  std::vector<HuudisGroupRef> groups{};
};

struct HuudisEndUser {
  std::string id{};  // usr_...
  std::string email{};
  std::string name{};
  bool disabled = false;
  TimePoint first_sign_in_at{};
  bool email_verified = true;
  std::optional<TimePoint> created_at{};     // absent: first_sign_in_at
  std::optional<TimePoint> last_login_at{};  // null when absent
  int client_count = 1;
};

struct HuudisAuditEntry {
  std::string id{};  // empty: "aud_" + a ULID of created_at (AddAuditEntry fills it in)
  std::string event_type{};
  std::string outcome = "success";  // success | failure | denied
  TimePoint created_at{};
  std::string ip_address = "203.0.113.10";
  nlohmann::json metadata = nlohmann::json::object();
  std::string actor{};     // kGo only: the acting user id
  std::string resource{};  // kGo only: what was acted on (a user or account id)
  HuudisAuditShape shape = HuudisAuditShape::kCli;
};

// The entry as the API writes it, in its shape (times in milliseconds; `account_id` is the Go
// shape's accountId).
nlohmann::json HuudisAuditEntryJson(const HuudisAuditEntry& entry, const std::string& account_id);

// --- Builders: the audit entries the real Huudis writes (metadata as in the webhook `data` the
// event pages say they mirror; tests/fixtures/huudis.audit-log.page.json). `id` is left empty. ---

// ops.end_user.disabled: metadata {id, email, disabledAt, disabledBy, reason} (reason left out
// when empty).
HuudisAuditEntry HuudisEndUserDisabledEntry(const std::string& user_id, const std::string& email, TimePoint at,
                                            const std::string& disabled_by, const std::string& reason);
// ops.end_user.enabled: metadata {id, email, enabledAt, enabledBy}.
HuudisAuditEntry HuudisEndUserEnabledEntry(const std::string& user_id, const std::string& email, TimePoint at,
                                           const std::string& enabled_by);
// account.member_added: metadata {accountId, userId, userEmail, role, addedVia, addedByUserId}.
HuudisAuditEntry HuudisMemberAddedEntry(const std::string& account_id, const std::string& user_id,
                                        const std::string& user_email, const std::string& role, TimePoint at,
                                        const std::string& added_via, const std::string& added_by_user_id);
// account.member_removed (an assumed action name, as in the fixture): metadata {accountId,
// userId, userEmail, role, actorUserId}.
HuudisAuditEntry HuudisMemberRemovedEntry(const std::string& account_id, const std::string& user_id,
                                          const std::string& user_email, const std::string& role, TimePoint at,
                                          const std::string& actor_user_id);
// account.member_role_changed (assumed, no page documents it): metadata {accountId, userId,
// previousRole, role, changedByUserId}.
HuudisAuditEntry HuudisMemberRoleChangedEntry(const std::string& account_id, const std::string& user_id,
                                              const std::string& previous_role, const std::string& role,
                                              TimePoint at, const std::string& changed_by_user_id);
// auth.signup: metadata {id, email, name} — a plausible subset of huudis.user.created.v1's data;
// no page shows this entry.
HuudisAuditEntry HuudisSignupEntry(const std::string& user_id, const std::string& email, const std::string& name,
                                   TimePoint at);
// account.workspace_created: metadata {id, name}.
HuudisAuditEntry HuudisWorkspaceCreatedEntry(const std::string& account_id, const std::string& name, TimePoint at);
// Any action that failed: outcome "failure".
HuudisAuditEntry HuudisFailedEntry(const std::string& event_type, TimePoint at,
                                   nlohmann::json metadata = nlohmann::json::object());

class FakeHuudis final : public FakeProvider {
 public:
  struct Options {
    std::string path_prefix = "/api";  // "" serves "/v1/..." at the root
    std::string token = "hud_test_admin_token";
    HuudisPageShape page_shape = HuudisPageShape::kEnvelope;
    bool admin_endpoints = false;
    const Clock* clock = nullptr;  // meta.timestamp and default times; nullptr: the system clock
  };

  // Listens at once. Throws std::runtime_error if it cannot.
  explicit FakeHuudis(Options options);
  FakeHuudis() : FakeHuudis(Options{}) {}
  ~FakeHuudis() override;

  std::string base_url() const override;  // "http://127.0.0.1:<port>" + path prefix
  void set_page_shape(HuudisPageShape shape);

  // The scripting API. A method naming a workspace the fake does not have throws
  // std::invalid_argument (a bug in the test), except AddWorkspace.
  void AddWorkspace(const std::string& account_id, const std::string& name = "");  // idempotent
  void UpsertMember(const std::string& account_id, HuudisMember member);          // keyed by id
  bool RemoveMember(const std::string& account_id, const std::string& user_id);   // false: absent
  bool SetMemberRole(const std::string& account_id, const std::string& user_id, const std::string& role);
  void UpsertEndUser(const std::string& account_id, HuudisEndUser user);  // keyed by id
  bool RemoveEndUser(const std::string& account_id, const std::string& user_id);
  bool SetEndUserDisabled(const std::string& account_id, const std::string& user_id, bool disabled);
  // Appends to the workspace's log; returns the entry as stored (id filled in, times truncated
  // to milliseconds). Throws std::invalid_argument if the id is already in that log.
  HuudisAuditEntry AddAuditEntry(const std::string& account_id, HuudisAuditEntry entry);
  std::optional<HuudisMember> Member(const std::string& account_id, const std::string& user_id) const;
  std::optional<HuudisEndUser> EndUser(const std::string& account_id, const std::string& user_id) const;
  std::vector<HuudisAuditEntry> AuditLog(const std::string& account_id) const;  // newest first

  // "What happened", scripted once: each appends to `account_id`'s log the entry the builder of
  // the same name writes and, when `apply`, makes the change to the lists. Fields a call does
  // not take (email, role, ...) are read from the lists (empty if the user is in none).
  struct Happening {
    std::optional<TimePoint> at;  // absent: now
    std::string by;               // acting user (disabledBy, addedByUserId, ...); may be empty
    bool apply = true;
    HuudisAuditShape shape = HuudisAuditShape::kCli;
    std::string audit_id;         // empty: generated
  };
  // apply: the user's end-user record is disabled in every workspace that has it (a Huudis
  // disable is global).
  HuudisAuditEntry RecordEndUserDisabled(const std::string& account_id, const std::string& user_id,
                                         const std::string& reason, const Happening& happening);
  HuudisAuditEntry RecordEndUserEnabled(const std::string& account_id, const std::string& user_id,
                                        const Happening& happening);
  // apply: UpsertMember with joined_at = the happening's time.
  HuudisAuditEntry RecordMemberAdded(const std::string& account_id, HuudisMember member, const std::string& added_via,
                                     const Happening& happening);
  HuudisAuditEntry RecordMemberRemoved(const std::string& account_id, const std::string& user_id,
                                       const Happening& happening);
  HuudisAuditEntry RecordMemberRoleChanged(const std::string& account_id, const std::string& user_id,
                                           const std::string& role, const Happening& happening);
  // apply: nothing (a new Huudis user is not yet an end user or member of any workspace).
  HuudisAuditEntry RecordSignup(const std::string& account_id, const std::string& user_id, const std::string& email,
                                const std::string& name, const Happening& happening);
  // Adds the workspace if needed (always) and writes the entry into its own log.
  HuudisAuditEntry RecordWorkspaceCreated(const std::string& account_id, const std::string& name,
                                          const Happening& happening);
  // An entry with outcome "failure"; never changes the lists.
  HuudisAuditEntry RecordFailure(const std::string& account_id, const std::string& event_type,
                                 nlohmann::json metadata, const Happening& happening);

 private:
  struct Workspace;
  struct State;

  FakeResponse Serve(const FakeRequest& request) override;
  FakeResponse Error(int status, std::string_view message, const FakeRequest& request) override;
  FakeResponse Admin(const FakeRequest& request) override;

  const std::string path_prefix_;
  std::unique_ptr<State> state_;
};

}  // namespace mm::testing
