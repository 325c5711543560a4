// PopulateIndex: many committed files written as rows straight into the
// database (meta::Store::ImportFiles, 50,000 a transaction), and real,
// checksummed bytes on the device for the few files a benchmark reads.

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "blockdev/aligned_buffer.h"
#include "blockdev/format.h"
#include "blockdev/superblock_io.h"
#include "meta/store.h"
#include "tools/bench_scale.h"
#include "tools/bench_util.h"

namespace slotfs::tools::bench {

std::string ScaleFileName(uint64_t i) {
  char name[96];
  std::snprintf(name, sizeof name, "meta-llama-Llama-3.1-8B-Instruct@1@0@%016llx@bfloat16.pt",
                static_cast<unsigned long long>(i * 0x9E3779B97F4A7C15ULL));
  return name;
}

namespace {

std::string DirName(uint64_t d) {
  char name[32];
  std::snprintf(name, sizeof name, "d%04llu", static_cast<unsigned long long>(d));
  return name;
}

}  // namespace

std::string ScaleFilePath(const PopulateSpec& spec, uint64_t i) {
  if (spec.dirs <= 1) return "kv/" + ScaleFileName(i);
  return "kv/" + DirName(i % spec.dirs) + "/" + ScaleFileName(i);
}

Status PopulateIndex(const std::string& image, const std::string& db,
                     const PopulateSpec& spec) {
  blockdev::DeviceOptions dopt;
  SLOTFS_ASSIGN_OR_RETURN(auto dev, blockdev::OpenDevice(image, dopt));
  SLOTFS_ASSIGN_OR_RETURN(auto sbs, blockdev::ReadSuperblocks(*dev));
  const blockdev::Layout layout(sbs.sb);
  const uint64_t size = spec.file_size ? spec.file_size : sbs.sb.slot_size;
  if (size > sbs.sb.slot_size || size % kIoAlign != 0) {
    return Status::Error(EINVAL, "file size must be a multiple of 4096 up to one slot");
  }
  if (spec.files > sbs.sb.slot_count) {
    return Status::Error(ENOSPC, "the image has fewer slots than files");
  }
  meta::StoreOptions sopt;
  SLOTFS_ASSIGN_OR_RETURN(auto store, meta::Store::Open(db, sbs.sb, sopt));
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow top,
                          store->CreateInode(kRootInode, "kv", 040755, 0, 0, now,
                                             meta::InodeState::kComplete));
  std::vector<InodeNo> parents;
  for (uint64_t d = 0; d < std::max<uint64_t>(spec.dirs, 1); ++d) {
    if (spec.dirs <= 1) {
      parents.push_back(top.ino);
      break;
    }
    SLOTFS_ASSIGN_OR_RETURN(meta::InodeRow r,
                            store->CreateInode(top.ino, DirName(d), 040755, 0, 0, now,
                                               meta::InodeState::kComplete));
    parents.push_back(r.ino);
  }

  // Content first: the bytes reach the device (and are flushed) before any
  // row points at them, as the filesystem itself does.
  std::vector<uint64_t> csum(spec.content.size());
  if (!spec.content.empty()) {
    blockdev::AlignedBuffer buf = blockdev::AlignedBuffer::Uninitialized(size);
    auto* words = reinterpret_cast<uint64_t*>(buf.data());
    for (size_t k = 0; k < spec.content.size(); ++k) {
      uint64_t i = spec.content[k];
      for (uint64_t w = 0; w < size / 8; ++w) words[w] = PatternWord(i, w);
      csum[k] = blockdev::SlotChecksum(buf.data(), size);
      SLOTFS_RETURN_IF_ERROR(dev->Write(layout.SlotOffset(SlotId(i)), buf.data(), size));
      Progress("writing content: %zu/%zu files", k + 1, spec.content.size());
    }
    SLOTFS_RETURN_IF_ERROR(dev->Flush());
  }

  const uint64_t batch = 50'000;
  auto start = Clock::now();
  size_t next_content = 0;
  for (uint64_t i = 0; i < spec.files; i += batch) {
    std::vector<meta::Store::NewFile> v;
    v.reserve(batch);
    for (uint64_t j = i; j < std::min(spec.files, i + batch); ++j) {
      meta::Store::NewFile f;
      f.parent = parents[j % parents.size()];
      f.name = ScaleFileName(j);
      f.size = size;
      meta::Extent e{0, SlotId(j), 1, {}};
      while (next_content < spec.content.size() && spec.content[next_content] < j) {
        ++next_content;
      }
      if (next_content < spec.content.size() && spec.content[next_content] == j) {
        e.csums.push_back(csum[next_content]);
      } else {
        e.csums.push_back(j);  // no bytes behind it: never verifies
      }
      f.extents.push_back(std::move(e));
      v.push_back(std::move(f));
    }
    SLOTFS_RETURN_IF_ERROR(store->ImportFiles(v, now));
    Progress("populating: %llu/%llu files (%.0f s)",
             static_cast<unsigned long long>(std::min(spec.files, i + batch)),
             static_cast<unsigned long long>(spec.files), Seconds(Clock::now() - start));
  }
  ProgressDone();
  SLOTFS_RETURN_IF_ERROR(store->Sync());
  return store->Checkpoint();
}

}  // namespace slotfs::tools::bench
