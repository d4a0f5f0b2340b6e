// The operator API's refusal of user ids the mirror cannot store (server/ingress/operator_api.h):
// a percent-decoded id holding NUL or bytes that are not UTF-8 is 422 before any read or write.
// Found by tests/fuzz/http_ingress_fuzz.cc: an id that is not UTF-8 made the event's JSON
// throw on a database worker (std::terminate), and one holding NUL reaches libpq, which cuts
// the parameter at the NUL and so reads another user.

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include <boost/beast/http/verb.hpp>
#include <gtest/gtest.h>

#include "auth/caller_registry.h"
#include "common/crypto.h"
#include "ingest/event_writer.h"
#include "ingress/operator_api.h"
#include "metrics/metrics.h"
#include "store/in_memory_event_store.h"
#include "store/read_pool.h"
#include "store/read_store.h"

namespace mm::ingress {
namespace {

constexpr char kToken[] = "operator-token";

// Knows every user whose id starts with "usr_", whatever follows (as a store that does not
// refuse such ids would).
class AnyUserStore final : public store::ReadStore {
 public:
  absl::StatusOr<std::optional<store::UserView>> GetUser(const std::string& user_id) override {
    if (!user_id.starts_with("usr_")) return std::nullopt;
    store::UserView view;
    view.record.user_id = user_id;
    return view;
  }
  absl::StatusOr<std::optional<store::MembershipView>> GetMembership(const std::string&, const std::string&) override {
    return absl::UnimplementedError("not used");
  }
  absl::StatusOr<store::Page<store::MembershipView>> ListMembers(const std::string&, const std::string&,
                                                                 const std::string&, int) override {
    return absl::UnimplementedError("not used");
  }
  absl::StatusOr<store::Page<store::MembershipView>> ListUserMemberships(const std::string&, const std::string&,
                                                                         int) override {
    return absl::UnimplementedError("not used");
  }
  absl::StatusOr<store::SeatCountView> GetSeatCount(const std::string&) override {
    return absl::UnimplementedError("not used");
  }
  absl::StatusOr<store::Page<store::SeatCountView>> ListSeatCounts(const std::string&, int) override {
    return absl::UnimplementedError("not used");
  }
  absl::StatusOr<std::vector<store::ChangeRow>> ReadChanges(uint64_t, int) override {
    return absl::UnimplementedError("not used");
  }
  absl::StatusOr<std::vector<store::SourceStatus>> ListSources() override {
    return absl::UnimplementedError("not used");
  }
};

class OperatorApiTest : public ::testing::Test {
 protected:
  HttpResponse Send(boost::beast::http::verb method, const std::string& target) {
    HttpRequest request(method, target, 11);
    request.set("X-API-Key", kToken);
    std::string path = target;
    auto answer = std::make_shared<std::promise<HttpResponse>>();
    HandleOperatorRequest(deps_, request, path, [answer](HttpResponse r) { answer->set_value(std::move(r)); });
    std::future<HttpResponse> future = answer->get_future();
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return future.get();
  }

  store::InMemoryEventStore events_;
  ingest::EventWriter writer_{events_, {}};
  store::ReadPool reads_{[] { return std::make_unique<AnyUserStore>(); }, 1, 10};
  auth::CallerRegistry callers_ = *auth::CallerRegistry::FromJson(
      R"([{"name": "ops", "token_sha256": ")" + HexEncode(Sha256(kToken)) +
      R"(", "scopes": ["users:read", "users:write"]}])");
  metrics::Metrics metrics_;
  OperatorApiDeps deps_{.writer = &writer_, .reads = &reads_, .callers = &callers_, .metrics = &metrics_};
};

TEST_F(OperatorApiTest, AnOrdinaryIdIsServed) {
  EXPECT_EQ(Send(boost::beast::http::verb::post, "/v1/users/usr_1/disable").status, 200);
  EXPECT_EQ(Send(boost::beast::http::verb::get, "/v1/users/usr_1").status, 200);
}

TEST_F(OperatorApiTest, AnIdThatIsNotUtf8Is422) {
  EXPECT_EQ(Send(boost::beast::http::verb::post, "/v1/users/usr_%F9/disable").status, 422);
  EXPECT_EQ(Send(boost::beast::http::verb::post, "/v1/users/usr_%C3%28/enable").status, 422);
  EXPECT_EQ(Send(boost::beast::http::verb::get, "/v1/users/usr_%ED%A0%80").status, 422);  // a surrogate
}

TEST_F(OperatorApiTest, AnIdHoldingNulIs422) {
  EXPECT_EQ(Send(boost::beast::http::verb::post, "/v1/users/usr_1%00x/disable").status, 422);
  EXPECT_EQ(Send(boost::beast::http::verb::get, "/v1/users/usr_1%00").status, 422);
}

}  // namespace
}  // namespace mm::ingress
