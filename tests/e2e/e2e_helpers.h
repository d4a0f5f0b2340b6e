#pragma once
// Helpers shared by the end-to-end tests: fixtures with fresh ids, signed webhook posts, callers
// files, and gRPC stubs that carry a bearer token.

#include <chrono>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "adapters/huudis_signature.h"
#include "callers_file.h"
#include "common/crypto.h"
#include "http_post.h"
#include "common/time.h"
#include "membership/v1/membership.grpc.pb.h"

namespace mm::testing {

inline constexpr char kSecret[] = "whsec_e2e_primary";
inline constexpr char kRotatedSecret[] = "whsec_e2e_next";

// Tokens in the callers file written by WriteCallersFile.
inline constexpr char kCheckerToken[] = "token-checker";  // users:check
inline constexpr char kReaderToken[] = "token-reader";    // users:read
inline constexpr char kAdminToken[] = "token-admin";      // admin only

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string Fixture(const std::string& name) {
  return ReadFile(std::string(MM_FIXTURES_DIR) + "/" + name);
}

inline std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size()) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

// A fixture with its event id, user id and account id replaced, so tests sharing a database
// never collide. Ids keep the fixture's shape (prefix + suffix).
inline std::string FixtureFor(const std::string& name, const std::string& suffix) {
  std::string body = Fixture(name);
  for (const char* id : {"evt_01KT6C8BBSXFRYZ5FQKXXR0EDF", "evt_01KT9F23J3NN4NYA09KG0A573D",
                         "evt_01KS325EY3ZQ25YEMAB2ZAHJT6", "evt_01KHNBH9MRZ8NE49MV0DAHV2TB",
                         "evt_01KS327YCP2VNSZCWM8761JP2W", "evt_01KTRNST96E76BTDKBTERCG429",
                         "evt_01KSPQAQRMS6EZBFYSHBZGG8P1", "usr_01KS325EWE6RW751J81QV16TCW",
                         "acc_01KHNBH9JCVBRBAVHNB1HYYFDX"}) {
    body = ReplaceAll(body, id, std::string(id) + "_" + suffix);
  }
  return body;
}

inline std::string UserIdFor(const std::string& suffix) {
  return "usr_01KS325EWE6RW751J81QV16TCW_" + suffix;
}

inline int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline absl::StatusOr<client::HttpReply> PostSigned(const std::string& base_url, const std::string& body,
                                                    const std::string& secret = kSecret,
                                                    int64_t t = NowSeconds(),
                                                    const std::string& header = "Huudis-Signature") {
  return client::HttpRequest("POST", base_url + "/webhooks/huudis",
                             {{"Content-Type", "application/json"},
                              {header, adapters::MakeHuudisSignatureHeader(secret, t, body)}},
                             body);
}

// Writes a callers file with the three tokens above; returns its path.
inline std::string WriteCallersFile(const std::string& dir) {
  return WriteCallersFile(dir, {{"checker", kCheckerToken, {"users:check"}},
                                {"reader", kReaderToken, {"users:read"}},
                                {"admin", kAdminToken, {"admin"}}});
}

inline std::string TempDir() {
  char tmpl[] = "/tmp/mm-e2e-XXXXXX";
  const char* dir = mkdtemp(tmpl);
  if (dir == nullptr) throw std::runtime_error("mkdtemp failed");
  return dir;
}

// Runs a shell command (stderr folded into stdout) and returns its exit code and output.
struct CommandResult {
  int code = -1;  // -1: did not exit normally
  std::string output;
};
inline CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) result.output.append(buf, n);
  int status = pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Base for suites that start one service for all their tests in SetUpTestSuite. GoogleTest
// reports the tests of a suite whose SetUpTestSuite throws as *skipped*, and ctest counts a skip
// as a pass — a missing database would read as green. So the suite set-up runs through
// GuardSuiteSetUp, and every test of the suite fails with the recorded error instead.
class SharedServiceTest : public ::testing::Test {
 protected:
  static void GuardSuiteSetUp(const std::function<void()>& set_up) {
    SuiteSetUpError().clear();
    try {
      set_up();
    } catch (const std::exception& e) {
      SuiteSetUpError() = e.what();
    }
  }
  void SetUp() override {
    if (!SuiteSetUpError().empty()) FAIL() << "suite set-up failed: " << SuiteSetUpError();
  }

 private:
  static std::string& SuiteSetUpError() {
    static std::string error;
    return error;
  }
};

class UserClient {
 public:
  UserClient(const std::string& target, std::string token)
      : stub_(membership::v1::UserService::NewStub(
            grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))),
        token_(std::move(token)) {}

  grpc::Status IsUserActive(const membership::v1::IsUserActiveRequest& req,
                            membership::v1::IsUserActiveResponse* resp,
                            std::chrono::milliseconds deadline = std::chrono::seconds(5)) const {
    grpc::ClientContext ctx;
    Prepare(ctx, deadline);
    return stub_->IsUserActive(&ctx, req, resp);
  }
  grpc::Status BatchIsUserActive(const membership::v1::BatchIsUserActiveRequest& req,
                                 membership::v1::BatchIsUserActiveResponse* resp) const {
    grpc::ClientContext ctx;
    Prepare(ctx, std::chrono::seconds(5));
    return stub_->BatchIsUserActive(&ctx, req, resp);
  }
  // Convenience: IsUserActive(user) at least as fresh as `min_sequence`.
  membership::v1::IsUserActiveResponse Check(const std::string& user_id, uint64_t min_sequence = 0) const {
    membership::v1::IsUserActiveRequest req;
    req.set_user_id(user_id);
    req.set_min_sequence(min_sequence);
    membership::v1::IsUserActiveResponse resp;
    grpc::Status s = IsUserActive(req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return resp;
  }

 private:
  void Prepare(grpc::ClientContext& ctx, std::chrono::milliseconds deadline) const {
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    if (!token_.empty()) ctx.AddMetadata("authorization", "Bearer " + token_);
  }
  std::unique_ptr<membership::v1::UserService::Stub> stub_;
  std::string token_;
};

// After a hostile input (the hardening tests): an ordinary signed disable of a fresh user
// (`usr_after_<tag>`) is applied and reaches IsUserActive — one bad value stopped exactly this.
inline void ExpectOrdinaryEventsStillApply(const std::string& base_url, const std::string& grpc_target,
                                           const std::string& tag) {
  const std::string user = "usr_after_" + tag;
  const std::string now = FormatRfc3339(SystemClock::Instance().Now());
  const nlohmann::json body = {{"id", "evt_after_" + tag},
                               {"type", "huudis.user.disabled.v1"},
                               {"createdAt", now},
                               {"data", {{"id", user}, {"disabledAt", now}, {"reason", "e2e"}}}};
  auto reply = PostSigned(base_url, body.dump());
  ASSERT_TRUE(reply.ok()) << tag << ": " << reply.status();
  ASSERT_EQ(reply->status, 200) << tag << ": " << reply->body;
  const nlohmann::json answer = nlohmann::json::parse(reply->body, nullptr, false);
  ASSERT_EQ(answer.value("status", ""), "applied") << tag;
  UserClient checker(grpc_target, kCheckerToken);
  EXPECT_FALSE(checker.Check(user, answer["sequence"].get<uint64_t>()).active()) << tag;
}

}  // namespace mm::testing
