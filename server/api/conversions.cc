#include "api/conversions.h"

namespace mm::api {

namespace v1 = membership::v1;

void SetTime(google::protobuf::Timestamp* out, TimePoint t) {
  int64_t us = ToUnixMicros(t);
  int64_t seconds = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>((us - seconds * 1000000) * 1000));
}

std::optional<TimePoint> GetTime(const google::protobuf::Timestamp& t) {
  constexpr int64_t kMinSeconds = -62135596800;  // 0001-01-01T00:00:00Z
  constexpr int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z
  if (t.seconds() < kMinSeconds || t.seconds() > kMaxSeconds || t.nanos() < 0 || t.nanos() > 999999999) {
    return std::nullopt;
  }
  return FromUnixMicros(t.seconds() * 1000000 + t.nanos() / 1000);
}

v1::UserState ToProto(domain::UserState s) {
  switch (s) {
    case domain::UserState::kActive: return v1::USER_STATE_ACTIVE;
    case domain::UserState::kDisabled: return v1::USER_STATE_DISABLED;
    case domain::UserState::kDeleted: return v1::USER_STATE_DELETED;
  }
  return v1::USER_STATE_UNSPECIFIED;
}

void ToProto(const store::UserView& view, v1::User* out) {
  const domain::UserRecord& u = view.record;
  out->set_user_id(u.user_id);
  out->set_email(u.email.value.value_or(""));
  out->set_name(u.name.value.value_or(""));
  out->set_state(ToProto(u.state));
  if (u.disabled_at) SetTime(out->mutable_disabled_at(), *u.disabled_at);
  if (u.enabled_at) SetTime(out->mutable_enabled_at(), *u.enabled_at);
  if (u.deleted_at) SetTime(out->mutable_deleted_at(), *u.deleted_at);
  out->set_disabled_reason(u.disabled_reason.value_or(""));
  out->set_disabled_by(u.disabled_by.value_or(""));
  if (u.sessions_valid_after) SetTime(out->mutable_sessions_valid_after(), *u.sessions_valid_after);
  if (u.state_version) {
    out->set_last_event_id(u.state_version->event_id);
    SetTime(out->mutable_state_changed_at(), u.state_version->fact_time);
  }
  out->set_last_event_type(u.state_event_type);
  if (u.state_provider) out->set_provider(std::string(domain::ProviderName(*u.state_provider)));
  SetTime(out->mutable_updated_at(), view.updated_at);
}

void ToProto(const store::MembershipView& view, v1::Membership* out) {
  const domain::MembershipRecord& m = view.record;
  out->set_account_id(m.account_id);
  out->set_account_name(view.account_name.value_or(""));
  out->set_user_id(m.user_id);
  out->set_user_email(view.user_email.value_or(""));
  out->set_user_name(view.user_name.value_or(""));
  out->set_role(m.role);
  if (m.joined_at) SetTime(out->mutable_joined_at(), *m.joined_at);
  out->set_added_via(m.added_via.value_or(""));
  out->set_added_by_user_id(m.added_by.value_or(""));
  SetTime(out->mutable_updated_at(), view.updated_at);
  out->set_removed(!m.present);
  if (m.removed_at) SetTime(out->mutable_removed_at(), *m.removed_at);
  out->set_removed_by_user_id(m.removed_by.value_or(""));
}

void ToProto(const store::SeatCountView& view, v1::SeatCount* out) {
  out->set_account_id(view.account_id);
  out->set_total(view.total);
  out->set_billable(view.billable);
  for (const auto& [role, n] : view.by_role) (*out->mutable_by_role())[role] = n;
  out->set_sequence(view.sequence);
}

}  // namespace mm::api
