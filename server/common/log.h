#pragma once
// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-06-03T09:15:27.402000Z","level":"info","msg":"listening","component":"ingress","addr":"0.0.0.0:8080"}
// Never pass secrets, tokens or request bodies as fields. Thread-safe.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace mm::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug" | "info" | "warn" | "error".
bool ParseLevel(std::string_view text, Level& out);
void SetLevel(Level level);
bool Enabled(Level level);

using Field = std::pair<std::string_view, std::string>;
void Write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void Debug(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kDebug, msg, f); }
inline void Info(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kInfo, msg, f); }
inline void Warn(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kWarn, msg, f); }
inline void Error(std::string_view msg, std::initializer_list<Field> f = {}) { Write(Level::kError, msg, f); }

}  // namespace mm::log
