// tests/integration/index_import.cc — see index_import.h.
#include "tests/integration/index_import.h"

#include <chrono>
#include <cstdio>

#include "blockdev/superblock_io.h"
#include "meta/store.h"

namespace slotfs::itest {

std::string ImportName(const std::string& tag, uint64_t i) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s-Llama-3.1-8B@1@0@%016llx@bfloat16.pt", tag.c_str(),
                static_cast<unsigned long long>(i * 0x9E3779B97F4A7C15ULL));
  return buf;
}

::testing::AssertionResult ImportEmptyFiles(const std::string& image, const std::string& db,
                                             const std::string& dir,
                                             const std::vector<std::string>& names) {
  auto fail = [&](const Status& st) {
    return ::testing::AssertionFailure() << "importing into " << db << ": " << st.ToString();
  };
  auto dev = blockdev::OpenDevice(image, blockdev::DeviceOptions());
  if (!dev.ok()) return fail(dev.status());
  auto sbs = blockdev::ReadSuperblocks(**dev);
  if (!sbs.ok()) return fail(sbs.status());
  auto store = meta::Store::Open(db, sbs->sb, meta::StoreOptions());
  if (!store.ok()) return fail(store.status());
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  auto d = (*store)->CreateInode(kRootInode, dir, 040755, 0, 0, now,
                                 meta::InodeState::kComplete);
  if (!d.ok()) return fail(d.status());
  const size_t batch = 50'000;
  for (size_t i = 0; i < names.size(); i += batch) {
    std::vector<meta::Store::NewFile> v;
    for (size_t j = i; j < std::min(names.size(), i + batch); ++j) {
      meta::Store::NewFile f;
      f.parent = d->ino;
      f.name = names[j];
      v.push_back(std::move(f));
    }
    Status st = (*store)->ImportFiles(v, now);
    if (!st.ok()) return fail(st);
  }
  Status st = (*store)->Sync();
  if (st.ok()) st = (*store)->Checkpoint();
  if (!st.ok()) return fail(st);
  return ::testing::AssertionSuccess();
}

}  // namespace slotfs::itest
