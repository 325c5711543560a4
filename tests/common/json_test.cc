// common/json.h: JSON string literals stay valid for names that are not UTF-8.
#include "common/json.h"

#include <gtest/gtest.h>

namespace slotfs {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(JsonTest, PlainAndEscapedCharacters) {
  EXPECT_EQ("\"abc\"", JsonQuote("abc"));
  EXPECT_EQ("\"a\\\"b\\\\c\"", JsonQuote("a\"b\\c"));
  EXPECT_EQ("\"\\n\\t\\u0001\\u007f\"", JsonQuote(std::string("\n\t\x01\x7f", 4)));
  EXPECT_EQ("\"\\u0000\"", JsonQuote(std::string(1, '\0')));
}

TEST(JsonTest, ValidUtf8PassesUnchanged) {
  const std::string s = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";  // é € 😀
  EXPECT_TRUE(IsValidUtf8(s));
  EXPECT_EQ(s, Utf8Repair(s));
  EXPECT_EQ("\"" + s + "\"", JsonQuote(s));
}

TEST(JsonTest, InvalidBytesBecomeReplacementCharacters) {
  EXPECT_FALSE(IsValidUtf8("a\xff\xfe" "b"));
  EXPECT_EQ("a" + kFffd + kFffd + "b", Utf8Repair("a\xff\xfe" "b"));
  EXPECT_EQ("\"a" + kFffd + kFffd + "b\"", JsonQuote("a\xff\xfe" "b"));
}

TEST(JsonTest, MalformedSequencesAreRepairedBytewise) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"\x80", kFffd},                                  // stray continuation
      {"\xC3", kFffd},                                  // truncated at the end
      {"\xC3(", kFffd + "("},                           // bad continuation
      {"\xC0\xAF", kFffd + kFffd},                      // overlong '/'
      {"\xE0\x80\xAF", kFffd + kFffd + kFffd},          // overlong, 3 bytes
      {"\xED\xA0\x80", kFffd + kFffd + kFffd},          // UTF-16 surrogate
      {"\xF4\x90\x80\x80", kFffd + kFffd + kFffd + kFffd},  // past U+10FFFF
      {"\xF5", kFffd},
      {"\xE2\x82", kFffd + kFffd},                      // truncated €
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(IsValidUtf8(c.in));
    EXPECT_EQ(c.out, Utf8Repair(c.in));
    EXPECT_TRUE(IsValidUtf8(Utf8Repair(c.in)));
  }
}

}  // namespace
}  // namespace slotfs
