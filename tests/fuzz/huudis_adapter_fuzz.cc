// Fuzz target: the Huudis webhook adapter (server/adapters/huudis_adapter.h), signature check
// and decode.
//
// Each input is tried two ways:
// 1. as it comes: the bytes up to the first '\n' are the signature header, the rest the body,
//    which fuzzes header parsing and verification;
// 2. signed with a known secret (under either header name), so verification passes and the
//    JSON, envelope and mapping code sees arbitrary bytes.
// Checks: the Decode contract (webhook_adapter.h); round trips — what an accepted delivery
// stores reads back identically (fuzz_support.h CheckStoredRoundTrip), and decoding the stored
// raw body again (a replay) converges the mirror to the same state; a signature made by
// MakeHuudisSignatureHeader verifies.

#include <optional>
#include <string>
#include <string_view>

#include "adapters/huudis_adapter.h"
#include "adapters/huudis_signature.h"
#include "fuzz_support.h"

namespace {

using mm::adapters::HuudisAdapter;
using mm::fuzz::Now;

constexpr char kSecret[] = "whsec_fuzz_secret_000000000000000";

void CheckContract(const absl::StatusOr<mm::domain::ProviderEvent>& result, std::string_view body) {
  const mm::domain::ProviderEvent* decoded = mm::fuzz::CheckDecodeContract(result, body, mm::domain::Provider::kHuudis);
  if (decoded == nullptr) return;
  const mm::domain::ProviderEvent& event = *decoded;
  // Exactly one of: applied (one event), ignored, dead-lettered.
  const int outcomes = (event.events.size() == 1) + event.ignored + event.dead_letter_reason.has_value();
  MM_FUZZ_CHECK(outcomes == 1 && event.events.size() <= 1);
  for (const mm::domain::NormalizedEvent& normalized : event.events) {
    MM_FUZZ_CHECK(normalized.user_id.size() <= HuudisAdapter::kMaxIdBytes);
    MM_FUZZ_CHECK(normalized.account_id.size() <= HuudisAdapter::kMaxIdBytes);
    MM_FUZZ_CHECK(!normalized.user_id.empty() || !normalized.account_id.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const HuudisAdapter* const adapter = new HuudisAdapter({.secrets = {kSecret}});
  const std::string_view input = mm::fuzz::AsText(data, size);

  // 1. As it comes.
  const auto [header, body] = mm::fuzz::SplitFirst(input, '\n');
  auto raw_headers = [header = header](std::string_view) -> std::optional<std::string_view> { return header; };
  CheckContract(adapter->Decode(raw_headers, body, Now()), body);

  // 2. Signed: verification must pass.
  const std::string signature = mm::adapters::MakeHuudisSignatureHeader(kSecret, mm::fuzz::kNowSeconds, input);
  const std::string secrets[] = {kSecret};
  MM_FUZZ_CHECK(mm::adapters::VerifyHuudisSignature(signature, input, secrets, Now()).ok());
  const std::string_view header_name =
      size % 2 == 0 ? HuudisAdapter::kSignatureHeader : HuudisAdapter::kSdkSignatureHeader;
  auto signed_headers = [&](std::string_view name) -> std::optional<std::string_view> {
    if (name == header_name) return signature;
    return std::nullopt;
  };
  absl::StatusOr<mm::domain::ProviderEvent> decoded = adapter->Decode(signed_headers, input, Now());
  MM_FUZZ_CHECK(decoded.ok() || decoded.status().code() == absl::StatusCode::kInvalidArgument);
  CheckContract(decoded, input);
  if (decoded.ok()) {
    mm::fuzz::CheckReplayAndStoredRoundTrip(*adapter, signed_headers, *std::move(decoded));
  }

  mm::adapters::HuudisEventIdTime(input);
  return 0;
}
