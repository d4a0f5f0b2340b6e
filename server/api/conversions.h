#pragma once
// Domain/store records to membership.v1 messages, in one place.

#include <google/protobuf/timestamp.pb.h>

#include "common/time.h"
#include "domain/records.h"
#include "membership/v1/membership.pb.h"
#include "store/read_store.h"

namespace mm::api {

void SetTime(google::protobuf::Timestamp* out, TimePoint t);
TimePoint GetTime(const google::protobuf::Timestamp& t);
membership::v1::UserState ToProto(domain::UserState state);

void ToProto(const store::UserView& view, membership::v1::User* out);
void ToProto(const store::MembershipView& view, membership::v1::Membership* out);
void ToProto(const store::SeatCountView& view, membership::v1::SeatCount* out);

}  // namespace mm::api
