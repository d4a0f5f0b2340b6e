#pragma once
// membership.v1.AdminService (scope `admin`): for operators. ListSources reads source_state on
// a database worker and adds the sources this replica has configured that have not run yet.
// ListDeadLetters and ListUserEvents read on a database worker; ReplayDeadLetters hands the
// letters to the write side (replay/dead_letter_replay.h), which answers after the commit.

#include <string>
#include <utility>
#include <vector>

#include "api/rpc_support.h"
#include "common/time.h"
#include "membership/v1/membership.grpc.pb.h"
#include "replay/dead_letter_replay.h"

namespace mm::api {

class AdminServiceImpl final : public membership::v1::AdminService::CallbackService {
 public:
  // `configured`: (source, scope) pairs this replica pulls when it holds the source's lease.
  AdminServiceImpl(DatabaseReads reads, const auth::CallerRegistry& callers, metrics::Metrics& metrics,
                   std::vector<std::pair<std::string, std::string>> configured, replay::DeadLetterReplayer& replayer,
                   const Clock& clock = SystemClock::Instance());

  grpc::ServerUnaryReactor* ListSources(grpc::CallbackServerContext* context,
                                        const membership::v1::ListSourcesRequest* request,
                                        membership::v1::ListSourcesResponse* response) override;

  grpc::ServerUnaryReactor* ListDeadLetters(grpc::CallbackServerContext* context,
                                            const membership::v1::ListDeadLettersRequest* request,
                                            membership::v1::ListDeadLettersResponse* response) override;
  grpc::ServerUnaryReactor* ReplayDeadLetters(grpc::CallbackServerContext* context,
                                              const membership::v1::ReplayDeadLettersRequest* request,
                                              membership::v1::ReplayDeadLettersResponse* response) override;
  grpc::ServerUnaryReactor* ListUserEvents(grpc::CallbackServerContext* context,
                                           const membership::v1::ListUserEventsRequest* request,
                                           membership::v1::ListUserEventsResponse* response) override;

 private:
  DatabaseReads reads_;
  const auth::CallerRegistry& callers_;
  metrics::GrpcMethodMetrics& list_sources_;
  metrics::GrpcMethodMetrics& list_dead_letters_;
  metrics::GrpcMethodMetrics& replay_dead_letters_;
  metrics::GrpcMethodMetrics& list_user_events_;
  replay::DeadLetterReplayer& replayer_;
  const std::vector<std::pair<std::string, std::string>> configured_;
  const Clock& clock_;
};

}  // namespace mm::api
