#pragma once
// membership.v1.UserService on the gRPC callback API. IsUserActive and BatchIsUserActive answer
// from the replica's in-memory cache (never NOT_FOUND, never touching PostgreSQL); with
// `min_sequence` ahead of the replica they wait via SequenceWaiters — no gRPC thread blocks —
// and end with DEADLINE_EXCEEDED if the deadline passes first. GetUser is DB-backed and
// arrives with the API issue; until then it answers UNIMPLEMENTED.

#include <chrono>

#include "auth/caller_registry.h"
#include "cache/sequence_waiters.h"
#include "cache/user_state_cache.h"
#include "membership/v1/membership.grpc.pb.h"
#include "metrics/metrics.h"

namespace mm::api {

inline constexpr size_t kMaxBatchIds = 1000;

class UserServiceImpl final : public membership::v1::UserService::CallbackService {
 public:
  UserServiceImpl(const cache::UserStateCache& cache, cache::SequenceWaiters& waiters,
                  const auth::CallerRegistry& callers, metrics::Metrics& metrics,
                  std::chrono::milliseconds max_wait = std::chrono::seconds(10));

  grpc::ServerUnaryReactor* IsUserActive(grpc::CallbackServerContext* context,
                                         const membership::v1::IsUserActiveRequest* request,
                                         membership::v1::IsUserActiveResponse* response) override;
  grpc::ServerUnaryReactor* BatchIsUserActive(
      grpc::CallbackServerContext* context, const membership::v1::BatchIsUserActiveRequest* request,
      membership::v1::BatchIsUserActiveResponse* response) override;

 private:
  // Runs `answer` once the replica has applied `min_sequence` (at once when 0), or finishes
  // with DEADLINE_EXCEEDED.
  void AfterSequence(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                     uint64_t min_sequence, std::function<grpc::Status()> answer);
  grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                   grpc::ServerUnaryReactor* reactor, const grpc::Status& status,
                                   std::string_view method,
                                   std::chrono::steady_clock::time_point started);

  const cache::UserStateCache& cache_;
  cache::SequenceWaiters& waiters_;
  const auth::CallerRegistry& callers_;
  metrics::Metrics& metrics_;
  const std::chrono::milliseconds max_wait_;
};

}  // namespace mm::api
