#include "sources/configured_sources.h"

#include <fstream>

#include "sources/fusionauth_users_source.h"
#include "sources/huudis_audit_source.h"
#include "sources/huudis_lists_source.h"
#include "sources/monocloud_source.h"
#include "sources/source_runner.h"

namespace mm::sources {

std::vector<ConfiguredSource> ConfigureSources(const config::Settings& s, cache::ChangeHub* hub) {
  std::vector<ConfiguredSource> out;
  if (!s.huudis_api_url.empty()) {
    out.push_back({std::make_unique<HuudisAuditSource>(HuudisAuditSource::Options{.base_url = s.huudis_api_url,
                                                                                   .workspaces = s.huudis_workspaces,
                                                                                   .interval = s.huudis_audit_poll,
                                                                                   .overlap = s.huudis_audit_overlap,
                                                                                   .page_size = s.source_page_size}),
                   s.huudis_api_token_file, "MM_HUUDIS_API_TOKEN_FILE"});
    out.push_back({std::make_unique<HuudisListsSource>(HuudisListsSource::Options{.base_url = s.huudis_api_url,
                                                                                   .workspaces = s.huudis_workspaces,
                                                                                   .interval = s.reconcile_interval,
                                                                                   .page_size = s.source_page_size}),
                   s.huudis_api_token_file, "MM_HUUDIS_API_TOKEN_FILE"});
  }
  if (!s.monocloud_api_url.empty()) {
    out.push_back({std::make_unique<MonoCloudSource>(MonoCloudSource::Options{.base_url = s.monocloud_api_url,
                                                                               .groups = s.monocloud_groups,
                                                                               .interval = s.monocloud_poll,
                                                                               .page_size = s.source_page_size}),
                   s.monocloud_api_key_file, "MM_MONOCLOUD_API_KEY_FILE"});
  }
  if (!s.fusionauth_api_url.empty()) {
    out.push_back({std::make_unique<FusionAuthUsersSource>(
                       FusionAuthUsersSource::Options{.base_url = s.fusionauth_api_url,
                                                      .tenants = s.fusionauth_tenants,
                                                      .interval = s.reconcile_interval,
                                                      .recheck_delay = s.fusionauth_recheck,
                                                      .page_size = s.source_page_size,
                                                      .max_pending_rechecks = 10000},
                       hub),
                   s.fusionauth_api_key_file, "MM_FUSIONAUTH_API_KEY_FILE"});
  }
  return out;
}

absl::Status CheckSourceFiles(const config::Settings& settings, const std::vector<ConfiguredSource>& sources) {
  for (const ConfiguredSource& c : sources) {
    absl::StatusOr<std::string> credential = ReadCredential(c.credential_file);
    if (!credential.ok()) {
      return absl::InvalidArgumentError("invalid " + c.credential_setting + ": " + std::string(credential.status().message()));
    }
  }
  if (!settings.source_ca_file.empty() && !sources.empty() && !std::ifstream(settings.source_ca_file)) {
    return absl::InvalidArgumentError("invalid MM_SOURCE_CA_FILE: cannot read " + settings.source_ca_file);
  }
  return absl::OkStatus();
}

}  // namespace mm::sources
