#include "store/pg_array.h"

namespace mm::store {

void PgArrayBuilder::Separator() {
  if (count_++ > 0) body_.push_back(',');
}

void PgArrayBuilder::Add(std::string_view element) {
  Separator();
  body_.push_back('"');
  for (char c : element) {
    if (c == '"' || c == '\\') body_.push_back('\\');
    body_.push_back(c);
  }
  body_.push_back('"');
}

void PgArrayBuilder::AddNull() {
  Separator();
  body_ += "NULL";
}

void PgArrayBuilder::Add(const std::optional<std::string>& element) {
  if (element) {
    Add(std::string_view(*element));
  } else {
    AddNull();
  }
}

void PgArrayBuilder::AddInt(int64_t element) {
  Separator();
  body_ += std::to_string(element);
}

void PgArrayBuilder::AddBool(bool element) {
  Separator();
  body_.push_back(element ? 't' : 'f');
}

std::string PgArrayBuilder::Finish() const { return "{" + body_ + "}"; }

std::string ToPgArray(const std::vector<std::string>& elements) {
  PgArrayBuilder builder;
  for (const std::string& e : elements) builder.Add(std::string_view(e));
  return builder.Finish();
}

}  // namespace mm::store
