#include "api/membership_service.h"

#include "api/conversions.h"
#include "api/page_token.h"

namespace mm::api {
namespace {

namespace v1 = membership::v1;

// Runs a paged membership query and fills `out` (a repeated Membership) and the next token.
template <typename Repeated>
grpc::Status FillPage(const absl::StatusOr<store::Page<store::MembershipView>>& page, Repeated* out,
                      std::string* next_token, const std::string& query, bool by_user) {
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const auto& view : page->items) ToProto(view, out->Add());
  if (page->more && !page->items.empty()) {
    const auto& last = page->items.back().record;
    *next_token = MakePageToken(by_user ? last.user_id : last.account_id, query);
  }
  return grpc::Status::OK;
}

// The account and [start, end) of a seat-ledger request: a valid account id, both times set
// and valid, start before end.
template <typename Request>
grpc::Status ReadAccountInterval(const Request& request, TimePoint& start, TimePoint& end) {
  if (!IsValidId(request.account_id())) return InvalidArgument("account_id must be 1..256 bytes");
  std::optional<TimePoint> s = request.has_start() ? GetTime(request.start()) : std::nullopt;
  std::optional<TimePoint> e = request.has_end() ? GetTime(request.end()) : std::nullopt;
  if (!s || !e) return InvalidArgument("start and end must be set to valid timestamps");
  if (*s >= *e) return InvalidArgument("start must be before end");
  start = *s;
  end = *e;
  return grpc::Status::OK;
}

}  // namespace

