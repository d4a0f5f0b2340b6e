#include "api/call_auth.h"

namespace mm::api {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  // absl::StatusCode values are the gRPC codes.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::Status Authorize(const auth::CallerRegistry& callers,
                       const grpc::CallbackServerContext& context, std::string_view scope) {
  std::optional<std::string_view> token;
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    token = auth::BearerToken(std::string_view(it->second.data(), it->second.size()));
  }
  absl::StatusOr<const auth::Caller*> caller = callers.Authorize(token, scope);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  return grpc::Status::OK;
}

bool IsValidId(std::string_view id) { return !id.empty() && id.size() <= 256; }

}  // namespace mm::api
