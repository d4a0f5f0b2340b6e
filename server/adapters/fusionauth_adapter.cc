#include "adapters/fusionauth_adapter.h"

#include <algorithm>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "adapters/fusionauth_fields.h"
#include "adapters/json_fields.h"
#include "common/crypto.h"
#include "domain/event_checks.h"
#include "jwt/jws.h"

namespace mm::adapters {
namespace {

using domain::EventKind;
using domain::NormalizedEvent;
using domain::ProviderEvent;
using nlohmann::json;

enum class Family { kUser, kRegistration, kGroup };

struct TypeMapping {
  std::string_view type;  // the base type; "<type>.complete" maps the same way
  Family family;
  EventKind kind;
};

// docs/providers.md §2.5.
constexpr TypeMapping kTypes[] = {
    {"user.create", Family::kUser, EventKind::kUserCreated},
    {"user.update", Family::kUser, EventKind::kUserUpdated},
    {"user.deactivate", Family::kUser, EventKind::kUserDisabled},
    {"user.reactivate", Family::kUser, EventKind::kUserEnabled},
    {"user.delete", Family::kUser, EventKind::kUserDeleted},
    {"user.registration.create", Family::kRegistration, EventKind::kMemberAdded},
    {"user.registration.update", Family::kRegistration, EventKind::kMemberRoleChanged},
    {"user.registration.delete", Family::kRegistration, EventKind::kMemberRemoved},
    {"group.member.add", Family::kGroup, EventKind::kMemberAdded},
    {"group.member.remove", Family::kGroup, EventKind::kMemberRemoved},
    {"group.member.update", Family::kGroup, EventKind::kMembersReplaced},
};

constexpr std::string_view kCompleteSuffix = ".complete";
constexpr char kDeactivatedReason[] = "deactivated";
constexpr char kDefaultRole[] = "member";

const TypeMapping* FindType(std::string_view type) {
  if (type.ends_with(kCompleteSuffix)) type.remove_suffix(kCompleteSuffix.size());
  for (const TypeMapping& mapping : kTypes) {
    if (mapping.type == type) return &mapping;
  }
  return nullptr;
}

// The object at `key`, or nullptr if missing or null; `problem` set if present but not an object.
const json* ObjectAt(const json& parent, std::string_view label, std::string_view key,
                     std::optional<std::string>& problem) {
  auto it = parent.find(key);
  if (it == parent.end() || it->is_null()) return nullptr;
  if (!it->is_object()) {
    problem = std::string(label).append(key).append(" is not an object");
    return nullptr;
  }
  return &*it;
}

// event.user, which must be an object with a usable id.
std::optional<std::string> ReadUser(const json& event, std::string& id, const json*& user) {
  std::optional<std::string> problem;
  user = ObjectAt(event, "event.", "user", problem);
  if (problem) return problem;
  if (user == nullptr) return "event.user missing";
  return ReadRequiredString(*user, "event.user.", "id", domain::kMaxIdBytes, id);
}

// A registration's roles, sorted, without repeats, joined with ','; "member" when it has none.
std::optional<std::string> JoinRoles(const json& registration, std::string& role) {
  std::vector<std::string> roles;
  if (auto it = registration.find("roles"); it != registration.end() && !it->is_null()) {
    if (!it->is_array()) return "event.registration.roles is not an array";
    for (const json& r : *it) {
      if (!r.is_string()) return "event.registration.roles holds a value that is not a string";
      roles.push_back(r.get<std::string>());
    }
  }
  std::sort(roles.begin(), roles.end());
  roles.erase(std::unique(roles.begin(), roles.end()), roles.end());
  role.clear();
  for (const std::string& r : roles) {
    if (!role.empty()) role += ',';
    role += r;
  }
  if (role.empty()) role = kDefaultRole;
  if (role.size() > domain::kMaxRoleBytes) {
    return "event.registration.roles joined are longer than " + std::to_string(domain::kMaxRoleBytes) + " bytes";
  }
  return std::nullopt;
}

// The tenant an event belongs to: event.tenantId, else its user's or group's.
std::optional<std::string> TenantOf(const json& event) {
  if (auto tenant = OptionalString(event, "tenantId")) return tenant;
  for (const char* key : {"user", "group"}) {
    auto it = event.find(key);
    if (it != event.end() && it->is_object()) {
      if (auto tenant = OptionalString(*it, "tenantId")) return tenant;
    }
  }
  return std::nullopt;
}

std::optional<std::string> MapUser(const TypeMapping& mapping, const json& event, TimePoint fact_time,
                                   std::vector<NormalizedEvent>& out) {
  NormalizedEvent e;
  const json* user = nullptr;
  if (auto problem = ReadUser(event, e.user_id, user)) return problem;
  e.fact_time = fact_time;
  FusionAuthProfile profile = ReadFusionAuthProfile(*user);
  e.email = profile.email;
  EventKind state = mapping.kind;
  if (mapping.kind == EventKind::kUserCreated || mapping.kind == EventKind::kUserUpdated) {
    NormalizedEvent created = e;
    created.kind = mapping.kind;
    created.name = std::move(profile.name);
    out.push_back(std::move(created));
    // `active` is the user's state at that time: a fact like a deactivate or reactivate.
    std::optional<bool> active = OptionalBool(*user, "active");
    if (!active) return std::nullopt;
    state = *active ? EventKind::kUserEnabled : EventKind::kUserDisabled;
  }
  e.kind = state;
  if (state == EventKind::kUserDisabled) e.reason = kDeactivatedReason;
  if (state == EventKind::kUserDeleted) e.email.reset();
  out.push_back(std::move(e));
  return std::nullopt;
}

std::optional<std::string> MapRegistration(const TypeMapping& mapping, const json& event, TimePoint fact_time,
                                           std::vector<NormalizedEvent>& out) {
  NormalizedEvent e;
  e.kind = mapping.kind;
  e.fact_time = fact_time;
  const json* user = nullptr;
  if (auto problem = ReadUser(event, e.user_id, user)) return problem;
  FusionAuthProfile profile = ReadFusionAuthProfile(*user);
  e.email = std::move(profile.email);
  e.name = std::move(profile.name);
  std::optional<std::string> problem;
  const json* registration = ObjectAt(event, "event.", "registration", problem);
  if (problem) return problem;
  // The application: event.applicationId, else the registration's.
  const bool from_registration =
      !OptionalString(event, "applicationId") && registration != nullptr && OptionalString(*registration, "applicationId");
  if (auto p = ReadRequiredString(from_registration ? *registration : event,
                                  from_registration ? "event.registration." : "event.", "applicationId",
                                  domain::kMaxIdBytes, e.account_id)) {
    return p;
  }
  if (mapping.kind != EventKind::kMemberRemoved) {
    if (registration == nullptr) return "event.registration missing";
    std::string role;
    if (auto p = JoinRoles(*registration, role)) return p;
    e.role = std::move(role);
    if (mapping.kind == EventKind::kMemberAdded) {
      e.joined_at = ReadEpochTime(*registration, "", "insertInstant", EpochUnit::kMillis).value;
    }
  }
  out.push_back(std::move(e));
  return std::nullopt;
}

std::optional<std::string> MapGroup(const TypeMapping& mapping, const json& event, TimePoint fact_time,
                                    std::vector<NormalizedEvent>& out) {
  std::optional<std::string> problem;
  const json* group = ObjectAt(event, "event.", "group", problem);
  if (problem) return problem;
  if (group == nullptr) return "event.group missing";
  NormalizedEvent base;
  base.fact_time = fact_time;
  if (auto p = ReadRequiredString(*group, "event.group.", "id", domain::kMaxIdBytes, base.account_id)) return p;
  if (auto name = OptionalString(*group, "name")) base.account_name = domain::TruncateUtf8(*name, domain::kMaxNameBytes);

  // A missing list is not an empty one: for group.member.update that would remove everyone.
  auto members = event.find("members");
  if (members == event.end() || members->is_null()) return "event.members missing";
  if (!members->is_array()) return "event.members is not an array";
  std::set<std::string> seen;
  size_t index = 0;
  for (const json& member : *members) {
    const std::string label = "event.members[" + std::to_string(index++) + "].";
    if (!member.is_object()) return label.substr(0, label.size() - 1) + " is not an object";
    NormalizedEvent e = base;
    if (auto p = ReadRequiredString(member, label, "userId", domain::kMaxIdBytes, e.user_id)) return p;
    if (!seen.insert(e.user_id).second) continue;
    if (mapping.kind == EventKind::kMemberRemoved) {
      e.kind = EventKind::kMemberRemoved;
    } else {
      e.kind = EventKind::kMemberAdded;
      e.role = kDefaultRole;
      e.joined_at = ReadEpochTime(member, "", "insertInstant", EpochUnit::kMillis).value;
    }
    out.push_back(std::move(e));
  }
  if (mapping.kind == EventKind::kMembersReplaced) {
    // After the adds, so that the listed members are not older than the list (convergence.h).
    base.kind = EventKind::kMembersReplaced;
    out.push_back(std::move(base));
  }
  return std::nullopt;
}

// "Basic <base64 of user:password>", the scheme in any case.
std::optional<std::string> BasicCredentials(std::string_view header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() < kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  }
  header.remove_prefix(kScheme.size());
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  return Base64Decode(header);
}

}  // namespace

