#pragma once
// The one serializer of state records: the `record` jsonb column of users/accounts/memberships
// and the payload of change-log rows. Times are RFC 3339 strings with microseconds so the
// stored form is exact and readable by operators. Parsing is tolerant of missing keys (older
// rows) and returns InvalidArgument only for malformed JSON or a wrong key type.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "domain/records.h"

namespace mm::domain {

std::string ToJson(const UserRecord& user);
std::string ToJson(const AccountRecord& account);
std::string ToJson(const MembershipRecord& membership);

absl::StatusOr<UserRecord> UserFromJson(std::string_view json);
absl::StatusOr<AccountRecord> AccountFromJson(std::string_view json);
absl::StatusOr<MembershipRecord> MembershipFromJson(std::string_view json);

}  // namespace mm::domain
