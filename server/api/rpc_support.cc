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

grpc::ServerUnaryReactor* UnaryCall::OnDatabase(store::ReadPool& pool,
                                                std::function<grpc::Status(store::ReadStore&)> work) {
  // The call object is small and copied into the task: it outlives this handler frame.
  UnaryCall call = *this;
  bool queued = pool.TrySubmit([call, work = std::move(work), &pool](store::ReadStore& store) mutable {
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
  if (!queued) return Finish(DatabaseQueueFull());
  return reactor_;
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
