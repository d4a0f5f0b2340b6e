#include "adapters/json_fields.h"

#include <cmath>

#include "domain/event_checks.h"

namespace mm::adapters {

absl::StatusOr<nlohmann::json> ParseJsonObjectBody(std::string_view raw_body) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(raw_body.begin(), raw_body.end());
  } catch (const nlohmann::json::exception&) {
    // parse_error, and out_of_range for numbers beyond double: both mean "not usable JSON".
    return absl::InvalidArgumentError("body is not JSON");
  }
  if (!doc.is_object()) return absl::InvalidArgumentError("body is not a JSON object");
  return doc;
}

using nlohmann::json;

std::optional<std::string> ReadRequiredString(const json& object, std::string_view label, std::string_view key,
                                              size_t max_bytes, std::string& out) {
  auto problem = [&](std::string_view what) { return std::string(label).append(key).append(what); };
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return problem(" missing");
  if (!it->is_string()) return problem(" is not a string");
  const auto& value = it->get_ref<const std::string&>();
  if (value.empty()) return problem(" is empty");
  if (value.size() > max_bytes) {
    return problem(" is longer than " + std::to_string(max_bytes) + " bytes");
  }
  // JSON may carry \u0000, PostgreSQL text and jsonb cannot: refuse it here, where it is a
  // clear answer, rather than fail the whole write batch later.
  if (value.find('\0') != std::string::npos) return problem(" contains a NUL character");
  out = value;
  return std::nullopt;
}

std::optional<std::string> OptionalString(const json& object, std::string_view key) {
  if (key.empty()) return std::nullopt;
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  const auto& value = it->get_ref<const std::string&>();
  if (value.find('\0') != std::string::npos) return std::nullopt;  // unstorable: treat as absent
  return value;
}

TimeField ReadTime(const json& object, std::string_view label, std::string_view key) {
  TimeField out;
  if (key.empty()) return out;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return out;
  std::optional<TimePoint> t;
  if (it->is_string()) t = ParseRfc3339(it->get_ref<const std::string&>());
  if (t && domain::IsRepresentableFactTime(*t)) {
    out.value = t;
  } else {
    out.problem = std::string(label).append(key).append(" is not an RFC 3339 time in 1970..9999");
  }
  return out;
}

TimeField ReadEpochTime(const json& object, std::string_view label, std::string_view key, EpochUnit unit) {
  TimeField out;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return out;
  // Integers only; 1970 up to the end of 9999 in the given unit.
  const int64_t max = unit == EpochUnit::kSeconds ? 253402300799 : 253402300799999;
  if (it->is_number_integer() || it->is_number_unsigned()) {
    int64_t n = it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(max) ? max + 1 : it->get<int64_t>();
    if (n >= 0 && n <= max) {
      out.value = unit == EpochUnit::kSeconds ? FromUnixSeconds(n) : FromUnixMillis(n);
      return out;
    }
  }
  out.problem = std::string(label).append(key).append(unit == EpochUnit::kSeconds
                                                          ? " is not a time in epoch seconds in 1970..9999"
                                                          : " is not a time in epoch milliseconds in 1970..9999");
  return out;
}

std::optional<bool> OptionalBool(const json& object, std::string_view key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_boolean()) return std::nullopt;
  return it->get<bool>();
}

}  // namespace mm::adapters
