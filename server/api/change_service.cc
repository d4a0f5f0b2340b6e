#include "api/change_service.h"

#include <deque>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "api/conversions.h"
#include "domain/records_json.h"

namespace mm::api {
namespace {

namespace v1 = membership::v1;

constexpr std::string_view kMethod = "WatchChanges";

// The change a row stands for; nullopt for account rows, which `Change` has no place for.
absl::StatusOr<std::optional<v1::Change>> ToChange(const store::ChangeRow& row) {
  v1::Change change;
  change.set_sequence(row.sequence);
  SetTime(change.mutable_committed_at(), row.committed_at);
  switch (row.entity) {
    case store::EntityKind::kAccount:
      return std::nullopt;
    case store::EntityKind::kUser: {
      absl::StatusOr<domain::UserRecord> user = domain::UserFromJson(row.record_json);
      if (!user.ok()) return user.status();
      ToProto(store::UserView{.record = std::move(*user), .updated_at = row.committed_at},
              change.mutable_user());
      break;
    }
    case store::EntityKind::kMembership: {
      absl::StatusOr<domain::MembershipRecord> membership = domain::MembershipFromJson(row.record_json);
      if (!membership.ok()) return membership.status();
      store::MembershipView view;  // account name, user email and name are not part of it
      view.record = std::move(*membership);
      view.updated_at = row.committed_at;
      ToProto(view, change.mutable_membership());
      break;
    }
  }
  return change;
}

// One WatchChanges call. Owned by `self_` from Start until OnDone; the hub's notification holds
// a weak reference and a backfill task a strong one, so neither outlives what it touches.
// State is guarded by `mu_`; gRPC operations (StartWrite, Finish) are issued after releasing
// it, since a reaction may run inline on the calling thread.
class WatchReactor final : public grpc::ServerWriteReactor<v1::Change>,
                           public std::enable_shared_from_this<WatchReactor> {
 public:
  WatchReactor(cache::ChangeHub& hub, store::ReadPool& reads, metrics::GrpcMethodMetrics& metrics,
               const ChangeServiceOptions& options, std::atomic<int>& streams, TaskThread& pumps,
               uint64_t after_sequence)
      : hub_(hub),
        reads_(reads),
        metrics_(metrics),
        options_(options),
        streams_(streams),
        pumps_(pumps),
        started_(std::chrono::steady_clock::now()),
        sent_(after_sequence),
        fetched_(after_sequence) {}

  // `authorized`: the outcome of the caller check; anything but OK finishes the call with it.
  void Start(const grpc::Status& authorized) {
    self_ = shared_from_this();
    {
      absl::MutexLock lock(&mu_);
      if (!authorized.ok()) {
        end_ = authorized;
      } else if (counted_ = true; streams_.fetch_add(1) >= options_.max_streams) {
        end_ = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "too many WatchChanges streams on this replica (MM_MAX_WATCH_STREAMS); retry later "
                            "or on another replica");
      } else {
        // Subscribe first, then backfill up to where the subscription starts: no gap. The hub
        // notifies on the follower's thread: the stream is pumped on pumps_ instead.
        sub_ = hub_.Subscribe([weak = weak_from_this()] {
          if (auto self = weak.lock()) self->SchedulePump();
        });
        if (!sub_->started()) {
          end_ = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "replica is still loading the change log; retry");
        }
        live_from_ = sub_->start_after();
      }
    }
    Pump();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      write_in_flight_ = false;
      if (ok) {
        sent_ = writing_;
      } else if (!end_) {
        end_ = grpc::Status(grpc::StatusCode::CANCELLED, "write failed: the client went away");
      }
    }
    Pump();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      if (!end_) end_ = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
    }
    Pump();
  }

  void OnDone() override {
    {
      absl::MutexLock lock(&mu_);
      sub_.reset();
    }
    if (counted_) streams_.fetch_sub(1);
    std::shared_ptr<WatchReactor> last = std::move(self_);  // may delete this at scope end
  }

 private:
  enum class Action { kNone, kWrite, kFinish, kLoadPage };

  // At most one pump waits on pumps_ per stream (notifications are edge-triggered; a pump takes
  // whatever has arrived by the time it runs).
  void SchedulePump() {
    if (pump_scheduled_.exchange(true)) return;
    pumps_.Post([weak = weak_from_this()] {
      if (auto self = weak.lock()) {
        self->pump_scheduled_.store(false);
        self->Pump();
      }
    });
  }

  // Does the next thing the call needs, if any.
  void Pump() {
    grpc::Status status;
    uint64_t page_after = 0;
    Action action;
    {
      absl::MutexLock lock(&mu_);
      action = Next(status, page_after);
    }
    switch (action) {
      case Action::kNone:
        return;
      case Action::kWrite:
        StartWrite(&out_);
        return;
      case Action::kFinish:
        RecordAnswered(metrics_, status, started_);
        Finish(status);
        return;
      case Action::kLoadPage:
        LoadPage(page_after);
        return;
    }
  }

  // Under mu_: decides what to do next. A write in flight, or a page being loaded, is waited for.
  Action Next(grpc::Status& status, uint64_t& page_after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || write_in_flight_) return Action::kNone;
    if (end_) return FinishWith(*end_, status);
    while (true) {
      const store::ChangeRow* row = nullptr;
      if (!live_phase_) {
        if (!backfill_.empty()) {
          row = &backfill_.front();
        } else if (sent_ >= live_from_) {
          live_phase_ = true;  // everything after sent_ is (or will be) in the subscription
          continue;
        } else if (page_loading_) {
          return Action::kNone;
        } else if (cache::ChangeSubscription::Taken flags = sub_->Take(0); flags.closed || flags.reset) {
          return FinishWith(flags.reset ? LogReset() : ShuttingDown(), status);
        } else {
          page_loading_ = true;
          page_after = fetched_;
          return Action::kLoadPage;
        }
      } else {
        if (live_.empty()) {
          cache::ChangeSubscription::Taken taken = sub_->Take(options_.take_rows);
          live_.assign(taken.rows.begin(), taken.rows.end());
          if (live_.empty()) {
            if (taken.overflowed) {
              return FinishWith(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                             "consumer fell too far behind the change log; resume "
                                             "with after_sequence=" + std::to_string(sent_)),
                                status);
            }
            if (taken.closed) return FinishWith(ShuttingDown(), status);
            if (taken.reset) return FinishWith(LogReset(), status);
            return Action::kNone;  // the hub notifies when rows arrive
          }
        }
        row = live_.front().get();
      }

      if (row->sequence <= sent_) {  // already sent from the other source
        PopRow();
        continue;
      }
      absl::StatusOr<std::optional<v1::Change>> change = ToChange(*row);
      if (!change.ok()) {
        // Never a silent stall: the client learns which row, and may resume past it.
        return FinishWith(grpc::Status(grpc::StatusCode::DATA_LOSS,
                                       "unreadable change-log row " + std::to_string(row->sequence) +
                                           " (" + std::string(change.status().message()) +
                                           "); resume with after_sequence=" + std::to_string(row->sequence) +
                                           " to skip it, or after_sequence=" + std::to_string(sent_) +
                                           " to retry it"),
                          status);
      }
      if (!*change) {  // an account row: nothing to send, but it counts as passed
        sent_ = row->sequence;
        PopRow();
        continue;
      }
      out_ = std::move(**change);
      writing_ = row->sequence;
      PopRow();
      write_in_flight_ = true;
      return Action::kWrite;
    }
  }

  Action FinishWith(const grpc::Status& end, grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    finished_ = true;
    sub_.reset();  // nothing more is queued for this call
    backfill_.clear();
    live_.clear();
    status = end;
    return Action::kFinish;
  }

  // The database's change log was replaced under this stream (ChangeHub::Reset): the sequences
  // it delivered may now stand for other changes, so resuming from them would be a guess.
  grpc::Status LogReset() const {
    return grpc::Status(grpc::StatusCode::ABORTED,
                        "the database's change log was reset below this stream's position (restored "
                        "from a backup, or a failover that lost commits): re-read the state you "
                        "mirror, then watch again");
  }

  grpc::Status ShuttingDown() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "server shutting down; resume with after_sequence=" + std::to_string(sent_));
  }

  void PopRow() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!live_phase_) {
      backfill_.pop_front();
    } else {
      live_.pop_front();
    }
  }

  // Reads the next backfill page on a database worker; the task keeps the call alive.
  void LoadPage(uint64_t after) {
    bool queued = reads_.TrySubmit([self = shared_from_this(), after](store::ReadStore& store) {
      self->OnPage(store.ReadChanges(after, self->options_.backfill_page_rows));
    });
    if (!queued) OnPage(absl::ResourceExhaustedError("database work queue is full"));
  }

  void OnPage(absl::StatusOr<std::vector<store::ChangeRow>> rows) {
    {
      absl::MutexLock lock(&mu_);
      page_loading_ = false;
      std::string resume = "; resume with after_sequence=" + std::to_string(sent_);
      if (absl::IsResourceExhausted(rows.status())) {
        grpc::Status full = DatabaseQueueFull();
        if (!end_) end_ = grpc::Status(full.error_code(), full.error_message() + resume);
      } else if (!rows.ok()) {
        grpc::Status failed = ToGrpcStatus(rows.status());
        if (!end_) {
          end_ = grpc::Status(failed.error_code(),
                              "change log read failed: " + failed.error_message() + resume);
        }
      } else if (rows->empty() || rows->front().sequence != fetched_ + 1) {
        // Sequences are contiguous and pruning deletes a prefix: a missing next sequence (the
        // hub has published up to live_from_, so the log held it) means it was pruned.
        uint64_t kept_from = rows->empty() ? live_from_ + 1 : rows->front().sequence;
        if (!end_) {
          end_ = grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                              "changes after " + std::to_string(fetched_) +
                                  " are older than the change-log retention (pruned); the oldest "
                                  "retained is " + std::to_string(kept_from) +
                                  ": re-read the state you mirror, then watch with after_sequence=" +
                                  std::to_string(kept_from - 1));
        }
      } else {
        fetched_ = rows->back().sequence;
        for (store::ChangeRow& row : *rows) backfill_.push_back(std::move(row));
      }
    }
    Pump();
  }

  cache::ChangeHub& hub_;
  store::ReadPool& reads_;
  metrics::GrpcMethodMetrics& metrics_;
  const ChangeServiceOptions options_;
  std::atomic<int>& streams_;
  TaskThread& pumps_;
  const std::chrono::steady_clock::time_point started_;
  std::shared_ptr<WatchReactor> self_;  // set in Start, released in OnDone
  bool counted_ = false;  // counted in streams_ (set in Start, read in OnDone)
  std::atomic<bool> pump_scheduled_{false};

  absl::Mutex mu_;
  std::unique_ptr<cache::ChangeSubscription> sub_ ABSL_GUARDED_BY(mu_);
  uint64_t live_from_ ABSL_GUARDED_BY(mu_) = 0;   // the subscription holds every row after this
  uint64_t sent_ ABSL_GUARDED_BY(mu_);            // highest sequence delivered to the client or skipped
  uint64_t fetched_ ABSL_GUARDED_BY(mu_);         // highest sequence read from the database
  uint64_t writing_ ABSL_GUARDED_BY(mu_) = 0;     // sequence of the write in flight
  bool live_phase_ ABSL_GUARDED_BY(mu_) = false;  // backfill done: rows come from the subscription
  bool page_loading_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> end_ ABSL_GUARDED_BY(mu_);  // decided end, issued once no write is in flight
  std::deque<store::ChangeRow> backfill_ ABSL_GUARDED_BY(mu_);
  std::deque<cache::ChangeHub::Row> live_ ABSL_GUARDED_BY(mu_);
  // The message being written: filled under mu_ by Next, then read by gRPC outside it; never
  // touched again until OnWriteDone (write_in_flight_).
  v1::Change out_;
};

}  // namespace

ChangeServiceImpl::ChangeServiceImpl(cache::ChangeHub& hub, store::ReadPool& reads,
                                     const auth::CallerRegistry& callers, metrics::Metrics& metrics,
                                     ChangeServiceOptions options)
    : hub_(hub), reads_(reads), callers_(callers), metrics_(metrics.GrpcMethod(kMethod)), options_(options) {}

grpc::ServerWriteReactor<v1::Change>* ChangeServiceImpl::WatchChanges(
    grpc::CallbackServerContext* context, const v1::WatchChangesRequest* request) {
  auto reactor =
      std::make_shared<WatchReactor>(hub_, reads_, metrics_, options_, streams_, pumps_, request->after_sequence());
  reactor->Start(AuthorizeCall(*context, callers_, auth::kScopeChangesWatch));
  return reactor.get();
}

}  // namespace mm::api
