#pragma once
// PostgreSQL array literals for `unnest($1::text[], ...)` bulk statements: libpqxx 6.4 has no
// std::vector -> SQL array conversion. Elements are always double-quoted and escaped, so any
// text (commas, braces, quotes, backslashes, "NULL") round-trips; nullopt becomes NULL.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mm::store {

class PgArrayBuilder {
 public:
  void Add(std::string_view element);
  void AddNull();
  void Add(const std::optional<std::string>& element);
  void AddInt(int64_t element);
  void AddBool(bool element);
  // The literal, e.g. {"a","b\"c",NULL}.
  std::string Finish() const;
  size_t size() const { return count_; }

 private:
  std::string body_;
  size_t count_ = 0;
  void Separator();
};

std::string ToPgArray(const std::vector<std::string>& elements);

}  // namespace mm::store
