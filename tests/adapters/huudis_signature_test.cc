#include "adapters/huudis_signature.h"

#include <cctype>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace mm::adapters {
namespace {

using std::chrono::microseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

// tests/fixtures/huudis.signature-test-vector.json (docs/providers.md §1.5), computed
// independently of this code.
class HuudisSignatureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in(std::string(MM_FIXTURES_DIR) + "/huudis.signature-test-vector.json");
    ASSERT_TRUE(in) << "fixture missing";
    const nlohmann::json vector = nlohmann::json::parse(in);
    secret_ = vector.at("secret").get<std::string>();
    t_ = vector.at("timestamp").get<int64_t>();
    body_ = vector.at("rawBody").get<std::string>();
    header_ = vector.at("headers").at("Huudis-Signature").get<std::string>();
    expected_v1_ = vector.at("expectedV1").get<std::string>();
    trailing_space_body_ = vector.at("negativeCase").at("rawBodyWithTrailingSpace");
    trailing_space_v1_ = vector.at("negativeCase").at("wouldSignTo");
    accept_from_ = vector.at("verifyAt").at("acceptIfNowBetween").at(0).get<int64_t>();
    accept_to_ = vector.at("verifyAt").at("acceptIfNowBetween").at(1).get<int64_t>();
    tolerance_ = seconds{vector.at("verifyAt").at("toleranceSeconds").get<int64_t>()};
    secrets_ = {secret_};
  }

  absl::Status Verify(std::string_view header, TimePoint now) const {
    return VerifyHuudisSignature(header, body_, secrets_, now, tolerance_);
  }
  absl::Status Verify(std::string_view header) const { return Verify(header, At(t_)); }

  static TimePoint At(int64_t unix_seconds) { return FromUnixSeconds(unix_seconds); }
  std::string TimestampPart() const { return "t=" + std::to_string(t_); }

  std::string secret_, body_, header_, expected_v1_, trailing_space_body_, trailing_space_v1_;
  int64_t t_ = 0, accept_from_ = 0, accept_to_ = 0;
  seconds tolerance_{};
  std::vector<std::string> secrets_;
};

void ExpectRejected(const absl::Status& status, std::string_view reason) {
  SCOPED_TRACE(reason);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(std::string(reason)));
}

TEST_F(HuudisSignatureTest, VectorIsSelfConsistent) {
  EXPECT_EQ(header_, TimestampPart() + ",v1=" + expected_v1_);
  EXPECT_EQ(tolerance_, kHuudisDefaultTolerance);
  EXPECT_EQ(accept_from_, t_ - tolerance_.count());
  EXPECT_EQ(accept_to_, t_ + tolerance_.count());
}

TEST_F(HuudisSignatureTest, MakeHeaderReproducesVector) {
  EXPECT_EQ(MakeHuudisSignatureHeader(secret_, t_, body_), header_);
  EXPECT_EQ(MakeHuudisSignatureHeader(secret_, t_, trailing_space_body_),
            TimestampPart() + ",v1=" + trailing_space_v1_);
}

TEST_F(HuudisSignatureTest, AcceptsVectorAtItsTimestamp) { EXPECT_TRUE(Verify(header_).ok()); }

TEST_F(HuudisSignatureTest, AcceptsAtBothEdgesOfWindow) {
  EXPECT_TRUE(Verify(header_, At(accept_from_)).ok());
  EXPECT_TRUE(Verify(header_, At(accept_to_)).ok());
}

TEST_F(HuudisSignatureTest, RejectsJustOutsideEachEdge) {
  for (TimePoint now : {At(accept_from_) - microseconds{1}, At(accept_to_) + microseconds{1},
                        At(accept_from_ - 1), At(accept_to_ + 1)}) {
    ExpectRejected(Verify(header_, now), "signature timestamp outside tolerance");
  }
}

TEST_F(HuudisSignatureTest, ToleranceIsConfigurable) {
  EXPECT_TRUE(VerifyHuudisSignature(header_, body_, secrets_, At(t_), seconds{0}).ok());
  ExpectRejected(VerifyHuudisSignature(header_, body_, secrets_, At(t_ + 1), seconds{0}),
                 "outside tolerance");
  EXPECT_TRUE(VerifyHuudisSignature(header_, body_, secrets_, At(t_ + 3600), seconds{3600}).ok());
}

TEST_F(HuudisSignatureTest, RejectsBodyWithTrailingSpace) {
  ExpectRejected(VerifyHuudisSignature(header_, trailing_space_body_, secrets_, At(t_), tolerance_),
                 "signature does not match");
}

TEST_F(HuudisSignatureTest, AcceptsSpacesAroundParts) {
  EXPECT_TRUE(Verify(" " + TimestampPart() + " ,  v1=" + expected_v1_ + " ").ok());
  EXPECT_TRUE(Verify(TimestampPart() + ",\tv1 = " + expected_v1_).ok());
}

TEST_F(HuudisSignatureTest, AcceptsPartsInAnyOrderAndIgnoresUnknownKeys) {
  EXPECT_TRUE(Verify("v1=" + expected_v1_ + "," + TimestampPart()).ok());
  EXPECT_TRUE(Verify(TimestampPart() + ",v0=abcd,junk,,v1=" + expected_v1_ + ",").ok());
}

TEST_F(HuudisSignatureTest, AcceptsUppercaseHex) {
  std::string upper = expected_v1_;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(Verify(TimestampPart() + ",v1=" + upper).ok());
}

