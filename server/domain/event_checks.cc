#include "domain/event_checks.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <utility>

namespace mm::domain {
namespace {

// True if `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF):
// PostgreSQL refuses anything else in a UTF8 database, and records are JSON.
bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

// "what is over/at fault", or nullopt.
std::optional<std::string> CheckString(std::string_view label, std::string_view value, size_t max_bytes,
                                       bool required) {
  if (required && value.empty()) return std::string(label) + " is empty";
  if (value.size() > max_bytes) {
    return std::string(label) + " is longer than " + std::to_string(max_bytes) + " bytes";
  }
  if (value.find('\0') != std::string_view::npos) return std::string(label) + " contains a NUL character";
  if (!IsUtf8(value)) return std::string(label) + " is not UTF-8";
  return std::nullopt;
}

std::optional<std::string> CheckOptional(std::string_view label, const std::optional<std::string>& value,
                                         size_t max_bytes) {
  if (!value) return std::nullopt;
  return CheckString(label, *value, max_bytes, /*required=*/false);
}

std::optional<std::string> CheckTime(std::string_view label, TimePoint t) {
  if (IsRepresentableFactTime(t)) return std::nullopt;
  return std::string(label) + " is outside 1970-01-01..9999-12-31";
}

bool NeedsUser(EventKind kind) { return kind != EventKind::kAccountCreated && kind != EventKind::kMembersReplaced; }
bool NeedsAccount(EventKind kind) {
  return kind == EventKind::kAccountCreated || kind == EventKind::kMemberAdded ||
         kind == EventKind::kMemberRoleChanged || kind == EventKind::kMemberRemoved ||
         kind == EventKind::kMembersReplaced;
}

}  // namespace

std::optional<std::string> CheckId(std::string_view label, std::string_view id) {
  return CheckString(label, id, kMaxIdBytes, /*required=*/true);
}

std::string TruncateUtf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t end = max_bytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the cut sequence.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

int ClampFutureFactTimes(ProviderEvent& event, std::chrono::seconds max_skew) {
  const TimePoint latest = event.received_at + max_skew;
  int clamped = 0;
  auto clamp = [&](TimePoint& t) {
    if (t > latest) {
      t = event.received_at;
      ++clamped;
    }
  };
  clamp(event.fact_time);
  for (NormalizedEvent& e : event.events) {
    clamp(e.fact_time);
    if (e.joined_at) clamp(*e.joined_at);
  }
  return clamped;
}

std::optional<std::string> CheckValues(const NormalizedEvent& e) {
  for (auto problem : {CheckString("user id", e.user_id, kMaxIdBytes, NeedsUser(e.kind)),
                       CheckString("account id", e.account_id, kMaxIdBytes, NeedsAccount(e.kind)),
                       CheckTime("fact time", e.fact_time),
                       e.joined_at ? CheckTime("join time", *e.joined_at) : std::nullopt,
                       CheckOptional("email", e.email, kMaxEmailBytes),
                       CheckOptional("name", e.name, kMaxNameBytes),
                       CheckOptional("account name", e.account_name, kMaxNameBytes),
                       CheckOptional("role", e.role, kMaxRoleBytes),
                       CheckOptional("reason", e.reason, kMaxReasonBytes),
                       CheckOptional("actor", e.actor, kMaxActorBytes),
                       CheckOptional("added via", e.added_via, kMaxAddedViaBytes)}) {
    if (problem) return problem;
  }
  return std::nullopt;
}

namespace {

// ProviderEvent::named_users: the adapter's and the facts' user ids that can be stored, each once.
void NameUsers(ProviderEvent& event) {
  std::vector<std::string> names = std::move(event.named_users);
  for (const NormalizedEvent& n : event.events) {
    if (!n.user_id.empty()) names.push_back(n.user_id);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::erase_if(names, [](const std::string& id) { return id.empty() || CheckId("user id", id).has_value(); });
  event.named_users = std::move(names);
}

}  // namespace

absl::StatusOr<Prepared> PrepareForStore(ProviderEvent& event, std::chrono::seconds max_skew) {
  Prepared prepared;
  prepared.clamped = ClampFutureFactTimes(event, max_skew);
  for (auto problem : {CheckString("event id", event.event_id, kMaxIdBytes, true),
                       CheckString("event type", event.event_type, kMaxEventTypeBytes, true),
                       CheckString("body", event.raw_body, std::string::npos, false),
                       CheckTime("receive time", event.received_at)}) {
    if (problem) return absl::InvalidArgumentError(*problem);
  }
  std::optional<std::string> problem;
  if (auto bad_time = CheckTime("event time", event.fact_time)) {
    // An event of a type we do not use applies nothing: its time does not matter.
    if (!event.ignored) problem = std::move(bad_time);
    event.fact_time = event.received_at;
  }
  for (size_t i = 0; i < event.events.size() && !problem; ++i) problem = CheckValues(event.events[i]);
  NameUsers(event);
  if (problem) {
    event.events.clear();
    event.ignored = false;
    if (!event.dead_letter_reason) event.dead_letter_reason = std::move(problem);
    prepared.dead_lettered = true;
  }
  // The reason is stored too; adapters write it, but bound it all the same.
  if (event.dead_letter_reason) {
    std::string& reason = *event.dead_letter_reason;
    reason.erase(std::remove(reason.begin(), reason.end(), '\0'), reason.end());
    reason = TruncateUtf8(reason, kMaxReasonBytes);
  }
  return prepared;
}

}  // namespace mm::domain
