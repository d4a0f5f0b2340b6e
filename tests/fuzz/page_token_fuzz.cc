// Fuzz target: page tokens (server/api/page_token.h). The first input line is the query, the
// rest the token. Round trips both ways: a token that reads back re-encodes to a token that
// reads back the same key (encode(decode(x))), and any key encoded reads back identically
// under its own query and never under another (decode(encode(v)) == v).

#include <string>

#include "api/page_token.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [query_view, token_view] = mm::fuzz::SplitFirst(mm::fuzz::AsText(data, size), '\n');
  const std::string query(query_view), token(token_view);

  absl::StatusOr<std::string> key = mm::api::ReadPageToken(token, query);
  if (mm::fuzz::Decoded(key)) {
    if (token.empty()) MM_FUZZ_CHECK(key->empty());
    absl::StatusOr<std::string> again = mm::api::ReadPageToken(mm::api::MakePageToken(*key, query), query);
    MM_FUZZ_CHECK(again.ok() && *again == *key);
  }

  // Any bytes as the key (the page's last key: a user or account id, so valid UTF-8; bytes that
  // are not cannot be a key and the token's JSON refuses them).
  const std::string made = [&] {
    try {
      return mm::api::MakePageToken(token, query);
    } catch (const std::exception&) {
      return std::string();
    }
  }();
  if (made.empty()) return 0;
  MM_FUZZ_CHECK(made.find_first_of("+/=") == std::string::npos);  // URL-safe, unpadded
  absl::StatusOr<std::string> back = mm::api::ReadPageToken(made, query);
  MM_FUZZ_CHECK(back.ok() && *back == token);
  absl::StatusOr<std::string> other = mm::api::ReadPageToken(made, query + "x");
  MM_FUZZ_CHECK(!other.ok() && other.status().code() == absl::StatusCode::kInvalidArgument);
  return 0;
}