std::string FusionAuthSignaturePayload(std::string_view raw_body) {
  return json{{"request_body_sha256", Base64Encode(Sha256(raw_body))}}.dump();
}

absl::StatusOr<std::string> MakeFusionAuthSignatureHeader(const jwt::SigningKey& key, std::string_view raw_body) {
  return jwt::SignCompactJws(key, FusionAuthSignaturePayload(raw_body));
}

FusionAuthAdapter::FusionAuthAdapter(FusionAuthAdapterOptions options)
    : options_(std::move(options)), keys_(std::make_shared<const jwt::KeySet>(std::move(options_.keys))) {}

void FusionAuthAdapter::ReplaceKeys(jwt::KeySet keys) {
  auto replacement = std::make_shared<const jwt::KeySet>(std::move(keys));
  absl::MutexLock lock(&mu_);
  keys_ = std::move(replacement);
}

std::shared_ptr<const jwt::KeySet> FusionAuthAdapter::Keys() const {
  absl::ReaderMutexLock lock(&mu_);
  return keys_;
}

absl::Status FusionAuthAdapter::VerifyAuthenticity(const HeaderLookup& headers, std::string_view raw_body,
                                                   TimePoint now) const {
  if (std::optional<std::string_view> token = headers(kSignatureHeader)) {
    const std::shared_ptr<const jwt::KeySet> keys = Keys();
    if (keys->empty()) return absl::UnauthenticatedError("no FusionAuth signing key is configured");
    absl::StatusOr<jwt::VerifiedJws> verified = jwt::VerifyCompactJws(*token, *keys, now, options_.leeway);
    if (!verified.ok()) return verified.status();
    auto claim = verified->payload.find("request_body_sha256");
    if (claim == verified->payload.end() || !claim->is_string()) {
      return absl::UnauthenticatedError("signature has no request_body_sha256 claim");
    }
    if (!ConstantTimeEquals(claim->get_ref<const std::string&>(), Base64Encode(Sha256(raw_body)))) {
      return absl::UnauthenticatedError("request_body_sha256 does not match the body");
    }
    return absl::OkStatus();
  }
  if (!options_.allow_unsigned) return absl::UnauthenticatedError("signature header missing");
  std::optional<std::string_view> authorization = headers("Authorization");
  if (!authorization) return absl::UnauthenticatedError("signature header and Basic credentials missing");
  std::optional<std::string> credentials = BasicCredentials(*authorization);
  if (!credentials || options_.basic_auth.empty() || !ConstantTimeEquals(*credentials, options_.basic_auth)) {
    return absl::UnauthenticatedError("Basic credentials do not match");
  }
  return absl::OkStatus();
}

