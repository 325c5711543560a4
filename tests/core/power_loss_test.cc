// Power-loss tests. Two models lose exactly what a power cut loses: the
// drive's volatile write cache (blockdev::VolatileCacheDevice) and SQLite's
// unsynced writes (meta::PowerLossVfs). slotfs must come back from any cut
// with the invariants of DESIGN §4.
//
//  - VolatileCacheDeviceTest, PowerLossVfsTest: the models themselves.
//  - NegativeControlTest: the Store and device driven by hand with the bug
//    quarantine exists for (a freed slot reused before the unlink that freed
//    it is durable) — the model must catch it.
//  - PowerCutTest: a forked child runs a random workload on a
//    core::Filesystem over both models and cuts the power at a random
//    moment; the parent reopens the image and database normally and checks
//    every file. SLOTFS_POWER_CUTS=<n> runs more cuts, SLOTFS_POWER_SEED=<s>
//    another seed sequence; a failure prints the seed of its iteration.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/volatile_cache_device.h"
#include "common/log.h"
#include "testing/power_loss_vfs.h"
#include "tests/core/fs_fixture.h"

namespace slotfs::core::testing {
namespace {

using blockdev::AlignedBuffer;
using blockdev::CutMode;
using blockdev::VolatileCacheDevice;
using meta::PowerLossVfs;

uint64_t EnvU64(const char* name, uint64_t dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : dflt;
}

// ======================================================= VolatileCacheDevice

class VolatileCacheDeviceTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kBlock = VolatileCacheDevice::kBlock;

  void SetUp() override {
    auto inner = blockdev::NewMemoryDevice(1 << 20);
    dev_ = std::make_unique<VolatileCacheDevice>(std::move(inner));
  }

  // Writes `blocks` blocks at block `first`, each filled with `fill + i`.
  Status WriteBlocks(uint64_t first, uint64_t blocks, uint8_t fill) {
    AlignedBuffer buf(blocks * kBlock);
    for (uint64_t i = 0; i < blocks; ++i) {
      std::memset(buf.data() + i * kBlock, fill + static_cast<int>(i), kBlock);
    }
    return dev_->Write(DevOffset(first * kBlock), buf.data(), buf.size());
  }
  // The first byte of block `b` as `d` holds it.
  static uint8_t ByteOf(blockdev::Device& d, uint64_t b) {
    AlignedBuffer buf(kBlock);
    EXPECT_TRUE(d.Read(DevOffset(b * kBlock), buf.data(), kBlock).ok());
    return buf.data()[0];
  }

  std::unique_ptr<VolatileCacheDevice> dev_;
};

TEST_F(VolatileCacheDeviceTest, UnflushedWritesVanishAtDropAllAndFlushedOnesSurvive) {
  ASSERT_TRUE(WriteBlocks(0, 1, 0xA1).ok());
  ASSERT_TRUE(dev_->Flush().ok());
  ASSERT_TRUE(WriteBlocks(1, 1, 0xB1).ok());
  ASSERT_TRUE(WriteBlocks(0, 1, 0xC1).ok());  // overwrite of a flushed block
  EXPECT_EQ(dev_->cached_blocks(), 2u);
  EXPECT_EQ(ByteOf(dev_->inner(), 1), 0) << "an unflushed write reached the medium";
  auto cut = dev_->PowerCut(CutMode::DropAll());
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut.value(), 0u);
  EXPECT_EQ(ByteOf(dev_->inner(), 0), 0xA1);
  EXPECT_EQ(ByteOf(dev_->inner(), 1), 0);
}

TEST_F(VolatileCacheDeviceTest, ReadsSeeCachedBlocksOverTheInnerDevice) {
  ASSERT_TRUE(WriteBlocks(2, 2, 0x10).ok());
  ASSERT_TRUE(dev_->Flush().ok());
  ASSERT_TRUE(WriteBlocks(3, 2, 0x20).ok());  // block 3 cached over flushed data
  AlignedBuffer buf(4 * kBlock);
  ASSERT_TRUE(dev_->Read(DevOffset(2 * kBlock), buf.data(), buf.size()).ok());
  EXPECT_EQ(buf.data()[0], 0x10);
  EXPECT_EQ(buf.data()[kBlock], 0x20);
  EXPECT_EQ(buf.data()[2 * kBlock], 0x21);
  EXPECT_EQ(buf.data()[3 * kBlock], 0);
  EXPECT_EQ(ByteOf(dev_->inner(), 3), 0x11);
}

TEST_F(VolatileCacheDeviceTest, LatestVersionOfABlockWinsAndFlushEmptiesTheCache) {
  ASSERT_TRUE(WriteBlocks(5, 1, 1).ok());
  ASSERT_TRUE(WriteBlocks(5, 1, 2).ok());
  EXPECT_EQ(dev_->cached_blocks(), 1u);
  ASSERT_TRUE(dev_->Flush().ok());
  EXPECT_EQ(dev_->cached_blocks(), 0u);
  EXPECT_EQ(ByteOf(dev_->inner(), 5), 2);
}

