#pragma once
// What the topology tests share: Huudis events for fresh users, polling with a deadline, the
// change-log head of a server, the warnings and errors of a service's log.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/time.h"
#include "pg_cluster.h"
#include "service_process.h"

namespace mm::testing::topology {

using Clock = std::chrono::steady_clock;

inline std::string IsoNowPlus(std::chrono::milliseconds offset) {
  return FormatRfc3339(SystemClock::Instance().Now() + offset);
}

inline nlohmann::json Disable(const std::string& event_id, const std::string& user_id) {
  const std::string now = IsoNowPlus(std::chrono::milliseconds(0));
  return {{"id", event_id},
          {"type", "huudis.user.disabled.v1"},
          {"createdAt", now},
          {"data", {{"id", user_id}, {"disabledAt", now}, {"reason", "topology"}}}};
}

// Dated a second after "now", so it wins over a disable of the same user sent just before.
inline nlohmann::json Enable(const std::string& event_id, const std::string& user_id) {
  const std::string later = IsoNowPlus(std::chrono::milliseconds(1000));
  return {{"id", event_id},
          {"type", "huudis.user.enabled.v1"},
          {"createdAt", later},
          {"data", {{"id", user_id}, {"enabledAt", later}}}};
}

// Polls `done` every 50 ms until it holds or `timeout` passes; its last answer.
inline bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

inline uint64_t ChangeLogHead(const PgServer& server) {
  return std::stoull(server.Scalar("SELECT last_sequence FROM change_log_head"));
}

}  // namespace mm::testing::topology
