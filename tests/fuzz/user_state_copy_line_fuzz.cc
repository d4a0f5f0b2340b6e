// Fuzz target: the users snapshot line parser (server/store/pg_change_feed.h
// ParseUserStateCopyLine, COPY text format). Round trips: a line that parses, written again in
// COPY text format (as PostgreSQL writes it: tab-separated, \N for NULL, backslash escapes),
// parses to the same row; and the row built from the input's bytes, written and parsed,
// reads back identically. A malformed line throws std::runtime_error and nothing else.

#include <stdexcept>
#include <string>

#include "fuzz_support.h"
#include "store/pg_change_feed.h"

namespace {

// COPY TO's text format for one text field (PostgreSQL's CopyAttributeOutText).
void AppendText(std::string& line, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\': line += "\\\\"; break;
      case '\t': line += "\\t"; break;
      case '\n': line += "\\n"; break;
      case '\r': line += "\\r"; break;
      case '\b': line += "\\b"; break;
      case '\f': line += "\\f"; break;
      case '\v': line += "\\v"; break;
      default: line += c;
    }
  }
}

void AppendMicros(std::string& line, const std::optional<mm::TimePoint>& t) {
  line += t ? std::to_string(mm::ToUnixMicros(*t)) : "\\N";
}

std::string CopyLine(const mm::store::UserStateRow& row) {
  std::string line;
  AppendText(line, row.user_id);
  line += '\t';
  line += mm::domain::UserStateName(row.state);
  line += '\t';
  AppendMicros(line, row.state_changed_at);
  line += '\t';
  if (row.disabled_reason) {
    AppendText(line, *row.disabled_reason);
  } else {
    line += "\\N";
  }
  line += '\t';
  AppendMicros(line, row.sessions_valid_after);
  line += '\n';
  return line;
}

bool SameRow(const mm::store::UserStateRow& a, const mm::store::UserStateRow& b) {
  return a.user_id == b.user_id && a.state == b.state && a.state_changed_at == b.state_changed_at &&
         a.disabled_reason == b.disabled_reason && a.sessions_valid_after == b.sessions_valid_after;
}

mm::store::UserStateRow Parse(std::string_view line) {
  mm::store::UserStateRow row;
  mm::store::ParseUserStateCopyLine(line, row);
  return row;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = mm::fuzz::AsText(data, size);
  // Reusing a row (as the snapshot loop does) gives what a fresh one gives.
  static mm::store::UserStateRow reused;
  bool parsed = true;
  try {
    mm::store::ParseUserStateCopyLine(input, reused);
  } catch (const std::runtime_error&) {
    parsed = false;
    reused = {};
  }
  if (parsed) {
    const mm::store::UserStateRow fresh = Parse(input);
    MM_FUZZ_CHECK(SameRow(fresh, reused));
    MM_FUZZ_CHECK(SameRow(Parse(CopyLine(fresh)), fresh));
  } else {
    try {
      Parse(input);
      MM_FUZZ_CHECK(!"a line refused with a reused row parses with a fresh one");
    } catch (const std::runtime_error&) {
      // Malformed either way.
    }
  }
  // A row from the input's bytes: fields split at '\0', the state from the first byte.
  {
    mm::store::UserStateRow row;
    const auto [id, rest] = mm::fuzz::SplitFirst(input, '\0');
    const auto [reason, micros_text] = mm::fuzz::SplitFirst(rest, '\0');
    row.user_id = id;
    row.state = static_cast<mm::domain::UserState>(size % 3);
    if (!reason.empty()) row.disabled_reason = std::string(reason.substr(1));
    if (!micros_text.empty()) {
      uint64_t bits = 0;
      for (char c : micros_text) bits = bits * 31 + static_cast<unsigned char>(c);
      const auto micros = static_cast<int64_t>(bits);
      row.state_changed_at = mm::FromUnixMicros(micros);
      if (micros_text.size() % 2 == 0) row.sessions_valid_after = mm::FromUnixMicros(micros / -2);
    }
    MM_FUZZ_CHECK(SameRow(Parse(CopyLine(row)), row));
  }
  return 0;
}
