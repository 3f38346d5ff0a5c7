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

  // Mapped before the table is locked: the lock covers the table update only,
  // never a syscall on the peer's fd (docs/design.md, "Threads and locks").
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* host = ::mmap(nullptr, size, prot, MAP_SHARED, fd, static_cast<off_t>(fd_offset));
  if (host == MAP_FAILED) return errno;
  int err = 0;
  {
    std::unique_lock lock(mu_);
    auto next = regions_.lower_bound(gpa);
    if (regions_.size() >= kMaxRegions) {
      err = ENOSPC;
    } else if ((next != regions_.end() && next->first < gpa + size) ||
               (next != regions_.begin() && std::prev(next)->first + std::prev(next)->second->size > gpa)) {
      err = EEXIST;
    } else {
      regions_.emplace(gpa, std::make_shared<const GuestRegion>(gpa, size, fd_offset, static_cast<uint8_t*>(host), fd, writable));
    }
  }
  if (err) ::munmap(host, size);  // the fd stays the caller's
  return err;
}

int GuestMemory::Unmap(uint64_t gpa, uint64_t size, size_t* invalidated) {
  // The table's reference, dropped on return, outside the lock: the mmap goes
  // with the last reference (this one, or an IOSFC mapping's or a snapshot's).
  RegionRef gone;
  {
    std::unique_lock lock(mu_);
    auto it = regions_.find(gpa);
    if (it == regions_.end() || it->second->size != size) return ENOENT;
    gone = std::move(it->second);
    regions_.erase(it);
  }
  // Task aliases of this memory hold the file; stop the device from using it.
  size_t n = TaskMemory::Instance().InvalidateGuestRange(gpa, size);
  if (invalidated) *invalidated = n;
  return 0;
}

size_t GuestMemory::UnmapAll() {
  std::map<uint64_t, RegionRef> old;
  {
    std::unique_lock lock(mu_);
    old.swap(regions_);
  }
  for (auto& [gpa, r] : old) TaskMemory::Instance().InvalidateGuestRange(gpa, r->size);
  return old.size();
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
