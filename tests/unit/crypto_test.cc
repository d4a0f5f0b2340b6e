// Hashes, HMAC, hex, Base64 and constant-time comparison (common/crypto.h), against published
// test vectors.

#include "common/crypto.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>

namespace mm {
namespace {

std::string RandomBytes(std::mt19937& rng, int length) {
  std::string bytes;
  for (int i = 0; i < length; ++i) bytes.push_back(static_cast<char>(rng()));
  return bytes;
}

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256("abc").size(), 32u);
}

TEST(HmacSha256Test, Rfc4231Vectors) {
  // Test case 2.
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 1: a binary key.
  EXPECT_EQ(HexEncode(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(HexTest, EncodeIsLowercase) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
}

TEST(HexTest, DecodeAcceptsEitherCase) {
  EXPECT_EQ(HexDecode("0001abff"), std::string("\x00\x01\xab\xff", 4));
  EXPECT_EQ(HexDecode("0001ABFF"), std::string("\x00\x01\xab\xff", 4));
  EXPECT_EQ(HexDecode(""), "");
}

TEST(HexTest, DecodeRefusesOddLengthAndNonHex) {
  EXPECT_EQ(HexDecode("abc"), std::nullopt);
  EXPECT_EQ(HexDecode("zz"), std::nullopt);
  EXPECT_EQ(HexDecode("0g"), std::nullopt);
  EXPECT_EQ(HexDecode("0x00"), std::nullopt);
  EXPECT_EQ(HexDecode(" 00"), std::nullopt);
}

TEST(HexTest, RoundTrip) {
  std::mt19937 rng(1);
  for (int len = 0; len < 64; ++len) {
    std::string bytes = RandomBytes(rng, len);
    EXPECT_EQ(HexDecode(HexEncode(bytes)), bytes);
  }
}

// RFC 4648 section 10.
constexpr std::pair<const char*, const char*> kBase64Vectors[] = {{"", ""},
                                                                  {"f", "Zg=="},
                                                                  {"fo", "Zm8="},
                                                                  {"foo", "Zm9v"},
                                                                  {"foob", "Zm9vYg=="},
                                                                  {"fooba", "Zm9vYmE="},
                                                                  {"foobar", "Zm9vYmFy"}};

TEST(Base64Test, EncodeRfc4648Vectors) {
  for (const auto& [plain, encoded] : kBase64Vectors) EXPECT_EQ(Base64Encode(plain), encoded);
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");  // the standard alphabet
}

TEST(Base64Test, DecodeWithAndWithoutPadding) {
  for (const auto& [plain, encoded] : kBase64Vectors) {
    std::string unpadded = encoded;
    while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
    EXPECT_EQ(Base64Decode(encoded), plain) << encoded;
    EXPECT_EQ(Base64Decode(unpadded), plain) << unpadded;
  }
}

TEST(Base64Test, DecodeStandardAndUrlSafeAlphabets) {
  EXPECT_EQ(Base64Decode("+/8="), "\xfb\xff");
  EXPECT_EQ(Base64Decode("-_8="), "\xfb\xff");
  EXPECT_EQ(Base64Decode("-_8"), "\xfb\xff");
  // Binary bytes: zeros must survive, including trailing ones.
  EXPECT_EQ(Base64Decode("AAAA"), std::string(3, '\0'));
  EXPECT_EQ(Base64Decode("AA=="), std::string(1, '\0'));
}

TEST(Base64Test, DecodeRefusesMalformedInput) {
  EXPECT_EQ(Base64Decode("Zm9v!"), std::nullopt);
  EXPECT_EQ(Base64Decode("Zm 9v"), std::nullopt);
  EXPECT_EQ(Base64Decode("Zm9v\n"), std::nullopt);
  EXPECT_EQ(Base64Decode("Z"), std::nullopt);      // one character cannot hold a byte
  EXPECT_EQ(Base64Decode("Zm9vY"), std::nullopt);  // nor can one left over
  EXPECT_EQ(Base64Decode("Zg==="), std::nullopt);
  EXPECT_EQ(Base64Decode("===="), std::nullopt);
}

// BUG (server/common/crypto.cc:62-85, Base64Decode): '=' is only allowed as trailing padding,
// but the character check admits it anywhere and EVP_DecodeBlock decodes a '=' inside the text
// as zero bits; only trailing '=' are stripped afterwards. So malformed text decodes to bytes
// that were never encoded: "Zg==Zg==" -> "f\0\0f", "Zg=a" -> "f\0\x1a", "=Zg=" -> "\x01\x98",
// "AB=C" -> "\0\x10\x02". Expected nullopt for each. This test fails until that is fixed.
TEST(Base64Test, DecodeRefusesPaddingInsideTheText) {
  for (const char* bad : {"Zg==Zg==", "Zg=a", "=Zg=", "AB=C", "Zm9v=Zg="}) {
    EXPECT_EQ(Base64Decode(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(Base64Test, RoundTripBothAlphabets) {
  std::mt19937 rng(2);
  for (int len = 0; len < 80; ++len) {
    std::string bytes = RandomBytes(rng, len);
    std::string standard = Base64Encode(bytes);
    ASSERT_EQ(Base64Decode(standard), bytes) << standard;
    std::string url = Base64UrlEncode(bytes);
    ASSERT_EQ(Base64Decode(url), bytes) << url;
  }
}

TEST(ConstantTimeEqualsTest, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "bbc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // namespace
}  // namespace mm
