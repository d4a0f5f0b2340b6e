#pragma once
// membership.v1.UserService on the gRPC callback API.
// - IsUserActive / BatchIsUserActive answer from the replica's in-memory cache: never
//   NOT_FOUND, never touching PostgreSQL. With `min_sequence` ahead of the replica they wait via
//   SequenceWaiters — no gRPC thread blocks — and end with DEADLINE_EXCEEDED if the deadline
//   (or the server's max wait) passes first.
// - GetUser reads the user's record with provenance on a database worker (the read replica when
//   one is configured; min_sequence as api/rpc_support.h says); NOT_FOUND if the user was never
//   seen.

#include <chrono>

#include "api/arena_allocator.h"
#include "api/rpc_support.h"
#include "cache/sequence_waiters.h"
#include "cache/user_state_cache.h"
#include "membership/v1/membership.grpc.pb.h"

namespace mm::api {

inline constexpr size_t kMaxBatchIds = 1000;

class UserServiceImpl final : public membership::v1::UserService::CallbackService {
 public:
  UserServiceImpl(const cache::UserStateCache& cache, cache::SequenceWaiters& waiters,
                  store::ReadPool& reads, const auth::CallerRegistry& callers,
                  metrics::Metrics& metrics,
                  std::chrono::milliseconds max_wait = std::chrono::seconds(10));

  grpc::ServerUnaryReactor* IsUserActive(grpc::CallbackServerContext* context,
                                         const membership::v1::IsUserActiveRequest* request,
                                         membership::v1::IsUserActiveResponse* response) override;
  grpc::ServerUnaryReactor* BatchIsUserActive(
      grpc::CallbackServerContext* context, const membership::v1::BatchIsUserActiveRequest* request,
      membership::v1::BatchIsUserActiveResponse* response) override;
  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* context,
                                    const membership::v1::GetUserRequest* request,
                                    membership::v1::User* response) override;

 private:
  // Finishes `call` with `answer()` once the replica has applied `min_sequence` (at once when
  // 0 or already applied: the usual case, which allocates nothing), or with DEADLINE_EXCEEDED.
  template <typename Answer>
  grpc::ServerUnaryReactor* AfterSequence(UnaryCall call, uint64_t min_sequence, Answer answer);

  const cache::UserStateCache& cache_;
  cache::SequenceWaiters& waiters_;
  DatabaseReads reads_;  // GetUser's
  const auth::CallerRegistry& callers_;
  metrics::GrpcMethodMetrics& is_user_active_;
  metrics::GrpcMethodMetrics& batch_is_user_active_;
  metrics::GrpcMethodMetrics& get_user_;
  ArenaMessageAllocator<membership::v1::IsUserActiveRequest, membership::v1::IsUserActiveResponse> check_allocator_;
  ArenaMessageAllocator<membership::v1::BatchIsUserActiveRequest, membership::v1::BatchIsUserActiveResponse>
      batch_allocator_;
  const std::chrono::milliseconds max_wait_;
};

}  // namespace mm::api
