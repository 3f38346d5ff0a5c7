// The PVG double's guest-memory access (guest_access.h). Test-only.
#include "guest_access.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "double_core.h"

namespace pvgdouble {

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint64_t kOwnTaskSize = 64ull << 20;  // 16384 pages of status writes before a flush
constexpr uint64_t kArmPage = 16384;

std::string Hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
  return b;
}

// The permissions of [a, a+len) in /proc/self/maps: all readable / all writable.
void Perms(uintptr_t a, uint64_t len, bool* readable, bool* writable) {
  *readable = *writable = true;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  uintptr_t covered = a, end = a + len;
  while (std::getline(maps, line) && covered < end) {
    unsigned long lo, hi;
    char perms[8] = {0};
    if (std::sscanf(line.c_str(), "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
    if (hi <= covered || lo >= end) continue;
    if (lo > covered) *readable = *writable = false;  // a gap: unmapped
    if (perms[0] != 'r') *readable = false;
    if (perms[1] != 'w') *writable = false;
    covered = hi;
  }
  if (covered < end) *readable = *writable = false;
}
}  // namespace

bool SafeRead(const void* src, void* dst, size_t len) {
  size_t done = 0;
  while (done < len) {
    size_t chunk = std::min<size_t>(len - done, 16u << 20);
    iovec local{static_cast<uint8_t*>(dst) + done, chunk}, remote{const_cast<uint8_t*>(static_cast<const uint8_t*>(src)) + done, chunk};
    if (::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0) != ssize_t(chunk)) return false;
    done += chunk;
  }
  return true;
}

bool SafeWrite(void* dst, const void* src, size_t len) {
  iovec local{const_cast<void*>(src), len}, remote{dst, len};
  return ::process_vm_writev(::getpid(), &local, 1, &remote, 1, 0) == ssize_t(len);
}

GuestAccess::GuestAccess(const TaskBlocks& blocks, const std::vector<PGGuestPhysicalRange_s>* map)
    : static_map_(map != nullptr) {
  if (blocks.create) b_.create = (PGCreateTask)Block_copy(blocks.create);
  if (blocks.destroy) b_.destroy = (PGDestroyTask)Block_copy(blocks.destroy);
  if (blocks.map) b_.map = (PGMapMemory)Block_copy(blocks.map);
  if (blocks.unmap) b_.unmap = (PGUnmapMemory)Block_copy(blocks.unmap);
  if (blocks.read) b_.read = (PGReadMemory)Block_copy(blocks.read);
  if (map) map_ = *map;
}

GuestAccess::~GuestAccess() {
  DropOwnTask();
  if (b_.create) Block_release(b_.create);
  if (b_.destroy) Block_release(b_.destroy);
  if (b_.map) Block_release(b_.map);
  if (b_.unmap) Block_release(b_.unmap);
  if (b_.read) Block_release(b_.read);
}

agfx_task* GuestAccess::CreateTask(uint64_t size, void** base) {
  if (static_map_ || !b_.create) return nullptr;
  // PVG on arm64 works in 16 KiB pages: its tasks are multiples of them.
  if (On(Hazard::kGpuWholeTask)) size = (size + kArmPage - 1) / kArmPage * kArmPage;
  void* b = nullptr;
  PGTask_t* t = b_.create(size, &b);
  if (!t) return nullptr;
  if (!b) {
    Violation("create-task-no-base", "createTask returned a task but no base address");
    return nullptr;
  }
  // PVG maps tasks in the host's pages (vm_page_size: 16 KiB on arm64
  // macOS, 4 KiB here). The double can only hold a task to this host's page
  // size: a backend that hard-codes 4 KiB passes on Linux (README, "cannot
  // model").
  const uintptr_t host_page = uintptr_t(::sysconf(_SC_PAGESIZE));
  if (On(Hazard::kGpuWholeTask) && reinterpret_cast<uintptr_t>(b) % host_page)
    Violation("task-base-alignment", "createTask returned base " + Hex(uintptr_t(b)) + ", not aligned to the host page size " +
                                         Hex(host_page) + " (getpagesize(), finding 9)");
  {
    std::lock_guard lock(mu_);
    tasks_[t] = TaskRec{static_cast<uint8_t*>(b), size, {}};
  }
  if (On(Hazard::kGpuWholeTask)) ScanTask(t);
  *base = b;
  return reinterpret_cast<agfx_task*>(t);
}

