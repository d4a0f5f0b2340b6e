#include "replay/stored_event_decoder.h"

#include "adapters/huudis_pull.h"
#include "adapters/operator_events.h"
#include "sources/corrections.h"

namespace mm::replay {
namespace {

using domain::ProviderEvent;

absl::StatusOr<ProviderEvent> DecodeBody(const store::DeadLetterView& letter, domain::Provider provider,
                                         const adapters::HuudisAdapter& huudis,
                                         const adapters::FusionAuthAdapter& fusionauth) {
  if (letter.event_type.starts_with("reconcile.")) {
    absl::StatusOr<domain::NormalizedEvent> fact = sources::CorrectionFromBody(letter.raw_body);
    if (!fact.ok()) return fact.status();
    ProviderEvent event;
    event.events.push_back(*std::move(fact));
    return event;
  }
  switch (provider) {
    case domain::Provider::kHuudis: {
      if (letter.source != "huudis-audit") return huudis.DecodeVerified(letter.raw_body, letter.received_at);
      absl::StatusOr<adapters::HuudisAuditEntry> entry =
          adapters::DecodeHuudisAuditEntry(letter.raw_body, letter.scope, letter.received_at);
      if (!entry.ok()) return entry.status();
      if (entry->event) return *std::move(entry->event);
      ProviderEvent ignored;  // today's rules do not use this entry
      ignored.event_id = letter.event_id;
      ignored.ignored = true;
      return ignored;
    }
    case domain::Provider::kFusionAuth:
      return fusionauth.DecodeVerified(letter.raw_body, letter.received_at);
    case domain::Provider::kOperator:
      return adapters::DecodeOperatorBody(letter.raw_body, letter.fact_time, letter.received_at);
    case domain::Provider::kMonoCloud:
      break;
  }
  return absl::InvalidArgumentError("no decoder for a stored " + letter.provider + " event of type " +
                                    letter.event_type);
}

}  // namespace

ProviderEvent StoredEventDecoder::Decode(const store::DeadLetterView& letter) const {
  const std::optional<domain::Provider> provider = domain::ParseProvider(letter.provider);
  absl::StatusOr<ProviderEvent> decoded = provider ? DecodeBody(letter, *provider, huudis_, fusionauth_)
                                                   : absl::InvalidArgumentError("unknown provider " + letter.provider);
  ProviderEvent event;
  if (!decoded.ok()) {
    event.dead_letter_reason = "replay: " + std::string(decoded.status().message());
  } else if (!decoded->event_id.empty() && decoded->event_id != letter.event_id) {
    event.dead_letter_reason = "replay: the stored body now decodes as another event id";
  } else {
    event = *std::move(decoded);
  }
  // The stored identity stands (see the header).
  event.provider = provider.value_or(domain::Provider::kHuudis);
  event.event_id = letter.event_id;
  event.event_type = letter.event_type;
  event.fact_time = letter.fact_time;
  event.received_at = letter.received_at;
  event.raw_body = letter.raw_body;
  event.source = letter.source;
  event.scope = letter.scope;
  event.replay = true;
  return event;
}

}  // namespace mm::replay
