#pragma once
// C++ client for the membership.v1 API. Every call carries a deadline; UNAVAILABLE is retried
// by gRPC itself (service-config retry policy: 4 attempts, exponential back-off), so callers
// see it only when the service stays unreachable. Thread-safe: share one client per process.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "membership/v1/membership.grpc.pb.h"

namespace mm::client {

struct ClientOptions {
  std::string target = "127.0.0.1:50051";  // host:port or any gRPC target URI
  std::string token;                        // bearer token; empty = none
  std::chrono::milliseconds deadline{2000};  // per call
  // TLS: set tls_ca_file (PEM of the CA that signed the server) to use TLS; add a client
  // certificate and key for mTLS. Empty = plaintext.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
};

class MembershipClient {
 public:
  explicit MembershipClient(ClientOptions options);

  grpc::Status IsUserActive(const membership::v1::IsUserActiveRequest& request,
                            membership::v1::IsUserActiveResponse* response) const;
  grpc::Status BatchIsUserActive(const membership::v1::BatchIsUserActiveRequest& request,
                                 membership::v1::BatchIsUserActiveResponse* response) const;
  grpc::Status GetUser(const membership::v1::GetUserRequest& request, membership::v1::User* response) const;
  grpc::Status GetMembership(const membership::v1::GetMembershipRequest& request,
                             membership::v1::Membership* response) const;
  grpc::Status ListMembers(const membership::v1::ListMembersRequest& request,
                           membership::v1::ListMembersResponse* response) const;
  grpc::Status ListUserMemberships(const membership::v1::ListUserMembershipsRequest& request,
                                   membership::v1::ListUserMembershipsResponse* response) const;
  grpc::Status GetSeatCount(const membership::v1::GetSeatCountRequest& request,
                            membership::v1::SeatCount* response) const;
  grpc::Status ListSeatCounts(const membership::v1::ListSeatCountsRequest& request,
                              membership::v1::ListSeatCountsResponse* response) const;
  grpc::Status ListSeatChanges(const membership::v1::ListSeatChangesRequest& request,
                               membership::v1::ListSeatChangesResponse* response) const;
  grpc::Status GetSeatUsage(const membership::v1::GetSeatUsageRequest& request,
                            membership::v1::SeatUsage* response) const;
  grpc::Status ListSources(const membership::v1::ListSourcesRequest& request,
                           membership::v1::ListSourcesResponse* response) const;
  grpc::Status ListDeadLetters(const membership::v1::ListDeadLettersRequest& request,
                               membership::v1::ListDeadLettersResponse* response) const;
  grpc::Status ReplayDeadLetters(const membership::v1::ReplayDeadLettersRequest& request,
                                 membership::v1::ReplayDeadLettersResponse* response) const;
  grpc::Status ListUserEvents(const membership::v1::ListUserEventsRequest& request,
                              membership::v1::ListUserEventsResponse* response) const;

  // The JSON service config with the retry policy (exposed for tests and docs).
  static std::string ServiceConfigJson();

 private:
  void Prepare(grpc::ClientContext& context) const;
  // Calls one unary RPC with the deadline and token of this client.
  template <typename Stub, typename Request, typename Response>
  grpc::Status Call(Stub& stub,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response) const {
    grpc::ClientContext context;
    Prepare(context);
    return (stub.*method)(&context, request, response);
  }

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<membership::v1::UserService::Stub> users_;
  std::unique_ptr<membership::v1::MembershipService::Stub> memberships_;
  std::unique_ptr<membership::v1::SeatService::Stub> seats_;
  std::unique_ptr<membership::v1::AdminService::Stub> admin_;
};

}  // namespace mm::client
