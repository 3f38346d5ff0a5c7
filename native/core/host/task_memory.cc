#include "core/host/task_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include "core/guest_memory.h"

namespace agfx {

namespace {
// A reservation larger than any address space is refused up front (the
// mmap would fail anyway); no smaller cap (QEMU has none).
constexpr uint64_t kMaxTaskSize = 1ull << 47;
}  // namespace

uint64_t TaskMemory::PageSize() {
  static const uint64_t page = [] {
    long p = ::sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<uint64_t>(p) : uint64_t(4096);
  }();
  return page;
}

TaskMemory& TaskMemory::Instance() {
  static TaskMemory instance;
  return instance;
}

bool TaskMemory::Hole(const agfx_task* task, uint8_t* at, uint64_t len) {
  int prot = task->zero_fill ? PROT_READ | PROT_WRITE : PROT_NONE;
  void* got = ::mmap(at, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  return got == at;
}

agfx_task* TaskMemory::Create(uint64_t vm_size, void** base, bool zero_fill) {
  const uint64_t page = PageSize();
  if (vm_size == 0 || vm_size > kMaxTaskSize) return nullptr;
  uint64_t size = (vm_size + page - 1) & ~(page - 1);
  int prot = zero_fill ? PROT_READ | PROT_WRITE : PROT_NONE;
  void* p = ::mmap(nullptr, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto* task = new agfx_task{static_cast<uint8_t*>(p), size, zero_fill, {}};
  {
    std::lock_guard lock(mu_);
    tasks_.insert(task);
  }
  if (base) *base = p;
  return task;
}

void TaskMemory::Destroy(agfx_task* task) {
  {
    std::lock_guard lock(mu_);
    if (!tasks_.erase(task)) return;  // unknown or already destroyed
  }
  ::munmap(task->base, task->size);
  delete task;
}

void TaskMemory::DestroyAll() {
  std::unordered_set<agfx_task*> all;
  {
    std::lock_guard lock(mu_);
    all.swap(tasks_);
  }
  for (agfx_task* t : all) {
    ::munmap(t->base, t->size);
    delete t;
  }
}

// Removes [offset, offset+len) from the alias records, splitting as needed.
void TaskMemory::DropAliases(agfx_task* task, uint64_t offset, uint64_t len) {
  auto& m = task->aliases;
  uint64_t end = offset + len;
  auto it = m.upper_bound(offset);
  if (it != m.begin()) --it;
  std::vector<agfx_task::Alias> pieces;
  while (it != m.end() && it->first < end) {
    const agfx_task::Alias a = it->second;
    uint64_t a_end = a.offset + a.len;
    if (a_end <= offset) {
      ++it;
      continue;
    }
    if (a.offset < offset) pieces.push_back({a.offset, offset - a.offset, a.gpa});
    if (a_end > end) pieces.push_back({end, a_end - end, a.gpa + (end - a.offset)});
    it = m.erase(it);
  }
  for (const auto& p : pieces) m.emplace(p.offset, p);
}

bool TaskMemory::Map(agfx_task* task, uint64_t offset, const agfx_phys_range* ranges, uint32_t count,
                     bool read_only) {
  const uint64_t page = PageSize();
  std::lock_guard lock(mu_);
  if (!Known(task)) return false;
  bool ok = true;
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t gpa = ranges[i].gpa, len = ranges[i].len;
    bool fits = len > 0 && (gpa | len | offset) % page == 0 && offset <= task->size && len <= task->size - offset;
    if (!fits) {
      ok = false;
      ++failures_;
      offset += len;  // PVG packs ranges back to back; keep going with the next
      continue;
    }
    // A guest range may cross DMA regions: map it piece by piece.
    uint64_t done = 0;
    while (done < len) {
      RegionRef r = GuestMemory::Instance().Find(gpa + done, 1);
      if (!r || (!read_only && !r->writable)) break;
      uint64_t piece = std::min(len - done, r->gpa + r->size - (gpa + done));
      int prot = PROT_READ | (read_only ? 0 : PROT_WRITE);
      int share = MAP_SHARED;
      if (task->zero_fill && read_only) {
        // QEMU's alias keeps write access: a stray write must not fault.
        // Writable guest RAM stays shared; read-only guest RAM becomes a
        // private copy, so the write never reaches the guest.
        prot = PROT_READ | PROT_WRITE;
        if (!r->writable) share = MAP_PRIVATE;
      }
      void* at = task->base + offset + done;
      void* got = ::mmap(at, piece, prot, share | MAP_FIXED, r->fd,
                         static_cast<off_t>(r->fd_offset + (gpa + done - r->gpa)));
      if (got != at) break;
      DropAliases(task, offset + done, piece);
      task->aliases.emplace(offset + done, agfx_task::Alias{offset + done, piece, gpa + done});
      done += piece;
    }
    if (done < len) {
      ok = false;
      ++failures_;
    } else {
      ++maps_;
    }
    offset += len;
  }
  return ok;
}

bool TaskMemory::Unmap(agfx_task* task, uint64_t offset, uint64_t length) {
  std::lock_guard lock(mu_);
  if (!Known(task) || length == 0 || (offset | length) % PageSize() != 0 || offset > task->size ||
      length > task->size - offset)
    return false;
  if (!Hole(task, task->base + offset, length)) {
    ++failures_;
    return false;  // the old mapping is still there, and so is its record
  }
  DropAliases(task, offset, length);
  ++unmaps_;
  return true;
}

size_t TaskMemory::InvalidateGuestRange(uint64_t gpa, uint64_t len) {
  std::lock_guard lock(mu_);
  size_t n = 0;
  uint64_t end = gpa + len;
  for (agfx_task* t : tasks_) {
    std::vector<agfx_task::Alias> hits;
    for (const auto& [off, a] : t->aliases)
      if (a.gpa < end && a.gpa + a.len > gpa) hits.push_back(a);
    for (const auto& a : hits) {
      uint64_t from = std::max(a.gpa, gpa), to = std::min(a.gpa + a.len, end);
      uint64_t off = a.offset + (from - a.gpa);
      if (!Hole(t, t->base + off, to - from)) {
        // Cannot replace the alias: take that range's access
        // away rather than leave guest memory the VMM took back reachable.
        ::mprotect(t->base + off, to - from, PROT_NONE);
        ++failures_;
      }
      DropAliases(t, off, to - from);
      ++n;
    }
  }
  return n;
}

TaskMemory::Stats TaskMemory::GetStats() {
  std::lock_guard lock(mu_);
  uint64_t aliases = 0;
  for (agfx_task* t : tasks_) aliases += t->aliases.size();
  return {tasks_.size(), aliases, maps_, unmaps_, failures_};
}

}  // namespace agfx
