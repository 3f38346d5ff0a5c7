#include "core/guest_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "core/host/task_memory.h"
#include "platform/platform.h"

namespace agfx {

namespace {
constexpr uint64_t kPage = 4096;
constexpr size_t kMaxRegions = 4096;
}  // namespace

GuestRegion::~GuestRegion() {
  ::munmap(host, size);
  ::close(fd);
}

GuestMemory& GuestMemory::Instance() {
  static GuestMemory instance;
  return instance;
}

int GuestMemory::Map(uint64_t gpa, uint64_t size, int fd, uint64_t fd_offset, bool writable) {
  if (size == 0 || (gpa | size | fd_offset) % kPage != 0) return EINVAL;
  if (gpa + size < gpa || fd_offset + size < fd_offset) return EINVAL;
  // A mapping past the end of the file faults (SIGBUS) on first touch, so the
  // file must really hold the whole range.
  if (int err = platform::CheckMappableFile(fd, fd_offset + size)) return err;

  std::unique_lock lock(mu_);
  if (regions_.size() + unreachable_.size() >= kMaxRegions) return ENOSPC;
  if (OverlapsLocked(gpa, size)) return EEXIST;
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* host = ::mmap(nullptr, size, prot, MAP_SHARED, fd, static_cast<off_t>(fd_offset));
  if (host == MAP_FAILED) return errno;
  regions_.emplace(gpa, std::make_shared<const GuestRegion>(gpa, size, fd_offset, static_cast<uint8_t*>(host), fd, writable));
  return 0;
}

// Whether [gpa, gpa+size) meets any range of either kind (size > 0, no wrap).
bool GuestMemory::OverlapsLocked(uint64_t gpa, uint64_t size) const {
  auto meets = [&](const auto& table, auto size_of) {
    auto next = table.lower_bound(gpa);
    if (next != table.end() && next->first < gpa + size) return true;
    if (next == table.begin()) return false;
    auto prev = std::prev(next);
    return prev->first + size_of(prev->second) > gpa;
  };
  return meets(regions_, [](const RegionRef& r) { return r->size; }) ||
         meets(unreachable_, [](const UnreachableRange& r) { return r.size; });
}

int GuestMemory::MapUnreachable(uint64_t gpa, uint64_t size) {
  if (size == 0 || (gpa | size) % kPage != 0 || gpa + size < gpa) return EINVAL;
  std::unique_lock lock(mu_);
  if (regions_.size() + unreachable_.size() >= kMaxRegions) return ENOSPC;
  if (OverlapsLocked(gpa, size)) return EEXIST;
  unreachable_.try_emplace(gpa, size);
  return 0;
}

bool GuestMemory::NoteUnreachable(uint64_t gpa, uint64_t len, UnreachableHit* hit) const {
  uint64_t end = gpa + std::max<uint64_t>(len, 1);
  if (end < gpa) end = UINT64_MAX;
  std::shared_lock lock(mu_);
  auto it = unreachable_.upper_bound(gpa);
  if (it != unreachable_.begin() && std::prev(it)->first + std::prev(it)->second.size > gpa) --it;
  if (it == unreachable_.end() || it->first >= end) return false;
  hit->gpa = it->first;
  hit->size = it->second.size;
  hit->first = it->second.refused.fetch_add(1, std::memory_order_relaxed) == 0;
  return true;
}

std::vector<std::array<uint64_t, 3>> GuestMemory::UnreachableSnapshot() const {
  std::shared_lock lock(mu_);
  std::vector<std::array<uint64_t, 3>> out;
  for (auto& [gpa, r] : unreachable_) out.push_back({gpa, r.size, r.refused.load(std::memory_order_relaxed)});
  return out;
}

int GuestMemory::Unmap(uint64_t gpa, uint64_t size, size_t* invalidated, uint64_t* refused, bool* reachable) {
  if (invalidated) *invalidated = 0;
  if (refused) *refused = 0;
  {
    std::unique_lock lock(mu_);
    auto it = regions_.find(gpa);
    if (it == regions_.end() || it->second->size != size) {
      // Not a reachable region: maybe one QEMU mapped without an fd.
      auto u = unreachable_.find(gpa);
      if (u == unreachable_.end() || u->second.size != size) return ENOENT;
      if (refused) *refused = u->second.refused.load(std::memory_order_relaxed);
      if (reachable) *reachable = false;
      unreachable_.erase(u);
      return 0;  // nothing ever reached it: no task alias to cut
    }
    if (reachable) *reachable = true;
    regions_.erase(it);  // the mmap goes when the last IOSFC reference does
  }
  // Task aliases of this memory hold the file; stop the device from using it.
  size_t n = TaskMemory::Instance().InvalidateGuestRange(gpa, size);
  if (invalidated) *invalidated = n;
  return 0;
}

size_t GuestMemory::UnmapAll() {
  std::map<uint64_t, RegionRef> old;
  size_t unreachable = 0;
  {
    std::unique_lock lock(mu_);
    old.swap(regions_);
    unreachable = unreachable_.size();
    unreachable_.clear();
  }
  for (auto& [gpa, r] : old) TaskMemory::Instance().InvalidateGuestRange(gpa, r->size);
  return old.size() + unreachable;
}

RegionRef GuestMemory::Find(uint64_t gpa, uint64_t len) const {
  if (gpa + len < gpa) return nullptr;
  std::shared_lock lock(mu_);
  auto it = regions_.upper_bound(gpa);
  if (it == regions_.begin()) return nullptr;
  const RegionRef& r = std::prev(it)->second;
  return r->Contains(gpa, len) ? r : nullptr;
}

// Copies are fault-safe (platform::SafeRead/SafeWrite), not memcpy: if the
// VMM shrank the shared file after DMA_MAP, touching the mapping past its end
// would raise SIGBUS; the safe copy fails instead.
bool GuestMemory::Read(uint64_t gpa, void* dst, uint64_t len) const {
  RegionRef r = Find(gpa, len);
  if (!r) return false;
  if (len == 0) return true;  // dst may be null: no copy of nothing
  return platform::SafeRead(dst, r->host + (gpa - r->gpa), len);
}

bool GuestMemory::Write(uint64_t gpa, const void* src, uint64_t len) const {
  RegionRef r = Find(gpa, len);
  if (!r || !r->writable) return false;
  if (len == 0) return true;
  return platform::SafeWrite(r->host + (gpa - r->gpa), src, len);
}

std::vector<RegionRef> GuestMemory::Snapshot() const {
  std::shared_lock lock(mu_);
  std::vector<RegionRef> out;
  for (auto& [gpa, r] : regions_) out.push_back(r);
  return out;
}

}  // namespace agfx