void GuestAccess::DestroyTask(agfx_task* task) {
  auto* t = reinterpret_cast<PGTask_t*>(task);
  {
    std::lock_guard lock(mu_);
    tasks_.erase(t);
  }
  if (b_.destroy) b_.destroy(t);
}

bool GuestAccess::MapMemory(agfx_task* task, uint64_t off, const agfx_phys_range* ranges, uint32_t n, bool ro) {
  auto* t = reinterpret_cast<PGTask_t*>(task);
  static_assert(sizeof(PGPhysicalMemoryRange_t) == sizeof(agfx_phys_range), "same layout");
  std::vector<PGPhysicalMemoryRange_t> r(n);
  std::memcpy(r.data(), ranges, n * sizeof *ranges);
  bool ok = b_.map && b_.map(t, n, off, ro, r.data());
  {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(t);
    if (it != tasks_.end()) {
      uint64_t o = off;
      for (auto& x : r) {
        it->second.aliases[o] = {x.physicalLength, ro};
        o += x.physicalLength;
      }
    }
  }
  if (On(Hazard::kGpuWholeTask)) ScanTask(t);
  return ok;
}

bool GuestAccess::UnmapMemory(agfx_task* task, uint64_t off, uint64_t len) {
  auto* t = reinterpret_cast<PGTask_t*>(task);
  bool ok = b_.unmap && b_.unmap(t, off, len);
  {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(t);
    if (it != tasks_.end()) {
      auto& al = it->second.aliases;
      for (auto a = al.begin(); a != al.end();)
        a = a->first < off + len && a->first + a->second.first > off ? al.erase(a) : std::next(a);
    }
  }
  if (On(Hazard::kGpuWholeTask)) ScanTask(t);
  return ok;
}

// GPU-like access over a whole task: PVG's GPU may read any page of a task it
// created, mapped or not, and write through any alias it mapped. QEMU keeps
// the whole reservation readable (zero-fill, holes refilled with zero pages)
// and read-only aliases writable (mach_vm_remap keeps write access).
void GuestAccess::ScanTask(PGTask_t* t) {
  TaskRec rec;
  {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(t);
    if (it == tasks_.end()) return;
    rec = it->second;
  }
  std::vector<uint8_t> buf(1 << 20);
  for (uint64_t o = 0; o < rec.size; o += buf.size()) {
    size_t n = size_t(std::min<uint64_t>(buf.size(), rec.size - o));
    if (!SafeRead(rec.base + o, buf.data(), n)) {
      Violation("task-hole-unreadable",
                "a GPU read of task memory at offset " + Hex(o) + " faulted: QEMU's tasks are read-write zero-fill "
                "reservations whose unmapped holes read zeros (mach_vm_allocate; finding 9)");
      return;
    }
  }
  for (auto& [off, al] : rec.aliases) {
    if (!al.second) continue;
    bool r, w;
    Perms(uintptr_t(rec.base + off), al.first, &r, &w);
    if (!w) {
      Violation("task-readonly-alias-unwritable",
                "a read-only alias at task offset " + Hex(off) + " is not writable: QEMU's mach_vm_remap keeps write "
                "access, and PVG's GPU may write through it (finding 9)");
      return;
    }
  }
}

uint8_t* GuestAccess::StaticHost(uint64_t gpa, uint64_t len) {
  for (const auto& r : map_)
    if (gpa >= r.physicalAddress && len <= r.physicalLength && gpa - r.physicalAddress <= r.physicalLength - len)
      return static_cast<uint8_t*>(r.hostAddress) + (gpa - r.physicalAddress);
  return nullptr;
}