TEST_F(VolatileCacheDeviceTest, TearWritesAWholeBlockSubsetOfAMultiBlockWrite) {
  constexpr uint64_t kN = 64;
  ASSERT_TRUE(WriteBlocks(0, kN, 1).ok());  // one 256 KiB write
  auto cut = dev_->PowerCut(CutMode::Tear(7));
  ASSERT_TRUE(cut.ok());
  uint64_t landed = 0;
  AlignedBuffer buf(kN * kBlock);
  ASSERT_TRUE(dev_->inner().Read(DevOffset(0), buf.data(), buf.size()).ok());
  for (uint64_t b = 0; b < kN; ++b) {
    const uint8_t* p = buf.data() + b * kBlock;
    uint8_t want = p[0] == 0 ? 0 : static_cast<uint8_t>(1 + b);
    for (uint64_t i = 0; i < kBlock; ++i) ASSERT_EQ(p[i], want) << "block " << b << " torn inside";
    landed += p[0] != 0;
  }
  EXPECT_EQ(landed, cut.value());
  EXPECT_GT(landed, 0u) << "a tear of 64 blocks wrote none";
  EXPECT_LT(landed, kN) << "a tear of 64 blocks wrote all";

  // The same seed tears the same way.
  auto inner2 = blockdev::NewMemoryDevice(1 << 20);
  VolatileCacheDevice dev2(std::move(inner2));
  dev_.reset();
  AlignedBuffer w(kN * kBlock);
  for (uint64_t i = 0; i < kN; ++i) std::memset(w.data() + i * kBlock, 1 + static_cast<int>(i), kBlock);
  ASSERT_TRUE(dev2.Write(DevOffset(0), w.data(), w.size()).ok());
  auto cut2 = dev2.PowerCut(CutMode::Tear(7));
  ASSERT_TRUE(cut2.ok());
  EXPECT_EQ(cut2.value(), landed);
}

TEST_F(VolatileCacheDeviceTest, EveryOpFailsWithEioOnceThePowerIsOff) {
  ASSERT_TRUE(dev_->PowerCut(CutMode::DropAll()).ok());
  EXPECT_TRUE(dev_->powered_off());
  AlignedBuffer buf(kBlock);
  EXPECT_EQ(dev_->Read(DevOffset(0), buf.data(), kBlock).code(), EIO);
  EXPECT_EQ(dev_->Write(DevOffset(0), buf.data(), kBlock).code(), EIO);
  EXPECT_EQ(dev_->Flush().code(), EIO);
  EXPECT_EQ(dev_->cached_blocks(), 0u);
}

// ============================================================ PowerLossVfs

class PowerLossVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(PowerLossVfs::Register().ok());
    PowerLossVfs::Reset();
    char tmpl[] = "/tmp/slotfs-plvfs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/t.db";
  }
  void TearDown() override {
    PowerLossVfs::Reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  sqlite3* OpenDb(bool model) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                             model ? PowerLossVfs::kName : nullptr);
    EXPECT_EQ(rc, SQLITE_OK) << (db ? sqlite3_errmsg(db) : "");
    return db;
  }
  static int Exec(sqlite3* db, const std::string& sql) {
    return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  }
  static int64_t Int(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return -1;
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
  }
  static std::string Text(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return "prepare failed";
    std::string v = sqlite3_step(st) == SQLITE_ROW
                        ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0))
                        : "no row";
    sqlite3_finalize(st);
    return v;
  }
  // A WAL database through the model with table t holding row 1, durable.
  sqlite3* MakeDb() {
    sqlite3* db = OpenDb(true);
    EXPECT_EQ(Exec(db, "PRAGMA journal_mode=WAL"), SQLITE_OK);
    EXPECT_EQ(Exec(db, "PRAGMA synchronous=FULL"), SQLITE_OK);
    EXPECT_EQ(Exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)"), SQLITE_OK);
    EXPECT_EQ(Exec(db, "INSERT INTO t VALUES(1, randomblob(3000))"), SQLITE_OK);
    return db;
  }
  // Cuts the power, closes `db`, turns the power back on and reopens the
  // database with the default VFS.
  sqlite3* CutAndReopen(sqlite3* db, const CutMode& mode,
                        PowerLossVfs::CutReport* report = nullptr) {
    auto r = PowerLossVfs::PowerCut(mode);
    if (report) *report = r;
    sqlite3_close_v2(db);
    PowerLossVfs::Reset();
    return OpenDb(false);
  }

  std::string dir_, path_;
};

TEST_F(PowerLossVfsTest, NormalCommitInWalModeIsLostAtDropAll) {
  sqlite3* db = MakeDb();
  ASSERT_EQ(Exec(db, "PRAGMA synchronous=NORMAL"), SQLITE_OK);
  ASSERT_EQ(Exec(db, "INSERT INTO t VALUES(2, randomblob(3000))"), SQLITE_OK);
  EXPECT_EQ(Int(db, "SELECT count(*) FROM t"), 2);
  EXPECT_GT(PowerLossVfs::unsynced_bytes(), 0u);
  PowerLossVfs::CutReport report;
  db = CutAndReopen(db, CutMode::DropAll(), &report);
  EXPECT_GE(report.files, 1u);
  EXPECT_GE(report.shm_removed, 1u);
  EXPECT_EQ(Int(db, "SELECT count(*) FROM t"), 1) << "an unsynced commit survived";
  EXPECT_EQ(Text(db, "PRAGMA integrity_check"), "ok");
  sqlite3_close_v2(db);
}

TEST_F(PowerLossVfsTest, FullCommitSurvivesDropAll) {
  sqlite3* db = MakeDb();
  ASSERT_EQ(Exec(db, "INSERT INTO t VALUES(2, randomblob(3000))"), SQLITE_OK);
  EXPECT_EQ(PowerLossVfs::unsynced_bytes(), 0u);
  db = CutAndReopen(db, CutMode::DropAll());
  EXPECT_EQ(Int(db, "SELECT count(*) FROM t"), 2);
  EXPECT_EQ(Text(db, "PRAGMA integrity_check"), "ok");
  sqlite3_close_v2(db);
}