grpc::ServerUnaryReactor* MembershipServiceImpl::GetMembership(grpc::CallbackServerContext* context,
                                                               const v1::GetMembershipRequest* request,
                                                               v1::Membership* response) {
  UnaryCall call(context, get_membership_);
  if (!call.Authorize(callers_, auth::kScopeMembersRead)) return call.reactor();
  if (!IsValidId(request->account_id()) || !IsValidId(request->user_id())) {
    return call.Finish(InvalidArgument("account_id and user_id must be 1..256 bytes"));
  }
  return call.OnDatabase(reads_, request->min_sequence(), [request, response](store::ReadStore& store) {
    auto m = store.GetMembership(request->account_id(), request->user_id());
    if (!m.ok()) return ToGrpcStatus(m.status());
    if (!*m) return grpc::Status(grpc::StatusCode::NOT_FOUND, "not a member");
    ToProto(**m, response);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* MembershipServiceImpl::ListMembers(grpc::CallbackServerContext* context,
                                                             const v1::ListMembersRequest* request,
                                                             v1::ListMembersResponse* response) {
  UnaryCall call(context, list_members_);
  if (!call.Authorize(callers_, auth::kScopeMembersRead)) return call.reactor();
  if (!IsValidId(request->account_id())) return call.Finish(InvalidArgument("account_id must be 1..256 bytes"));
  if (request->role().size() > 256) return call.Finish(InvalidArgument("role must be at most 256 bytes"));
  const std::string query = "members\n" + request->account_id() + "\n" + request->role();
  int limit = 0;
  std::string after;
  if (grpc::Status s = ReadPaging(request->page_size(), request->page_token(), query, limit, after); !s.ok()) {
    return call.Finish(s);
  }
  return call.OnDatabase(reads_, request->min_sequence(), [request, response, query, limit, after](store::ReadStore& store) {
    return FillPage(store.ListMembers(request->account_id(), request->role(), after, limit),
                    response->mutable_members(), response->mutable_next_page_token(), query, true);
  });
}

grpc::ServerUnaryReactor* MembershipServiceImpl::ListUserMemberships(
    grpc::CallbackServerContext* context, const v1::ListUserMembershipsRequest* request,
    v1::ListUserMembershipsResponse* response) {
  UnaryCall call(context, list_user_memberships_);
  if (!call.Authorize(callers_, auth::kScopeMembersRead)) return call.reactor();
  if (!IsValidId(request->user_id())) return call.Finish(InvalidArgument("user_id must be 1..256 bytes"));
  const std::string query = "memberships\n" + request->user_id();
  int limit = 0;
  std::string after;
  if (grpc::Status s = ReadPaging(request->page_size(), request->page_token(), query, limit, after); !s.ok()) {
    return call.Finish(s);
  }
  return call.OnDatabase(reads_, request->min_sequence(), [request, response, query, limit, after](store::ReadStore& store) {
    return FillPage(store.ListUserMemberships(request->user_id(), after, limit),
                    response->mutable_memberships(), response->mutable_next_page_token(), query, false);
  });
}

grpc::ServerUnaryReactor* SeatServiceImpl::GetSeatCount(grpc::CallbackServerContext* context,
                                                        const v1::GetSeatCountRequest* request,
                                                        v1::SeatCount* response) {
  UnaryCall call(context, get_seat_count_);
  if (!call.Authorize(callers_, auth::kScopeSeatsRead)) return call.reactor();
  if (!IsValidId(request->account_id())) return call.Finish(InvalidArgument("account_id must be 1..256 bytes"));
  std::optional<TimePoint> as_of;
  if (request->has_as_of()) {
    as_of = GetTime(request->as_of());
    if (!as_of) return call.Finish(InvalidArgument("as_of must be a valid timestamp"));
  }
  return call.OnDatabase(reads_, request->min_sequence(), [request, response, as_of](store::ReadStore& store) {
    auto seats = as_of ? store.GetSeatCountAt(request->account_id(), *as_of) : store.GetSeatCount(request->account_id());
    if (!seats.ok()) return ToGrpcStatus(seats.status());
    ToProto(*seats, response);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* SeatServiceImpl::ListSeatCounts(grpc::CallbackServerContext* context,
                                                          const v1::ListSeatCountsRequest* request,
                                                          v1::ListSeatCountsResponse* response) {
  UnaryCall call(context, list_seat_counts_);
  if (!call.Authorize(callers_, auth::kScopeSeatsRead)) return call.reactor();
  const std::string query = "seat_counts";
  int limit = 0;
  std::string after;
  if (grpc::Status s = ReadPaging(request->page_size(), request->page_token(), query, limit, after); !s.ok()) {
    return call.Finish(s);
  }
  return call.OnDatabase(reads_, request->min_sequence(), [response, query, limit, after](store::ReadStore& store) {
    auto page = store.ListSeatCounts(after, limit);
    if (!page.ok()) return ToGrpcStatus(page.status());
    for (const auto& view : page->items) ToProto(view, response->add_seat_counts());
    if (page->more && !page->items.empty()) {
      response->set_next_page_token(MakePageToken(page->items.back().account_id, query));
    }
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* SeatServiceImpl::ListSeatChanges(grpc::CallbackServerContext* context,
                                                           const v1::ListSeatChangesRequest* request,
                                                           v1::ListSeatChangesResponse* response) {
  UnaryCall call(context, list_seat_changes_);
  if (!call.Authorize(callers_, auth::kScopeSeatsRead)) return call.reactor();
  TimePoint start, end;
  if (grpc::Status s = ReadAccountInterval(*request, start, end); !s.ok()) return call.Finish(s);
  const std::string query = "seat_changes\n" + request->account_id() + "\n" + std::to_string(ToUnixMicros(start)) +
                            "\n" + std::to_string(ToUnixMicros(end)) + "\n" +
                            (request->include_non_billable() ? "all" : "billable");
  int limit = 0;
  std::string key;
  if (grpc::Status s = ReadPaging(request->page_size(), request->page_token(), query, limit, key); !s.ok()) {
    return call.Finish(s);
  }
  absl::StatusOr<std::optional<TimeKey>> after = DecodeTimeKey(key, 3);
  if (!after.ok()) return call.Finish(ToGrpcStatus(after.status()));
  std::optional<store::SeatChangePosition> position;
  if (*after) position = store::SeatChangePosition{(*after)->at, (*after)->parts[0], (*after)->parts[1], (*after)->parts[2]};
  return call.OnDatabase(reads_, request->min_sequence(), [request, response, query, limit, start, end, position](store::ReadStore& store) {
    uint64_t sequence = 0;
    auto page = store.ListSeatChanges(request->account_id(), start, end, position, limit,
                                      request->include_non_billable(), sequence);
    if (!page.ok()) return ToGrpcStatus(page.status());
    for (const auto& change : page->items) {
      v1::SeatChange* out = response->add_changes();
      out->set_account_id(request->account_id());
      out->set_user_id(change.user_id);
      out->set_role(change.role);
      out->set_delta(change.billable);
      out->set_member_delta(change.members);
      SetTime(out->mutable_at(), change.at);
      out->set_event_id(change.event_id);
    }
    response->set_sequence(sequence);
    if (page->more && !page->items.empty()) {
      const auto& last = page->items.back();
      response->set_next_page_token(
          MakePageToken(EncodeTimeKey({last.at, {last.user_id, last.event_id, last.role}}), query));
    }
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* SeatServiceImpl::GetSeatUsage(grpc::CallbackServerContext* context,
                                                        const v1::GetSeatUsageRequest* request,
                                                        v1::SeatUsage* response) {
  UnaryCall call(context, get_seat_usage_);
  if (!call.Authorize(callers_, auth::kScopeSeatsRead)) return call.reactor();
  TimePoint start, end;
  if (grpc::Status s = ReadAccountInterval(*request, start, end); !s.ok()) return call.Finish(s);
  return call.OnDatabase(reads_, request->min_sequence(), [request, response, start, end](store::ReadStore& store) {
    auto usage = store.GetSeatUsage(request->account_id(), start, end);
    if (!usage.ok()) return ToGrpcStatus(usage.status());
    response->set_account_id(request->account_id());
    SetTime(response->mutable_start(), start);
    SetTime(response->mutable_end(), end);
    response->set_billable_seat_seconds(usage->billable_seat_seconds);
    response->set_min_billable(usage->min_billable);
    response->set_max_billable(usage->max_billable);
    response->set_start_billable(usage->start_billable);
    response->set_end_billable(usage->end_billable);
    const double seconds = static_cast<double>(ToUnixMicros(end) - ToUnixMicros(start)) / 1e6;
    response->set_mean_billable(usage->billable_seat_seconds / seconds);
    response->set_sequence(usage->sequence);
    return grpc::Status::OK;
  });
}

}  // namespace mm::api
