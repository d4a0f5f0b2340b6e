// Fuzz target: the FusionAuth webhook adapter (server/adapters/fusionauth_adapter.h), signature
// check and decode.
//
// Each input is tried two ways:
// 1. as it comes: the bytes up to the first '\n' are the X-FusionAuth-Signature-JWT header, the
//    rest the body, which fuzzes token parsing and verification against a key set with an HMAC
//    secret (every input verifies against nothing it did not sign);
// 2. signed with that secret (HS256, the token FusionAuth would send), so verification passes
//    and the JSON, envelope and mapping code sees arbitrary bytes.
// Checks: the Decode contract (webhook_adapter.h) and the adapter's own (a group list's adds
// come before the list, all at the envelope's fact time); round trips — what an accepted
// delivery stores reads back identically (fuzz_support.h CheckStoredRoundTrip), and decoding the
// stored raw body again (a replay) converges the mirror to the same state.

#include <optional>
#include <string>
#include <string_view>

#include "adapters/fusionauth_adapter.h"
#include "fuzz_support.h"
#include "jwt/jws.h"

namespace {

using mm::adapters::FusionAuthAdapter;
using mm::domain::EventKind;
using mm::fuzz::Now;

constexpr char kSecret[] = "fusionauth-fuzz-hmac-secret-0000";

const FusionAuthAdapter& Adapter() {
  static const FusionAuthAdapter* const adapter = [] {
    mm::jwt::KeySet keys;
    if (!keys.AddHmacSecretEntry(kSecret).ok()) __builtin_trap();
    return new FusionAuthAdapter({.keys = std::move(keys)});
  }();
  return *adapter;
}

void CheckContract(const absl::StatusOr<mm::domain::ProviderEvent>& result, std::string_view body) {
  const mm::domain::ProviderEvent* decoded =
      mm::fuzz::CheckDecodeContract(result, body, mm::domain::Provider::kFusionAuth);
  if (decoded == nullptr) return;
  const mm::domain::ProviderEvent& event = *decoded;
  // At most one of: events to apply, ignored, dead-lettered (a group add of no members has none).
  MM_FUZZ_CHECK(!event.events.empty() + event.ignored + event.dead_letter_reason.has_value() <= 1);
  for (size_t i = 0; i < event.events.size(); ++i) {
    const mm::domain::NormalizedEvent& e = event.events[i];
    MM_FUZZ_CHECK(e.fact_time == event.fact_time);
    MM_FUZZ_CHECK(e.user_id.size() <= mm::domain::kMaxIdBytes && e.account_id.size() <= mm::domain::kMaxIdBytes);
    if (e.kind == EventKind::kMembersReplaced) {
      MM_FUZZ_CHECK(i + 1 == event.events.size() && e.user_id.empty() && !e.account_id.empty());
    } else {
      MM_FUZZ_CHECK(!e.user_id.empty());
    }
    if (e.role) MM_FUZZ_CHECK(!e.role->empty() && e.role->size() <= mm::domain::kMaxRoleBytes);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const FusionAuthAdapter& adapter = Adapter();
  const std::string_view input = mm::fuzz::AsText(data, size);

  // 1. As it comes.
  const auto [header, body] = mm::fuzz::SplitFirst(input, '\n');
  auto raw_headers = [header = header](std::string_view name) -> std::optional<std::string_view> {
    if (name == FusionAuthAdapter::kSignatureHeader) return header;
    return std::nullopt;
  };
  CheckContract(adapter.Decode(raw_headers, body, Now()), body);

  // 2. Signed as FusionAuth signs: verification must pass.
  static const mm::jwt::SigningKey* const key = [] {
    auto k = mm::jwt::SigningKey::Hmac(mm::jwt::Algorithm::kHS256, "fuzz-kid", kSecret);
    if (!k.ok()) __builtin_trap();
    return new mm::jwt::SigningKey(*std::move(k));
  }();
  absl::StatusOr<std::string> token = mm::adapters::MakeFusionAuthSignatureHeader(*key, input);
  MM_FUZZ_CHECK(token.ok());
  auto signed_headers = [&](std::string_view name) -> std::optional<std::string_view> {
    if (name == FusionAuthAdapter::kSignatureHeader) return *token;
    return std::nullopt;
  };
  absl::StatusOr<mm::domain::ProviderEvent> decoded = adapter.Decode(signed_headers, input, Now());
  MM_FUZZ_CHECK(decoded.ok() || decoded.status().code() == absl::StatusCode::kInvalidArgument);
  CheckContract(decoded, input);
  if (decoded.ok()) {
    mm::fuzz::CheckReplayAndStoredRoundTrip(adapter, signed_headers, *std::move(decoded));
  }
  return 0;
}
