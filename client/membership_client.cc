#include "membership_client.h"

namespace mm::client {

std::string MembershipClient::ServiceConfigJson() {
  return R"json({
  "methodConfig": [{
    "name": [
      {"service": "membership.v1.UserService"},
      {"service": "membership.v1.MembershipService"},
      {"service": "membership.v1.SeatService"}
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
  channel_ = grpc::CreateCustomChannel(options_.target, grpc::InsecureChannelCredentials(), args);
  users_ = membership::v1::UserService::NewStub(channel_);
}

void MembershipClient::Prepare(grpc::ClientContext& context) const {
  context.set_deadline(std::chrono::system_clock::now() + options_.deadline);
  if (!options_.token.empty()) context.AddMetadata("authorization", "Bearer " + options_.token);
}

grpc::Status MembershipClient::IsUserActive(const membership::v1::IsUserActiveRequest& request,
                                            membership::v1::IsUserActiveResponse* response) const {
  grpc::ClientContext context;
  Prepare(context);
  return users_->IsUserActive(&context, request, response);
}

grpc::Status MembershipClient::BatchIsUserActive(
    const membership::v1::BatchIsUserActiveRequest& request,
    membership::v1::BatchIsUserActiveResponse* response) const {
  grpc::ClientContext context;
  Prepare(context);
  return users_->BatchIsUserActive(&context, request, response);
}

}  // namespace mm::client
