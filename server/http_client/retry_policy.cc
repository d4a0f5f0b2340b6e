#include "http_client/retry_policy.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

namespace mm::http_client {
namespace {

using std::chrono::milliseconds;

constexpr std::array<std::string_view, 7> kShortDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                       "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// A left-to-right reader over the fixed grammar of the three HTTP-date forms.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool done() const { return pos_ == text_.size(); }

  bool Literal(std::string_view literal) {
    if (text_.substr(pos_, literal.size()) != literal) return false;
    pos_ += literal.size();
    return true;
  }

  // Exactly `digits` decimal digits.
  bool Number(size_t digits, int& out) {
    if (pos_ + digits > text_.size()) return false;
    int value = 0;
    for (size_t i = 0; i < digits; ++i) {
      char c = text_[pos_ + i];
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    pos_ += digits;
    out = value;
    return true;
  }

  // One of `names`; `index` is its position.
  template <size_t N>
  bool OneOf(const std::array<std::string_view, N>& names, int& index) {
    for (size_t i = 0; i < N; ++i) {
      if (Literal(names[i])) {
        index = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }

  // "HH:MM:SS"
  bool TimeOfDay(int& hour, int& minute, int& second) {
    return Number(2, hour) && Literal(":") && Number(2, minute) && Literal(":") && Number(2, second);
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

std::optional<TimePoint> Assemble(int year, int month_index, int day, int hour, int minute, int second) {
  if (hour > 23 || minute > 59 || second > 60) return std::nullopt;  // 60: a leap second
  std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{unsigned(month_index + 1)},
                                  std::chrono::day{unsigned(day)}};
  if (!ymd.ok()) return std::nullopt;
  return TimePoint{std::chrono::sys_days{ymd} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
                   std::chrono::seconds{second}};
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<TimePoint> ParseImfFixdate(std::string_view text) {
  Cursor c(text);
  int weekday, day, month, year, hour, minute, second;
  if (!c.OneOf(kShortDays, weekday) || !c.Literal(", ") || !c.Number(2, day) || !c.Literal(" ") ||
      !c.OneOf(kMonths, month) || !c.Literal(" ") || !c.Number(4, year) || !c.Literal(" ") ||
      !c.TimeOfDay(hour, minute, second) || !c.Literal(" GMT") || !c.done()) {
    return std::nullopt;
  }
  return Assemble(year, month, day, hour, minute, second);
}

// "Sunday, 06-Nov-94 08:49:37 GMT"
std::optional<TimePoint> ParseRfc850(std::string_view text, TimePoint now) {
  Cursor c(text);
  int weekday, day, month, two_digit_year, hour, minute, second;
  if (!c.OneOf(kLongDays, weekday) || !c.Literal(", ") || !c.Number(2, day) || !c.Literal("-") ||
      !c.OneOf(kMonths, month) || !c.Literal("-") || !c.Number(2, two_digit_year) || !c.Literal(" ") ||
      !c.TimeOfDay(hour, minute, second) || !c.Literal(" GMT") || !c.done()) {
    return std::nullopt;
  }
  // RFC 9110 §5.6.7: a year that appears more than 50 years in the future is the most recent
  // past year with the same last two digits.
  int current_year = int(std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(now)}.year());
  int year = current_year / 100 * 100 + two_digit_year;
  if (year > current_year + 50) year -= 100;
  return Assemble(year, month, day, hour, minute, second);
}

// "Sun Nov  6 08:49:37 1994" (a one-digit day is padded with a space)
std::optional<TimePoint> ParseAsctime(std::string_view text) {
  Cursor c(text);
  int weekday, month, day, year, hour, minute, second;
  if (!c.OneOf(kShortDays, weekday) || !c.Literal(" ") || !c.OneOf(kMonths, month) || !c.Literal(" ")) {
    return std::nullopt;
  }
  if (!(c.Literal(" ") ? c.Number(1, day) : c.Number(2, day))) return std::nullopt;
  if (!c.Literal(" ") || !c.TimeOfDay(hour, minute, second) || !c.Literal(" ") || !c.Number(4, year) ||
      !c.done()) {
    return std::nullopt;
  }
  return Assemble(year, month, day, hour, minute, second);
}

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool IsRetryableStatus(int status) { return status == 429 || (status >= 500 && status <= 599); }

std::optional<TimePoint> ParseHttpDate(std::string_view text, TimePoint now) {
  if (auto t = ParseImfFixdate(text)) return t;
  if (auto t = ParseRfc850(text, now)) return t;
  return ParseAsctime(text);
}

std::optional<milliseconds> ParseRetryAfter(std::string_view value, TimePoint now) {
  value = TrimBlanks(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    // delta-seconds; saturate far beyond any sane cap instead of overflowing.
    constexpr int64_t kSaturation = 1'000'000'000;
    int64_t seconds = 0;
    for (char c : value) seconds = std::min(kSaturation, seconds * 10 + (c - '0'));
    return std::chrono::seconds{seconds};
  }
  std::optional<TimePoint> date = ParseHttpDate(value, now);
  if (!date) return std::nullopt;
  if (*date <= now) return milliseconds{0};
  // Round up: retrying before the moment the server named would only earn another 429/503.
  return std::chrono::ceil<milliseconds>(*date - now);
}

RetryPolicy::RetryPolicy(RetryPolicyOptions options) : options_(options) {}

milliseconds RetryPolicy::Backoff(int retry, double random) const {
  random = std::clamp(random, 0.0, 1.0);
  double initial = std::max<double>(0, double(options_.initial_backoff.count()));
  double cap = std::max<double>(0, double(options_.max_backoff.count()));
  // 2^62 ms is already beyond any cap; clamping the exponent keeps ldexp finite.
  double grown = std::ldexp(initial, std::clamp(retry, 0, 62));
  return milliseconds{static_cast<int64_t>(std::floor(random * std::min(cap, grown)))};
}

milliseconds RetryPolicy::DelayAfterStatus(int retry, int status, std::optional<std::string_view> retry_after,
                                           TimePoint now, double random) const {
  if ((status == 429 || status == 503) && retry_after) {
    if (std::optional<milliseconds> delay = ParseRetryAfter(*retry_after, now)) {
      milliseconds cap = std::max(milliseconds{0}, std::chrono::duration_cast<milliseconds>(options_.max_retry_after));
      return std::min(*delay, cap);
    }
  }
  return Backoff(retry, random);
}

}  // namespace mm::http_client
