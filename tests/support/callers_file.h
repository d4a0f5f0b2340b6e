#pragma once
// Test and benchmark set-up: an MM_CALLERS_FILE listing callers by the SHA-256 of their token
// (the format auth::CallerRegistry reads), and a scratch directory to put it in.

#include <string>
#include <vector>

namespace mm::testing {

struct TestCaller {
  std::string name;
  std::string token;                // the bearer token the test sends; the file holds its hash
  std::vector<std::string> scopes;  // may be empty: a caller allowed nothing
};

// Writes `dir`/callers.json and returns its path.
std::string WriteCallersFile(const std::string& dir, const std::vector<TestCaller>& callers);

// A fresh directory under /tmp, removed with everything in it when this goes out of scope.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace mm::testing
