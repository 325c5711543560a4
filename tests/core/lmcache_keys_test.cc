// core::ParseLmcacheFileName: LMCache local-disk file names, good and bad.
#include "core/lmcache_keys.h"

#include <gtest/gtest.h>

#include <string>

namespace slotfs::core {
namespace {

TEST(LmcacheKeysTest, ParsesAPlainKey) {
  auto k =
      ParseLmcacheFileName("meta-llama-Llama-3.1-8B-Instruct@1@0@189fa749c6180adf@bfloat16.pt");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ("meta-llama-Llama-3.1-8B-Instruct", k->model);
  EXPECT_EQ(1u, k->world_size);
  EXPECT_EQ(0u, k->worker_id);
  EXPECT_EQ("189fa749c6180adf", k->chunk_hash);
  EXPECT_EQ("bfloat16", k->dtype);
  EXPECT_FALSE(k->layer.has_value());
  EXPECT_EQ(0u, k->tags);
}

TEST(LmcacheKeysTest, ParsesANegativeHashAndAPathModel) {
  // Model "/models/Qwen2.5-7B" with '/' replaced by '-'; Python's hex of a
  // negative hash keeps its sign.
  auto k = ParseLmcacheFileName("-models-Qwen2.5-7B@4@3@-28f82bb728792bfa@half.pt");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ("-models-Qwen2.5-7B", k->model);
  EXPECT_EQ(4u, k->world_size);
  EXPECT_EQ(3u, k->worker_id);
  EXPECT_EQ("-28f82bb728792bfa", k->chunk_hash);
  EXPECT_EQ("half", k->dtype);
}

TEST(LmcacheKeysTest, ParsesLayerwiseAndTaggedKeys) {
  auto layer = ParseLmcacheFileName("m@8@7@abc@fp8_e4m3fn@31.pt");
  ASSERT_TRUE(layer.has_value());
  EXPECT_EQ("fp8_e4m3fn", layer->dtype);
  ASSERT_TRUE(layer->layer.has_value());
  EXPECT_EQ(31u, *layer->layer);

  auto tagged = ParseLmcacheFileName("m@2@1@abc@float@user%alice@lora%x.pt");
  ASSERT_TRUE(tagged.has_value());
  EXPECT_FALSE(tagged->layer.has_value());
  EXPECT_EQ(2u, tagged->tags);

  auto both = ParseLmcacheFileName("m@2@1@abc@float@0@user%alice.pt");
  ASSERT_TRUE(both.has_value());
  EXPECT_EQ(0u, *both->layer);
  EXPECT_EQ(1u, both->tags);
}

TEST(LmcacheKeysTest, AModelNameHoldingAtSignsIsKept) {
  auto k = ParseLmcacheFileName("org-model@v2@1@0@ff@half.pt");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ("org-model@v2", k->model);
  EXPECT_EQ("ff", k->chunk_hash);
}

TEST(LmcacheKeysTest, UnicodeModelNamesAreKept) {
  auto k = ParseLmcacheFileName("модель-ü@1@0@ff@half.pt");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ("модель-ü", k->model);
}

TEST(LmcacheKeysTest, RejectsNamesThatAreNotKeys) {
  const std::string bad[] = {
      "",
      ".pt",
      "notakey",
      "notakey.pt",
      "m@1@0@ff@half",               // no .pt
      "m@1@0@ff@half.pt.tmp",        // suffix elsewhere
      "m@1@0@ff.pt",                 // no dtype
      "@1@0@ff@half.pt",             // no model
      "m@@0@ff@half.pt",             // empty world size
      "m@x@0@ff@half.pt",            // world size not a number
      "m@0@0@ff@half.pt",            // world size 0
      "m@01@0@ff@half.pt",           // leading zero
      "m@+1@0@ff@half.pt",           // sign
      "m@1@-1@ff@half.pt",           // negative rank
      "m@99999999999@0@ff@half.pt",  // past 32 bits
      "m@1@0@xyz@half.pt",           // hash not hex
      "m@1@0@-@half.pt",             // sign only
      "m@1@0@@half.pt",              // empty hash
      "m@1@0@ff@@half.pt",           // empty dtype
      "m@1@0@ff@Half.pt",            // dtype case
      "m@1@0@ff@16bit.pt",           // dtype starting with a digit
      "m@1@0@ff@half@notatag.pt",    // neither layer nor tag
      "m@1@0@ff@half@3@4.pt",        // two layers
      "m@1@0@ff@half@%v.pt",         // tag without a name
      "m@1@0@ff@half@.pt",           // trailing '@'
      "vllm@m@1@0@ff.pt",            // an older key layout
  };
  for (const std::string& name : bad) {
    EXPECT_FALSE(ParseLmcacheFileName(name).has_value()) << "'" << name << "'";
  }
}

TEST(LmcacheKeysTest, NamesWithBinaryBytesDoNotCrash) {
  std::string name = "m\xff\x01@1@0@ff@half.pt";
  auto k = ParseLmcacheFileName(name);
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ("m\xff\x01", k->model);
  std::string zeros(300, '\0');
  EXPECT_FALSE(ParseLmcacheFileName(zeros).has_value());
  std::string ats(255, '@');
  EXPECT_FALSE(ParseLmcacheFileName(ats + ".pt").has_value());
}

}  // namespace
}  // namespace slotfs::core