TEST_F(HuudisSignatureTest, AcceptsWhenAnyOfSeveralV1Matches) {
  const std::string other(64, '0');
  EXPECT_TRUE(Verify(TimestampPart() + ",v1=" + other + ",v1=" + expected_v1_).ok());
  EXPECT_TRUE(Verify(TimestampPart() + ",v1=" + expected_v1_ + ",v1=" + other).ok());
  ExpectRejected(Verify(TimestampPart() + ",v1=" + other + ",v1=" + other), "does not match");
}

TEST_F(HuudisSignatureTest, AcceptsSecondSecretDuringRotation) {
  const std::vector<std::string> rotated = {"whsec_previous_secret_000000000000", secret_};
  EXPECT_TRUE(VerifyHuudisSignature(header_, body_, rotated, At(t_), tolerance_).ok());
}

TEST_F(HuudisSignatureTest, RejectsWrongSecret) {
  const std::vector<std::string> wrong = {"whsec_wrong_000000000000000000000"};
  ExpectRejected(VerifyHuudisSignature(header_, body_, wrong, At(t_), tolerance_),
                 "signature does not match");
}

TEST_F(HuudisSignatureTest, EmptySecretsNeverVerify) {
  const std::string forged = MakeHuudisSignatureHeader("", t_, body_);
  const std::vector<std::string> with_empty = {"", secret_};
  ExpectRejected(VerifyHuudisSignature(forged, body_, with_empty, At(t_), tolerance_),
                 "signature does not match");
  const std::vector<std::string> only_empty = {""};
  ExpectRejected(VerifyHuudisSignature(forged, body_, only_empty, At(t_), tolerance_),
                 "no signing secret configured");
  ExpectRejected(VerifyHuudisSignature(header_, body_, {}, At(t_), tolerance_),
                 "no signing secret configured");
}

TEST_F(HuudisSignatureTest, RejectsMissingTimestamp) {
  ExpectRejected(Verify("v1=" + expected_v1_), "missing t");
  ExpectRejected(Verify("t" + expected_v1_ + ",v1=" + expected_v1_), "missing t");
}

TEST_F(HuudisSignatureTest, RejectsMissingV1) {
  ExpectRejected(Verify(TimestampPart()), "missing v1");
  ExpectRejected(Verify(TimestampPart() + ",v2=" + expected_v1_), "missing v1");
}

TEST_F(HuudisSignatureTest, RejectsNonIntegerTimestamp) {
  for (std::string t : {"", "abc", "1780478129a", "1780478129.0", "+1780478129", "0x6a1f",
                        "99999999999999999999999"}) {
    SCOPED_TRACE(t);
    ExpectRejected(Verify("t=" + t + ",v1=" + expected_v1_), "t is not an integer");
  }
}

TEST_F(HuudisSignatureTest, RejectsSeveralTimestamps) {
  ExpectRejected(Verify(TimestampPart() + "," + TimestampPart() + ",v1=" + expected_v1_),
                 "several t");
}

TEST_F(HuudisSignatureTest, RejectsExtremeTimestampsWithoutOverflow) {
  for (int64_t t : {INT64_MIN, INT64_MAX, int64_t{-1}, int64_t{0}}) {
    ExpectRejected(Verify("t=" + std::to_string(t) + ",v1=" + expected_v1_), "outside tolerance");
  }
  // Out-of-range tolerances are clamped, not overflowed: huge accepts, negative means zero.
  EXPECT_TRUE(VerifyHuudisSignature(header_, body_, secrets_, At(t_ + 1), seconds::max()).ok());
  EXPECT_TRUE(VerifyHuudisSignature(header_, body_, secrets_, At(t_), seconds::min()).ok());
  ExpectRejected(VerifyHuudisSignature(header_, body_, secrets_, At(t_ + 1), seconds{-5}),
                 "outside tolerance");
}

TEST_F(HuudisSignatureTest, RejectsBadHex) {
  for (std::string v1 : {std::string("zz"), std::string("abc"), expected_v1_ + "0", std::string(),
                         std::string("23ffe7d5 cc98")}) {
    SCOPED_TRACE(v1);
    ExpectRejected(Verify(TimestampPart() + ",v1=" + v1), "not hex");
  }
}

TEST_F(HuudisSignatureTest, RejectsTruncatedSignature) {
  ExpectRejected(Verify(TimestampPart() + ",v1=" + expected_v1_.substr(0, 32)), "does not match");
}

TEST_F(HuudisSignatureTest, RejectsEmptyHeader) {
  ExpectRejected(Verify(""), "missing t");
  ExpectRejected(Verify(" , "), "missing t");
}

TEST_F(HuudisSignatureTest, RejectionNeverEchoesSecretsOrBody) {
  for (const absl::Status& status :
       {Verify(TimestampPart() + ",v1=" + std::string(64, '0')),
        VerifyHuudisSignature(header_, trailing_space_body_, secrets_, At(t_), tolerance_)}) {
    const std::string message(status.message());
    EXPECT_THAT(message, Not(HasSubstr(expected_v1_)));
    EXPECT_THAT(message, Not(HasSubstr(trailing_space_v1_)));
    EXPECT_THAT(message, Not(HasSubstr(secret_)));
    EXPECT_THAT(message, Not(HasSubstr("evt_")));
  }
}

}  // namespace
}  // namespace mm::adapters
