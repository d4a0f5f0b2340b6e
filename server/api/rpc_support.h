#pragma once
// What every RPC handler shares: caller authorization, finishing a unary reactor exactly once
// with the metrics recorded, and running database work on the ReadPool — never on a gRPC
// thread. A full pool answers RESOURCE_EXHAUSTED at once; a dead database UNAVAILABLE.
// A read RPC's `min_sequence` first waits, as IsUserActive's does (SequenceWaiters, no thread
// held), until this replica's cache has applied it — so the primary has it — and is then
// queued for the worker's ReplicaRouter (store/replica_router.h): read replica or primary.

#include <chrono>
#include <functional>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "auth/caller_registry.h"
#include "cache/sequence_waiters.h"
#include "metrics/metrics.h"
#include "store/read_pool.h"

namespace mm::api {

grpc::Status ToGrpcStatus(const absl::Status& status);
// DESIGN §4: an id is 1..256 bytes.
bool IsValidId(std::string_view id);
grpc::Status InvalidArgument(const std::string& message);
// What a call answers when the ReadPool refuses its work (queue full or stopped).
grpc::Status DatabaseQueueFull();

// The parts shared by unary and streaming handlers:
// OK when the call's bearer token has `scope`; UNAUTHENTICATED or PERMISSION_DENIED otherwise.
grpc::Status AuthorizeCall(const grpc::CallbackServerContext& context,
                           const auth::CallerRegistry& callers, std::string_view scope);
// Records a finished call's code and latency (since `started`).
void RecordAnswered(metrics::GrpcMethodMetrics& method, const grpc::Status& status,
                    std::chrono::steady_clock::time_point started);

// What the DB-backed read RPCs share: the pool, and the waiters a min_sequence ahead of this
// replica waits on before its read is queued.
struct DatabaseReads {
  store::ReadPool& pool;
  cache::SequenceWaiters& waiters;
  std::chrono::milliseconds max_wait = std::chrono::seconds(10);  // of a min_sequence, as IsUserActive's
};

// Per-RPC helpers bound to one call.
class UnaryCall {
 public:
  UnaryCall(grpc::CallbackServerContext* context, metrics::GrpcMethodMetrics& method);

  grpc::ServerUnaryReactor* reactor() const { return reactor_; }
  // Checks the bearer token for `scope`; on failure the call is finished and false returned.
  bool Authorize(const auth::CallerRegistry& callers, std::string_view scope);
  // Finishes the call (once) and records its code and latency.
  grpc::ServerUnaryReactor* Finish(const grpc::Status& status);
  // Runs `work` on a database worker, reading from the read replica or the primary, and
  // finishes with its status; with `min_sequence` > 0 once this replica has applied it (else
  // DEADLINE_EXCEEDED at the call's deadline, at most reads.max_wait, as IsUserActive; or
  // RESOURCE_EXHAUSTED when MM_MAX_SEQUENCE_WAITERS calls wait already).
  grpc::ServerUnaryReactor* OnDatabase(DatabaseReads& reads, uint64_t min_sequence,
                                       std::function<grpc::Status(store::ReadStore&)> work);
  // Runs `then` (which finishes the call) once `waiters` has applied `min_sequence`, at once if
  // it has; DEADLINE_EXCEEDED at the call's deadline or after `max_wait`, whichever is first;
  // RESOURCE_EXHAUSTED when MM_MAX_SEQUENCE_WAITERS calls wait already. No thread is held.
  grpc::ServerUnaryReactor* AfterApplied(cache::SequenceWaiters& waiters, uint64_t min_sequence,
                                         std::chrono::milliseconds max_wait, std::function<void(UnaryCall&)> then);
  grpc::CallbackServerContext* context() const { return context_; }

 private:
  grpc::CallbackServerContext* context_;
  grpc::ServerUnaryReactor* reactor_;
  metrics::GrpcMethodMetrics* method_;
  std::chrono::steady_clock::time_point started_;

  // Queues `work` for the router, expecting `min_sequence`; finishes the call if refused.
  void Queue(store::ReadPool& pool, uint64_t min_sequence, std::function<grpc::Status(store::ReadStore&)> work);
};

// Page size rules of DESIGN §4: 0 means 100; 1..1000; anything else INVALID_ARGUMENT.
absl::StatusOr<int> PageSize(int32_t requested);
// Checks page_size (PageSize) and page_token (api/page_token.h, bound to `query`); on success
// fills `limit` and `after` (the last key of the previous page, "" for the first).
grpc::Status ReadPaging(int32_t page_size, const std::string& page_token, const std::string& query, int& limit,
                        std::string& after);

}  // namespace mm::api
