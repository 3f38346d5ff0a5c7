// TASK_CREATE, TASK_DESTROY, TASK_MAP, TASK_UNMAP, CHECKSUM, and reading
// through a task for the display commands.
#include "soft/tasks.h"

#include <algorithm>

#include "soft/common.h"

namespace agfx::soft {

// Called on the JS thread after DMA_MAP/DMA_UNMAP; the worker reads the copy
// under map_mu_, which no host service takes, so neither side can block the
// other for longer than the copy.
void Tasks::MemoryMapChanged() {
  if (!static_map_) return;
  std::vector<agfx_memory_range> ranges(64);
  uint32_t n = host_.memory_map(host_.opaque, ranges.data(), uint32_t(ranges.size()));
  if (n > ranges.size()) {
    ranges.resize(n);
    n = std::min<uint32_t>(n, host_.memory_map(host_.opaque, ranges.data(), n));
  }
  ranges.resize(n);
  std::lock_guard lock(map_mu_);
  memory_map_.swap(ranges);
}

uint32_t Tasks::Create(const uint64_t* a) {
  if (a[0] == 0 || a[0] >= AGFX_SOFT_MAX_TASKS || a[1] == 0 || a[1] % AGFX_SOFT_PAGE || a[1] > AGFX_SOFT_MAX_TASK_SIZE) return AGFX_SOFT_ST_BAD_ARGS;
  if (tasks_[a[0]].live) return AGFX_SOFT_ST_TASK_EXISTS;
  if (static_map_) {
    tasks_[a[0]] = Task{true, nullptr, nullptr, a[1], {}};
    return AGFX_SOFT_ST_OK;
  }
  void* base = nullptr;
  agfx_task* t = host_.create_task(host_.opaque, a[1], &base);
  if (!t) return AGFX_SOFT_ST_NO_MEMORY;
  tasks_[a[0]] = Task{true, t, static_cast<uint8_t*>(base), a[1], {}};
  return AGFX_SOFT_ST_OK;
}

uint32_t Tasks::Destroy(const uint64_t* a) {
  Task* t = FindLive(a[0]);
  if (!t) return AGFX_SOFT_ST_NO_TASK;
  if (t->handle) host_.destroy_task(host_.opaque, t->handle);
  *t = Task{};
  return AGFX_SOFT_ST_OK;
}

uint32_t Tasks::Map(const uint64_t* a) {
  Task* t = FindLive(a[0]);
  if (!t) return AGFX_SOFT_ST_NO_TASK;
  if (a[1] % AGFX_SOFT_PAGE || a[3] == 0 || a[3] > AGFX_SOFT_MAX_RANGES || a[4] > 1) return AGFX_SOFT_ST_BAD_ARGS;
  std::vector<agfx_phys_range> ranges(a[3]);
  if (!host_.read_memory(host_.opaque, a[2], a[3] * sizeof(agfx_phys_range), ranges.data())) return AGFX_SOFT_ST_GUEST_MEMORY;
  uint64_t total = 0;
  for (const auto& r : ranges) {
    if (r.len == 0 || (r.gpa | r.len) % AGFX_SOFT_PAGE || r.len > AGFX_SOFT_MAX_TASK_SIZE) return AGFX_SOFT_ST_BAD_ARGS;
    total += r.len;
  }
  if (!InTask(t, a[1], total)) return AGFX_SOFT_ST_OUT_OF_RANGE;
  return MapRanges(t, a[1], ranges, a[4] == 1) ? AGFX_SOFT_ST_OK : AGFX_SOFT_ST_MAP_FAILED;
}

uint32_t Tasks::Unmap(const uint64_t* a) {
  Task* t = FindLive(a[0]);
  if (!t) return AGFX_SOFT_ST_NO_TASK;
  if ((a[1] | a[2]) % AGFX_SOFT_PAGE || a[2] == 0) return AGFX_SOFT_ST_BAD_ARGS;
  if (!InTask(t, a[1], a[2])) return AGFX_SOFT_ST_OUT_OF_RANGE;
  DropAliases(t, a[1], a[2]);
  if (static_map_) return AGFX_SOFT_ST_OK;
  return host_.unmap_memory(host_.opaque, t->handle, a[1], a[2]) ? AGFX_SOFT_ST_OK : AGFX_SOFT_ST_BAD_ARGS;
}

uint32_t Tasks::Checksum(const uint64_t* a, uint32_t* result) {
  const Task* t = Find(a[0]);
  if (!t) return AGFX_SOFT_ST_NO_TASK;
  if (a[2] == 0 || a[2] > AGFX_SOFT_MAX_CHECKSUM_LEN) return AGFX_SOFT_ST_BAD_ARGS;
  if (!InTask(t, a[1], a[2])) return AGFX_SOFT_ST_OUT_OF_RANGE;
  std::vector<uint8_t> buf(a[2]);
  if (!Read(t, a[1], buf.data(), buf.size())) return AGFX_SOFT_ST_NOT_MAPPED;
  *result = Fnv1a(buf.data(), buf.size());
  return AGFX_SOFT_ST_OK;
}

const uint8_t* Tasks::Translate(uint64_t gpa, uint64_t len) {
  std::lock_guard lock(map_mu_);
  for (const auto& r : memory_map_)
    if (gpa >= r.gpa && len <= r.len && gpa - r.gpa <= r.len - len) return static_cast<uint8_t*>(r.host) + (gpa - r.gpa);
  return nullptr;
}

// [off, off + len) lies in ranges the guest mapped (TASK_MAP) and did not
// unmap: the guest interface's NOT_MAPPED does not depend on what the host
// puts in a task's holes (inaccessible pages here; zero-filled ones in PVG's
// tasks as QEMU makes them, pvg-on-a-mac.md finding 9, under the PVG double).
bool Tasks::Covered(const Task* t, uint64_t off, uint64_t len) const {
  uint64_t at = off;
  const uint64_t end = off + len;
  while (at < end) {
    auto it = t->aliases.upper_bound(at);
    if (it == t->aliases.begin()) return false;
    --it;
    if (at >= it->first + it->second.len) return false;
    at = it->first + it->second.len;
  }
  return true;
}

// Task memory is read fault-safe (platform::SafeRead): pages that are not
// mapped (never mapped, unmapped, or invalidated after DMA_UNMAP) make the
// copy fail instead of killing the daemon.
bool Tasks::Read(const Task* t, uint64_t off, uint8_t* dst, uint64_t len) {
  if (!static_map_) return Covered(t, off, len) && platform::SafeRead(dst, t->base + off, len);
  uint64_t done = 0;
  while (done < len) {
    uint64_t at = off + done;
    auto it = t->aliases.upper_bound(at);
    if (it == t->aliases.begin()) return false;
    --it;
    if (at >= it->first + it->second.len) return false;
    uint64_t piece = std::min(len - done, it->first + it->second.len - at);
    const uint8_t* src = Translate(it->second.gpa + (at - it->first), piece);
    // A map snapshot can be a moment old; the safe copy turns a range that
    // was just unmapped into a clean failure instead of a fault.
    if (!src || !platform::SafeRead(dst + done, src, piece)) return false;
    done += piece;
  }
  return true;
}

// With host tasks, one batched fault-safe copy (platform::SafeReadSpans: a
// 1080-row frame is 2 syscalls, not 1080).
bool Tasks::ReadRows(const Task* t, uint64_t off, uint64_t stride, uint32_t rows, size_t row_bytes, uint8_t* dst) {
  if (static_map_) {
    for (uint32_t y = 0; y < rows; ++y)
      if (!Read(t, off + stride * y, dst + row_bytes * y, row_bytes)) return false;
    return true;
  }
  for (uint32_t y = 0; y < rows; ++y)
    if (!Covered(t, off + stride * y, row_bytes)) return false;
  spans_.resize(rows);
  for (uint32_t y = 0; y < rows; ++y) spans_[y] = {dst + row_bytes * y, t->base + off + stride * y, row_bytes};
  return platform::SafeReadSpans(spans_.data(), spans_.size());
}

// Maps ranges back to back from `off`. Like PVG's mapMemory, a range that is
// not shared guest RAM fails the call and the others stay mapped.
bool Tasks::MapRanges(Task* t, uint64_t off, const std::vector<agfx_phys_range>& ranges, bool ro) {
  bool ok = true;
  for (const auto& r : ranges) {
    DropAliases(t, off, r.len);
    // Tasks: one host call per range, so that only what the host mapped is
    // recorded as mapped (Covered; a failed range stays a hole).
    if (!static_map_ ? host_.map_memory(host_.opaque, t->handle, off, &r, 1, ro) : Translate(r.gpa, r.len) != nullptr) {
      t->aliases.emplace(off, Task::Alias{r.len, r.gpa, ro});
    } else {
      ok = false;
      // Not in the static map: probing its ends through the host lets the
      // host name a range the VMM mapped without an fd (one log line).
      uint8_t probe;
      if (static_map_ && host_.read_memory(host_.opaque, r.gpa, 1, &probe)) host_.read_memory(host_.opaque, r.gpa + r.len - 1, 1, &probe);
    }
    off += r.len;
  }
  return ok;
}

void Tasks::DropAliases(Task* t, uint64_t off, uint64_t len) {
  auto& m = t->aliases;
  uint64_t end = off + len;
  auto it = m.upper_bound(off);
  if (it != m.begin()) --it;
  std::vector<std::pair<uint64_t, Task::Alias>> keep;
  while (it != m.end() && it->first < end) {
    uint64_t a_off = it->first, a_end = a_off + it->second.len, gpa = it->second.gpa;
    if (a_end <= off) {
      ++it;
      continue;
    }
    bool ro = it->second.read_only;
    if (a_off < off) keep.push_back({a_off, {off - a_off, gpa, ro}});
    if (a_end > end) keep.push_back({end, {a_end - end, gpa + (end - a_off), ro}});
    it = m.erase(it);
  }
  for (auto& [o, a] : keep) m.emplace(o, a);
}

void Tasks::ReleaseAll() {
  for (auto& t : tasks_) {
    if (t.handle) host_.destroy_task(host_.opaque, t.handle);
    t = Task{};
  }
}

void Tasks::Save(StateWriter& w) const {
  uint32_t ntasks = 0;
  for (const auto& t : tasks_) ntasks += t.live;
  w.u32(ntasks);
  for (uint32_t id = 0; id < AGFX_SOFT_MAX_TASKS; ++id) {
    const Task& t = tasks_[id];
    if (!t.live) continue;
    w.u32(id);
    w.u64(t.size);
    w.u32(uint32_t(t.aliases.size()));
    for (const auto& [off, al] : t.aliases) {
      w.u64(off);
      w.u64(al.len);
      w.u64(al.gpa);
      w.u8(al.read_only);
    }
  }
}

bool Tasks::Load(StateReader& r, std::string* err) {
  uint32_t ntasks = r.u32();
  for (uint32_t i = 0; r.ok() && i < ntasks && i < AGFX_SOFT_MAX_TASKS; ++i) {
    uint32_t id = r.u32();
    uint64_t size = r.u64();
    uint32_t n = r.u32();
    if (!r.ok() || id == 0 || id >= AGFX_SOFT_MAX_TASKS || tasks_[id].live || size == 0 || size > AGFX_SOFT_MAX_TASK_SIZE || size % AGFX_SOFT_PAGE) {
      *err = "bad task record";
      return false;
    }
    Task& t = tasks_[id];
    t = Task{true, nullptr, nullptr, size, {}};
    if (!static_map_) {
      void* base = nullptr;
      t.handle = host_.create_task(host_.opaque, size, &base);
      t.base = static_cast<uint8_t*>(base);
      if (!t.handle) {
        t = Task{};
        *err = "cannot reserve task memory";
        return false;
      }
    }
    for (uint32_t k = 0; r.ok() && k < n; ++k) {
      uint64_t off = r.u64(), alen = r.u64(), gpa = r.u64();
      bool ro = r.u8() != 0;
      if (!r.ok() || alen == 0 || (off | alen | gpa) % AGFX_SOFT_PAGE || !InTask(&t, off, alen)) {
        *err = "bad task mapping record";
        return false;
      }
      MapRanges(&t, off, {agfx_phys_range{gpa, alen}}, ro);  // memory gone since the save: stays unmapped
    }
  }
  return true;
}

}  // namespace agfx::soft
