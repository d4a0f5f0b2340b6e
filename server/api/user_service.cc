#include "api/user_service.h"

#include <google/protobuf/util/time_util.h>

#include "api/call_auth.h"

namespace mm::api {
namespace {

namespace v1 = membership::v1;
using google::protobuf::Timestamp;

void SetTime(Timestamp* out, TimePoint t) {
  int64_t us = ToUnixMicros(t);
  int64_t seconds = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>((us - seconds * 1000000) * 1000));
}

std::optional<TimePoint> GetTime(const Timestamp& t) {
  return FromUnixMicros(t.seconds() * 1000000 + t.nanos() / 1000);
}

v1::UserState ToProto(domain::UserState s) {
  switch (s) {
    case domain::UserState::kActive: return v1::USER_STATE_ACTIVE;
    case domain::UserState::kDisabled: return v1::USER_STATE_DISABLED;
    case domain::UserState::kDeleted: return v1::USER_STATE_DELETED;
  }
  return v1::USER_STATE_UNSPECIFIED;
}

void Fill(const cache::UserCheck& check, const std::string& user_id, v1::IsUserActiveResponse* out) {
  out->set_user_id(user_id);
  out->set_active(check.active);
  out->set_state(check.known ? ToProto(check.state) : v1::USER_STATE_UNKNOWN);
  if (check.state_changed_at) SetTime(out->mutable_state_changed_at(), *check.state_changed_at);
  out->set_disabled_reason(check.disabled_reason);
  if (check.sessions_valid_after) SetTime(out->mutable_sessions_valid_after(), *check.sessions_valid_after);
  out->set_sequence(check.sequence);
  SetTime(out->mutable_fresh_as_of(), check.fresh_as_of);
}

}  // namespace

UserServiceImpl::UserServiceImpl(const cache::UserStateCache& cache, cache::SequenceWaiters& waiters,
                                 const auth::CallerRegistry& callers, metrics::Metrics& metrics,
                                 std::chrono::milliseconds max_wait)
    : cache_(cache), waiters_(waiters), callers_(callers), metrics_(metrics), max_wait_(max_wait) {}

grpc::ServerUnaryReactor* UserServiceImpl::Finish(grpc::CallbackServerContext* /*context*/,
                                                  grpc::ServerUnaryReactor* reactor,
                                                  const grpc::Status& status, std::string_view method,
                                                  std::chrono::steady_clock::time_point started) {
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
  static const char* const kCodeNames[] = {
      "OK",        "CANCELLED",          "UNKNOWN",           "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS",     "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION", "ABORTED",  "OUT_OF_RANGE",      "UNIMPLEMENTED",    "INTERNAL",
      "UNAVAILABLE", "DATA_LOSS",        "UNAUTHENTICATED"};
  int code = static_cast<int>(status.error_code());
  metrics_.GrpcAnswered(method, code >= 0 && code <= 16 ? kCodeNames[code] : "UNKNOWN", elapsed.count());
  reactor->Finish(status);
  return reactor;
}

void UserServiceImpl::AfterSequence(grpc::CallbackServerContext* context,
                                    grpc::ServerUnaryReactor* reactor, uint64_t min_sequence,
                                    std::function<grpc::Status()> answer) {
  auto started = std::chrono::steady_clock::now();
  if (min_sequence == 0 || cache_.sequence() >= min_sequence) {
    Finish(context, reactor, answer(), "IsUserActive", started);
    return;
  }
  // gRPC deadlines are system_clock; our timer is steady_clock.
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
      context->deadline() - std::chrono::system_clock::now());
  auto deadline = started + std::min(remaining, max_wait_);
  waiters_.Wait(min_sequence, deadline,
                [this, context, reactor, min_sequence, answer = std::move(answer), started](bool reached) {
                  if (!reached) {
                    Finish(context, reactor,
                           grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                        "replica has not reached min_sequence " +
                                            std::to_string(min_sequence) + " (at " +
                                            std::to_string(cache_.sequence()) + ")"),
                           "IsUserActive", started);
                    return;
                  }
                  Finish(context, reactor, answer(), "IsUserActive", started);
                });
}

grpc::ServerUnaryReactor* UserServiceImpl::IsUserActive(grpc::CallbackServerContext* context,
                                                        const v1::IsUserActiveRequest* request,
                                                        v1::IsUserActiveResponse* response) {
  auto started = std::chrono::steady_clock::now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status s = Authorize(callers_, *context, auth::kScopeUsersCheck); !s.ok()) {
    return Finish(context, reactor, s, "IsUserActive", started);
  }
  if (!IsValidId(request->user_id())) {
    return Finish(context, reactor,
                  grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "user_id must be 1..256 bytes"),
                  "IsUserActive", started);
  }
  AfterSequence(context, reactor, request->min_sequence(), [this, request, response] {
    std::optional<TimePoint> issued;
    if (request->has_token_issued_at()) issued = GetTime(request->token_issued_at());
    Fill(cache_.Check(request->user_id(), issued), request->user_id(), response);
    return grpc::Status::OK;
  });
  return reactor;
}

grpc::ServerUnaryReactor* UserServiceImpl::BatchIsUserActive(
    grpc::CallbackServerContext* context, const v1::BatchIsUserActiveRequest* request,
    v1::BatchIsUserActiveResponse* response) {
  auto started = std::chrono::steady_clock::now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status s = Authorize(callers_, *context, auth::kScopeUsersCheck); !s.ok()) {
    return Finish(context, reactor, s, "BatchIsUserActive", started);
  }
  if (request->user_ids_size() > static_cast<int>(kMaxBatchIds)) {
    return Finish(context, reactor,
                  grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "at most 1000 user_ids"),
                  "BatchIsUserActive", started);
  }
  for (int i = 0; i < request->user_ids_size(); ++i) {
    if (!IsValidId(request->user_ids(i))) {
      return Finish(context, reactor,
                    grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "user_ids[" + std::to_string(i) + "] must be 1..256 bytes"),
                    "BatchIsUserActive", started);
    }
  }
  AfterSequence(context, reactor, request->min_sequence(), [this, request, response] {
    std::optional<TimePoint> issued;
    if (request->has_token_issued_at()) issued = GetTime(request->token_issued_at());
    for (const std::string& id : request->user_ids()) {
      Fill(cache_.Check(id, issued), id, response->add_results());
    }
    return grpc::Status::OK;
  });
  return reactor;
}

}  // namespace mm::api
