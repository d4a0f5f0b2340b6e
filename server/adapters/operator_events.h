#pragma once
// Operator actions (POST /v1/operator/users/{id}/disable|enable) as provider events, built here
// like any provider's: provider `operator`, event id `op_` + 24 random hex digits, type
// `operator.user.disabled` / `operator.user.enabled`, fact and receive time the action's, and as
// body {"action", "user_id", "by", "reason"?}. DecodeOperatorBody reads that body back (a
// stored dead letter's replay). The fact time is only where convergence starts: an operator's
// fact time is raised past the state it replaces (domain/convergence.h).

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/time.h"
#include "domain/events.h"

namespace mm::adapters {

struct OperatorAction {
  bool disable = true;
  std::string user_id;
  std::string by;                     // the caller's name (callers file)
  std::optional<std::string> reason;  // disable only
};

domain::ProviderEvent MakeOperatorEvent(const OperatorAction& action, TimePoint now);

// The event of a stored operator body, with `fact_time` and receive time `received_at` (what was
// stored) and a new event id that the caller replaces with the stored one.
absl::StatusOr<domain::ProviderEvent> DecodeOperatorBody(std::string_view raw_body, TimePoint fact_time,
                                                         TimePoint received_at);

}  // namespace mm::adapters
