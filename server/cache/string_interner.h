#pragma once
// One copy of each distinct string, at an address that stays valid for the interner's
// lifetime: the user-state cache keeps a pointer per user instead of a std::string, since the
// disabled reasons of 1,000,000 users are a handful of distinct codes ("account_compromise",
// "terminated", an incident's note).
//
// Thread-safe: Intern may be called from any thread. A pointer it returned may be read without
// a lock by a thread to which it was published with a happens-before edge (the cache publishes
// it under a shard lock); the string it points to never changes and is never freed before the
// interner. Strings are never forgotten: memory grows with the number of *distinct* strings.

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace mm::cache {

class StringInterner {
 public:
  // The interned copy of `s` (the same pointer for equal strings).
  const std::string* Intern(std::string_view s);
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  absl::node_hash_set<std::string> strings_ ABSL_GUARDED_BY(mu_);  // node-based: element addresses are stable
};

}  // namespace mm::cache
