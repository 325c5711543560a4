// tests/integration/info_test.cc — `slotfs info` on a live mount point
// (counters from .slotfs/stats, entries per model from a read-only scan of
// the daemon's database) and on the image offline, text and --json.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>
#include <thread>

#include "tests/integration/mount_fixture.h"
#include "tests/integration/py_parsers.h"

namespace slotfs::itest {
namespace {

constexpr size_t kChunk = 64 * 1024;

class InfoTest : public MountTest {
 protected:
  // 1 MiB slots, chosen explicitly: the sizes below count them.
  Config Options() const override {
    Config c;
    c.slot_size = "1M";
    return c;
  }
  // Two models (one with two ranks), a layer-wise key, a tagged key, and
  // names that are not LMCache keys, one of them in a subdirectory.
  void WriteCache() {
    ASSERT_SYS_OK(mkdir(P("cache").c_str(), 0755));
    const char* llama[] = {
        "meta-llama-Llama-3.1-8B-Instruct@2@0@189fa749c6180adf@bfloat16.pt",
        "meta-llama-Llama-3.1-8B-Instruct@2@1@189fa749c6180adf@bfloat16.pt",
        "meta-llama-Llama-3.1-8B-Instruct@2@1@-28f82bb728792bfa@bfloat16.pt",
        "meta-llama-Llama-3.1-8B-Instruct@2@0@77@bfloat16@5.pt",
    };
    int seed = 0;
    for (const char* n : llama)
      ASSERT_TRUE(WriteFile(P(std::string("cache/") + n), PatternBytes(++seed, kChunk)));
    ASSERT_TRUE(WriteFile(P("cache/-models-Qwen2.5-7B@1@0@abc@half@user%bob.pt"),
                          PatternBytes(++seed, 2 * kChunk)));
    ASSERT_TRUE(WriteFile(P("cache/README"), "not a key"));
    ASSERT_TRUE(WriteFile(P("stray.pt"), "x"));
  }

  // Runs `slotfs info ARGS --json` and flattens its output.
  ::testing::AssertionResult InfoJson(const std::string& target,
                                      std::map<std::string, std::string>* out) {
    ProcResult r = RunSlotfs({"info", target, "--json"});
    if (r.exit_code != 0) return ::testing::AssertionFailure() << r.Describe();
    std::string path = tmp_->Join("info.json");
    ::testing::AssertionResult w = WriteFile(path, r.out);
    if (!w) return w;
    return ParseJsonFile(path, out);
  }

