#include "replay/dead_letter_replay.h"

#include <memory>

#include "common/log.h"
#include "domain/event_checks.h"

namespace mm::replay {

void DeadLetterReplayer::Replay(ReplaySelection selection, Done done) {
  auto shared_done = std::make_shared<Done>(std::move(done));
  bool queued = reads_.TrySubmit([this, selection = std::move(selection), shared_done](store::ReadStore& store) {
    Done& finish = *shared_done;
    std::vector<store::DeadLetterView> letters;
    ReplayReport report;
    if (!selection.event_ids.empty()) {
      absl::StatusOr<std::vector<store::DeadLetterView>> found =
          store.GetDeadLetters(selection.provider, selection.event_ids);
      if (!found.ok()) return finish(found.status());
      letters = *std::move(found);
    } else {
      absl::StatusOr<store::Page<store::DeadLetterView>> page =
          store.ListDeadLetters({.provider = selection.provider, .reason = selection.reason, .pending_only = true},
                                selection.after, selection.limit, /*with_bodies=*/true);
      if (!page.ok()) return finish(page.status());
      if (page->more && !page->items.empty()) {
        const store::DeadLetterView& last = page->items.back();
        report.next = store::EventPosition{last.created_at, last.provider, last.event_id};
      }
      letters = std::move(page->items);
    }
    std::vector<domain::ProviderEvent> events;
    events.reserve(letters.size());
    for (const store::DeadLetterView& letter : letters) {
      domain::ProviderEvent event = decoder_.Decode(letter);
      // The writer checks again; here for the reason a dead letter's answer names.
      absl::StatusOr<domain::Prepared> prepared = domain::PrepareForStore(event, max_clock_skew_);
      ReplayItem item;
      item.provider = letter.provider;
      item.event_id = letter.event_id;
      if (!prepared.ok()) {
        event.events.clear();
        event.dead_letter_reason = "replay: " + std::string(prepared.status().message());
      }
      if (event.dead_letter_reason) item.reason = *event.dead_letter_reason;
      report.items.push_back(std::move(item));
      events.push_back(std::move(event));
    }
    if (events.empty()) return finish(std::move(report));
    const bool dry_run = selection.dry_run;
    auto shared_report = std::make_shared<ReplayReport>(std::move(report));
    writer_.SubmitReplay(
        std::move(events), dry_run,
        [shared_report, shared_done, dry_run](absl::StatusOr<std::vector<store::ApplyResult>> results) {
          if (!results.ok()) return (*shared_done)(results.status());
          ReplayReport& r = *shared_report;
          for (size_t i = 0; i < r.items.size() && i < results->size(); ++i) {
            ReplayItem& item = r.items[i];
            item.outcome = (*results)[i].outcome;
            item.sequence = (*results)[i].sequence;
            if (item.outcome == domain::Outcome::kDeadLettered && item.reason.empty()) {
              item.reason = "the database refused one of its values";
            }
            if (item.outcome != domain::Outcome::kDeadLettered) item.reason.clear();
          }
          log::Info(dry_run ? "dead letters tried (dry run)" : "dead letters replayed",
                    {{"letters", std::to_string(r.items.size())}});
          (*shared_done)(std::move(r));
        });
  });
  if (!queued) (*shared_done)(absl::ResourceExhaustedError("database work queue is full; retry"));
}

}  // namespace mm::replay
