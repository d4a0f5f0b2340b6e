#pragma once
// A closed-loop gRPC load generator, the same for the service and for its baseline: one
// channel (one HTTP/2 connection, as a service's auth middleware would hold), `streams` calls
// in flight at all times, each finished call immediately replaced by the next, driven by one
// completion-queue thread. Requests are pre-serialized and sent through the generic stub, so
// the client does the same work whatever the server is; responses are not parsed.

#include <cstdint>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

namespace mm::bench {

struct LoadOptions {
  std::string target;                // host:port
  std::string method;                // "/membership.v1.UserService/IsUserActive"
  std::vector<grpc::ByteBuffer> requests;  // sent round-robin
  std::string bearer_token;          // sent as "authorization: Bearer <token>" when set
  int streams = 16;
  double warmup_seconds = 1;         // calls finished in the warm-up are not recorded
  double measure_seconds = 5;
};

struct LoadResult {
  uint64_t calls = 0;                // OK calls finished in the measured window
  uint64_t all_calls = 0;            // OK calls including the warm-up
  uint64_t failures = 0;             // non-OK calls (any window)
  std::string first_failure;         // status of the first non-OK call
  double seconds = 0;                // length of the measured window
  std::vector<double> latency_ms;    // one per measured OK call
  double qps() const { return seconds > 0 ? static_cast<double>(calls) / seconds : 0; }
};

LoadResult RunLoad(const LoadOptions& options);

// Serializes a protobuf message once, for LoadOptions::requests.
template <typename Message>
grpc::ByteBuffer Serialize(const Message& message) {
  grpc::Slice slice(message.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace mm::bench
