// CacheSummary (see cache_summary.h).
#include "tools/cache_summary.h"

#include <sys/stat.h>

#include <algorithm>

#include "core/lmcache_keys.h"

namespace slotfs::tools {
namespace {

template <typename T>
void AddBounded(std::set<T>* s, const T& v) {
  if (s->size() < CacheSummary::kMaxValues || s->count(v) > 0) s->insert(v);
}

void Account(ModelSummary* m, const meta::ScannedEntry& f) {
  if (m->files == 0) {
    m->oldest_mtime_ns = m->newest_mtime_ns = f.mtime_ns;
    m->last_access_ns = f.atime_ns;
  }
  ++m->files;
  m->bytes += f.size;
  m->oldest_mtime_ns = std::min(m->oldest_mtime_ns, f.mtime_ns);
  m->newest_mtime_ns = std::max(m->newest_mtime_ns, f.mtime_ns);
  m->last_access_ns = std::max(m->last_access_ns, f.atime_ns);
}

}  // namespace

void CacheSummarizer::AddDirectory(const meta::ScannedEntry& d) {
  ++s_.directories;
  dirs_[d.ino.value] = {d.parent.value, d.name};
}

void CacheSummarizer::Consider(Pick* p, const meta::ScannedEntry& f, int64_t t, bool earlier) {
  // Ties keep the first (lowest inode) entry.
  if (p->valid && (earlier ? t >= p->time_ns : t <= p->time_ns)) return;
  p->valid = true;
  p->parent = f.parent;
  p->name = f.name;
  p->size = f.size;
  p->time_ns = t;
}

void CacheSummarizer::AddFile(const meta::ScannedEntry& f) {
  ++s_.files;
  s_.bytes += f.size;
  s_.slots += f.slots;
  if (f.pin != 0) ++s_.pinned;
  if (f.state != meta::InodeState::kComplete) ++s_.pending;
  Consider(&oldest_, f, f.mtime_ns, true);
  Consider(&newest_, f, f.mtime_ns, false);
  Consider(&lra_, f, f.atime_ns, true);
  Consider(&mra_, f, f.atime_ns, false);

  std::optional<core::LmcacheKey> key = core::ParseLmcacheFileName(f.name);
  if (!key) return Account(&s_.other, f);
  auto it = s_.models.find(key->model);
  if (it == s_.models.end()) {
    if (s_.models.size() >= CacheSummary::kMaxModels) {
      s_.models_truncated = true;
      return Account(&s_.other, f);
    }
    it = s_.models.emplace(key->model, ModelSummary()).first;
  }
  ModelSummary& m = it->second;
  Account(&m, f);
  if (key->layer) ++m.layerwise_files;
  AddBounded(&m.world_sizes, key->world_size);
  AddBounded(&m.ranks, key->worker_id);
  AddBounded(&m.dtypes, key->dtype);
}

EntryRef CacheSummarizer::Resolve(const Pick& p) const {
  EntryRef r;
  if (!p.valid) return r;
  r.valid = true;
  r.size = p.size;
  r.time_ns = p.time_ns;
  r.path = p.name;
  // Walk up to the root; the depth bound guards against a damaged table.
  uint64_t dir = p.parent.value;
  for (int depth = 0; dir != kRootInode.value && depth < 4096; ++depth) {
    auto it = dirs_.find(dir);
    if (it == dirs_.end()) break;
    r.path = it->second.second + "/" + r.path;
    dir = it->second.first;
  }
  return r;
}

CacheSummary CacheSummarizer::Finish() {
  s_.oldest_modified = Resolve(oldest_);
  s_.newest_modified = Resolve(newest_);
  s_.least_recently_accessed = Resolve(lra_);
  s_.most_recently_accessed = Resolve(mra_);
  return std::move(s_);
}

Result<CacheSummary> SummarizeDatabase(const std::string& db_path) {
  CacheSummarizer sum;
  meta::ScanCallbacks cb;
  cb.on_directory = [&](const meta::ScannedEntry& d) {
    sum.AddDirectory(d);
    return Status::Ok();
  };
  cb.on_file = [&](const meta::ScannedEntry& f) {
    sum.AddFile(f);
    return Status::Ok();
  };
  SLOTFS_RETURN_IF_ERROR(meta::ScanDatabase(db_path, cb));
  return sum.Finish();
}

}  // namespace slotfs::tools
