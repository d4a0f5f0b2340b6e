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

std::string EncodeTimeKey(const TimeKey& key) {
  nlohmann::json j = nlohmann::json::array({ToUnixMicros(key.at)});
  for (const std::string& part : key.parts) j.push_back(part);
  return j.dump();
}

absl::StatusOr<std::optional<TimeKey>> DecodeTimeKey(const std::string& after, size_t parts) {
  if (after.empty()) return std::optional<TimeKey>();
  const nlohmann::json j = nlohmann::json::parse(after, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array() || j.size() != parts + 1 || !j[0].is_number_integer()) {
    return absl::InvalidArgumentError("page_token is not valid");
  }
  TimeKey key{FromUnixMicros(j[0].get<int64_t>()), {}};
  if (!IsFormattable(key.at)) return absl::InvalidArgumentError("page_token is not valid");
  for (size_t i = 1; i <= parts; ++i) {
    if (!j[i].is_string()) return absl::InvalidArgumentError("page_token is not valid");
    key.parts.push_back(j[i].get<std::string>());
  }
  return std::optional<TimeKey>(std::move(key));
}

}  // namespace mm::api
