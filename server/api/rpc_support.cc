#include "api/rpc_support.h"

#include "api/page_token.h"

namespace mm::api {
grpc::Status ToGrpcStatus(const absl::Status& status) {
  // absl::StatusCode values are the gRPC codes.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

bool IsValidId(std::string_view id) { return !id.empty() && id.size() <= 256; }

grpc::Status InvalidArgument(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

grpc::Status DatabaseQueueFull() {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      "database work queue is full; retry with backoff");
}

grpc::Status AuthorizeCall(const grpc::CallbackServerContext& context,
                           const auth::CallerRegistry& callers, std::string_view scope) {
  std::optional<std::string_view> token;
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    token = auth::BearerToken(std::string_view(it->second.data(), it->second.size()));
  }
  absl::StatusOr<const auth::Caller*> caller = callers.Authorize(token, scope);
  return caller.ok() ? grpc::Status::OK : ToGrpcStatus(caller.status());
}

void RecordAnswered(metrics::GrpcMethodMetrics& method, const grpc::Status& status,
                    std::chrono::steady_clock::time_point started) {
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
  method.Answered(status.error_code(), elapsed.count());
}

UnaryCall::UnaryCall(grpc::CallbackServerContext* context, metrics::GrpcMethodMetrics& method)
    : context_(context),
      reactor_(context->DefaultReactor()),
      method_(&method),
      started_(std::chrono::steady_clock::now()) {}

bool UnaryCall::Authorize(const auth::CallerRegistry& callers, std::string_view scope) {
  grpc::Status status = AuthorizeCall(*context_, callers, scope);
  if (status.ok()) return true;
  Finish(status);
  return false;
}

grpc::ServerUnaryReactor* UnaryCall::Finish(const grpc::Status& status) {
  RecordAnswered(*method_, status, started_);
  reactor_->Finish(status);
  return reactor_;
}

grpc::ServerUnaryReactor* UnaryCall::AfterApplied(cache::SequenceWaiters& waiters, uint64_t min_sequence,
                                                  std::chrono::milliseconds max_wait,
                                                  std::function<void(UnaryCall&)> then) {
  // gRPC deadlines are system_clock; the waiters' timer is steady_clock.
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(context_->deadline() -
                                                                         std::chrono::system_clock::now());
  auto deadline = std::chrono::steady_clock::now() + std::min(remaining, max_wait);
  UnaryCall call = *this;
  const bool waiting = waiters.Wait(
      min_sequence, deadline, [call, &waiters, min_sequence, then = std::move(then)](bool reached) mutable {
        if (reached) {
          then(call);
          return;
        }
        call.Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                 "replica has not reached min_sequence " + std::to_string(min_sequence) + " (at " +
                                     std::to_string(waiters.applied()) + ")"));
      });
  if (!waiting) {
    return Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                               "too many calls waiting for a min_sequence on this replica (MM_MAX_SEQUENCE_WAITERS); "
                               "retry, or call without min_sequence"));
  }
  return reactor_;
}

grpc::ServerUnaryReactor* UnaryCall::OnDatabase(DatabaseReads& reads, uint64_t min_sequence,
                                                std::function<grpc::Status(store::ReadStore&)> work) {
  if (min_sequence == 0) {
    Queue(reads.pool, 0, std::move(work));
    return reactor_;
  }
  return AfterApplied(reads.waiters, min_sequence, reads.max_wait,
                      [&pool = reads.pool, min_sequence, work = std::move(work)](UnaryCall& call) mutable {
                        call.Queue(pool, min_sequence, std::move(work));
                      });
}

void UnaryCall::Queue(store::ReadPool& pool, uint64_t min_sequence,
                      std::function<grpc::Status(store::ReadStore&)> work) {
  // The call object is small and copied into the task: it outlives this handler frame.
  UnaryCall call = *this;
  const store::Freshness freshness{.min_sequence = min_sequence, .deadline = context_->deadline()};
  bool queued = pool.TrySubmitRead(freshness, [call, work = std::move(work), &pool](store::ReadStore& store) mutable {
    // A call the client cancelled, or whose deadline passed while it was queued, is answered
    // without touching the database: under load, queued work nobody waits for is shed first.
    if (call.context()->IsCancelled()) {
      pool.NoteSkipped();
      call.Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled before the database was asked"));
      return;
    }
    if (call.context()->deadline() <= std::chrono::system_clock::now()) {
      pool.NoteSkipped();
      call.Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                               "deadline passed while waiting for a database worker"));
      return;
    }
    call.Finish(work(store));
  });
  if (!queued) Finish(DatabaseQueueFull());
}

absl::StatusOr<int> PageSize(int32_t requested) {
  if (requested == 0) return 100;
  if (requested < 0 || requested > 1000) {
    return absl::InvalidArgumentError("page_size must be 0 (default 100) to 1000");
  }
  return requested;
}

grpc::Status ReadPaging(int32_t page_size, const std::string& page_token, const std::string& query, int& limit,
                        std::string& after) {
  auto size = PageSize(page_size);
  if (!size.ok()) return ToGrpcStatus(size.status());
  auto key = ReadPageToken(page_token, query);
  if (!key.ok()) return ToGrpcStatus(key.status());
  limit = *size;
  after = *key;
  return grpc::Status::OK;
}

}  // namespace mm::api
