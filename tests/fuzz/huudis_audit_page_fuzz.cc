// Fuzz target: the Huudis audit-log page decoder (server/adapters/huudis_pull.h
// DecodeHuudisAuditPage); the input is the page body, read for one workspace.
// Checks: the decoder's contract (every entry has an id; an entry's event is a Huudis event
// named by the entry, received now, with its raw body), and the round trip of what the audit
// source stores: each entry's event, prepared and applied as the writer and store do, reads
// back identically (fuzz_support.h); decoding the same page again gives the same facts.

#include "adapters/huudis_pull.h"
#include "fuzz_support.h"

namespace {

mm::domain::StateSet AppliedEvents(const mm::adapters::HuudisAuditPage& page) {
  mm::domain::StateSet state;
  mm::domain::TouchedKeys changed;
  for (const mm::adapters::HuudisAuditEntry& entry : page.entries) {
    if (entry.event) mm::domain::Decide(*entry.event, /*duplicate=*/false, state, changed);
  }
  return state;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr std::string_view workspace = "acc_01KHNBH9JCVBRBAVHNB1HYYFDX";
  const std::string_view body = mm::fuzz::AsText(data, size);
  absl::StatusOr<mm::adapters::HuudisAuditPage> page =
      mm::adapters::DecodeHuudisAuditPage(body, workspace, mm::fuzz::Now());
  if (!mm::fuzz::Decoded(page)) return 0;
  for (const mm::adapters::HuudisAuditEntry& entry : page->entries) {
    MM_FUZZ_CHECK(!entry.id.empty());
    if (entry.created_at) MM_FUZZ_CHECK(mm::IsFormattable(*entry.created_at));
    if (!entry.event) continue;
    const mm::domain::ProviderEvent& event = *entry.event;
    MM_FUZZ_CHECK(event.provider == mm::domain::Provider::kHuudis);
    MM_FUZZ_CHECK(event.event_id == entry.id);
    MM_FUZZ_CHECK(event.received_at == mm::fuzz::Now());
    MM_FUZZ_CHECK(!event.raw_body.empty());
    MM_FUZZ_CHECK(event.events.size() + event.dead_letter_reason.has_value() + event.ignored == 1);
    mm::fuzz::CheckStoredRoundTrip(event);
  }
  absl::StatusOr<mm::adapters::HuudisAuditPage> again =
      mm::adapters::DecodeHuudisAuditPage(body, workspace, mm::fuzz::Now());
  MM_FUZZ_CHECK(again.ok() && again->entries.size() == page->entries.size());
  MM_FUZZ_CHECK(again->next_cursor == page->next_cursor && again->skipped == page->skipped);
  MM_FUZZ_CHECK(AppliedEvents(*again) == AppliedEvents(*page));
  return 0;
}
