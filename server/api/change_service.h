#pragma once
// membership.v1.ChangeService on the gRPC callback API: WatchChanges(after_sequence) streams
// every committed change with sequence > after_sequence exactly once, in strictly increasing
// order, then follows new changes live.
//
// How: the call subscribes to the ChangeHub first, then backfills from the change log on the
// database workers (ReadPool), page by page, until it reaches the sequence where its
// subscription starts; from then on it sends what the subscription holds, skipping sequences
// it already sent. No gRPC thread ever waits on the database, and at most one Write is in
// flight per call (the next row is sent from OnWriteDone), so a slow reader only fills its own
// bounded hub queue.
//
// What is streamed: `user` and `membership` entries as the proto defines them (the record
// after the change; `updated_at` is the commit time; a membership's account_name, user_email
// and user_name are not part of its change and are left empty). Account rows (workspace
// names) have no place in `Change`: they are skipped, but their sequences still count, so a
// resume position may name one.
//
// Statuses: UNAUTHENTICATED / PERMISSION_DENIED (scope `changes:watch`); UNAVAILABLE while the
// replica has not loaded its cache yet, when the database is unreachable during backfill, and
// at server shutdown (ChangeHub::Close); RESOURCE_EXHAUSTED when the replica has max_streams
// streams open already, when the database work queue is full, or when the reader fell so far
// behind that its hub queue overflowed — the message says
// "resume with after_sequence=N", N being the last sequence the stream delivered (or skipped);
// CANCELLED when the client goes away; DATA_LOSS for an unreadable change-log row; ABORTED
// when the database's change log was replaced under the replica (restore, failover that lost
// commits: the replica reloaded its snapshot; resume from a fresh snapshot). The stream
// never ends with OK; OUT_OF_RANGE when after_sequence is older than the change-log retention
// (those changes were pruned: the message names the oldest retained sequence).

#include <atomic>
#include <cstddef>

#include "api/rpc_support.h"
#include "cache/change_hub.h"
#include "common/task_thread.h"
#include "membership/v1/membership.grpc.pb.h"

namespace mm::api {

struct ChangeServiceOptions {
  int backfill_page_rows = 500;  // change-log rows read per database round trip
  size_t take_rows = 256;        // rows taken from the hub queue at a time
  // Streams open at once on this replica; more are answered RESOURCE_EXHAUSTED. Each holds at
  // most the hub's queue capacity of rows (shared with other streams) and one backfill page.
  int max_streams = 1000;
};

class ChangeServiceImpl final : public membership::v1::ChangeService::CallbackService {
 public:
  // Every reference must outlive the service (and the gRPC server that serves it).
  ChangeServiceImpl(cache::ChangeHub& hub, store::ReadPool& reads, const auth::CallerRegistry& callers,
                    metrics::Metrics& metrics, ChangeServiceOptions options = {});

  grpc::ServerWriteReactor<membership::v1::Change>* WatchChanges(
      grpc::CallbackServerContext* context, const membership::v1::WatchChangesRequest* request) override;

 private:
  cache::ChangeHub& hub_;
  store::ReadPool& reads_;
  const auth::CallerRegistry& callers_;
  metrics::GrpcMethodMetrics& metrics_;  // WatchChanges
  const ChangeServiceOptions options_;
  std::atomic<int> streams_{0};  // open streams (counted against max_streams)
  // Where a stream takes and decodes the rows the hub announces: not on the change follower's
  // thread, which publishes them and must stay free to keep the cache fresh.
  TaskThread pumps_;
};

}  // namespace mm::api
