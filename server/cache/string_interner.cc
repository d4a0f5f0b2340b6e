#include "cache/string_interner.h"

namespace mm::cache {

const std::string* StringInterner::Intern(std::string_view s) {
  absl::MutexLock lock(&mu_);
  // This Abseil build has its own string_view type; heterogeneous lookup needs it.
  absl::string_view key(s.data(), s.size());
  auto it = strings_.find(key);
  if (it == strings_.end()) it = strings_.emplace(s).first;
  return &*it;
}

size_t StringInterner::size() const {
  absl::MutexLock lock(&mu_);
  return strings_.size();
}

}  // namespace mm::cache