  void ExpectModels(std::map<std::string, std::string>& j) {
    EXPECT_EQ("7", j["files"]);
    EXPECT_EQ("2", j["models.#"]);
    // Models are sorted by name: "-models-..." before "meta-...".
    EXPECT_EQ("-models-Qwen2.5-7B", j["models.0.model"]);
    EXPECT_EQ("1", j["models.0.files"]);
    EXPECT_EQ(std::to_string(2 * kChunk), j["models.0.bytes"]);
    EXPECT_EQ("half", j["models.0.dtypes.0"]);
    EXPECT_EQ("meta-llama-Llama-3.1-8B-Instruct", j["models.1.model"]);
    EXPECT_EQ("4", j["models.1.files"]);
    EXPECT_EQ(std::to_string(4 * kChunk), j["models.1.bytes"]);
    EXPECT_EQ("1", j["models.1.layerwise_files"]);
    EXPECT_EQ("1", j["models.1.world_sizes.#"]);
    EXPECT_EQ("2", j["models.1.world_sizes.0"]);
    EXPECT_EQ("2", j["models.1.ranks.#"]);
    EXPECT_EQ("0", j["models.1.ranks.0"]);
    EXPECT_EQ("1", j["models.1.ranks.1"]);
    EXPECT_EQ("bfloat16", j["models.1.dtypes.0"]);
    EXPECT_EQ("2", j["other.files"]);
    EXPECT_EQ("10", j["other.bytes"]);  // "not a key" + "x"
    EXPECT_EQ("false", j["models_truncated"]);
    // The first file written is the oldest; the last the newest.
    EXPECT_EQ("cache/meta-llama-Llama-3.1-8B-Instruct@2@0@189fa749c6180adf@bfloat16.pt",
              j["entries.oldest_modified.path"]);
    EXPECT_EQ("stray.pt", j["entries.newest_modified.path"]);
    EXPECT_EQ("1", j["entries.newest_modified.size"]);
    EXPECT_NE("", j["entries.least_recently_accessed.path"]);
    EXPECT_NE("", j["entries.most_recently_accessed.time"]);
  }
};

TEST_F(InfoTest, LiveInfoOfAMountShowsCountersAndModels) {
  // Distinct modification times for oldest/newest.
  WriteCache();
  struct stat st;
  EXPECT_ERRNO(ENOENT, stat(P("cache/missing@1@0@ff@half.pt").c_str(), &st));
  // Wait for the group commit: the scan reads committed rows.
  std::map<std::string, std::string> j;
  for (int i = 0; i < 200; ++i) {  // up to 20 s on a loaded machine
    j.clear();
    ASSERT_TRUE(InfoJson(mnt_, &j));
    if (j["files"] == "7" && j["pending_files"] == "0") break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ("live", j["mode"]);
  EXPECT_EQ(mnt_, j["mountpoint"]);
  EXPECT_EQ(image_, j["device"]);
  EXPECT_EQ(db_, j["database"]);
  EXPECT_EQ("2", j["directories"]);
  EXPECT_EQ("0", j["pending_files"]);
  ExpectModels(j);
  // The daemon's counters ride along under "stats".
  EXPECT_EQ(db_, j["stats.db_path"]);
  EXPECT_GE(std::stoull(j["stats.counters.writes"]), 7u);
  EXPECT_GE(std::stoull(j["stats.counters.misses"]), 1u);
  EXPECT_NE("", j["stats.latency.write.p99_us"]);

  ProcResult text = RunSlotfs({"info", mnt_});
  ASSERT_EQ(0, text.exit_code) << text.Describe();
  for (const char* want : {"(live)", "hit ratio", "meta-llama-Llama-3.1-8B-Instruct",
                           "-models-Qwen2.5-7B", "other", "oldest (modified)", "p99", "stray.pt"}) {
    EXPECT_NE(std::string::npos, text.out.find(want)) << want << "\n" << text.Describe();
  }
  ASSERT_TRUE(mount_->Alive()) << "info must not disturb the daemon";
}

TEST_F(InfoTest, OfflineInfoOfTheImageShowsTheSameModels) {
  WriteCache();
  ASSERT_EQ(0, mount_->Unmount());
  std::map<std::string, std::string> j;
  ASSERT_TRUE(InfoJson(image_, &j));
  EXPECT_EQ("offline", j["mode"]);
  EXPECT_EQ(image_, j["device"]);
  EXPECT_EQ(db_, j["database"]);
  EXPECT_EQ("1048576", j["slot_size"]);
  EXPECT_EQ("2", j["directories"]);
  ExpectModels(j);
  ProcResult text = RunSlotfs({"info", image_});
  ASSERT_EQ(0, text.exit_code) << text.Describe();
  EXPECT_NE(std::string::npos, text.out.find("meta-llama-Llama-3.1-8B-Instruct"))
      << text.Describe();
  EXPECT_NE(std::string::npos, text.out.find("1 layer-wise")) << text.Describe();
  EXPECT_EQ(std::string::npos, text.out.find("(live)")) << text.Describe();
}

TEST_F(InfoTest, EmptyCacheHasNoModelsAndNullEntries) {
  std::map<std::string, std::string> j;
  ASSERT_TRUE(InfoJson(mnt_, &j));
  EXPECT_EQ("0", j["files"]);
  EXPECT_EQ("0", j["models.#"]);
  EXPECT_EQ("0", j["other.files"]);
  EXPECT_EQ("null", j["entries.oldest_modified"]);
}

TEST_F(InfoTest, ADirectoryThatIsNotAMountIsRefused) {
  std::string plain = tmp_->Join("plain");
  ASSERT_SYS_OK(mkdir(plain.c_str(), 0755));
  ProcResult r = RunSlotfs({"info", plain});
  EXPECT_EQ(1, r.exit_code) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("not a slotfs mount point")) << r.Describe();
  // A subdirectory of the mount is not its mount point either.
  ASSERT_SYS_OK(mkdir(P("sub").c_str(), 0755));
  ProcResult sub = RunSlotfs({"info", P("sub")});
  EXPECT_EQ(1, sub.exit_code) << sub.Describe();
}

TEST_F(InfoTest, LiveInfoWithAMissingDatabaseFailsClearly) {
  ProcResult r = RunSlotfs({"info", mnt_, "--db", tmp_->Join("nothing.db")});
  EXPECT_EQ(1, r.exit_code) << r.Describe();
  EXPECT_NE(std::string::npos, r.err.find("nothing.db")) << r.Describe();
}

}  // namespace
}  // namespace slotfs::itest