TEST_F(PowerLossVfsTest, FullCommitMakesEarlierNormalCommitsDurable) {
  sqlite3* db = MakeDb();
  ASSERT_EQ(Exec(db, "PRAGMA synchronous=NORMAL"), SQLITE_OK);
  ASSERT_EQ(Exec(db, "INSERT INTO t VALUES(2, randomblob(3000))"), SQLITE_OK);
  ASSERT_EQ(Exec(db, "PRAGMA synchronous=FULL"), SQLITE_OK);
  ASSERT_EQ(Exec(db, "INSERT INTO t VALUES(3, randomblob(10))"), SQLITE_OK);
  db = CutAndReopen(db, CutMode::DropAll());
  EXPECT_EQ(Int(db, "SELECT count(*) FROM t"), 3);
  sqlite3_close_v2(db);
}

TEST_F(PowerLossVfsTest, CheckpointSyncsTheWalFirst) {
  sqlite3* db = MakeDb();
  ASSERT_EQ(Exec(db, "PRAGMA synchronous=NORMAL"), SQLITE_OK);
  ASSERT_EQ(Exec(db, "INSERT INTO t VALUES(2, randomblob(3000))"), SQLITE_OK);
  uint64_t syncs = PowerLossVfs::syncs();
  ASSERT_EQ(Exec(db, "PRAGMA wal_checkpoint(PASSIVE)"), SQLITE_OK);
  EXPECT_GT(PowerLossVfs::syncs(), syncs);
  db = CutAndReopen(db, CutMode::DropAll());
  EXPECT_EQ(Int(db, "SELECT count(*) FROM t"), 2);
  EXPECT_EQ(Text(db, "PRAGMA integrity_check"), "ok");
  sqlite3_close_v2(db);
}

TEST_F(PowerLossVfsTest, AnotherConnectionSeesUnsyncedWritesBeforeTheCut) {
  sqlite3* db = MakeDb();
  ASSERT_EQ(Exec(db, "PRAGMA synchronous=NORMAL"), SQLITE_OK);
  ASSERT_EQ(Exec(db, "INSERT INTO t VALUES(2, randomblob(3000))"), SQLITE_OK);
  sqlite3* other = OpenDb(true);
  EXPECT_EQ(Int(other, "SELECT count(*) FROM t"), 2);
  sqlite3_close_v2(other);
  sqlite3_close_v2(db);
}

TEST_F(PowerLossVfsTest, IoFailsAfterTheCutUntilReset) {
  sqlite3* db = MakeDb();
  PowerLossVfs::PowerCut(CutMode::DropAll());
  EXPECT_TRUE(PowerLossVfs::powered_off());
  int rc = Exec(db, "INSERT INTO t VALUES(2, randomblob(3000))");
  EXPECT_EQ(rc & 0xff, SQLITE_IOERR) << sqlite3_errstr(rc);
  sqlite3_close_v2(db);
  sqlite3* again = nullptr;
  EXPECT_NE(sqlite3_open_v2(path_.c_str(), &again, SQLITE_OPEN_READWRITE, PowerLossVfs::kName),
            SQLITE_OK);
  sqlite3_close_v2(again);
  PowerLossVfs::Reset();
  EXPECT_FALSE(PowerLossVfs::powered_off());
  db = OpenDb(true);
  EXPECT_EQ(Int(db, "SELECT count(*) FROM t"), 1);
  sqlite3_close_v2(db);
}

// A torn WAL: SQLite must find a consistent prefix of its transactions,
// never less than what was synced.
TEST_F(PowerLossVfsTest, TornWalLeavesAConsistentPrefixOfTransactions) {
  uint64_t applied = 0, beyond_synced = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::error_code ec;
    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + s, ec);
    sqlite3* db = MakeDb();
    ASSERT_EQ(Exec(db, "PRAGMA synchronous=NORMAL"), SQLITE_OK);
    for (int i = 2; i <= 10; ++i) {
      ASSERT_EQ(Exec(db, "INSERT INTO t VALUES(" + std::to_string(i) + ", randomblob(3000))"),
                SQLITE_OK);
    }
    ASSERT_EQ(Exec(db, "PRAGMA synchronous=FULL"), SQLITE_OK);
    ASSERT_EQ(Exec(db, "INSERT INTO t VALUES(11, randomblob(100))"), SQLITE_OK);
    ASSERT_EQ(Exec(db, "PRAGMA synchronous=NORMAL"), SQLITE_OK);
    for (int i = 12; i <= 60; ++i) {
      ASSERT_EQ(Exec(db, "INSERT INTO t VALUES(" + std::to_string(i) + ", randomblob(3000))"),
                SQLITE_OK);
    }
    PowerLossVfs::CutReport report;
    db = CutAndReopen(db, CutMode::Tear(seed), &report);
    applied += report.blocks_applied;
    EXPECT_EQ(Text(db, "PRAGMA integrity_check"), "ok");
    int64_t n = Int(db, "SELECT count(*) FROM t");
    EXPECT_EQ(Int(db, "SELECT max(id) FROM t"), n) << "not a prefix";
    EXPECT_GE(n, 11) << "a synced commit was lost";
    EXPECT_LE(n, 60);
    beyond_synced += n > 11;
    sqlite3_close_v2(db);
  }
  EXPECT_GT(applied, 0u) << "no tear applied any block";
  std::printf("[power-loss vfs] torn WAL: %llu blocks applied; %llu of 10 cuts kept "
              "unsynced transactions\n",
              static_cast<unsigned long long>(applied),
              static_cast<unsigned long long>(beyond_synced));
}

// ======================================================== negative control

// Drives the Store and the device by hand through the sequence quarantine
// exists to prevent, and shows the models catch it.
class NegativeControlTest : public FsTest {
 protected:
  void SetUp() override {
    FsTest::SetUp();
    ASSERT_TRUE(PowerLossVfs::Register().ok());
    PowerLossVfs::Reset();
    ASSERT_TRUE(fs_->Shutdown().ok());
    fs_.reset();
  }
  void TearDown() override {
    PowerLossVfs::Reset();
    FsTest::TearDown();
  }

