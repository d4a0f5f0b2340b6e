#pragma once
// Calls a function when a file changes: a thread looks at the file's modification time, size
// and inode (stat, following symbolic links, so a Kubernetes ConfigMap's atomic swap of its
// `..data` link counts) every `interval`, and calls `on_change` after a difference from the
// previous look (the first look is made by the constructor). A file that cannot be stat'ed is left alone until it can be again. For settings
// files that must take effect without a restart (the FusionAuth webhook public keys). The
// destructor stops and joins the thread; `on_change` runs on that thread. Thread-safe.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mm {

class FileWatcher {
 public:
  FileWatcher(std::string path, std::chrono::milliseconds interval, std::function<void()> on_change);
  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

 private:
  struct Stamp {
    long long mtime_ns = 0;
    long long size = 0;
    unsigned long long inode = 0;
    friend bool operator==(const Stamp&, const Stamp&) = default;
  };
  static std::optional<Stamp> Look(const std::string& path);
  void Run();

  const std::string path_;
  const std::chrono::milliseconds interval_;
  const std::function<void()> on_change_;
  std::optional<Stamp> seen_;  // the file as of the constructor, then of the last change; the thread's
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mm
