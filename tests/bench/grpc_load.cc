#include "grpc_load.h"

#include <chrono>
#include <memory>

#include <grpcpp/generic/generic_stub.h>

#include "bench_support.h"

namespace mm::bench {
namespace {

struct Slot {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call;
  grpc::ByteBuffer response;
  grpc::Status status;
  Steady::time_point started;
};

}  // namespace

LoadResult RunLoad(const LoadOptions& options) {
  grpc::ChannelArguments args;
  // A channel of its own per run: no connection state carried from one measurement to the next.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
    LoadResult failed;
    failed.failures = 1;
    failed.first_failure = "cannot connect to " + options.target;
    return failed;
  }
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  const std::string authorization = "Bearer " + options.bearer_token;

  LoadResult result;
  result.latency_ms.reserve(1 << 20);
  const auto start = Steady::now();
  const auto measure_from = start + std::chrono::duration_cast<Steady::duration>(
                                        std::chrono::duration<double>(options.warmup_seconds));
  const auto stop_at = measure_from + std::chrono::duration_cast<Steady::duration>(
                                          std::chrono::duration<double>(options.measure_seconds));
  size_t next_request = 0;
  std::vector<Slot> slots(static_cast<size_t>(options.streams));

  auto launch = [&](Slot& slot) {
    slot.context = std::make_unique<grpc::ClientContext>();
    slot.context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!options.bearer_token.empty()) slot.context->AddMetadata("authorization", authorization);
    slot.status = grpc::Status();
    slot.started = Steady::now();
    slot.call = stub.PrepareUnaryCall(slot.context.get(), options.method,
                                      options.requests[next_request++ % options.requests.size()], &cq);
    slot.call->StartCall();
    slot.call->Finish(&slot.response, &slot.status, &slot);
  };

  for (Slot& slot : slots) launch(slot);
  size_t in_flight = slots.size();
  while (in_flight > 0) {
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok)) break;
    Slot& slot = *static_cast<Slot*>(tag);
    const auto now = Steady::now();
    if (slot.status.ok()) {
      ++result.all_calls;
      if (slot.started >= measure_from && now <= stop_at) {
        ++result.calls;
        result.latency_ms.push_back(std::chrono::duration<double, std::milli>(now - slot.started).count());
      }
    } else if (result.failures++ == 0) {
      result.first_failure = std::to_string(slot.status.error_code()) + " " + slot.status.error_message();
    }
    if (now < stop_at) {
      launch(slot);
    } else {
      --in_flight;
    }
  }
  result.seconds = options.measure_seconds;
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
  return result;
}

}  // namespace mm::bench