  // File "a" (one slot) committed durably; "a" unlinked in a NORMAL
  // transaction (made durable first if `unlink_durable`); its slot written
  // with other bytes and the device flushed — as a reuse of the slot by a
  // file whose commit round flushed the device would do; then the power cut.
  void Run(bool unlink_durable, std::vector<uint8_t>* a_bytes, std::vector<uint8_t>* b_bytes) {
    auto dev = blockdev::OpenDevice(image_, {});
    ASSERT_TRUE(dev.ok());
    auto vdev = std::make_unique<VolatileCacheDevice>(std::move(dev.value()));
    meta::StoreOptions so;
    so.vfs = PowerLossVfs::kName;
    auto store = meta::Store::Open(db_, sb_, so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    blockdev::Layout layout(sb_);
    const SlotId slot(3);
    *a_bytes = Pattern(kSlot, 31);
    *b_bytes = Pattern(kSlot, 32);
    AlignedBuffer buf(kSlot);

    std::memcpy(buf.data(), a_bytes->data(), kSlot);
    ASSERT_TRUE(vdev->Write(layout.SlotOffset(slot), buf.data(), kSlot).ok());
    ASSERT_TRUE(vdev->Flush().ok());
    auto row = (*store)->CreateInode(kRootInode, "a", S_IFREG | 0644, 0, 0, 1,
                                     meta::InodeState::kWriting);
    ASSERT_TRUE(row.ok());
    meta::FileCommit fc{row->ino, kSlot, 1, 1,
                        {meta::Extent{0, slot, 1, {blockdev::SlotChecksum(a_bytes->data(), kSlot)}}}};
    ASSERT_TRUE((*store)->CommitFiles({fc}, nullptr).ok());

    ASSERT_TRUE((*store)->DeleteInode(row->ino).ok());
    if (unlink_durable) {
      ASSERT_TRUE((*store)->Sync().ok());
    }

    std::memcpy(buf.data(), b_bytes->data(), kSlot);
    ASSERT_TRUE(vdev->Write(layout.SlotOffset(slot), buf.data(), kSlot).ok());
    ASSERT_TRUE(vdev->Flush().ok());

    PowerLossVfs::PowerCut(CutMode::DropAll());
    ASSERT_TRUE(vdev->PowerCut(CutMode::DropAll()).ok());
    store->reset();
    vdev.reset();
    PowerLossVfs::Reset();
    Mount();
    ASSERT_TRUE(fs_);
  }
};

TEST_F(NegativeControlTest, SlotReusedBeforeTheUnlinkIsDurableResurrectsTheFileOverNewBytes) {
  std::vector<uint8_t> a, b;
  ASSERT_NO_FATAL_FAILURE(Run(/*unlink_durable=*/false, &a, &b));
  InodeNo ino = Ino(kRootInode, "a");
  ASSERT_NE(ino.value, 0u) << "the lost unlink did not bring the file back";
  auto of = fs_->Open(ino, O_RDONLY);
  ASSERT_TRUE(of.ok());
  auto r = fs_->Read(*of.value(), 0, kSlot);
  EXPECT_EQ(r.status().code(), EIO) << "B's bytes were returned as A's";
  EXPECT_EQ(fs_->counters().checksum_failures.load(), 1u);
  fs_->Release(std::move(of.value()));
}

TEST_F(NegativeControlTest, SlotReusedAfterTheUnlinkIsDurableIsSafe) {
  std::vector<uint8_t> a, b;
  ASSERT_NO_FATAL_FAILURE(Run(/*unlink_durable=*/true, &a, &b));
  EXPECT_EQ(fs_->Lookup(kRootInode, "a").status().code(), ENOENT);
  EXPECT_EQ(fs_->StatFs().slots_used, 0u);
}

// ======================================================= random power cuts

constexpr int kNames = 16;
constexpr uint32_t kMaxEvents = 2048;
// FsTest's slot size.
constexpr uint64_t kSlotSize = 64 * 1024;
// Largest file: 4 slots and a bit, so a file spans several slots and a
// slot several 4 KiB blocks.
constexpr uint64_t kMaxSize = 4 * kSlotSize + 1500;

enum class EvType : uint32_t { kGen = 1, kUnlink = 2, kFsynced = 3 };
enum class GenKind : uint32_t { kNone = 0, kRewrite = 1, kOverwrite = 2, kTruncate = 3 };

// One step in the life of a name, logged by the child in shared memory.
// kGen is logged before its first byte is written, kUnlink before the
// call, kFsynced after fsync() returned.
struct Event {
  EvType type;
  GenKind kind;
  uint64_t seed;  // content pattern and write chunking
  uint64_t off;   // kOverwrite: first byte
  uint64_t len;   // kRewrite: size; kOverwrite: bytes; kTruncate: new size
};

struct NameLog {
  std::atomic<uint32_t> n;
  Event ev[kMaxEvents];
};

// Shared between the parent and the child (MAP_SHARED), zeroed per cut.
struct SharedLog {
  std::atomic<uint32_t> cutting;  // the cut began
  std::atomic<uint32_t> mounted;  // the child's mount finished first
  std::atomic<uint32_t> error;    // an op failed before the cut
  char error_msg[512];
  std::atomic<uint64_t> ops, fsyncs, unlinks, enospc;
  std::atomic<uint64_t> dev_cached, dev_applied, vfs_applied, vfs_dropped;
  NameLog names[kNames];
};

// A name's content: absent, or present with these bytes.
struct FileModel {
  bool present = false;
  std::vector<uint8_t> data;
  bool operator==(const FileModel&) const = default;
};

// Slots in a user.slotfs.slots value ("3-5,9" is 4).
uint64_t CountSlots(const std::string& runs) {
  uint64_t n = 0;
  std::stringstream ss(runs);
  std::string run;
  while (std::getline(ss, run, ',')) {
    if (run.empty()) continue;
    auto dash = run.find('-');
    n += dash == std::string::npos
             ? 1
             : std::stoull(run.substr(dash + 1)) - std::stoull(run.substr(0, dash)) + 1;
  }
  return n;
}

std::string NameOf(int i) {
  char b[8];
  std::snprintf(b, sizeof b, "f%02d", i);
  return b;
}

// How a generation's bytes are cut into write() calls (derived from its
// seed, so the parent can replay the states in between).
std::vector<uint64_t> Chunks(uint64_t len, uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x5EED5EEDull);
  std::vector<uint64_t> out;
  while (len > 0) {
    uint64_t n = std::min<uint64_t>(len, 1 + rng() % (kSlotSize * 2));
    out.push_back(n);
    len -= n;
  }
  return out;
}

