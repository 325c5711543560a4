// core::Filesystem cache policy: access recency, LRU eviction, and making
// room for a write that found the device full.
//
// Recency: open() records the time in a map (touched_); the evictor thread
// writes the batch to the store once a second, or sooner when it grows, so
// a read never costs a database write. Eviction flushes the batch first,
// so the order it walks is current.
//
// Eviction: the store's LRU index holds only committed, unpinned regular
// files. A candidate is skipped if it is in the active table (open, or
// closed with changes not yet committed) or touched since the flush. The
// victims of one batch are deleted in one transaction; their slots are
// quarantined like any unlink's and become free at the next durable sync,
// which the evictor runs itself. The kernel's entries are invalidated from
// the evictor thread, never from a request handler.
#include <algorithm>

#include "common/clock.h"
#include "common/log.h"
#include "core/filesystem.h"
#include "core/lmcache_sizing.h"

namespace slotfs::core {
namespace {

auto Log() {
  static auto logger = ModuleLogger("core");
  return logger;
}

// Candidates read per store query.
constexpr size_t kEvictBatch = 64;
// Unflushed accesses that make the evictor flush before its next second.
constexpr size_t kTouchFlushAt = 4096;
// Unflushed accesses at which the touching thread flushes itself (the
// evictor is not keeping up); bounds the map's memory.
constexpr size_t kTouchHardCap = 1 << 17;
// How often the evictor looks at usage when nobody wakes it.
constexpr auto kEvictPoll = std::chrono::milliseconds(100);
constexpr auto kTouchFlushEvery = std::chrono::seconds(1);

}  // namespace

uint64_t Filesystem::HighWatermarkSlots() const {
  return sb_.slot_count * config_.evict_high_pct / 100;
}

uint64_t Filesystem::LowWatermarkSlots() const {
  return sb_.slot_count * config_.evict_low_pct / 100;
}

void Filesystem::Touch(InodeNo ino) {
  size_t n;
  {
    std::lock_guard lock(touch_mu_);
    touched_[ino] = WallNowNs();
    n = touched_.size();
  }
  if (n == kTouchFlushAt) {
    {
      std::lock_guard lock(drop_mu_);
      evict_kick_ = true;
    }
    evict_cv_.notify_one();
  } else if (n >= kTouchHardCap) {
    Status st = FlushAccessTimes();
    if (!st.ok()) Log()->warn("cannot record access times: {}", st.ToString());
  }
}

int64_t Filesystem::PendingAccess(InodeNo ino) {
  std::lock_guard lock(touch_mu_);
  auto it = touched_.find(ino);
  return it == touched_.end() ? 0 : it->second;
}

void Filesystem::ForgetAccess(InodeNo ino) {
  std::lock_guard lock(touch_mu_);
  touched_.erase(ino);
}

Status Filesystem::FlushAccessTimes() {
  std::vector<meta::Store::Touch> batch;
  {
    std::lock_guard lock(touch_mu_);
    batch.reserve(touched_.size());
    for (const auto& [ino, t] : touched_) batch.push_back({ino, t});
    touched_.clear();
  }
  if (batch.empty()) return Status::Ok();
  Status st = store_->TouchFiles(batch);
  if (!st.ok()) {
    // Keep them for the next try, unless newer accesses replaced them.
    std::lock_guard lock(touch_mu_);
    for (const auto& t : batch) touched_.try_emplace(t.ino, t.atime_ns);
  }
  return st;
}

Status Filesystem::ReleaseQuarantine() {
  if (!allocator_.HasQuarantine()) return Status::Ok();
  SLOTFS_RETURN_IF_ERROR(store_->Sync());
  allocator_.ReleaseDurable(store_->durable_seq());
  return Status::Ok();
}

void Filesystem::WarnLmcacheEvictionOnce(const std::string& name) {
  if (lmcache_warned_.exchange(true)) return;
  const LmcacheSizing rec =
      RecommendLmcacheSize(sb_.slot_count, slot_size_, config_.evict_low_pct);
  Log()->warn(
      "evicting LMCache entry '{}': LMCache keeps its own index and does not notice a file "
      "removed behind its back (some versions then return the entry as a hit with bytes that "
      "were never read). Keep LMCache's max_local_disk_size at or below {:.2f} (GiB; see "
      "`slotfs info MOUNTPOINT`), or mount with evict=none. Logged once per mount.",
      name, rec.max_local_disk_size_gib);
}

Result<uint64_t> Filesystem::EvictLocked(uint64_t slots_wanted,
                                         std::vector<DroppedName>* dropped) {
  SLOTFS_RETURN_IF_ERROR(FlushAccessTimes());
  uint64_t freed = 0;
  int64_t after_atime = INT64_MIN;
  InodeNo after_ino(0);
  while (freed < slots_wanted) {
    SLOTFS_ASSIGN_OR_RETURN(std::vector<meta::Store::LruEntry> cands,
                            store_->LruCandidates(after_atime, after_ino, kEvictBatch));
    if (cands.empty()) break;
    after_atime = cands.back().atime_ns;
    after_ino = cands.back().ino;
    std::lock_guard ns(ns_mu_);
    std::lock_guard table(table_mu_);
    std::vector<InodeNo> victims;
    std::vector<size_t> which;
    uint64_t planned = freed;
    for (size_t i = 0; i < cands.size() && planned < slots_wanted; ++i) {
      const meta::Store::LruEntry& c = cands[i];
      if (active_.count(c.ino) != 0) continue;  // open or not yet committed
      if (PendingAccess(c.ino) != 0) continue;  // used since the flush
      victims.push_back(c.ino);
      which.push_back(i);
      planned += c.slots;
    }
    if (victims.empty()) continue;
    // Pins and renames take ns_mu_, so the rows are as the query saw them
    // unless they were deleted meanwhile (skipped by DeleteInodes).
    SLOTFS_ASSIGN_OR_RETURN(std::vector<meta::Store::Deleted> gone,
                            store_->DeleteInodes(victims));
    for (size_t k = 0; k < gone.size(); ++k) {
      if (!gone[k].existed) continue;
      const meta::Store::LruEntry& c = cands[which[k]];
      uint64_t slots = 0;
      for (const meta::Extent& e : gone[k].extents) slots += e.count;
      DropInodeLocked(c.ino, gone[k].extents);
      freed += slots;
      counters_.evictions.fetch_add(1, std::memory_order_relaxed);
      counters_.evicted_bytes.fetch_add(c.size, std::memory_order_relaxed);
      if (IsLmcacheEntryName(c.name)) WarnLmcacheEvictionOnce(c.name);
      dropped->push_back({c.parent, c.name});
    }
  }
  return freed;
}

Result<uint64_t> Filesystem::EvictToWatermark() {
  if (config_.evict_policy != EvictPolicy::kLru) return uint64_t{0};
  std::vector<DroppedName> dropped;
  {
    std::lock_guard lock(evict_mu_);
    uint64_t used = allocator_.usage().used;  // quarantine excluded: MakeRoom releases it
    if (used <= HighWatermarkSlots()) return uint64_t{0};
    uint64_t want = used - LowWatermarkSlots();
    auto freed = EvictLocked(want, &dropped);
    // Whatever was evicted goes back to the free map before reporting.
    Status rq = ReleaseQuarantine();
    if (!freed.ok()) return freed.status();
    SLOTFS_RETURN_IF_ERROR(rq);
    if (freed.value() < want) {
      static LogRateLimiter limiter(1);
      if (limiter.Allow()) {
        Log()->warn("eviction freed {} of {} slots wanted: the rest is pinned, open "
                    "or not yet committed", freed.value(), want);
      }
    }
  }
  uint64_t n = dropped.size();
  if (entry_dropped_) {
    for (const DroppedName& d : dropped) entry_dropped_(d.parent, d.name);
  }
  return n;
}

Result<bool> Filesystem::MakeRoom(uint64_t slots) {
  SLOTFS_RETURN_IF_ERROR(ReleaseQuarantine());
  if (allocator_.usage().free >= slots) return true;
  if (config_.evict_policy != EvictPolicy::kLru) return false;
  std::vector<DroppedName> dropped;
  bool room;
  {
    std::lock_guard lock(evict_mu_);
    uint64_t free = allocator_.usage().free;
    if (free >= slots) return true;  // another writer made room
    // Evict a little more than this write needs, so that the writes that
    // follow it do not each evict one file.
    uint64_t want = std::max<uint64_t>(2 * (slots - free), 32);
    SLOTFS_ASSIGN_OR_RETURN(uint64_t freed, EvictLocked(want, &dropped));
    SLOTFS_RETURN_IF_ERROR(ReleaseQuarantine());
    room = freed > 0 || allocator_.usage().free >= slots;
  }
  counters_.sync_evictions.fetch_add(1, std::memory_order_relaxed);
  NotifyDropped(std::move(dropped));
  return room;
}

void Filesystem::NotifyDropped(std::vector<DroppedName> names) {
  if (names.empty() || !entry_dropped_) return;
  {
    std::lock_guard lock(drop_mu_);
    if (evictor_.joinable()) {
      for (DroppedName& d : names) to_invalidate_.push_back(std::move(d));
      evict_kick_ = true;
      names.clear();
    }
  }
  evict_cv_.notify_one();
  // No evictor thread (not started): nobody else can do it.
  for (const DroppedName& d : names) entry_dropped_(d.parent, d.name);
}

void Filesystem::EvictorLoop() {
  auto last_flush = std::chrono::steady_clock::now();
  std::unique_lock lock(drop_mu_);
  while (!evict_stop_) {
    evict_cv_.wait_for(lock, kEvictPoll, [&] { return evict_stop_ || evict_kick_; });
    if (evict_stop_) break;
    evict_kick_ = false;
    std::vector<DroppedName> names;
    names.swap(to_invalidate_);
    lock.unlock();
    if (entry_dropped_) {
      for (const DroppedName& d : names) entry_dropped_(d.parent, d.name);
    }
    auto now = std::chrono::steady_clock::now();
    size_t pending;
    {
      std::lock_guard t(touch_mu_);
      pending = touched_.size();
    }
    if (pending >= kTouchFlushAt || (pending > 0 && now - last_flush >= kTouchFlushEvery)) {
      Status st = FlushAccessTimes();
      if (!st.ok()) Log()->warn("cannot record access times: {}", st.ToString());
      last_flush = now;
    }
    auto evicted = EvictToWatermark();
    if (!evicted.ok()) {
      static LogRateLimiter limiter(1);
      if (limiter.Allow()) Log()->error("eviction failed: {}", evicted.status().ToString());
    } else if (evicted.value() > 0) {
      auto u = allocator_.usage();
      Log()->debug("evicted {} files; {} slots used, {} free", evicted.value(), u.used, u.free);
    }
    lock.lock();
  }
}

}  // namespace slotfs::core
