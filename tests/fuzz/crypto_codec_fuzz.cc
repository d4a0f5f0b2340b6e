// Fuzz target: hex and base64 (server/common/crypto.h). Round trips both ways:
// decode(encode(bytes)) == bytes, and text that decodes re-encodes to text that decodes to the
// same bytes (for hex: exactly the lowercased input).

#include <cctype>
#include <string>

#include "common/crypto.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = mm::fuzz::AsText(data, size);

  MM_FUZZ_CHECK(mm::HexDecode(mm::HexEncode(input)) == std::string(input));
  if (std::optional<std::string> bytes = mm::HexDecode(input)) {
    std::string lower(input);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    MM_FUZZ_CHECK(mm::HexEncode(*bytes) == lower);
  }

  const std::string encoded = mm::Base64Encode(input);
  MM_FUZZ_CHECK(encoded.size() % 4 == 0);
  MM_FUZZ_CHECK(mm::Base64Decode(encoded) == std::string(input));
  if (std::optional<std::string> bytes = mm::Base64Decode(input)) {
    MM_FUZZ_CHECK(mm::Base64Decode(mm::Base64Encode(*bytes)) == bytes);
  }

  MM_FUZZ_CHECK(mm::ConstantTimeEquals(input, std::string(input)));
  return 0;
}
