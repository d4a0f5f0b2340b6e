#pragma once
// Normalized events (DESIGN §2): what every provider adapter produces and the only thing the
// store and convergence rules understand. Adapters know providers; nothing below them does.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.h"

namespace mm::domain {

enum class Provider { kHuudis, kFusionAuth, kOperator, kMonoCloud };

// "huudis" | "fusionauth" | "operator" | "monocloud" (the values in API answers and the database).
std::string_view ProviderName(Provider provider);
std::optional<Provider> ParseProvider(std::string_view name);

enum class EventKind {
  kUserCreated,
  kUserUpdated,
  kUserDisabled,
  kUserEnabled,
  kUserDeleted,
  kAccountCreated,
  kMemberAdded,
  kMemberRoleChanged,
  kMemberRemoved,
  // The account's whole member list (FusionAuth `group.member.update`): every membership of the
  // account older than this event becomes a tombstone. The members the list names come as
  // kMemberAdded events of the same provider event, before this one and with the same fact time,
  // so that they are not older. See convergence.h for why the result does not depend on order.
  kMembersReplaced,
};

std::string_view EventKindName(EventKind kind);

// One fact about one user, account or membership. Optional fields are those the provider may
// leave out; an absent field never overwrites a known value.
struct NormalizedEvent {
  EventKind kind = EventKind::kUserCreated;
  std::string user_id;     // empty only for kAccountCreated and kMembersReplaced
  std::string account_id;  // set for kAccountCreated and the kMember* kinds
  // When the fact became true at the provider (see DESIGN §2 for each provider's field).
  TimePoint fact_time{};

  std::optional<std::string> email;         // user's email, if the payload carries it
  std::optional<std::string> name;          // user's display name
  std::optional<std::string> account_name;  // account (workspace) display name
  std::optional<std::string> role;          // kMemberAdded / kMemberRoleChanged / kMemberRemoved
  std::optional<std::string> reason;        // kUserDisabled
  std::optional<std::string> actor;         // who did it: disabledBy, addedByUserId, ...
  std::optional<std::string> added_via;     // kMemberAdded
  // kMemberAdded: when the member joined, if not the fact time (a reconcile run that finds a
  // member missing adds them at the listing's start time, but they joined when the list says).
  std::optional<TimePoint> joined_at;
};

// One authenticated delivery from a provider: the unit of deduplication, keyed by
// (provider, event_id). Its normalized events are applied together or not at all.
struct ProviderEvent {
  Provider provider = Provider::kHuudis;
  std::string event_id;
  std::string event_type;  // the provider's own type string, e.g. "huudis.user.disabled.v1"
  TimePoint fact_time{};   // envelope-level fact time (createdAt, createInstant, receive time)
  TimePoint received_at{};
  std::string raw_body;  // bytes exactly as received; kept so any state can be explained/replayed

  std::vector<NormalizedEvent> events;
  // Authentic event of a type we do not use: stored, answered "ignored", applies nothing.
  bool ignored = false;
  // Authentic event of a known type we could not use: stored with this reason in the
  // dead-letter table, answered "dead_lettered", replayable.
  std::optional<std::string> dead_letter_reason;

  // The pull source and scope that yielded it ("" for webhooks and operator actions; the writer
  // sets them from a page's checkpoint). Kept with a dead letter, so that a replay decodes the
  // body as it was decoded first (a Huudis audit entry may leave its workspace implied).
  std::string source;
  std::string scope;
  // Users the event names, for AdminService.ListUserEvents. Adapters may set those of an event
  // they dead-letter (its facts are not kept); domain::PrepareForStore adds those of its facts
  // and keeps only ids that can be stored, each once.
  std::vector<std::string> named_users;
  // A stored dead letter applied again (AdminService.ReplayDeadLetters): its (provider,
  // event_id) is stored with outcome dead_lettered, and applying it updates that row and marks
  // the letter instead of being a duplicate. A letter already replayed is a duplicate.
  bool replay = false;
};

// What happened to one ProviderEvent (the webhook answer's "status").
enum class Outcome { kApplied, kDuplicate, kStale, kIgnored, kDeadLettered };

std::string_view OutcomeName(Outcome outcome);
std::optional<Outcome> ParseOutcome(std::string_view name);

}  // namespace mm::domain
