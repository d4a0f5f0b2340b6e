#include "api/admin_service.h"

#include <algorithm>
#include <map>

#include "api/conversions.h"
#include "api/page_token.h"

namespace mm::api {
namespace {

namespace v1 = membership::v1;

void SetIf(google::protobuf::Timestamp* (v1::SourceStatus::*field)(), v1::SourceStatus& out,
           const std::optional<TimePoint>& t) {
  if (t) SetTime((out.*field)(), *t);
}

// A keyset position as a page token's key: [micros, provider, event id].
std::string PositionKey(const store::EventPosition& p) { return EncodeTimeKey({p.at, {p.provider, p.event_id}}); }

// The position of a page token's key; nullopt for the first page. INVALID_ARGUMENT for a key
// no page of this kind wrote (ReadPageToken already checked the token is ours and intact).
absl::StatusOr<std::optional<store::EventPosition>> PositionOf(const std::string& key) {
  absl::StatusOr<std::optional<TimeKey>> k = DecodeTimeKey(key, 2);
  if (!k.ok()) return k.status();
  if (!*k) return std::optional<store::EventPosition>();
  return std::optional<store::EventPosition>(store::EventPosition{(*k)->at, (*k)->parts[0], (*k)->parts[1]});
}

// Paging of a position-keyed list: page_size (max 1,000, or `max_size`) and the position.
grpc::Status ReadPositionPaging(int32_t page_size, const std::string& token, const std::string& query, int max_size,
                                int& limit, std::optional<store::EventPosition>& after) {
  std::string key;
  if (grpc::Status s = ReadPaging(page_size, token, query, limit, key); !s.ok()) return s;
  if (limit > max_size) return InvalidArgument("page_size must be at most " + std::to_string(max_size));
  absl::StatusOr<std::optional<store::EventPosition>> position = PositionOf(key);
  if (!position.ok()) return ToGrpcStatus(position.status());
  after = *std::move(position);
  return grpc::Status::OK;
}

grpc::Status CheckProvider(const std::string& provider) {
  if (provider.empty() || domain::ParseProvider(provider)) return grpc::Status::OK;
  return InvalidArgument("provider must be huudis, fusionauth, monocloud or operator");
}

void ToProto(const store::DeadLetterView& d, v1::DeadLetter* out) {
  out->set_provider(d.provider);
  out->set_event_id(d.event_id);
  out->set_event_type(d.event_type);
  out->set_reason(d.reason);
  SetTime(out->mutable_received_at(), d.received_at);
  SetTime(out->mutable_fact_time(), d.fact_time);
  SetTime(out->mutable_created_at(), d.created_at);
  if (d.replayed_at) SetTime(out->mutable_replayed_at(), *d.replayed_at);
  out->set_replay_outcome(d.replay_outcome.value_or(""));
  out->set_replay_attempts(d.replay_attempts);
  out->set_replay_reason(d.replay_reason.value_or(""));
  out->set_source(d.source);
  out->set_scope(d.scope);
}

void ToProto(const store::UserEventView& e, v1::UserEvent* out) {
  out->set_provider(e.provider);
  out->set_event_id(e.event_id);
  out->set_event_type(e.event_type);
  SetTime(out->mutable_fact_time(), e.fact_time);
  SetTime(out->mutable_received_at(), e.received_at);
  out->set_outcome(e.outcome);
  out->set_dead_letter_reason(e.dead_letter_reason.value_or(""));
  out->set_sequence(e.sequence);
}

}  // namespace

AdminServiceImpl::AdminServiceImpl(DatabaseReads reads, const auth::CallerRegistry& callers,
                                   metrics::Metrics& metrics, std::vector<std::pair<std::string, std::string>> configured,
                                   replay::DeadLetterReplayer& replayer, const Clock& clock)
    : reads_(reads),
      callers_(callers),
      list_sources_(metrics.GrpcMethod("ListSources")),
      list_dead_letters_(metrics.GrpcMethod("ListDeadLetters")),
      replay_dead_letters_(metrics.GrpcMethod("ReplayDeadLetters")),
      list_user_events_(metrics.GrpcMethod("ListUserEvents")),
      replayer_(replayer),
      configured_(std::move(configured)),
      clock_(clock) {}

grpc::ServerUnaryReactor* AdminServiceImpl::ListSources(grpc::CallbackServerContext* context,
                                                        const v1::ListSourcesRequest* request,
                                                        v1::ListSourcesResponse* response) {
  UnaryCall call(context, list_sources_);
  if (!call.Authorize(callers_, auth::kScopeAdmin)) return call.reactor();
  return call.OnDatabase(reads_, request->min_sequence(), [this, response](store::ReadStore& store) {
    absl::StatusOr<std::vector<store::SourceStatus>> rows = store.ListSources();
    if (!rows.ok()) return ToGrpcStatus(rows.status());
    std::map<std::pair<std::string, std::string>, store::SourceStatus> by_key;
    for (store::SourceStatus& row : *rows) {
      std::pair<std::string, std::string> key{row.source, row.scope};
      by_key.emplace(std::move(key), std::move(row));
    }
    for (const auto& [source, scope] : configured_) {
      if (by_key.contains({source, scope})) continue;
      store::SourceStatus never_run;
      never_run.source = source;
      never_run.scope = scope;
      never_run.status = "never_run";
      by_key.emplace(std::make_pair(source, scope), std::move(never_run));
    }
    const TimePoint now = clock_.Now();
    for (const auto& [key, row] : by_key) {
      v1::SourceStatus* out = response->add_sources();
      out->set_source(row.source);
      out->set_scope(row.scope);
      out->set_status(row.status);
      SetIf(&v1::SourceStatus::mutable_last_attempt_at, *out, row.last_attempt_at);
      SetIf(&v1::SourceStatus::mutable_last_success_at, *out, row.last_success_at);
      SetIf(&v1::SourceStatus::mutable_watermark, *out, row.watermark);
      SetIf(&v1::SourceStatus::mutable_last_error_at, *out, row.last_error_at);
      if (row.last_success_at) {
        auto lag = std::chrono::duration_cast<std::chrono::microseconds>(
            std::max(now - *row.last_success_at, TimePoint::duration{}));
        out->mutable_lag()->set_seconds(lag.count() / 1000000);
        out->mutable_lag()->set_nanos(static_cast<int32_t>(lag.count() % 1000000) * 1000);
      }
      out->set_last_error(row.last_error.value_or(""));
      out->set_events_yielded(row.events_yielded);
      out->set_last_run_drift(row.last_run_drift);
      out->set_puller(row.puller.value_or(""));
      out->set_configured(std::find(configured_.begin(), configured_.end(), key) != configured_.end());
    }
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListDeadLetters(grpc::CallbackServerContext* context,
                                                            const v1::ListDeadLettersRequest* request,
                                                            v1::ListDeadLettersResponse* response) {
  UnaryCall call(context, list_dead_letters_);
  if (!call.Authorize(callers_, auth::kScopeAdmin)) return call.reactor();
  if (grpc::Status s = CheckProvider(request->provider()); !s.ok()) return call.Finish(s);
  if (request->reason().size() > 1024) return call.Finish(InvalidArgument("reason must be at most 1024 bytes"));
  store::DeadLetterFilter filter{
      .provider = request->provider(), .reason = request->reason(), .pending_only = request->pending_only()};
  const std::string query = "dead_letters\n" + filter.provider + "\n" + filter.reason + "\n" +
                            (filter.pending_only ? "pending" : "all");
  int limit = 0;
  std::optional<store::EventPosition> after;
  if (grpc::Status s = ReadPositionPaging(request->page_size(), request->page_token(), query, 1000, limit, after);
      !s.ok()) {
    return call.Finish(s);
  }
  return call.OnDatabase(reads_, request->min_sequence(), [response, filter, query, limit, after](store::ReadStore& store) {
    auto page = store.ListDeadLetters(filter, after, limit, /*with_bodies=*/false);
    if (!page.ok()) return ToGrpcStatus(page.status());
    for (const store::DeadLetterView& d : page->items) ToProto(d, response->add_dead_letters());
    if (page->more && !page->items.empty()) {
      const store::DeadLetterView& last = page->items.back();
      response->set_next_page_token(MakePageToken(PositionKey({last.created_at, last.provider, last.event_id}), query));
    }
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ReplayDeadLetters(grpc::CallbackServerContext* context,
                                                              const v1::ReplayDeadLettersRequest* request,
                                                              v1::ReplayDeadLettersResponse* response) {
  UnaryCall call(context, replay_dead_letters_);
  if (!call.Authorize(callers_, auth::kScopeAdmin)) return call.reactor();
  if (grpc::Status s = CheckProvider(request->provider()); !s.ok()) return call.Finish(s);
  if (request->reason().size() > 1024) return call.Finish(InvalidArgument("reason must be at most 1024 bytes"));
  replay::ReplaySelection selection;
  selection.provider = request->provider();
  selection.dry_run = request->dry_run();
  std::string query;
  if (request->event_ids_size() > 0) {
    if (request->event_ids_size() > replay::kMaxReplayBatch) {
      return call.Finish(InvalidArgument("at most 100 event_ids per call"));
    }
    if (!request->reason().empty() || !request->page_token().empty()) {
      return call.Finish(InvalidArgument("event_ids cannot be combined with reason or page_token"));
    }
    for (const std::string& id : request->event_ids()) {
      if (!IsValidId(id)) return call.Finish(InvalidArgument("event_ids must be 1..256 bytes each"));
      selection.event_ids.push_back(id);
    }
  } else {
    selection.reason = request->reason();
    query = "replay\n" + selection.provider + "\n" + selection.reason;
    if (grpc::Status s = ReadPositionPaging(request->page_size(), request->page_token(), query,
                                            replay::kMaxReplayBatch, selection.limit, selection.after);
        !s.ok()) {
      return call.Finish(s);
    }
  }
  response->set_dry_run(selection.dry_run);
  replayer_.Replay(std::move(selection), [call, response, query](absl::StatusOr<replay::ReplayReport> report) mutable {
    if (!report.ok()) {
      call.Finish(ToGrpcStatus(report.status()));
      return;
    }
    for (const replay::ReplayItem& item : report->items) {
      v1::ReplayResult* out = response->add_results();
      out->set_provider(item.provider);
      out->set_event_id(item.event_id);
      out->set_outcome(std::string(domain::OutcomeName(item.outcome)));
      out->set_reason(item.reason);
      out->set_sequence(item.sequence);
    }
    if (report->next) response->set_next_page_token(MakePageToken(PositionKey(*report->next), query));
    call.Finish(grpc::Status::OK);
  });
  return call.reactor();
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListUserEvents(grpc::CallbackServerContext* context,
                                                           const v1::ListUserEventsRequest* request,
                                                           v1::ListUserEventsResponse* response) {
  UnaryCall call(context, list_user_events_);
  if (!call.Authorize(callers_, auth::kScopeAdmin)) return call.reactor();
  if (!IsValidId(request->user_id())) return call.Finish(InvalidArgument("user_id must be 1..256 bytes"));
  const std::string query = "user_events\n" + request->user_id();
  int limit = 0;
  std::optional<store::EventPosition> after;
  if (grpc::Status s = ReadPositionPaging(request->page_size(), request->page_token(), query, 1000, limit, after);
      !s.ok()) {
    return call.Finish(s);
  }
  return call.OnDatabase(reads_, request->min_sequence(), [request, response, query, limit, after](store::ReadStore& store) {
    auto page = store.ListUserEvents(request->user_id(), after, limit);
    if (!page.ok()) return ToGrpcStatus(page.status());
    for (const store::UserEventView& e : page->items) ToProto(e, response->add_events());
    if (page->more && !page->items.empty()) {
      const store::UserEventView& last = page->items.back();
      response->set_next_page_token(MakePageToken(PositionKey({last.fact_time, last.provider, last.event_id}), query));
    }
    return grpc::Status::OK;
  });
}

}  // namespace mm::api
