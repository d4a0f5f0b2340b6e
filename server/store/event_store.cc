#include "store/event_store.h"

namespace mm::store {

UserStateRow ToUserStateRow(const domain::UserRecord& user) {
  UserStateRow row;
  row.user_id = user.user_id;
  row.state = user.state;
  if (user.state_version) row.state_changed_at = user.state_version->fact_time;
  row.disabled_reason = user.disabled_reason;
  row.sessions_valid_after = user.sessions_valid_after;
  return row;
}

}  // namespace mm::store
