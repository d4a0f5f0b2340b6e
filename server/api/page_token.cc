#include "api/page_token.h"

#include <nlohmann/json.hpp>

#include "common/crypto.h"

namespace mm::api {
namespace {
std::string QueryHash(const std::string& query) { return HexEncode(Sha256(query)).substr(0, 16); }
}  // namespace

std::string MakePageToken(const std::string& after_key, const std::string& query) {
  std::string json = nlohmann::json{{"after", after_key}, {"q", QueryHash(query)}}.dump();
  return Base64UrlEncode(json);  // URL-safe, unpadded: tokens travel in URLs and shell variables too
}

absl::StatusOr<std::string> ReadPageToken(const std::string& token, const std::string& query) {
  if (token.empty()) return std::string();
  std::optional<std::string> json = Base64Decode(token);
  if (!json) return absl::InvalidArgumentError("page_token is not valid");
  nlohmann::json doc = nlohmann::json::parse(*json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("after") || !doc["after"].is_string() || !doc.contains("q") ||
      !doc["q"].is_string()) {
    return absl::InvalidArgumentError("page_token is not valid");
  }
  if (doc["q"].get<std::string>() != QueryHash(query)) {
    return absl::InvalidArgumentError("page_token belongs to a different request");
  }
  return doc["after"].get<std::string>();
}

}  // namespace mm::api
