// libFuzzer target for the Huudis adapter; built and run by scripts/fuzz-huudis, not by CMake.
//
// Each input is tried two ways:
// 1. as it comes: the bytes up to the first '\n' are the signature header, the rest the body,
//    which fuzzes header parsing and verification;
// 2. signed with a known secret, so verification passes and the JSON, envelope and mapping
//    code sees arbitrary bytes.
// Besides "no crash, no sanitizer report, no exception", the harness checks the Decode contract
// and traps when it is broken.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/huudis_adapter.h"
#include "adapters/huudis_signature.h"

namespace {

using mm::adapters::HuudisAdapter;

constexpr char kSecret[] = "whsec_fuzz_secret_000000000000000";
constexpr int64_t kNowSeconds = 1780478129;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void CheckContract(const absl::StatusOr<mm::domain::ProviderEvent>& result, std::string_view body,
                   mm::TimePoint now) {
  if (!result.ok()) {
    const absl::StatusCode code = result.status().code();
    Check(code == absl::StatusCode::kUnauthenticated || code == absl::StatusCode::kInvalidArgument);
    return;
  }
  const mm::domain::ProviderEvent& event = *result;
  Check(event.raw_body == body);
  Check(event.received_at == now);
  Check(!event.event_id.empty() && event.event_id.size() <= HuudisAdapter::kMaxIdBytes);
  Check(!event.event_type.empty());
  // Exactly one of: applied (one event), ignored, dead-lettered.
  const int outcomes =
      (event.events.size() == 1) + event.ignored + event.dead_letter_reason.has_value();
  Check(outcomes == 1 && event.events.size() <= 1);
  for (const mm::domain::NormalizedEvent& normalized : event.events) {
    Check(normalized.user_id.size() <= HuudisAdapter::kMaxIdBytes);
    Check(normalized.account_id.size() <= HuudisAdapter::kMaxIdBytes);
    Check(!normalized.user_id.empty() || !normalized.account_id.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const HuudisAdapter* const adapter = new HuudisAdapter({.secrets = {kSecret}});
  const mm::TimePoint now = mm::FromUnixSeconds(kNowSeconds);
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const size_t newline = input.find('\n');
  const std::string_view header = input.substr(0, newline);
  const std::string_view body =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  auto raw_headers = [header](std::string_view) -> std::optional<std::string_view> {
    return header;
  };
  CheckContract(adapter->Decode(raw_headers, body, now), body, now);

  const std::string signature =
      mm::adapters::MakeHuudisSignatureHeader(kSecret, kNowSeconds, input);
  auto signed_headers = [&signature](std::string_view name) -> std::optional<std::string_view> {
    if (name == HuudisAdapter::kSignatureHeader) return signature;
    return std::nullopt;
  };
  absl::StatusOr<mm::domain::ProviderEvent> decoded = adapter->Decode(signed_headers, input, now);
  Check(decoded.ok() || decoded.status().code() == absl::StatusCode::kInvalidArgument);
  CheckContract(decoded, input, now);

  mm::adapters::HuudisEventIdTime(input);
  return 0;
}
