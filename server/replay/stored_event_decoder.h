#pragma once
// A stored event decoded again from its raw body with today's rules: what a dead letter's replay
// applies. No signature is checked (it was checked when the event arrived, before it was
// stored), and the stored identity stands: provider, event id and type, the envelope's fact
// time and the receive time are those of the stored row, so a replay is the same event, not a
// new one.
//
// Which decoder, by where the event came from:
// - type `reconcile.*`: a reconcile correction (sources/corrections.h CorrectionFromBody);
// - huudis from the `huudis-audit` source: an audit-log entry of the letter's scope (workspace);
// - huudis otherwise: a Huudis webhook envelope; fusionauth: a FusionAuth webhook (today's
//   tenants and memberships settings apply);
// - operator: an operator action's body.
// A body none of them can use is a dead letter again, with the decoder's reason.

#include "adapters/fusionauth_adapter.h"
#include "adapters/huudis_adapter.h"
#include "domain/events.h"
#include "store/read_store.h"

namespace mm::replay {

class StoredEventDecoder {
 public:
  StoredEventDecoder(const adapters::HuudisAdapter& huudis, const adapters::FusionAuthAdapter& fusionauth)
      : huudis_(huudis), fusionauth_(fusionauth) {}

  // `letter` with its raw body. The result has ProviderEvent::replay set.
  domain::ProviderEvent Decode(const store::DeadLetterView& letter) const;

 private:
  const adapters::HuudisAdapter& huudis_;
  const adapters::FusionAuthAdapter& fusionauth_;
};

}  // namespace mm::replay
