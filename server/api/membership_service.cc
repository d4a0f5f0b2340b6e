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

}  // namespace

grpc::ServerUnaryReactor* MembershipServiceImpl::GetMembership(grpc::CallbackServerContext* context,
                                                               const v1::GetMembershipRequest* request,
                                                               v1::Membership* response) {
  UnaryCall call(context, get_membership_);
  if (!call.Authorize(callers_, auth::kScopeMembersRead)) return call.reactor();
  if (!IsValidId(request->account_id()) || !IsValidId(request->user_id())) {
    return call.Finish(InvalidArgument("account_id and user_id must be 1..256 bytes"));
  }
  return call.OnDatabase(reads_, [request, response](store::ReadStore& store) {
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
  return call.OnDatabase(reads_, [request, response, query, limit, after](store::ReadStore& store) {
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
  return call.OnDatabase(reads_, [request, response, query, limit, after](store::ReadStore& store) {
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
  return call.OnDatabase(reads_, [request, response](store::ReadStore& store) {
    auto seats = store.GetSeatCount(request->account_id());
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
  return call.OnDatabase(reads_, [response, query, limit, after](store::ReadStore& store) {
    auto page = store.ListSeatCounts(after, limit);
    if (!page.ok()) return ToGrpcStatus(page.status());
    for (const auto& view : page->items) ToProto(view, response->add_seat_counts());
    if (page->more && !page->items.empty()) {
      response->set_next_page_token(MakePageToken(page->items.back().account_id, query));
    }
    return grpc::Status::OK;
  });
}

}  // namespace mm::api
