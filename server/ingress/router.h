#pragma once
// The HTTP routes of DESIGN §3: provider webhooks, health, readiness and metrics. Maps each
// request to an adapter and the event writer; knows nothing of storage.
//
// Webhook checks run in the documented order: size (413, by the server), content type (415),
// signature (401), JSON and envelope (400), then the event itself; 2xx only once the event's
// transaction has committed.

#include <functional>
#include <map>
#include <string>

#include "adapters/webhook_adapter.h"
#include "common/time.h"
#include "ingest/event_writer.h"
#include "ingress/http_server.h"
#include "ingress/operator_api.h"
#include "metrics/metrics.h"

namespace mm::ingress {

struct Readiness {
  bool ready = false;
  std::map<std::string, std::string> checks;  // name -> "ok" or why not
};

struct RouterDeps {
  // Path segment after /webhooks/ -> adapter, e.g. {"huudis", &huudis_adapter}.
  std::map<std::string, const adapters::WebhookAdapter*> webhook_adapters;
  ingest::EventWriter* writer = nullptr;
  metrics::Metrics* metrics = nullptr;
  std::function<Readiness()> readiness;
  const Clock* clock = &SystemClock::Instance();
  // The operator API (/v1/users/...); not served when `operator_api.writer` is null.
  OperatorApiDeps operator_api;
};

HttpHandler MakeRouter(RouterDeps deps);

}  // namespace mm::ingress
