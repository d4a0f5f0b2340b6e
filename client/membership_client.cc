#include "membership_client.h"

#include <fstream>
#include <sstream>

namespace mm::client {
namespace {
std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}
}  // namespace

std::string MembershipClient::ServiceConfigJson() {
  return R"json({
  "methodConfig": [{
    "name": [
      {"service": "membership.v1.UserService"},
      {"service": "membership.v1.MembershipService"},
      {"service": "membership.v1.SeatService"},
      {"service": "membership.v1.AdminService"}
    ],
    "retryPolicy": {
      "maxAttempts": 4,
      "initialBackoff": "0.05s",
      "maxBackoff": "1s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
})json";
}

MembershipClient::MembershipClient(ClientOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(ServiceConfigJson());
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options_.tls_ca_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFileOrEmpty(options_.tls_ca_file);
    if (!options_.tls_cert_file.empty()) {
      ssl.pem_cert_chain = ReadFileOrEmpty(options_.tls_cert_file);
      ssl.pem_private_key = ReadFileOrEmpty(options_.tls_key_file);
    }
    credentials = grpc::SslCredentials(ssl);
  }
  channel_ = grpc::CreateCustomChannel(options_.target, credentials, args);
  users_ = membership::v1::UserService::NewStub(channel_);
  memberships_ = membership::v1::MembershipService::NewStub(channel_);
  seats_ = membership::v1::SeatService::NewStub(channel_);
  admin_ = membership::v1::AdminService::NewStub(channel_);
}

void MembershipClient::Prepare(grpc::ClientContext& context) const {
  context.set_deadline(std::chrono::system_clock::now() + options_.deadline);
  if (!options_.token.empty()) context.AddMetadata("authorization", "Bearer " + options_.token);
}

namespace v1 = membership::v1;

grpc::Status MembershipClient::IsUserActive(const v1::IsUserActiveRequest& request,
                                            v1::IsUserActiveResponse* response) const {
  return Call(*users_, &v1::UserService::Stub::IsUserActive, request, response);
}
grpc::Status MembershipClient::BatchIsUserActive(const v1::BatchIsUserActiveRequest& request,
                                                 v1::BatchIsUserActiveResponse* response) const {
  return Call(*users_, &v1::UserService::Stub::BatchIsUserActive, request, response);
}
grpc::Status MembershipClient::GetUser(const v1::GetUserRequest& request, v1::User* response) const {
  return Call(*users_, &v1::UserService::Stub::GetUser, request, response);
}
grpc::Status MembershipClient::GetMembership(const v1::GetMembershipRequest& request,
                                             v1::Membership* response) const {
  return Call(*memberships_, &v1::MembershipService::Stub::GetMembership, request, response);
}
grpc::Status MembershipClient::ListMembers(const v1::ListMembersRequest& request,
                                           v1::ListMembersResponse* response) const {
  return Call(*memberships_, &v1::MembershipService::Stub::ListMembers, request, response);
}
grpc::Status MembershipClient::ListUserMemberships(const v1::ListUserMembershipsRequest& request,
                                                   v1::ListUserMembershipsResponse* response) const {
  return Call(*memberships_, &v1::MembershipService::Stub::ListUserMemberships, request, response);
}
grpc::Status MembershipClient::GetSeatCount(const v1::GetSeatCountRequest& request,
                                            v1::SeatCount* response) const {
  return Call(*seats_, &v1::SeatService::Stub::GetSeatCount, request, response);
}
grpc::Status MembershipClient::ListSeatCounts(const v1::ListSeatCountsRequest& request,
                                              v1::ListSeatCountsResponse* response) const {
  return Call(*seats_, &v1::SeatService::Stub::ListSeatCounts, request, response);
}
grpc::Status MembershipClient::ListSeatChanges(const v1::ListSeatChangesRequest& request,
                                               v1::ListSeatChangesResponse* response) const {
  return Call(*seats_, &v1::SeatService::Stub::ListSeatChanges, request, response);
}
grpc::Status MembershipClient::GetSeatUsage(const v1::GetSeatUsageRequest& request, v1::SeatUsage* response) const {
  return Call(*seats_, &v1::SeatService::Stub::GetSeatUsage, request, response);
}

grpc::Status MembershipClient::ListSources(const v1::ListSourcesRequest& request,
                                           v1::ListSourcesResponse* response) const {
  return Call(*admin_, &v1::AdminService::Stub::ListSources, request, response);
}

grpc::Status MembershipClient::ListDeadLetters(const v1::ListDeadLettersRequest& request,
                                               v1::ListDeadLettersResponse* response) const {
  return Call(*admin_, &v1::AdminService::Stub::ListDeadLetters, request, response);
}

grpc::Status MembershipClient::ReplayDeadLetters(const v1::ReplayDeadLettersRequest& request,
                                                 v1::ReplayDeadLettersResponse* response) const {
  return Call(*admin_, &v1::AdminService::Stub::ReplayDeadLetters, request, response);
}

grpc::Status MembershipClient::ListUserEvents(const v1::ListUserEventsRequest& request,
                                              v1::ListUserEventsResponse* response) const {
  return Call(*admin_, &v1::AdminService::Stub::ListUserEvents, request, response);
}

}  // namespace mm::client
