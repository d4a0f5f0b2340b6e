#include "common/file_watcher.h"

#include <sys/stat.h>

#include <utility>

namespace mm {

FileWatcher::FileWatcher(std::string path, std::chrono::milliseconds interval, std::function<void()> on_change)
    : path_(std::move(path)),
      interval_(interval),
      on_change_(std::move(on_change)),
      seen_(Look(path_)),
      thread_([this] { Run(); }) {}

FileWatcher::~FileWatcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

std::optional<FileWatcher::Stamp> FileWatcher::Look(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return Stamp{.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec,
               .size = static_cast<long long>(st.st_size),
               .inode = static_cast<unsigned long long>(st.st_ino)};
}

void FileWatcher::Run() {
  absl::MutexLock lock(&mu_);
  while (true) {
    // Wakes early only to stop.
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::FromChrono(interval_));
    if (stopping_) return;
    std::optional<Stamp> now = Look(path_);
    if (!now || now == seen_) continue;
    seen_ = now;
    mu_.Unlock();
    on_change_();
    mu_.Lock();
  }
}

}  // namespace mm
