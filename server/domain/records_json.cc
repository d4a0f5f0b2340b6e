#include "domain/records_json.h"

#include <nlohmann/json.hpp>

namespace mm::domain {
namespace {

using nlohmann::json;

// Writers: absent values are left out, so the JSON shows only what is known.
void Put(json& j, const char* key, const std::optional<std::string>& v) {
  if (v) j[key] = *v;
}
void Put(json& j, const char* key, const std::optional<TimePoint>& v) {
  if (v) j[key] = FormatRfc3339(*v);
}
void Put(json& j, const char* key, const std::optional<Provider>& v) {
  if (v) j[key] = ProviderName(*v);
}
void Put(json& j, const char* key, const std::optional<Version>& v) {
  if (v) j[key] = json{{"at", FormatRfc3339(v->fact_time)}, {"event_id", v->event_id}};
}
void Put(json& j, const char* key, const Versioned<std::string>& v) {
  if (v.value) j[key] = *v.value;
  if (v.version) Put(j, (std::string(key) + "_version").c_str(), v.version);
}

// Readers throw json::exception on a wrong type; the public functions turn that into a Status.
void Get(const json& j, const char* key, std::string& out) {
  if (auto it = j.find(key); it != j.end() && !it->is_null()) out = it->get<std::string>();
}
void Get(const json& j, const char* key, std::optional<std::string>& out) {
  if (auto it = j.find(key); it != j.end() && !it->is_null()) out = it->get<std::string>();
}
void Get(const json& j, const char* key, std::optional<TimePoint>& out) {
  if (auto it = j.find(key); it != j.end() && !it->is_null()) {
    out = ParseRfc3339(it->get<std::string>());
    if (!out) throw std::invalid_argument(std::string("bad time in ") + key);
  }
}
void Get(const json& j, const char* key, std::optional<Provider>& out) {
  if (auto it = j.find(key); it != j.end() && !it->is_null()) {
    out = ParseProvider(it->get<std::string>());
    if (!out) throw std::invalid_argument(std::string("bad provider in ") + key);
  }
}
void Get(const json& j, const char* key, std::optional<Version>& out) {
  if (auto it = j.find(key); it != j.end() && !it->is_null()) {
    std::optional<TimePoint> at;
    Get(*it, "at", at);
    if (!at) throw std::invalid_argument(std::string("version without time in ") + key);
    out = Version{.fact_time = *at, .event_id = it->at("event_id").get<std::string>()};
  }
}
void Get(const json& j, const char* key, Versioned<std::string>& out) {
  Get(j, key, out.value);
  Get(j, (std::string(key) + "_version").c_str(), out.version);
}

template <typename Record, typename Fill>
absl::StatusOr<Record> Parse(std::string_view text, Fill fill) {
  try {
    json j = json::parse(text);
    if (!j.is_object()) return absl::InvalidArgumentError("record is not a JSON object");
    Record r;
    fill(j, r);
    return r;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(std::string("malformed record: ") + e.what());
  }
}

}  // namespace

std::string ToJson(const UserRecord& u) {
  json j;
  j["user_id"] = u.user_id;
  j["state"] = UserStateName(u.state);
  Put(j, "state_version", u.state_version);
  if (!u.state_event_type.empty()) j["state_event_type"] = u.state_event_type;
  Put(j, "state_provider", u.state_provider);
  Put(j, "disabled_at", u.disabled_at);
  Put(j, "enabled_at", u.enabled_at);
  Put(j, "deleted_at", u.deleted_at);
  Put(j, "disabled_reason", u.disabled_reason);
  Put(j, "disabled_by", u.disabled_by);
  Put(j, "sessions_valid_after", u.sessions_valid_after);
  Put(j, "email", u.email);
  Put(j, "name", u.name);
  return j.dump();
}

std::string ToJson(const AccountRecord& a) {
  json j;
  j["account_id"] = a.account_id;
  Put(j, "name", a.name);
  Put(j, "member_list_version", a.member_list_version);
  if (!a.member_list_event_type.empty()) j["member_list_event_type"] = a.member_list_event_type;
  Put(j, "member_list_provider", a.member_list_provider);
  return j.dump();
}

std::string ToJson(const MembershipRecord& m) {
  json j;
  j["account_id"] = m.account_id;
  j["user_id"] = m.user_id;
  j["present"] = m.present;
  j["role"] = m.role;
  Put(j, "version", m.version);
  if (!m.last_event_type.empty()) j["last_event_type"] = m.last_event_type;
  Put(j, "last_provider", m.last_provider);
  Put(j, "removed_at", m.removed_at);
  Put(j, "removed_by", m.removed_by);
  Put(j, "join_version", m.join_version);
  Put(j, "joined_at", m.joined_at);
  Put(j, "added_via", m.added_via);
  Put(j, "added_by", m.added_by);
  return j.dump();
}

absl::StatusOr<UserRecord> UserFromJson(std::string_view text) {
  return Parse<UserRecord>(text, [](const json& j, UserRecord& u) {
    Get(j, "user_id", u.user_id);
    std::string state = "active";
    Get(j, "state", state);
    auto parsed = ParseUserState(state);
    if (!parsed) throw std::invalid_argument("bad user state");
    u.state = *parsed;
    Get(j, "state_version", u.state_version);
    Get(j, "state_event_type", u.state_event_type);
    Get(j, "state_provider", u.state_provider);
    Get(j, "disabled_at", u.disabled_at);
    Get(j, "enabled_at", u.enabled_at);
    Get(j, "deleted_at", u.deleted_at);
    Get(j, "disabled_reason", u.disabled_reason);
    Get(j, "disabled_by", u.disabled_by);
    Get(j, "sessions_valid_after", u.sessions_valid_after);
    Get(j, "email", u.email);
    Get(j, "name", u.name);
  });
}

absl::StatusOr<AccountRecord> AccountFromJson(std::string_view text) {
  return Parse<AccountRecord>(text, [](const json& j, AccountRecord& a) {
    Get(j, "account_id", a.account_id);
    Get(j, "name", a.name);
    Get(j, "member_list_version", a.member_list_version);
    Get(j, "member_list_event_type", a.member_list_event_type);
    Get(j, "member_list_provider", a.member_list_provider);
  });
}

absl::StatusOr<MembershipRecord> MembershipFromJson(std::string_view text) {
  return Parse<MembershipRecord>(text, [](const json& j, MembershipRecord& m) {
    Get(j, "account_id", m.account_id);
    Get(j, "user_id", m.user_id);
    if (auto it = j.find("present"); it != j.end()) m.present = it->get<bool>();
    Get(j, "role", m.role);
    Get(j, "version", m.version);
    Get(j, "last_event_type", m.last_event_type);
    Get(j, "last_provider", m.last_provider);
    Get(j, "removed_at", m.removed_at);
    Get(j, "removed_by", m.removed_by);
    Get(j, "join_version", m.join_version);
    Get(j, "joined_at", m.joined_at);
    Get(j, "added_via", m.added_via);
    Get(j, "added_by", m.added_by);
  });
}

}  // namespace mm::domain
