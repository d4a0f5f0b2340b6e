#pragma once
// The pull sources the settings configure (DESIGN §3b): a source runs when its base URL is
// set. Huudis gives two (huudis-audit, huudis-lists), MonoCloud one, FusionAuth one.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cache/change_hub.h"
#include "config/settings.h"
#include "sources/source.h"

namespace mm::sources {

struct ConfiguredSource {
  std::unique_ptr<PullSource> source;
  std::string credential_file;
  std::string credential_setting;  // e.g. "MM_HUUDIS_API_TOKEN_FILE", for messages
};

// `hub`: the change stream fusionauth-users schedules its re-reads from (may be null).
std::vector<ConfiguredSource> ConfigureSources(const config::Settings& settings, cache::ChangeHub* hub);

// Every configured source's credential file readable and non-empty, and the CA bundle
// readable if set: checked at start so a missing Secret stops the start with a clear error
// (INVALID_ARGUMENT naming the setting), not every run.
absl::Status CheckSourceFiles(const config::Settings& settings, const std::vector<ConfiguredSource>& sources);

}  // namespace mm::sources
