#pragma once
// Domain/store records to membership.v1 messages, in one place.

#include <optional>

#include <google/protobuf/timestamp.pb.h>

#include "common/time.h"
#include "domain/records.h"
#include "membership/v1/membership.pb.h"
#include "store/read_store.h"

namespace mm::api {

void SetTime(google::protobuf::Timestamp* out, TimePoint t);
// nullopt unless `t` is a valid Timestamp (google/protobuf/timestamp.proto): seconds within
// 0001-01-01 to 9999-12-31 UTC, nanos 0 to 999,999,999. Callers may send anything.
std::optional<TimePoint> GetTime(const google::protobuf::Timestamp& t);
membership::v1::UserState ToProto(domain::UserState state);

void ToProto(const store::UserView& view, membership::v1::User* out);
void ToProto(const store::MembershipView& view, membership::v1::Membership* out);
void ToProto(const store::SeatCountView& view, membership::v1::SeatCount* out);

}  // namespace mm::api
