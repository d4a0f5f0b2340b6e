// Fuzz target: RFC 3339 (server/common/time.h ParseRfc3339 / FormatRfc3339). Round trips: a
// parsed instant is formattable and format(parse(s)) parses back to the same instant; and
// the first 8 input bytes taken as microseconds, when in the formattable range, survive
// parse(format(t)) == t.

#include <cstring>

#include "common/time.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = mm::fuzz::AsText(data, size);
  if (std::optional<mm::TimePoint> t = mm::ParseRfc3339(text)) {
    MM_FUZZ_CHECK(mm::IsFormattable(*t));
    const std::string formatted = mm::FormatRfc3339(*t);
    MM_FUZZ_CHECK(mm::ParseRfc3339(formatted) == t);
  }
  if (size >= sizeof(int64_t)) {
    int64_t micros = 0;
    std::memcpy(&micros, data, sizeof micros);
    const mm::TimePoint t = mm::FromUnixMicros(micros);
    if (mm::IsFormattable(t)) {
      MM_FUZZ_CHECK(mm::ParseRfc3339(mm::FormatRfc3339(t)) == t);
      MM_FUZZ_CHECK(mm::ToUnixMicros(t) == micros);
    }
  }
  return 0;
}
