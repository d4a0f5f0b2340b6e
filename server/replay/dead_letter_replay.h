#pragma once
// AdminService.ReplayDeadLetters: loads the chosen dead letters with their bodies on a database
// worker, decodes each again (StoredEventDecoder), and hands them to the writer as replays
// (ingest::EventWriter::SubmitReplay), so that they go through today's checks
// (domain::PrepareForStore), the convergence rules and the same transaction as any event.
// A letter that applies has its event's outcome changed and is marked with the replay; one
// that is dead-lettered again is marked too (attempts, reason); none is deleted.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ingest/event_writer.h"
#include "replay/stored_event_decoder.h"
#include "store/read_pool.h"

namespace mm::replay {

inline constexpr int kMaxReplayBatch = 100;  // letters per call: bodies are up to 1 MiB each

struct ReplaySelection {
  // Non-empty: these letters (of `provider` if set, else of any provider), at most 100.
  std::vector<std::string> event_ids;
  // Otherwise the pending letters (their event still dead-lettered) of this filter, after
  // `after`, at most `limit`.
  std::string provider;
  std::string reason;
  std::optional<store::EventPosition> after;
  int limit = kMaxReplayBatch;
  bool dry_run = false;
};

struct ReplayItem {
  std::string provider;
  std::string event_id;
  domain::Outcome outcome = domain::Outcome::kApplied;
  std::string reason;  // for kDeadLettered: the decoder's or the checks' reason, if known
  uint64_t sequence = 0;
};

struct ReplayReport {
  std::vector<ReplayItem> items;  // in letter order
  // By filter, when more letters may follow: the last letter of this page.
  std::optional<store::EventPosition> next;
};

class DeadLetterReplayer {
 public:
  DeadLetterReplayer(store::ReadPool& reads, ingest::EventWriter& writer, const StoredEventDecoder& decoder,
                     std::chrono::seconds max_clock_skew)
      : reads_(reads), writer_(writer), decoder_(decoder), max_clock_skew_(max_clock_skew) {}

  using Done = std::function<void(absl::StatusOr<ReplayReport>)>;
  // `done` is called exactly once, on a database worker or the writer thread (it must not
  // block): RESOURCE_EXHAUSTED if the database work queue is full, UNAVAILABLE if the database
  // or the writer is, otherwise the report.
  void Replay(ReplaySelection selection, Done done);

 private:
  store::ReadPool& reads_;
  ingest::EventWriter& writer_;
  const StoredEventDecoder& decoder_;
  const std::chrono::seconds max_clock_skew_;
};

}  // namespace mm::replay
