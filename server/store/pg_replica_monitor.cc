#include "store/pg_replica_monitor.h"

#include <algorithm>

#include "common/log.h"
#include "store/pg_connection.h"

namespace mm::store {
namespace {

constexpr char kProbeReplica[] = "probe_replica";

std::vector<PgConnection::Statement> Statements() {
  return {{kProbeReplica,
           "SELECT last_sequence, extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8"
           " FROM change_log_head"}};
}

}  // namespace

ReplicaLag ReplicaLagOf(const ReplicaProbe& probe, uint64_t primary_sequence) {
  ReplicaLag lag;
  if (!probe.probed || primary_sequence <= probe.head) return lag;
  lag.sequences = primary_sequence - probe.head;
  lag.seconds = std::max(0.0, probe.replay_age_seconds.value_or(0.0));
  return lag;
}

PgReplicaMonitor::PgReplicaMonitor(std::string replica_url, ReplicaHealth& health, std::chrono::milliseconds interval)
    : conn_(std::make_unique<PgConnection>(std::move(replica_url), Statements())),
      health_(health),
      interval_(interval) {}

PgReplicaMonitor::~PgReplicaMonitor() { Stop(); }

void PgReplicaMonitor::Start() { thread_ = std::thread([this] { Run(); }); }

void PgReplicaMonitor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

ReplicaProbe PgReplicaMonitor::last() const {
  absl::MutexLock lock(&mu_);
  return last_;
}

absl::Status PgReplicaMonitor::ProbeOnce() {
  ReplicaProbe probe;
  probe.probed = true;
  absl::Status status = conn_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction txn(conn);
    const pqxx::row r = Exec1(txn, kProbeReplica);
    txn.commit();
    probe.head = static_cast<uint64_t>(r[0].as<long long>());
    if (!r[1].is_null()) probe.replay_age_seconds = r[1].as<double>();
  });
  probe.up = status.ok();
  bool was_up;
  {
    absl::MutexLock lock(&mu_);
    was_up = !last_.probed || last_.up;
    if (!probe.up) {  // what it said last stays the best guess
      probe.head = last_.head;
      probe.replay_age_seconds = last_.replay_age_seconds;
    }
    last_ = probe;
  }
  health_.Mark(probe.up);
  if (was_up && !probe.up) {
    log::Warn("read replica unreachable: reads go to the primary until it answers again",
              {{"error", std::string(status.message())}});
  } else if (!was_up && probe.up) {
    log::Info("read replica answers again", {{"head", std::to_string(probe.head)}});
  }
  return status;
}

void PgReplicaMonitor::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    ProbeOnce().IgnoreError();
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(interval_))) return;
  }
}

}  // namespace mm::store
