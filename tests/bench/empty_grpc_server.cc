// The baseline for the IsUserActive benchmark: a gRPC server built with the same toolchain,
// the same gRPC library, the same callback API and the same ServerBuilder defaults as
// membership-mirror, serving the same UserService whose handlers answer at once with an empty
// response. What it costs is what gRPC itself costs; the ratio to it is what our handler adds.
//
// Run by grpc_bench through tests/support's ServiceProcess: it listens on MM_GRPC_LISTEN and
// prints the same "listening" log line as the service (http_port 0: it has no HTTP side).

#include <cstdio>
#include <cstdlib>
#include <string>

#include <grpcpp/grpcpp.h>

#include "common/process_tuning.h"
#include "membership/v1/membership.grpc.pb.h"

namespace {

namespace v1 = membership::v1;

class EmptyUserService final : public v1::UserService::CallbackService {
  grpc::ServerUnaryReactor* IsUserActive(grpc::CallbackServerContext* context, const v1::IsUserActiveRequest*,
                                         v1::IsUserActiveResponse*) override {
    return Done(context);
  }
  grpc::ServerUnaryReactor* BatchIsUserActive(grpc::CallbackServerContext* context,
                                              const v1::BatchIsUserActiveRequest*,
                                              v1::BatchIsUserActiveResponse*) override {
    return Done(context);
  }
  static grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

int main() {
  // The same process set-up as membership-mirror's main, so that the baseline differs from
  // the service only in its handlers.
  mm::TuneProcessForServing();
  const char* listen = std::getenv("MM_GRPC_LISTEN");
  EmptyUserService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen != nullptr ? listen : "127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return 1;
  std::fprintf(stderr, "{\"msg\":\"listening\",\"http_port\":\"0\",\"grpc_port\":\"%d\"}\n", port);
  std::fflush(stderr);
  server->Wait();  // until killed by the benchmark
}
