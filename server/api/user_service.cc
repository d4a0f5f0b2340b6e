#include "api/user_service.h"

#include "api/conversions.h"

namespace mm::api {
namespace {

namespace v1 = membership::v1;

// The request's token_issued_at (nullopt when unset) into `out`; false if it is not a valid
// Timestamp, which the caller answers INVALID_ARGUMENT.
template <typename Request>
bool TokenIssuedAt(const Request& request, std::optional<TimePoint>& out) {
  if (!request.has_token_issued_at()) return true;
  out = GetTime(request.token_issued_at());
  return out.has_value();
}
constexpr char kBadTokenIssuedAt[] =
    "token_issued_at must be a valid Timestamp: 0001-01-01 to 9999-12-31, nanos 0 to 999999999";

void Fill(const cache::UserCheck& check, const std::string& user_id, v1::IsUserActiveResponse* out) {
  out->set_user_id(user_id);
  out->set_active(check.active);
  out->set_state(check.known ? ToProto(check.state) : v1::USER_STATE_UNKNOWN);
  if (check.state_changed_at) SetTime(out->mutable_state_changed_at(), *check.state_changed_at);
  out->set_disabled_reason(check.disabled_reason.data(), check.disabled_reason.size());
  if (check.sessions_valid_after) SetTime(out->mutable_sessions_valid_after(), *check.sessions_valid_after);
  out->set_sequence(check.sequence);
  SetTime(out->mutable_fresh_as_of(), check.fresh_as_of);
}

}  // namespace

UserServiceImpl::UserServiceImpl(const cache::UserStateCache& cache, cache::SequenceWaiters& waiters,
                                 store::ReadPool& reads, const auth::CallerRegistry& callers,
                                 metrics::Metrics& metrics, std::chrono::milliseconds max_wait)
    : cache_(cache),
      waiters_(waiters),
      reads_{reads, waiters, max_wait},
      callers_(callers),
      is_user_active_(metrics.GrpcMethod("IsUserActive")),
      batch_is_user_active_(metrics.GrpcMethod("BatchIsUserActive")),
      get_user_(metrics.GrpcMethod("GetUser")),
      max_wait_(max_wait) {
  SetMessageAllocatorFor_IsUserActive(&check_allocator_);
  SetMessageAllocatorFor_BatchIsUserActive(&batch_allocator_);
}

template <typename Answer>
grpc::ServerUnaryReactor* UserServiceImpl::AfterSequence(UnaryCall call, uint64_t min_sequence, Answer answer) {
  // Before the snapshot has loaded every user would look unknown: an answer then would be a
  // guess (DESIGN §5a).
  if (!cache_.loaded()) {
    return call.Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                    "replica is still loading its user state cache; retry"));
  }
  if (min_sequence == 0 || cache_.sequence() >= min_sequence) return call.Finish(answer());
  return call.AfterApplied(waiters_, min_sequence, max_wait_,
                           [answer = std::move(answer)](UnaryCall& waited) mutable { waited.Finish(answer()); });
}

grpc::ServerUnaryReactor* UserServiceImpl::IsUserActive(grpc::CallbackServerContext* context,
                                                        const v1::IsUserActiveRequest* request,
                                                        v1::IsUserActiveResponse* response) {
  UnaryCall call(context, is_user_active_);
  if (!call.Authorize(callers_, auth::kScopeUsersCheck)) return call.reactor();
  if (!IsValidId(request->user_id())) return call.Finish(InvalidArgument("user_id must be 1..256 bytes"));
  std::optional<TimePoint> issued;
  if (!TokenIssuedAt(*request, issued)) return call.Finish(InvalidArgument(kBadTokenIssuedAt));
  return AfterSequence(call, request->min_sequence(), [this, request, response, issued] {
    Fill(cache_.Check(request->user_id(), issued), request->user_id(), response);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* UserServiceImpl::BatchIsUserActive(grpc::CallbackServerContext* context,
                                                             const v1::BatchIsUserActiveRequest* request,
                                                             v1::BatchIsUserActiveResponse* response) {
  UnaryCall call(context, batch_is_user_active_);
  if (!call.Authorize(callers_, auth::kScopeUsersCheck)) return call.reactor();
  if (request->user_ids_size() > static_cast<int>(kMaxBatchIds)) {
    return call.Finish(InvalidArgument("at most 1000 user_ids"));
  }
  for (int i = 0; i < request->user_ids_size(); ++i) {
    if (!IsValidId(request->user_ids(i))) {
      return call.Finish(InvalidArgument("user_ids[" + std::to_string(i) + "] must be 1..256 bytes"));
    }
  }
  std::optional<TimePoint> issued;
  if (!TokenIssuedAt(*request, issued)) return call.Finish(InvalidArgument(kBadTokenIssuedAt));
  return AfterSequence(call, request->min_sequence(), [this, request, response, issued] {
    response->mutable_results()->Reserve(request->user_ids_size());
    for (const std::string& id : request->user_ids()) Fill(cache_.Check(id, issued), id, response->add_results());
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* UserServiceImpl::GetUser(grpc::CallbackServerContext* context,
                                                   const v1::GetUserRequest* request, v1::User* response) {
  UnaryCall call(context, get_user_);
  if (!call.Authorize(callers_, auth::kScopeUsersRead)) return call.reactor();
  if (!IsValidId(request->user_id())) return call.Finish(InvalidArgument("user_id must be 1..256 bytes"));
  return call.OnDatabase(reads_, request->min_sequence(), [request, response](store::ReadStore& store) {
    auto user = store.GetUser(request->user_id());
    if (!user.ok()) return ToGrpcStatus(user.status());
    if (!*user) return grpc::Status(grpc::StatusCode::NOT_FOUND, "user never seen: " + request->user_id());
    ToProto(**user, response);
    return grpc::Status::OK;
  });
}

}  // namespace mm::api
