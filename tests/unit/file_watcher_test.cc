#include "common/file_watcher.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace mm {
namespace {

using namespace std::chrono_literals;

// Waits up to 5 s for `done`.
template <typename Done>
bool Eventually(const Done& done) {
  for (int i = 0; i < 500; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

class FileWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("mm-file-watcher-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "keys.json").string();
    Write(path_, "first");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // Whole at once (written beside, renamed over): an in-place write is a truncation and then the
  // text, which a poll may see as two changes (each loaded, the first failing and keeping the
  // old keys) — so under load a test counting callbacks would count two.
  static void Write(const std::string& path, const std::string& text) {
    const std::string partial = path + ".partial";
    std::ofstream(partial) << text;
    std::filesystem::rename(partial, path);
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(FileWatcherTest, CallsBackOnceForEachChange) {
  std::atomic<int> calls{0};
  FileWatcher watcher(path_, 20ms, [&] { calls.fetch_add(1); });
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(calls.load(), 0) << "an unchanged file is no change";
  Write(path_, "second, longer");
  ASSERT_TRUE(Eventually([&] { return calls.load() == 1; }));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(FileWatcherTest, AnAtomicReplacementCountsAndAMissingFileWaits) {
  std::atomic<int> calls{0};
  FileWatcher watcher(path_, 20ms, [&] { calls.fetch_add(1); });
  // As a ConfigMap update does: a new file renamed over the old one (same size here).
  const std::string next = (dir_ / "keys.next").string();
  Write(next, "firsT");
  std::filesystem::rename(next, path_);
  ASSERT_TRUE(Eventually([&] { return calls.load() == 1; }));
  std::filesystem::remove(path_);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(calls.load(), 1) << "a file that is gone is not read";
  Write(path_, "back again");
  ASSERT_TRUE(Eventually([&] { return calls.load() == 2; }));
}

TEST_F(FileWatcherTest, TheDestructorStopsPromptly) {
  auto started = std::chrono::steady_clock::now();
  { FileWatcher watcher(path_, std::chrono::hours(1), [] {}); }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

}  // namespace
}  // namespace mm