absl::StatusOr<ProviderEvent> FusionAuthAdapter::Decode(const HeaderLookup& headers, std::string_view raw_body,
                                                        TimePoint now) const {
  if (absl::Status status = VerifyAuthenticity(headers, raw_body, now); !status.ok()) return status;
  return DecodeVerified(raw_body, now);
}

absl::StatusOr<ProviderEvent> FusionAuthAdapter::DecodeVerified(std::string_view raw_body, TimePoint now) const {
  absl::StatusOr<json> doc = ParseJsonObjectBody(raw_body);
  if (!doc.ok()) return doc.status();
  std::optional<std::string> problem;
  const json* event = ObjectAt(*doc, "envelope ", "event", problem);
  if (problem) return absl::InvalidArgumentError(*problem);
  if (event == nullptr) return absl::InvalidArgumentError("envelope event missing");

  ProviderEvent pe;
  if (auto p = ReadRequiredString(*event, "event.", "id", domain::kMaxIdBytes, pe.event_id)) {
    return absl::InvalidArgumentError(*p);
  }
  if (auto p = ReadRequiredString(*event, "event.", "type", domain::kMaxEventTypeBytes, pe.event_type)) {
    return absl::InvalidArgumentError(*p);
  }
  pe.provider = domain::Provider::kFusionAuth;
  TimeField created = ReadEpochTime(*event, "event.", "createInstant", EpochUnit::kMillis);
  pe.fact_time = created.value.value_or(now);
  pe.received_at = now;
  pe.raw_body = std::string(raw_body);

  const TypeMapping* mapping = FindType(pe.event_type);
  if (mapping == nullptr || (mapping->family == Family::kRegistration && !options_.registrations) ||
      (mapping->family == Family::kGroup && !options_.groups)) {
    pe.ignored = true;
    return pe;
  }
  if (!options_.tenants.empty()) {
    std::optional<std::string> tenant = TenantOf(*event);
    if (!tenant || std::find(options_.tenants.begin(), options_.tenants.end(), *tenant) == options_.tenants.end()) {
      pe.ignored = true;  // another tenant's: stored, answered `ignored`
      return pe;
    }
  }
  if (created.problem) {
    pe.dead_letter_reason = std::move(created.problem);
    return pe;
  }
  std::optional<std::string> reason;
  switch (mapping->family) {
    case Family::kUser:
      reason = MapUser(*mapping, *event, pe.fact_time, pe.events);
      break;
    case Family::kRegistration:
      reason = MapRegistration(*mapping, *event, pe.fact_time, pe.events);
      break;
    case Family::kGroup:
      reason = MapGroup(*mapping, *event, pe.fact_time, pe.events);
      break;
  }
  if (reason) {
    for (NormalizedEvent& n : pe.events) pe.named_users.push_back(std::move(n.user_id));
    pe.events.clear();
    pe.dead_letter_reason = std::move(reason);
  }
  return pe;
}

}  // namespace mm::adapters