void Apply(FileModel& m, const Event& e) {
  if (e.type == EvType::kUnlink) {
    m = FileModel{};
    return;
  }
  if (e.type != EvType::kGen) return;
  switch (e.kind) {
    case GenKind::kRewrite:
      m.present = true;
      m.data = Pattern(e.len, e.seed);
      break;
    case GenKind::kOverwrite: {
      auto p = Pattern(e.len, e.seed);
      if (m.data.size() < e.off + e.len) m.data.resize(e.off + e.len);
      std::memcpy(m.data.data() + e.off, p.data(), e.len);
      break;
    }
    case GenKind::kTruncate:
      m.data.resize(e.len);
      break;
    case GenKind::kNone:
      break;
  }
}

// The states a file passes through while generation `e` is written over
// `prev` (the final one excluded): after the truncate of an O_TRUNC open,
// and after each write() but the last.
std::vector<FileModel> Intermediates(const FileModel& prev, const Event& e) {
  std::vector<FileModel> out;
  if (e.type != EvType::kGen || e.kind == GenKind::kTruncate) return out;
  FileModel m = prev;
  std::vector<uint8_t> p = Pattern(e.len, e.seed);
  uint64_t base = e.kind == GenKind::kRewrite ? 0 : e.off;
  if (e.kind == GenKind::kRewrite) {
    m = FileModel{true, {}};
    out.push_back(m);
  }
  auto chunks = Chunks(e.len, e.seed);
  uint64_t done = 0;
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    uint64_t at = base + done;
    if (m.data.size() < at + chunks[i]) m.data.resize(at + chunks[i]);
    std::memcpy(m.data.data() + at, p.data() + done, chunks[i]);
    done += chunks[i];
    out.push_back(m);
  }
  return out;
}

uint64_t RandomSize(std::mt19937_64& rng) {
  switch (rng() % 5) {
    case 0: return rng() % 4097;
    case 1: return rng() % (kSlotSize + 1);
    default: return rng() % (kMaxSize + 1);
  }
}

// What the child's workload and cutter share.
struct Child {
  Filesystem* fs = nullptr;
  SharedLog* log = nullptr;
  std::vector<FileModel>* models = nullptr;
  std::mutex power_mu;  // the cut against the device being set up
  VolatileCacheDevice* dev = nullptr;  // power_mu

