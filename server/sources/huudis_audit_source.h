#pragma once
// `huudis-audit` (DESIGN §3b): every workspace's audit log, polled since the stored watermark
// minus a small overlap, page by page, each page's facts committed with the position after it.
//
// The log is newest first and paged by cursor, so a poll is a sweep from the newest entry back
// to `since`: each page is committed with the sweep's cursor (a crash resumes the sweep where
// it was), and the sweep's end moves the watermark to the newest entry it saw (capped at now,
// so a provider clock ahead cannot make later polls skip). Entries the overlap reads again are
// duplicates (dedup on the entry id). A stored cursor the provider no longer accepts (on the
// first page of a resumed sweep, a 4xx other than 401/403/404/429 — FAILED_PRECONDITION from
// the HTTP client) starts the sweep again from its `since`.
//
// GET <base>/v1/account/audit?limit=&since=&cursor= with `Authorization: Bearer <token>` and
// `X-Huudis-Workspace-Id: <workspace>`; decoding in adapters/huudis_pull.h.

#include <chrono>
#include <string>
#include <vector>

#include "sources/source.h"

namespace mm::sources {

class HuudisAuditSource final : public PullSource {
 public:
  struct Options {
    std::string base_url;                 // MM_HUUDIS_API_URL
    std::vector<std::string> workspaces;  // MM_HUUDIS_WORKSPACES
    std::chrono::seconds interval{30};    // MM_HUUDIS_AUDIT_POLL_SECONDS
    std::chrono::seconds overlap{60};     // MM_HUUDIS_AUDIT_OVERLAP_SECONDS
    int page_size = 100;                  // MM_SOURCE_PAGE_SIZE (Huudis allows at most 100)
  };
  explicit HuudisAuditSource(Options options);

  const std::string& name() const override { return name_; }
  std::vector<std::string> scopes() const override { return options_.workspaces; }
  std::chrono::seconds interval() const override { return options_.interval; }
  absl::StatusOr<RunOutcome> Run(const std::string& workspace, SourceContext& ctx) override;

 private:
  const std::string name_ = "huudis-audit";
  const Options options_;
};

// The Huudis headers every request of the Huudis sources carries.
std::vector<std::pair<std::string, std::string>> HuudisHeaders(const SourceContext& ctx, const std::string& workspace);

}  // namespace mm::sources