bool GuestAccess::Read(uint64_t gpa, uint64_t len, void* dst) {
  if (!static_map_) return b_.read && b_.read(gpa, len, dst);
  std::lock_guard lock(mu_);
  uint8_t* h = StaticHost(gpa, len);
  return h && SafeRead(h, dst, len);
}

bool GuestAccess::OwnTaskPage(uint64_t page, uint8_t** host) {
  auto it = own_pages_.find(page);
  if (it != own_pages_.end()) {
    *host = own_base_ + it->second;
    return true;
  }
  if (!own_) {
    void* base = nullptr;
    own_ = b_.create ? b_.create(kOwnTaskSize, &base) : nullptr;
    if (!own_) return false;
    own_base_ = static_cast<uint8_t*>(base);
  }
  if (own_pages_.size() * kPage >= kOwnTaskSize) {
    if (b_.unmap) b_.unmap(own_, 0, kOwnTaskSize);  // a batch unmap, as PVG does
    own_pages_.clear();
  }
  uint64_t off = own_pages_.size() * kPage;
  PGPhysicalMemoryRange_t r{page, kPage};
  if (!b_.map || !b_.map(own_, 1, off, false, &r)) return false;
  own_pages_[page] = off;
  *host = own_base_ + off;
  return true;
}

bool GuestAccess::Write(uint64_t gpa, uint64_t len, const void* src) {
  std::lock_guard lock(mu_);
  if (static_map_) {
    uint8_t* h = StaticHost(gpa, len);
    return h && SafeWrite(h, src, len);
  }
  // PVG has no writeMemory callback: it writes through a mapping of its own.
  const uint8_t* s = static_cast<const uint8_t*>(src);
  while (len) {
    uint64_t page = gpa & ~(kPage - 1), in = gpa - page, n = std::min(len, kPage - in);
    uint8_t* host;
    bool ok = OwnTaskPage(page, &host) && SafeWrite(host + in, s, n);
    if (!ok) {
      own_pages_.erase(page);  // the VMM may have remapped it: map afresh once
      ok = OwnTaskPage(page, &host) && SafeWrite(host + in, s, n);
    }
    if (!ok) return false;
    gpa += n, s += n, len -= n;
  }
  return true;
}

void GuestAccess::DropOwnTask() {
  std::lock_guard lock(mu_);
  if (own_ && b_.destroy) b_.destroy(own_);
  own_ = nullptr;
  own_base_ = nullptr;
  own_pages_.clear();
}

uint32_t GuestAccess::Ranges(agfx_memory_range* out, uint32_t max) {
  std::lock_guard lock(mu_);
  for (uint32_t i = 0; i < map_.size() && i < max; ++i)
    out[i] = agfx_memory_range{map_[i].physicalAddress, map_[i].physicalLength, map_[i].hostAddress};
  return uint32_t(map_.size());
}

void GuestAccess::ReplaceMap(const std::vector<PGGuestPhysicalRange_s>& map) {
  std::lock_guard lock(mu_);
  map_ = map;
}

void GuestAccess::TouchMap() {
  std::vector<PGGuestPhysicalRange_s> m;
  {
    std::lock_guard lock(mu_);
    m = map_;
  }
  for (const auto& r : m) {
    uint8_t b;
    uint8_t* h = static_cast<uint8_t*>(r.hostAddress);
    if (!SafeRead(h, &b, 1) || !SafeRead(h + r.physicalLength / 2, &b, 1) || !SafeRead(h + r.physicalLength - 1, &b, 1)) {
      Violation("map-range-gone", "guest RAM at " + Hex(r.physicalAddress) + "+" + Hex(r.physicalLength) +
                                      " in the memory map PVG holds is no longer mapped at host " + Hex(uintptr_t(h)) +
                                      ": PVG may touch every range for the device's life");
      return;
    }
  }
}

}  // namespace pvgdouble