  [[noreturn]] static void Park() {
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
  void Fail(const std::string& what, const Status& st) {
    if (log->cutting.load()) return;  // expected: the power is going
    if (log->error.exchange(1) != 0) return;
    std::snprintf(log->error_msg, sizeof log->error_msg, "%s: %s", what.c_str(),
                  st.ToString().c_str());
  }
  void Log(int i, const Event& e) {
    NameLog& nl = log->names[i];
    uint32_t n = nl.n.load();
    nl.ev[n] = e;
    nl.n.store(n + 1);
  }

  // Maybe fsync before close; close; count the op.
  Status Finish(int i, std::unique_ptr<OpenFile> of, std::mt19937_64& rng) {
    Status st;
    if (rng() % 10 == 0) {
      st = fs->Fsync(*of);
      if (st.ok()) {
        Log(i, {EvType::kFsynced, GenKind::kNone, 0, 0, 0});
        log->fsyncs.fetch_add(1);
      }
    }
    if (st.ok()) st = fs->Flush(*of);
    fs->Release(std::move(of));
    log->ops.fetch_add(1);
    return st;
  }

  // Runs `op` until it does not fail with ENOSPC: the image is kept nearly
  // full so freed slots are reused at once, and a slot in quarantine comes
  // back at the next durable commit. A write that failed for want of space
  // changed no byte outside its range, so repeating it gives the same file.
  template <typename Op>
  auto RetryNoSpace(Op op) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      auto r = op();
      if (r.ok() || r.status().code() != ENOSPC ||
          std::chrono::steady_clock::now() > deadline) {
        return r;
      }
      log->enospc.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  Status WriteChunks(OpenFile& of, uint64_t at, const Event& e) {
    auto p = Pattern(e.len, e.seed);
    uint64_t done = 0;
    for (uint64_t n : Chunks(e.len, e.seed)) {
      auto w = RetryNoSpace([&] { return fs->Write(of, at + done, {p.data() + done, n}); });
      if (!w.ok()) return w.status();
      done += n;
    }
    return Status::Ok();
  }

  // One random operation on name i. Returns false to stop the worker.
  bool Step(int i, std::mt19937_64& rng) {
    FileModel& m = (*models)[i];
    const std::string name = NameOf(i);
    if (log->names[i].n.load() + 2 >= kMaxEvents) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return true;
    }
    const int r = static_cast<int>(rng() % 100);
    InodeNo ino(0);
    if (m.present) {
      auto a = fs->Lookup(kRootInode, name);
      if (!a.ok()) return Fail("lookup " + name, a.status()), false;
      ino = a->ino;
    }
    if (!m.present || r < 35) {  // create or rewrite with O_TRUNC
      Event e{EvType::kGen, GenKind::kRewrite, rng(), 0, RandomSize(rng)};
      Log(i, e);
      auto of = fs->Create(kRootInode, name, 0644, 0, 0, O_WRONLY | O_CREAT | O_TRUNC, nullptr);
      if (!of.ok()) return Fail("create " + name, of.status()), false;
      Status st = WriteChunks(*of.value(), 0, e);
      if (!st.ok()) return Fail("write " + name, st), false;
      Apply(m, e);
      st = Finish(i, std::move(of.value()), rng);
      return st.ok() || (Fail("close " + name, st), false);
    }
    if (r < 60) {  // partial overwrite in place, maybe growing the file
      uint64_t off = rng() % (m.data.size() + 1);
      uint64_t len = 1 + rng() % (kSlotSize + kSlotSize / 2);
      len = std::min(len, kMaxSize - std::min(kMaxSize - 1, off));
      Event e{EvType::kGen, GenKind::kOverwrite, rng(), off, len};
      Log(i, e);
      auto of = fs->Open(ino, O_WRONLY);
      if (!of.ok()) return Fail("open " + name, of.status()), false;
      Status st = WriteChunks(*of.value(), off, e);
      if (!st.ok()) return Fail("overwrite " + name, st), false;
      Apply(m, e);
      st = Finish(i, std::move(of.value()), rng);
      return st.ok() || (Fail("close " + name, st), false);
    }
    if (r < 72) {  // ftruncate, shrinking or growing
      Event e{EvType::kGen, GenKind::kTruncate, 0, 0, RandomSize(rng)};
      Log(i, e);
      auto of = fs->Open(ino, O_WRONLY);
      if (!of.ok()) return Fail("open " + name, of.status()), false;
      SetAttrRequest req;
      req.size = e.len;
      auto a = RetryNoSpace([&] { return fs->SetAttr(ino, req, of.value().get()); });
      if (!a.ok()) return Fail("truncate " + name, a.status()), false;
      Apply(m, e);
      Status st = Finish(i, std::move(of.value()), rng);
      return st.ok() || (Fail("close " + name, st), false);
    }
    if (r < 90) {  // unlink
      Event e{EvType::kUnlink, GenKind::kNone, 0, 0, 0};
      Log(i, e);
      Status st = fs->Unlink(kRootInode, name);
      if (!st.ok()) return Fail("unlink " + name, st), false;
      Apply(m, e);
      log->unlinks.fetch_add(1);
      log->ops.fetch_add(1);
      // Often the name is stored again at once (a cache evicting and
      // refilling an entry): the new bytes may land in the freed slots.
      return (rng() & 1) == 0 || Step(i, rng);
    }
    // fsync of the file as it is
    auto of = fs->Open(ino, O_RDONLY);
    if (!of.ok()) return Fail("open " + name, of.status()), false;
    Status st = fs->Fsync(*of.value());
    fs->Release(std::move(of.value()));
    if (!st.ok()) return Fail("fsync " + name, st), false;
    Log(i, {EvType::kFsynced, GenKind::kNone, 0, 0, 0});
    log->fsyncs.fetch_add(1);
    log->ops.fetch_add(1);
    return true;
  }

  void Worker(int tid, int nthreads, uint64_t seed) {
    std::mt19937_64 rng(seed);
    const int per = kNames / nthreads;
    while (Step(tid + nthreads * static_cast<int>(rng() % per), rng)) {
    }
    Park();
  }

  // Cuts the power of both models after `delay`, then ends the process.
  // The database goes first: from then on nothing can commit, so device
  // writes that still land before the device's cut can only make the test
  // stricter (more bytes a wrong row could point at), never hide a bug.
  [[noreturn]] void Cutter(CutMode mode, std::chrono::microseconds delay) {
    std::this_thread::sleep_for(delay);
    std::lock_guard lock(power_mu);
    log->cutting.store(1);
    SetLogLevel(spdlog::level::off);  // the failures that follow are expected
    auto vr = PowerLossVfs::PowerCut(mode);
    log->vfs_applied.store(vr.blocks_applied);
    log->vfs_dropped.store(vr.blocks_dropped);
    if (dev) {
      log->dev_cached.store(dev->cached_blocks());
      auto dr = dev->PowerCut(mode);
      log->dev_applied.store(dr.ok() ? dr.value() : 0);
    }
    _exit(0);
  }
};

class PowerCutTest : public FsTest {
 protected:
  PowerCutTest() {
    static_assert(kSlot == kSlotSize);
    // About 120 slots for at most 16 files of up to 5 slots: the allocator
    // wraps around several times per cut and hands out freed slots soon
    // after they leave quarantine — soon after they are freed, if
    // quarantine were broken.
    image_size_ = 8ull << 20;
  }

