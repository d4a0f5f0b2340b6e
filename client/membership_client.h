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
};

class MembershipClient {
 public:
  explicit MembershipClient(ClientOptions options);

  grpc::Status IsUserActive(const membership::v1::IsUserActiveRequest& request,
                            membership::v1::IsUserActiveResponse* response) const;
  grpc::Status BatchIsUserActive(const membership::v1::BatchIsUserActiveRequest& request,
                                 membership::v1::BatchIsUserActiveResponse* response) const;

  // The JSON service config with the retry policy (exposed for tests and docs).
  static std::string ServiceConfigJson();

 private:
  void Prepare(grpc::ClientContext& context) const;

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<membership::v1::UserService::Stub> users_;
};

}  // namespace mm::client
