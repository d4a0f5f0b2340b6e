#pragma once
// Caller authentication for gRPC handlers: reads `authorization: Bearer <token>` metadata and
// checks the scope an RPC needs. Returns a grpc::Status ready to Finish() with on failure.

#include <string_view>

#include <grpcpp/grpcpp.h>

#include "auth/caller_registry.h"

namespace mm::api {

grpc::Status Authorize(const auth::CallerRegistry& callers,
                       const grpc::CallbackServerContext& context, std::string_view scope);

grpc::Status ToGrpcStatus(const absl::Status& status);

// DESIGN §4: an id is 1..256 bytes.
bool IsValidId(std::string_view id);

}  // namespace mm::api
