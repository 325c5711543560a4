// tests/integration/lmcache_replay_test.cc — LMCache's local-disk backend
// sized as `slotfs info` recommends never loses a file it tracks: the
// replay (lmcache_replay.py: LMCache's names, write and read calls, its own
// LRU with asynchronous removes) fills a real mount to three times its
// capacity with full and partial chunks, and slotfs neither evicts nor
// returns ENOSPC.

#include <unistd.h>

#include <map>
#include <string>

#include "tests/integration/mount_fixture.h"
#include "tests/integration/py_parsers.h"

namespace slotfs::itest {
namespace {

class LmcacheReplayTest : public MountTest {
 protected:
  Config Options() const override {
    Config c;
    c.image_size = 256 * kMiB;  // default slots, default eviction (lru)
    return c;
  }

  // `slotfs info MOUNT --json`, flattened.
  std::map<std::string, std::string> Info() {
    ProcResult r = RunSlotfs({"info", mnt_, "--json"});
    EXPECT_EQ(0, r.exit_code) << r.Describe();
    const std::string path = tmp_->Join("info.json");
    FILE* f = fopen(path.c_str(), "w");
    if (f) {
      fputs(r.out.c_str(), f);
      fclose(f);
    }
    std::map<std::string, std::string> kv;
    EXPECT_TRUE(ParseJsonFile(path, &kv));
    return kv;
  }
};

TEST_F(LmcacheReplayTest, RecommendedSizeNeverMakesSlotfsEvictOrFail) {
  std::map<std::string, std::string> info = Info();
  ASSERT_TRUE(info.count("lmcache.max_local_disk_size")) << "info --json lacks the recommendation";
  const std::string max_gib = info["lmcache.max_local_disk_size"];
  ASSERT_GT(std::stod(max_gib), 0.0);
  const uint64_t capacity =
      std::stoull(info["stats.slots.total"]) * std::stoull(info["stats.slot_size"]);
  const std::string script = std::string(SLOTFS_SOURCE_DIR) + "/tests/integration/lmcache_replay.py";
  for (int seed : {1, 2}) {
    ProcResult r = RunProcess({kPython, script, "--dir", P("kv" + std::to_string(seed)),
                               "--max-local-disk-size", max_gib, "--fill-bytes",
                               std::to_string(3 * capacity), "--seed", std::to_string(seed)},
                              seconds(300));
    ASSERT_EQ(0, r.exit_code) << r.Describe() << mount_->Log();
    EXPECT_NE(std::string::npos, r.out.find("\"lru_evictions\"")) << "the replay never filled "
                                                                      "LMCache's limit\n"
                                                                   << r.Describe();
  }
  std::map<std::string, std::string> after = Info();
  EXPECT_EQ("0", after["stats.counters.evictions"]) << "slotfs evicted under the recommended size";
  EXPECT_EQ("0", after["stats.counters.sync_evictions"]);
  EXPECT_EQ("0", after["stats.counters.enospc"]) << "a write failed with ENOSPC";
  EXPECT_EQ("0", after["stats.counters.checksum_failures"]);
}

TEST_F(LmcacheReplayTest, ChunksWithTailsUseAtLeastNinetyPercentOfTheirSpace) {
  // 2.6 MB chunks and 40 KB tails, one tail per chunk: what space they
  // hold is what `info` reports.
  const std::string script = std::string(SLOTFS_SOURCE_DIR) + "/tests/integration/lmcache_replay.py";
  ProcResult r = RunProcess({kPython, "-c",
                             "import os, runpy; m = runpy.run_path('" + script + "'); "
                             "d = '" + P("mix") + "'; os.makedirs(d); "
                             "[m['write_entry'](os.path.join(d, 'c%d.pt' % i), "
                             "m['content']('c%d' % i, 2600064 if i % 2 == 0 else 40960), 4096) "
                             "for i in range(40)]"},
                            seconds(120));
  ASSERT_EQ(0, r.exit_code) << r.Describe();
  // Committed within the group-commit interval: wait until info sees them.
  std::map<std::string, std::string> info;
  for (int i = 0; i < 200; ++i) {
    info = Info();
    if (info["files"] == "40") break;
    usleep(50 * 1000);
  }
  ASSERT_EQ("40", info["files"]);
  const double eff = std::stod(info["space_efficiency"]);
  EXPECT_GE(eff, 0.9) << "space efficiency " << eff;
  EXPECT_LE(eff, 1.0);
}

}  // namespace
}  // namespace slotfs::itest
