#include "store/pg_source_rows.h"

namespace mm::store {
namespace {

std::optional<TimePoint> MicrosAt(const pqxx::row& r, int i) {
  if (r[i].is_null()) return std::nullopt;
  return FromUnixMicros(r[i].as<long long>());
}

std::optional<std::string> TextAt(const pqxx::row& r, int i) {
  if (r[i].is_null()) return std::nullopt;
  return r[i].as<std::string>();
}

}  // namespace

SourceStatus SourceStatusFrom(const pqxx::row& r) {
  SourceStatus s;
  s.source = r[0].as<std::string>();
  s.scope = r[1].as<std::string>();
  s.status = r[2].as<std::string>();
  s.last_attempt_at = MicrosAt(r, 3);
  s.last_success_at = MicrosAt(r, 4);
  s.watermark = MicrosAt(r, 5);
  s.last_error = TextAt(r, 6);
  s.last_error_at = MicrosAt(r, 7);
  s.events_yielded = r[8].as<long long>();
  s.last_run_drift = r[9].as<long long>();
  s.puller = TextAt(r, 10);
  return s;
}

}  // namespace mm::store
