#pragma once
// What every benchmark program shares: latency summaries (p50/p99 from the recorded samples,
// not a histogram's buckets), one table format, and the latency distribution files that
// scripts/bench turns into PNG plots with gnuplot.
//
// Plot files: when MM_BENCH_DATA_DIR is set, WriteDistribution(plot, series, samples) writes
// $MM_BENCH_DATA_DIR/<plot>__<series>.dat with "percentile latency_ms" lines; scripts/bench
// draws every series of one plot in <plot>.png (latency by percentile, HdrHistogram style).

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/events.h"
#include "store/event_store.h"

namespace mm::bench {

using Steady = std::chrono::steady_clock;

struct Summary {
  size_t count = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0, mean_ms = 0;
};

// Sorts `ms` in place and summarizes it. An empty vector gives a zero Summary.
Summary Summarize(std::vector<double>& ms);

// Milliseconds since `start`.
double MillisSince(Steady::time_point start);

// Calls fn(i) for i in [0, calls), one after another; the latency of each in milliseconds.
template <typename Fn>
std::vector<double> TimeCalls(int calls, Fn fn) {
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(calls));
  for (int i = 0; i < calls; ++i) {
    const auto start = Steady::now();
    fn(i);
    ms.push_back(MillisSince(start));
  }
  return ms;
}

// Writes the distribution of `ms` (sorted or not) for the plot named `plot`; `series` is the
// legend entry (spaces allowed). A no-op when MM_BENCH_DATA_DIR is unset.
void WriteDistribution(std::string_view plot, std::string_view series, std::vector<double> ms);

// Writes events through the real write path, `batch_size` per store transaction as the
// service's group commit would, without holding more than one batch. Throws
// std::runtime_error("<what>: <status>") when a batch fails.
class BatchLoader {
 public:
  BatchLoader(store::EventStore& store, std::string what, size_t batch_size = 1000)
      : store_(store), what_(std::move(what)), batch_size_(batch_size) {}
  void Add(domain::ProviderEvent event);  // applies the batch once it is full
  void Flush();                            // applies what is left

 private:
  store::EventStore& store_;
  const std::string what_;
  const size_t batch_size_;
  std::vector<domain::ProviderEvent> batch_;
};

// One line per issue-#4 target, "target: <what>: met|MISSED (<measured>)", which scripts/bench
// gathers into the summary table at the top of docs/benchmarks.md. MM_BENCH_SETUP, when set,
// names the set-up after <what> (e.g. "through PgBouncer"), to tell runs of one target apart.
void PrintTarget(std::string_view what, bool met, const std::string& measured);

// Prints "<program>: <error>" and `usage` ("usage: ..." lines) to stderr and exits with 2.
[[noreturn]] void ExitWithUsage(std::string_view program, const std::string& error, std::string_view usage);

// tests/fixtures/<name>, parsed with its field order kept (a template for realistic webhooks).
nlohmann::ordered_json FixtureJson(const std::string& name);

// "label  p50  p99  mean  count" table rows, the same in every program.
void PrintLatencyHeader();
void PrintLatencyRow(std::string_view label, const Summary& s);

}  // namespace mm::bench
