#pragma once
// The operator HTTP API, in the style of MonoCloud's user API (DESIGN §3):
//   POST /v1/users/{user_id}/disable   optional body {"reason": "..."}   scope users:write
//   POST /v1/users/{user_id}/enable                                      scope users:write
//   GET  /v1/users/{user_id}                                             scope users:read
// Callers authenticate with `X-API-Key: <token>` or `Authorization: Bearer <token>` from the
// same callers file as gRPC. Answers: 200 with the user as JSON; 401 no or unknown key; 403 key
// without the scope; 404 user never seen; 422 bad id or body; 503 database unavailable.
//
// An operator action is an event like any other (provider "operator", fact time = receive
// time), written through the group-commit writer, so newer-wins holds between operators and
// providers and the action is kept and explained like a webhook.

#include <string_view>

#include "auth/caller_registry.h"
#include "common/time.h"
#include "ingest/event_writer.h"
#include "ingress/http_server.h"
#include "metrics/metrics.h"
#include "store/read_pool.h"

namespace mm::ingress {

struct OperatorApiDeps {
  ingest::EventWriter* writer = nullptr;
  store::ReadPool* reads = nullptr;
  const auth::CallerRegistry* callers = nullptr;
  metrics::Metrics* metrics = nullptr;
  const Clock* clock = &SystemClock::Instance();
};

// True if `path` belongs to the operator API (starts with /v1/users/).
bool IsOperatorPath(std::string_view path);

// Handles a request whose path IsOperatorPath.
void HandleOperatorRequest(const OperatorApiDeps& deps, const HttpRequest& request,
                           std::string_view path, Responder respond);

}  // namespace mm::ingress
