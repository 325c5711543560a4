// Test fixture for core::Filesystem: a real image file in a temp directory,
// opened through the real device engine, a real SQLite database, and helpers
// to write/read whole files and to reopen (remount) the filesystem.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "blockdev/device.h"
#include "testing/fault_device.h"
#include "blockdev/format.h"
#include "blockdev/superblock_io.h"
#include "core/filesystem.h"
#include "meta/store.h"

namespace slotfs::core::testing {

// Bytes derived from (seed, position): any misplaced byte shows.
inline std::vector<uint8_t> Pattern(size_t n, uint64_t seed) {
  std::vector<uint8_t> v(n);
  uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    v[i] = static_cast<uint8_t>(x);
  }
  return v;
}

class FsTest : public ::testing::Test {
 protected:
  // 64 KiB slots keep multi-slot cases small.
  static constexpr uint64_t kSlot = 64 * 1024;

  void SetUp() override {
    char tmpl[] = "/tmp/slotfs-core-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    image_ = dir_ + "/img";
    db_ = DbPath();
    Format(image_size_);
    Mount();
  }

  // Where the database goes; tests may put it elsewhere.
  virtual std::string DbPath() { return dir_ + "/img.db"; }

  void TearDown() override {
    fs_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void Format(uint64_t size) {
    int fd = ::open(image_.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
    ::close(fd);
    auto dev = blockdev::OpenDevice(image_, {});
    ASSERT_TRUE(dev.ok()) << dev.status().ToString();
    auto sb = blockdev::PlanGeometry(dev.value()->size(), kSlot);
    ASSERT_TRUE(sb.ok()) << sb.status().ToString();
    sb_ = sb.value();
    sb_.uuid = blockdev::NewUuid();
    sb_.device_size = dev.value()->size();
    ASSERT_TRUE(blockdev::WriteSuperblocks(*dev.value(), sb_).ok());
    auto store = meta::Store::Create(db_, sb_, 0, 0, true);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }

  // Opens the filesystem; with `faulty`, the device is wrapped so tests can
  // inject I/O errors through fault().
  void Mount(bool faulty = false) {
    auto dev = blockdev::OpenDevice(image_, {});
    ASSERT_TRUE(dev.ok()) << dev.status().ToString();
    std::unique_ptr<blockdev::Device> device = std::move(dev.value());
    fault_ = nullptr;
    if (faulty) {
      auto f = std::make_unique<blockdev::FaultInjectingDevice>(std::move(device));
      fault_ = f.get();
      device = std::move(f);
    }
    auto store = meta::Store::Open(db_, sb_, {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    CoreConfig cfg;
    cfg.commit_interval = commit_interval_;
    cfg.max_file_size = max_file_size_;
    cfg.evict_policy = evict_policy_;
    cfg.evict_high_pct = evict_high_pct_;
    cfg.evict_low_pct = evict_low_pct_;
    auto fs = Filesystem::Open(std::move(device), sb_, std::move(store.value()), cfg);
    ASSERT_TRUE(fs.ok()) << fs.status().ToString();
    fs_ = std::move(fs.value());
    if (before_start_) before_start_(*fs_);
    fs_->Start();
  }

  void Remount(bool faulty = false) {
    ASSERT_TRUE(fs_->Shutdown().ok());
    fs_.reset();
    Mount(faulty);
  }

  // Creates (or truncates) `name` in `dir` and writes `data` in `chunk`-byte
  // writes, then closes.
  InodeNo WriteFile(InodeNo dir, const std::string& name,
                    const std::vector<uint8_t>& data, size_t chunk = 1 << 20) {
    Attr attr;
    auto of = fs_->Create(dir, name, 0644, 0, 0, O_WRONLY | O_CREAT | O_TRUNC, &attr);
    EXPECT_TRUE(of.ok()) << of.status().ToString();
    if (!of.ok()) return InodeNo(0);
    for (size_t off = 0; off < data.size(); off += chunk) {
      size_t n = std::min(chunk, data.size() - off);
      auto w = fs_->Write(*of.value(), off, {data.data() + off, n});
      EXPECT_TRUE(w.ok()) << w.status().ToString();
    }
    EXPECT_TRUE(fs_->Flush(*of.value()).ok());
    fs_->Release(std::move(of.value()));
    return attr.ino;
  }

  std::vector<uint8_t> ReadAll(InodeNo ino) {
    auto of = fs_->Open(ino, O_RDONLY);
    EXPECT_TRUE(of.ok()) << of.status().ToString();
    if (!of.ok()) return {};
    std::vector<uint8_t> out;
    for (uint64_t off = 0;; ) {
      auto r = fs_->Read(*of.value(), off, 300 * 1024);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok() || r->length == 0) break;
      out.insert(out.end(), r->data(), r->data() + r->length);
      off += r->length;
    }
    fs_->Release(std::move(of.value()));
    return out;
  }

  // Runs `body` in a forked child that opens the filesystem itself and ends
  // with _exit() and no shutdown: a crash of the daemon, as kill -9 leaves
  // it. The parent's filesystem is closed meanwhile and reopened after.
  // Returns the child's exit status (body's return value).
  int RunInCrashingChild(const std::function<int()>& body) {
    EXPECT_TRUE(fs_->Shutdown().ok());
    fs_.reset();
    fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      Mount();
      if (!fs_) _exit(90);
      _exit(body());
    }
    int status = 0;
    waitpid(pid, &status, 0);
    Mount();
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string Slots(InodeNo ino) {
    auto s = fs_->GetXattr(ino, "user.slotfs.slots");
    return s.ok() ? s.value() : "?";
  }

  InodeNo Ino(InodeNo dir, const std::string& name) {
    auto a = fs_->Lookup(dir, name);
    return a.ok() ? a->ino : InodeNo(0);
  }

  uint64_t image_size_ = 64ull << 20;
  uint64_t max_file_size_ = 0;
  std::chrono::milliseconds commit_interval_{5};
  // Most tests fill the device on purpose and expect what they stored to
  // stay: no eviction unless a test asks for it.
  EvictPolicy evict_policy_ = EvictPolicy::kNone;
  unsigned evict_high_pct_ = 95, evict_low_pct_ = 90;
  // Runs between Open and Start (hooks must be set before Start).
  std::function<void(Filesystem&)> before_start_;
  std::string dir_, image_, db_;
  blockdev::Superblock sb_;
  std::unique_ptr<Filesystem> fs_;
  blockdev::FaultInjectingDevice* fault_ = nullptr;
};

}  // namespace slotfs::core::testing