  void SetUp() override {
    FsTest::SetUp();
    SetLogLevel(spdlog::level::warn);
    ASSERT_TRUE(PowerLossVfs::Register().ok());
    void* p = mmap(nullptr, sizeof(SharedLog), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    log_ = static_cast<SharedLog*>(p);
    models_.assign(kNames, FileModel{});
  }
  void TearDown() override {
    if (log_) munmap(log_, sizeof(SharedLog));
    FsTest::TearDown();
    SetLogLevel(spdlog::level::info);
  }

  // The child: mounts over the models, runs the workload, and is ended by
  // its cutter thread. Never returns.
  [[noreturn]] void ChildMain(uint64_t seed, CutMode mode) {
    std::mt19937_64 rng(seed);
    auto* child = new Child();  // never freed: the process ends with _exit
    child->log = log_;
    child->models = &models_;
    auto delay = std::chrono::microseconds(rng() % 250'000);
    std::thread([child, mode, delay] { child->Cutter(mode, delay); }).detach();

    std::unique_ptr<VolatileCacheDevice> dev;
    {
      std::lock_guard lock(child->power_mu);
      if (log_->cutting.load()) Child::Park();
      auto d = blockdev::OpenDevice(image_, {});
      if (!d.ok()) {
        child->Fail("open device", d.status());
        Child::Park();
      }
      dev = std::make_unique<VolatileCacheDevice>(std::move(d.value()));
      child->dev = dev.get();
    }
    meta::StoreOptions so;
    so.vfs = PowerLossVfs::kName;
    auto store = meta::Store::Open(db_, sb_, so);
    if (!store.ok()) {
      child->Fail("open store", store.status());
      Child::Park();
    }
    CoreConfig cfg;
    // Short intervals make group commits land at random points; longer
    // ones leave unlinks undurable longer while their slots are reused.
    cfg.commit_interval = std::chrono::milliseconds(rng() % 2 ? 2 + rng() % 9 : 10 + rng() % 31);
    // A small stride packs files; a stride past the device makes every new
    // file start at the first free slot, so a released slot is reused at
    // once (what exposed a commit releasing a newer version's slot).
    cfg.alloc_stride = rng() % 2 ? 4 : uint64_t{1} << 40;
    // The oracle expects every committed file to stay: no eviction.
    cfg.evict_policy = EvictPolicy::kNone;
    auto fs = Filesystem::Open(std::move(dev), sb_, std::move(store.value()), cfg);
    if (!fs.ok()) {
      child->Fail("mount", fs.status());
      Child::Park();
    }
    child->fs = fs.value().release();
    child->fs->Start();
    log_->mounted.store(1);
    constexpr int kThreads = 2;
    for (int t = 0; t < kThreads; ++t) {
      uint64_t s = rng();
      std::thread([child, t, s] { child->Worker(t, kThreads, s); }).detach();
    }
    Child::Park();
  }

  // Waits for the child; kills it after a timeout (a hang is a failure).
  int WaitChild(pid_t pid) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // Explains a visible file that matches no allowed state: the latest
  // state it equals in the middle of writing a generation (the file was
  // committed while being written), else where its bytes first differ from
  // the last state; then the name's last events.
  static std::string Diagnose(int i, const FileModel& visible, const FileModel& base,
                              const NameLog& nl, uint32_t n) {
    static constexpr const char* kKinds[] = {"-", "rewrite", "overwrite", "truncate"};
    static constexpr const char* kTypes[] = {"?", "gen", "unlink", "fsynced"};
    std::ostringstream out;
    out << NameOf(i) << " is "
        << (visible.present ? "present, " + std::to_string(visible.data.size()) + " bytes"
                            : "absent")
        << "; no allowed state matches.";
    FileModel m = base;
    std::string mid;
    for (uint32_t j = 0; j < n; ++j) {
      const Event& e = nl.ev[j];
      auto mids = Intermediates(m, e);
      for (size_t k = 0; k < mids.size(); ++k) {
        if (mids[k] != visible) continue;
        mid = " It equals the file in the middle of event " + std::to_string(j) + " (" +
              kKinds[static_cast<int>(e.kind)] + ", step " + std::to_string(k + 1) + " of " +
              std::to_string(mids.size() + 1) +
              "): a generation was committed while it was being written.";
      }
      Apply(m, e);
    }
    out << mid;
    if (mid.empty() && visible.present && m.present) {
      size_t k = 0;
      while (k < visible.data.size() && k < m.data.size() && visible.data[k] == m.data[k]) ++k;
      out << " First difference from the last state at byte " << k << ".";
    }
    out << " Last events:";
    for (uint32_t j = n > 12 ? n - 12 : 0; j < n; ++j) {
      const Event& e = nl.ev[j];
      out << " [" << j << " " << kTypes[static_cast<int>(e.type)];
      if (e.type == EvType::kGen) {
        out << " " << kKinds[static_cast<int>(e.kind)] << " off " << e.off << " len " << e.len;
      }
      out << "]";
    }
    return out.str();
  }

  struct Totals {
    uint64_t cuts = 0, cuts_before_mount = 0, ops = 0, fsyncs = 0, unlinks = 0, enospc = 0;
    uint64_t rolled_back = 0, dev_cached = 0, dev_applied = 0, vfs_applied = 0,
             vfs_dropped = 0;
  };

  // Reopens the image and database normally and checks every name.
  void Verify(const std::string& trace) {
    Mount();
    ASSERT_TRUE(fs_) << "the filesystem does not open after the cut (a slot owned twice?)";
    EXPECT_EQ(fs_->StatFs().slots_quarantined, 0u);
    auto entries = fs_->ReadDir(kRootInode, 0, 1000);
    ASSERT_TRUE(entries.ok());
    std::set<std::string> names;
    for (int i = 0; i < kNames; ++i) names.insert(NameOf(i));
    for (const DirEntry& d : entries.value()) {
      if (d.name == "." || d.name == "..") continue;
      EXPECT_TRUE(names.count(d.name)) << "unexpected entry " << d.name;
    }
    uint64_t expect_slots = 0;
    for (int i = 0; i < kNames; ++i) {
      const std::string name = NameOf(i);
      FileModel visible;
      auto a = fs_->Lookup(kRootInode, name);
      if (a.ok()) {
        visible.present = true;
        visible.data = ReadAll(a->ino);
        EXPECT_EQ(a->size, visible.data.size()) << name;
        expect_slots += CountSlots(Slots(a->ino));
        EXPECT_LE(CountSlots(Slots(a->ino)), (a->size + kSlot - 1) / kSlot) << name;
      } else {
        EXPECT_EQ(a.status().code(), ENOENT) << name << ": " << a.status().ToString();
      }
      const NameLog& nl = log_->names[i];
      const uint32_t n = nl.n.load();
      // State 0 is the baseline; each kGen/kUnlink makes the next. The
      // last kFsynced names the oldest state still allowed.
      uint32_t state = 0, floor = 0, last = 0;
      for (uint32_t j = 0; j < n; ++j) {
        if (nl.ev[j].type == EvType::kFsynced) {
          floor = state;
        } else {
          ++state;
        }
      }
      last = state;
      FileModel m = models_[i];
      int64_t matched = (floor == 0 && m == visible) ? 0 : -1;
      state = 0;
      for (uint32_t j = 0; j < n; ++j) {
        if (nl.ev[j].type == EvType::kFsynced) continue;
        Apply(m, nl.ev[j]);
        ++state;
        if (state >= floor && m == visible) matched = state;
      }
      if (matched < 0) {
        ADD_FAILURE() << trace << ": " << Diagnose(i, visible, models_[i], nl, n)
                      << " (fsync floor: state " << floor << " of " << last << ")";
      } else if (static_cast<uint32_t>(matched) < last) {
        ++totals_.rolled_back;
      }
      models_[i] = visible;  // the next cut starts from what is there
    }
    EXPECT_EQ(fs_->counters().checksum_failures.load(), 0u) << trace;
    EXPECT_EQ(fs_->StatFs().slots_used, expect_slots)
        << trace << ": the free map does not match the files' slots";
    ASSERT_TRUE(fs_->Shutdown().ok());
    fs_.reset();
  }

  // One cut: fork, run, cut, verify. Cut k of a run starts from the state
  // the earlier cuts left, so `rerun` names the whole sequence (thread
  // timing still varies: a rerun replays the same workloads and cut modes,
  // not the same interleaving).
  void OneCut(uint64_t seed, CutMode mode, const std::string& rerun) {
    const std::string trace =
        "cut seed " + std::to_string(seed) + " mode " + mode.ToString() + " (rerun: " + rerun + ")";
    SCOPED_TRACE(trace);
    std::memset(static_cast<void*>(log_), 0, sizeof(SharedLog));
    if (fs_) {
      ASSERT_TRUE(fs_->Shutdown().ok());
      fs_.reset();
    }
    PowerLossVfs::Reset();
    std::fflush(nullptr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) ChildMain(seed, mode);
    int rc = WaitChild(pid);
    ASSERT_EQ(rc, 0) << "the child " << (rc < 0 ? "hung" : "died: status " + std::to_string(rc))
                     << " (a crash in the filesystem: rerun the sequence under ASan)";
    ASSERT_EQ(log_->error.load(), 0u) << "an operation failed before the cut: "
                                      << log_->error_msg;
    ++totals_.cuts;
    totals_.cuts_before_mount += log_->mounted.load() == 0;
    totals_.ops += log_->ops.load();
    totals_.fsyncs += log_->fsyncs.load();
    totals_.unlinks += log_->unlinks.load();
    totals_.enospc += log_->enospc.load();
    totals_.dev_cached += log_->dev_cached.load();
    totals_.dev_applied += log_->dev_applied.load();
    totals_.vfs_applied += log_->vfs_applied.load();
    totals_.vfs_dropped += log_->vfs_dropped.load();
    Verify(trace);
  }

  void RunCuts(uint64_t default_seed, bool tear) {
    const uint64_t cuts = EnvU64("SLOTFS_POWER_CUTS", 40);
    const uint64_t base = EnvU64("SLOTFS_POWER_SEED", default_seed);
    auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(fs_->Shutdown().ok());
    fs_.reset();
    for (uint64_t k = 0; k < cuts && !HasFailure(); ++k) {
      uint64_t seed = base + k;
      OneCut(seed, tear ? CutMode::Tear(seed) : CutMode::DropAll(),
             "SLOTFS_POWER_SEED=" + std::to_string(base) + " SLOTFS_POWER_CUTS=" +
                 std::to_string(k + 1));
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "[power-loss] %llu cuts (%llu before the mount finished) in %.1f s: %llu ops, "
        "%llu fsyncs, %llu unlinks, %llu ENOSPC retries; %llu files rolled back to an "
        "older state; device: "
        "%llu unflushed blocks at the cuts, %llu torn in; database: %llu unsynced "
        "blocks dropped, %llu torn in\n",
        (unsigned long long)totals_.cuts, (unsigned long long)totals_.cuts_before_mount, secs,
        (unsigned long long)totals_.ops, (unsigned long long)totals_.fsyncs,
        (unsigned long long)totals_.unlinks, (unsigned long long)totals_.enospc,
        (unsigned long long)totals_.rolled_back,
        (unsigned long long)totals_.dev_cached, (unsigned long long)totals_.dev_applied,
        (unsigned long long)totals_.vfs_dropped, (unsigned long long)totals_.vfs_applied);
  }

  SharedLog* log_ = nullptr;
  // Each name's content as the last verification found it (the child
  // inherits it through fork).
  std::vector<FileModel> models_;
  Totals totals_;
};

TEST_F(PowerCutTest, RandomCutsDroppingEveryUnflushedWrite) { RunCuts(1000, false); }

TEST_F(PowerCutTest, RandomCutsTearingUnflushedWrites) { RunCuts(2000, true); }

}  // namespace
}  // namespace slotfs::core::testing
