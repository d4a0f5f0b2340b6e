#pragma once
// membership.v1.MembershipService and SeatService: DB-backed reads on database workers
// (store::ReadPool; the read replica when one is configured, api/rpc_support.h). Every request's
// min_sequence is honoured as OnDatabase says. Lists use keyset pagination with opaque page tokens bound to the query.
// Unknown users and accounts give empty lists and zero counts, not NOT_FOUND; GetMembership is
// NOT_FOUND when the user is not a present member.

#include "api/rpc_support.h"
#include "membership/v1/membership.grpc.pb.h"

namespace mm::api {

class MembershipServiceImpl final : public membership::v1::MembershipService::CallbackService {
 public:
  MembershipServiceImpl(DatabaseReads reads, const auth::CallerRegistry& callers, metrics::Metrics& metrics)
      : reads_(reads),
        callers_(callers),
        get_membership_(metrics.GrpcMethod("GetMembership")),
        list_members_(metrics.GrpcMethod("ListMembers")),
        list_user_memberships_(metrics.GrpcMethod("ListUserMemberships")) {}

  grpc::ServerUnaryReactor* GetMembership(grpc::CallbackServerContext* context,
                                          const membership::v1::GetMembershipRequest* request,
                                          membership::v1::Membership* response) override;
  grpc::ServerUnaryReactor* ListMembers(grpc::CallbackServerContext* context,
                                        const membership::v1::ListMembersRequest* request,
                                        membership::v1::ListMembersResponse* response) override;
  grpc::ServerUnaryReactor* ListUserMemberships(
      grpc::CallbackServerContext* context, const membership::v1::ListUserMembershipsRequest* request,
      membership::v1::ListUserMembershipsResponse* response) override;

 private:
  DatabaseReads reads_;
  const auth::CallerRegistry& callers_;
  metrics::GrpcMethodMetrics& get_membership_;
  metrics::GrpcMethodMetrics& list_members_;
  metrics::GrpcMethodMetrics& list_user_memberships_;
};

class SeatServiceImpl final : public membership::v1::SeatService::CallbackService {
 public:
  SeatServiceImpl(DatabaseReads reads, const auth::CallerRegistry& callers, metrics::Metrics& metrics)
      : reads_(reads),
        callers_(callers),
        get_seat_count_(metrics.GrpcMethod("GetSeatCount")),
        list_seat_counts_(metrics.GrpcMethod("ListSeatCounts")),
        list_seat_changes_(metrics.GrpcMethod("ListSeatChanges")),
        get_seat_usage_(metrics.GrpcMethod("GetSeatUsage")) {}

  grpc::ServerUnaryReactor* GetSeatCount(grpc::CallbackServerContext* context,
                                         const membership::v1::GetSeatCountRequest* request,
                                         membership::v1::SeatCount* response) override;
  grpc::ServerUnaryReactor* ListSeatCounts(grpc::CallbackServerContext* context,
                                           const membership::v1::ListSeatCountsRequest* request,
                                           membership::v1::ListSeatCountsResponse* response) override;
  grpc::ServerUnaryReactor* ListSeatChanges(grpc::CallbackServerContext* context,
                                            const membership::v1::ListSeatChangesRequest* request,
                                            membership::v1::ListSeatChangesResponse* response) override;
  grpc::ServerUnaryReactor* GetSeatUsage(grpc::CallbackServerContext* context,
                                         const membership::v1::GetSeatUsageRequest* request,
                                         membership::v1::SeatUsage* response) override;

 private:
  DatabaseReads reads_;
  const auth::CallerRegistry& callers_;
  metrics::GrpcMethodMetrics& get_seat_count_;
  metrics::GrpcMethodMetrics& list_seat_counts_;
  metrics::GrpcMethodMetrics& list_seat_changes_;
  metrics::GrpcMethodMetrics& get_seat_usage_;
};

}  // namespace mm::api
