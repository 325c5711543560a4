// tools::CacheSummarizer / SummarizeDatabase: per-model figures and the
// oldest/newest entries of a real database.
#include "tools/cache_summary.h"

#include "tests/meta/store_fixture.h"

namespace slotfs::tools {
namespace {

using meta::InodeState;
using meta::ScannedEntry;

ScannedEntry File(uint64_t ino, uint64_t parent, std::string name, uint64_t size, int64_t mtime,
                  int64_t atime) {
  ScannedEntry e;
  e.ino = InodeNo(ino);
  e.parent = InodeNo(parent);
  e.name = std::move(name);
  e.mode = 0100644;
  e.size = size;
  e.slots = (size + 1023) / 1024;
  e.mtime_ns = mtime;
  e.atime_ns = atime;
  return e;
}

TEST(CacheSummaryTest, GroupsFilesByModel) {
  CacheSummarizer sum;
  ScannedEntry root;
  root.ino = kRootInode;
  sum.AddDirectory(root);
  sum.AddFile(File(2, 1, "llama@2@0@aa@bfloat16.pt", 100, 50, 60));
  sum.AddFile(File(3, 1, "llama@2@1@bb@bfloat16.pt", 200, 40, 90));
  sum.AddFile(File(4, 1, "llama@2@1@cc@half@3.pt", 300, 70, 70));
  sum.AddFile(File(5, 1, "qwen@1@0@-dd@half.pt", 400, 30, 30));
  sum.AddFile(File(6, 1, "junk.bin", 7, 80, 10));
  CacheSummary s = sum.Finish();
  EXPECT_EQ(5u, s.files);
  EXPECT_EQ(1007u, s.bytes);
  EXPECT_EQ(1u, s.directories);
  ASSERT_EQ(2u, s.models.size());
  const ModelSummary& l = s.models.at("llama");
  EXPECT_EQ(3u, l.files);
  EXPECT_EQ(600u, l.bytes);
  EXPECT_EQ(1u, l.layerwise_files);
  EXPECT_EQ((std::set<uint32_t>{2}), l.world_sizes);
  EXPECT_EQ((std::set<uint32_t>{0, 1}), l.ranks);
  EXPECT_EQ((std::set<std::string>{"bfloat16", "half"}), l.dtypes);
  EXPECT_EQ(40, l.oldest_mtime_ns);
  EXPECT_EQ(70, l.newest_mtime_ns);
  EXPECT_EQ(90, l.last_access_ns);
  EXPECT_EQ(1u, s.models.at("qwen").files);
  EXPECT_EQ(1u, s.other.files);
  EXPECT_EQ(7u, s.other.bytes);
  EXPECT_FALSE(s.models_truncated);
  EXPECT_EQ("qwen@1@0@-dd@half.pt", s.oldest_modified.path);
  EXPECT_EQ(30, s.oldest_modified.time_ns);
  EXPECT_EQ("junk.bin", s.newest_modified.path);
  EXPECT_EQ("junk.bin", s.least_recently_accessed.path);
  EXPECT_EQ("llama@2@1@bb@bfloat16.pt", s.most_recently_accessed.path);
  EXPECT_EQ(200u, s.most_recently_accessed.size);
}

TEST(CacheSummaryTest, EmptyCacheHasNoEntries) {
  CacheSummarizer sum;
  CacheSummary s = sum.Finish();
  EXPECT_EQ(0u, s.files);
  EXPECT_TRUE(s.models.empty());
  EXPECT_FALSE(s.oldest_modified.valid);
  EXPECT_FALSE(s.most_recently_accessed.valid);
}

TEST(CacheSummaryTest, ModelsPastTheLimitFoldIntoOther) {
  CacheSummarizer sum;
  for (size_t i = 0; i < CacheSummary::kMaxModels + 5; ++i) {
    sum.AddFile(File(i + 2, 1, "m" + std::to_string(i) + "@1@0@ff@half.pt", 1, 1, 1));
  }
  CacheSummary s = sum.Finish();
  EXPECT_EQ(CacheSummary::kMaxModels, s.models.size());
  EXPECT_TRUE(s.models_truncated);
  EXPECT_EQ(5u, s.other.files);
}

TEST(CacheSummaryTest, DistinctValuesPerModelAreBounded) {
  CacheSummarizer sum;
  for (uint32_t r = 0; r < 500; ++r) {
    sum.AddFile(File(r + 2, 1, "m@1000@" + std::to_string(r) + "@ff@half.pt", 1, 1, 1));
  }
  CacheSummary s = sum.Finish();
  EXPECT_EQ(500u, s.models.at("m").files);
  EXPECT_EQ(CacheSummary::kMaxValues, s.models.at("m").ranks.size());
}

class SummarizeDatabaseTest : public meta::testing::StoreTest {};

TEST_F(SummarizeDatabaseTest, ReadsADatabaseWithPathsAndStates) {
  CreateStore();
  InodeNo dir = MakeDir(kRootInode, "cache");
  InodeNo a = MakeFile(dir, "llama@1@0@aa@bfloat16.pt");
  MakeFile(kRootInode, "llama@1@0@bb@bfloat16.pt", InodeState::kWriting);
  CommitExtents(a, {meta::Extent{0, SlotId(0), 1, {}}}, 4096);
  SLOTFS_ASSERT_OK(store_->SetPin(a, 1));
  Result<CacheSummary> r = SummarizeDatabase(path_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const CacheSummary& s = r.value();
  EXPECT_EQ(2u, s.files);
  EXPECT_EQ(2u, s.directories);  // root and cache
  EXPECT_EQ(1u, s.pinned);
  EXPECT_EQ(1u, s.pending);
  EXPECT_EQ(2u, s.models.at("llama").files);
  EXPECT_EQ(4096u, s.models.at("llama").bytes);
  // The committed file was modified last (its commit set the time).
  EXPECT_EQ("cache/llama@1@0@aa@bfloat16.pt", s.newest_modified.path);
  EXPECT_EQ("llama@1@0@bb@bfloat16.pt", s.oldest_modified.path);
}

TEST_F(SummarizeDatabaseTest, MissingDatabaseFails) {
  EXPECT_EQ(ENOENT, SummarizeDatabase(dir_ + "/nothing.db").status().code());
}

}  // namespace
}  // namespace slotfs::tools
