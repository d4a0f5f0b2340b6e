#include "bench_support.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <unistd.h>

namespace mm::bench {
namespace {

double At(const std::vector<double>& sorted, double percentile) {
  if (sorted.empty()) return 0;
  auto index = static_cast<size_t>(std::ceil(percentile / 100.0 * static_cast<double>(sorted.size()))) ;
  index = std::clamp<size_t>(index, 1, sorted.size()) - 1;  // nearest-rank definition
  return sorted[index];
}

}  // namespace

Summary Summarize(std::vector<double>& ms) {
  Summary s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  s.count = ms.size();
  s.p50_ms = At(ms, 50);
  s.p90_ms = At(ms, 90);
  s.p99_ms = At(ms, 99);
  s.p999_ms = At(ms, 99.9);
  s.max_ms = ms.back();
  double sum = 0;
  for (double v : ms) sum += v;
  s.mean_ms = sum / static_cast<double>(ms.size());
  return s;
}

double MillisSince(Steady::time_point start) {
  return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

void WriteDistribution(std::string_view plot, std::string_view series, std::vector<double> ms) {
  const char* dir = std::getenv("MM_BENCH_DATA_DIR");
  if (dir == nullptr || *dir == '\0' || ms.empty()) return;
  std::sort(ms.begin(), ms.end());
  std::string path = std::string(dir) + "/" + std::string(plot) + "__" + std::string(series) + ".dat";
  std::ofstream out(path);
  out << "# " << series << ": percentile latency_ms (" << ms.size() << " samples)\n";
  // Dense where the tail is: 0..90 by 1, then each further "nine" in 100 steps.
  for (int p = 0; p < 90; ++p) out << p << ' ' << At(ms, p) << '\n';
  for (double lo = 90, span = 10; span >= 0.001; lo += span * 0.9, span /= 10) {
    for (int i = 0; i < 100; ++i) {
      double p = lo + span * 0.9 * i / 100.0;
      out << p << ' ' << At(ms, p) << '\n';
    }
  }
  out << 100 << ' ' << ms.back() << '\n';
}

void BatchLoader::Add(domain::ProviderEvent event) {
  batch_.push_back(std::move(event));
  if (batch_.size() >= batch_size_) Flush();
}

void BatchLoader::Flush() {
  if (batch_.empty()) return;
  std::vector<const domain::ProviderEvent*> pointers;
  pointers.reserve(batch_.size());
  for (const auto& e : batch_) pointers.push_back(&e);
  auto applied = store_.ApplyBatch(pointers);
  if (!applied.ok()) throw std::runtime_error(what_ + ": " + std::string(applied.status().message()));
  batch_.clear();
}

void PrintTarget(std::string_view what, bool met, const std::string& measured) {
  const char* setup = std::getenv("MM_BENCH_SETUP");
  const std::string suffix = setup != nullptr && *setup != '\0' ? std::string(", ") + setup : "";
  std::printf("target: %.*s%s: %s (%s)\n", static_cast<int>(what.size()), what.data(), suffix.c_str(),
              met ? "met" : "MISSED", measured.c_str());
}

void ExitWithUsage(std::string_view program, const std::string& error, std::string_view usage) {
  std::fprintf(stderr, "%.*s: %s\n%.*s", static_cast<int>(program.size()), program.data(), error.c_str(),
               static_cast<int>(usage.size()), usage.data());
  std::exit(2);
}

nlohmann::ordered_json FixtureJson(const std::string& name) {
  std::ifstream in(std::string(MM_FIXTURES_DIR) + "/" + name);
  if (!in) throw std::runtime_error("cannot read fixture " + name);
  return nlohmann::ordered_json::parse(in);
}

void PrintLatencyHeader() {
  std::printf("%-52s %9s %9s %9s %9s\n", "", "p50 ms", "p99 ms", "mean ms", "samples");
}

void PrintLatencyRow(std::string_view label, const Summary& s) {
  std::printf("%-52.*s %9.3f %9.3f %9.3f %9zu\n", static_cast<int>(label.size()), label.data(), s.p50_ms,
              s.p99_ms, s.mean_ms, s.count);
}

}  // namespace mm::bench
