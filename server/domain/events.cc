#include "domain/events.h"

#include <array>

#include "domain/records.h"

namespace mm::domain {
namespace {

template <typename Enum, size_t N>
std::optional<Enum> ParseByName(const std::array<std::string_view, N>& names, std::string_view s) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

constexpr std::array<std::string_view, 4> kProviderNames = {"huudis", "fusionauth", "operator", "monocloud"};
constexpr std::array<std::string_view, 10> kEventKindNames = {
    "UserCreated",    "UserUpdated",  "UserDisabled",      "UserEnabled",   "UserDeleted",
    "AccountCreated", "MemberAdded",  "MemberRoleChanged", "MemberRemoved", "MembersReplaced"};
constexpr std::array<std::string_view, 5> kOutcomeNames = {"applied", "duplicate", "stale",
                                                           "ignored", "dead_lettered"};
constexpr std::array<std::string_view, 3> kUserStateNames = {"active", "disabled", "deleted"};

}  // namespace

std::string_view ProviderName(Provider p) { return kProviderNames[static_cast<size_t>(p)]; }
std::optional<Provider> ParseProvider(std::string_view s) {
  return ParseByName<Provider>(kProviderNames, s);
}
std::string_view EventKindName(EventKind k) { return kEventKindNames[static_cast<size_t>(k)]; }
std::string_view OutcomeName(Outcome o) { return kOutcomeNames[static_cast<size_t>(o)]; }
std::optional<Outcome> ParseOutcome(std::string_view s) {
  return ParseByName<Outcome>(kOutcomeNames, s);
}
std::string_view UserStateName(UserState s) { return kUserStateNames[static_cast<size_t>(s)]; }
std::optional<UserState> ParseUserState(std::string_view s) {
  return ParseByName<UserState>(kUserStateNames, s);
}

}  // namespace mm::domain
