// Test fixture for meta::Store: a real SQLite file in a fresh directory under
// /tmp (removed in TearDown), a superblock to bind it to, and helpers to
// create, reopen and poke at the database with raw SQLite.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "blockdev/format.h"
#include "common/status.h"
#include "meta/store.h"

namespace slotfs::meta::testing {

inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

// Asserts that a Status or Result is OK, printing the error otherwise.
#define SLOTFS_ASSERT_OK(expr)                                          \
  do {                                                                  \
    const auto& _r = (expr);                                            \
    ASSERT_TRUE(_r.ok()) << ::slotfs::meta::testing::StatusOf(_r).ToString(); \
  } while (0)
#define SLOTFS_EXPECT_OK(expr)                                          \
  do {                                                                  \
    const auto& _r = (expr);                                            \
    EXPECT_TRUE(_r.ok()) << ::slotfs::meta::testing::StatusOf(_r).ToString(); \
  } while (0)

inline ::testing::AssertionResult HasSubstr(const std::string& haystack,
                                            std::string_view needle) {
  if (haystack.find(needle) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "'" << haystack << "' does not contain '" << needle << "'";
}

// Whole contents of a file ("" if unreadable).
inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline bool WriteFileBytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

inline bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// A raw SQLite connection for setting up and inspecting databases behind the
// Store's back. Closed on destruction.
class RawDb {
 public:
  explicit RawDb(const std::string& path,
                 int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    rc_ = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  // Runs statements; returns "" on success, the error message otherwise.
  std::string Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    std::string msg = rc == SQLITE_OK ? "" : (err ? err : "error");
    sqlite3_free(err);
    return msg;
  }
  // First column of the first row as text ("<none>" without a row,
  // "<error: ...>" on failure).
  std::string QueryText(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      return std::string("<error: ") + sqlite3_errmsg(db_) + ">";
    }
    std::string out = "<none>";
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(s, 0);
      out = t ? reinterpret_cast<const char*>(t) : "<null>";
    } else if (rc != SQLITE_DONE) {
      out = std::string("<error: ") + sqlite3_errmsg(db_) + ">";
    }
    sqlite3_finalize(s);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

class StoreTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kUid = 1234;
  static constexpr uint32_t kGid = 5678;
  static constexpr uint32_t kFileMode = S_IFREG | 0644;
  static constexpr uint32_t kDirMode = S_IFDIR | 0755;

  void SetUp() override {
    char tmpl[] = "/tmp/slotfs-meta-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/fs.db";
    sb_ = MakeSuperblock();
  }

  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A plausible superblock with a fresh UUID: 64 KiB slots, 1000 of them.
  static blockdev::Superblock MakeSuperblock() {
    blockdev::Superblock sb;
    sb.uuid = blockdev::NewUuid();
    sb.slot_size = 64 * 1024;
    sb.slot_count = 1000;
    sb.data_offset = blockdev::kHeaderRegionSize;
    sb.device_size = sb.data_offset + sb.slot_count * sb.slot_size;
    sb.created_unix_ns = 1'700'000'000'000'000'000;
    return sb;
  }

  void CreateStore() {
    auto s = Store::Create(path_, sb_, kUid, kGid, /*overwrite=*/false);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s.value());
  }

  // Closes the store (if open) and opens it again with `options`.
  void Reopen(StoreOptions options = {}) {
    store_.reset();
    auto s = Store::Open(path_, sb_, options);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s.value());
  }

  InodeNo MakeInode(InodeNo parent, std::string_view name, uint32_t mode,
                    InodeState state = InodeState::kComplete) {
    auto r = store_->CreateInode(parent, name, mode, kUid, kGid, ++now_, state);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->ino : InodeNo(0);
  }
  InodeNo MakeFile(InodeNo parent, std::string_view name,
                   InodeState state = InodeState::kComplete) {
    return MakeInode(parent, name, kFileMode, state);
  }
  InodeNo MakeDir(InodeNo parent, std::string_view name) {
    return MakeInode(parent, name, kDirMode);
  }

  // Commits `extents` (and the size they imply) for one file.
  void CommitExtents(InodeNo ino, std::vector<Extent> extents,
                     uint64_t size = 0) {
    FileCommit fc;
    fc.ino = ino;
    fc.extents = std::move(extents);
    uint64_t slots = 0;
    for (const Extent& e : fc.extents) slots += e.count;
    fc.size = size != 0 ? size : slots * sb_.slot_size;
    fc.mtime_ns = fc.ctime_ns = ++now_;
    std::vector<InodeNo> missing;
    Status st = store_->CommitFiles({fc}, &missing);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_TRUE(missing.empty());
  }

  // Every extent in the database, as (ino, extent), in visiting order.
  std::vector<std::pair<uint64_t, Extent>> AllExtents() {
    std::vector<std::pair<uint64_t, Extent>> out;
    Status st = store_->ForEachExtent([&](InodeNo ino, const Extent& e) {
      out.emplace_back(ino.value, e);
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  std::string dir_, path_;
  blockdev::Superblock sb_;
  std::unique_ptr<Store> store_;
  int64_t now_ = 1'000'000;
};

}  // namespace slotfs::meta::testing
