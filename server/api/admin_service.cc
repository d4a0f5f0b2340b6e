#include "api/admin_service.h"

#include <algorithm>
#include <map>

#include "api/conversions.h"

namespace mm::api {
namespace {

namespace v1 = membership::v1;

void SetIf(google::protobuf::Timestamp* (v1::SourceStatus::*field)(), v1::SourceStatus& out,
           const std::optional<TimePoint>& t) {
  if (t) SetTime((out.*field)(), *t);
}

}  // namespace

AdminServiceImpl::AdminServiceImpl(store::ReadPool& reads, const auth::CallerRegistry& callers,
                                   metrics::Metrics& metrics, std::vector<std::pair<std::string, std::string>> configured,
                                   const Clock& clock)
    : reads_(reads),
      callers_(callers),
      list_sources_(metrics.GrpcMethod("ListSources")),
      configured_(std::move(configured)),
      clock_(clock) {}

grpc::ServerUnaryReactor* AdminServiceImpl::ListSources(grpc::CallbackServerContext* context,
                                                        const v1::ListSourcesRequest* /*request*/,
                                                        v1::ListSourcesResponse* response) {
  UnaryCall call(context, list_sources_);
  if (!call.Authorize(callers_, auth::kScopeAdmin)) return call.reactor();
  return call.OnDatabase(reads_, [this, response](store::ReadStore& store) {
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

}  // namespace mm::api
