#pragma once
// Request and response of a callback-API unary call allocated on one protobuf Arena per call
// (gRPC's MessageAllocator hook). A BatchIsUserActive answer is a few hundred small messages
// (each result, its timestamps, its strings): on an arena they cost a pointer bump each and
// are freed at once when the call ends, instead of one malloc/free per message. The first
// block lives inside the holder, so a small call (IsUserActive) allocates nothing more.

#include <grpcpp/support/message_allocator.h>
#include <google/protobuf/arena.h>

namespace mm::api {

template <typename Request, typename Response>
class ArenaMessageAllocator final : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override { return new Holder(); }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(Options(first_block_, sizeof(first_block_))) {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions Options(char* block, size_t size) {
      google::protobuf::ArenaOptions options;
      options.initial_block = block;
      options.initial_block_size = size;
      options.max_block_size = 64 * 1024;  // a 1,000-id batch answer fits in a few blocks
      return options;
    }
    alignas(8) char first_block_[1024];  // before arena_: constructed first, destroyed last
    google::protobuf::Arena arena_;
  };
};

}  // namespace mm::api
