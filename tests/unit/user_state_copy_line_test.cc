// ParseUserStateCopyLine (store/pg_change_feed.h): one line of the users snapshot as COPY's
// text format writes it — tabs between fields, \N for NULL, backslash escapes in text.

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "store/pg_change_feed.h"

namespace mm::store {
namespace {

using domain::UserState;

UserStateRow Parse(const std::string& line) {
  UserStateRow row;
  ParseUserStateCopyLine(line, row);
  return row;
}

void ExpectActiveWithNulls(const UserStateRow& row, const std::string& id) {
  EXPECT_EQ(row.user_id, id);
  EXPECT_EQ(row.state, UserState::kActive);
  EXPECT_EQ(row.state_changed_at, std::nullopt);
  EXPECT_EQ(row.disabled_reason, std::nullopt);
  EXPECT_EQ(row.sessions_valid_after, std::nullopt);
}

TEST(UserStateCopyLineTest, ActiveUserWithNulls) {
  ExpectActiveWithNulls(Parse("usr_01KS325EWE6RW751J81QV16TCW\tactive\t\\N\t\\N\t\\N\n"),
                        "usr_01KS325EWE6RW751J81QV16TCW");
}

TEST(UserStateCopyLineTest, DisabledUserWithTimesAndReason) {
  // With or without the line's newline.
  for (const char* end : {"", "\n"}) {
    UserStateRow row = Parse(std::string("u1\tdisabled\t1780000000123456\taccount_compromise\t-5") + end);
    EXPECT_EQ(row.state, UserState::kDisabled);
    EXPECT_EQ(row.state_changed_at, FromUnixMicros(1780000000123456));
    EXPECT_EQ(row.disabled_reason, "account_compromise");
    EXPECT_EQ(row.sessions_valid_after, FromUnixMicros(-5));
  }
  EXPECT_EQ(Parse("u2\tdeleted\t\\N\t\\N\t\\N").state, UserState::kDeleted);
}

TEST(UserStateCopyLineTest, EscapesAreUndone) {
  UserStateRow row = Parse(
      "id\\twith\\\\tab\tdisabled\t1\tline\\none\\r\\x41\\101\\\\N \\b\\f\\v \"q\" \xE2\x9C\x93\t\\N");
  EXPECT_EQ(row.user_id, "id\twith\\tab");
  EXPECT_EQ(row.disabled_reason, "line\none\rAA\\N \b\f\v \"q\" \xE2\x9C\x93");
  // An empty string is not NULL.
  EXPECT_EQ(Parse("u\tdisabled\t\\N\t\t\\N").disabled_reason, "");
}

TEST(UserStateCopyLineTest, ReusedRowTakesEveryFieldOfTheNextLine) {
  UserStateRow row;
  ParseUserStateCopyLine("a-long-user-id-beyond-small-string\tdisabled\t7\tfraud\t7", row);
  ParseUserStateCopyLine("b\tactive\t\\N\t\\N\t\\N", row);
  ExpectActiveWithNulls(row, "b");
}

TEST(UserStateCopyLineTest, MalformedLinesThrow) {
  EXPECT_THROW(Parse("u\tactive\t\\N\t\\N"), std::runtime_error);             // a field short
  EXPECT_THROW(Parse("u\tactive\t\\N\t\\N\t\\N\textra"), std::runtime_error);  // one too many
  EXPECT_THROW(Parse("u\tsuspended\t\\N\t\\N\t\\N"), std::runtime_error);     // unknown state
  EXPECT_THROW(Parse("u\tactive\t12x\t\\N\t\\N"), std::runtime_error);        // not a number
  EXPECT_THROW(Parse("u\tactive\t\t\\N\t\\N"), std::runtime_error);           // empty time
}

}  // namespace
}  // namespace mm::store
