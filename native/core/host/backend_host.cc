#include "core/host/backend_host.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <new>

#include "core/guest_memory.h"
#include "core/host/iosfc_map.h"
#include "core/host/task_memory.h"
#include "core/irq_table.h"

namespace agfx {

namespace {
// The references that keep a memory_map_acquire snapshot's ranges mapped.
struct MemoryMapSnapshot {
  std::vector<RegionRef> regions;
};
std::atomic<uint64_t> live_snapshots{0};

HostEvent Ev(HostEvent::Kind kind, uint32_t port, uint32_t a = 0, uint32_t b = 0, uint32_t c = 0, uint32_t d = 0) {
  HostEvent ev;
  ev.kind = kind;
  ev.port = port;
  ev.a = a;
  ev.b = b;
  ev.c = c;
  ev.d = d;
  return ev;
}

HostEvent GuestErrorEvent(const char* msg) {
  HostEvent ev = Ev(HostEvent::kGuestError, 0);
  ev.message = msg ? msg : "";
  return ev;
}

std::string Hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace

// A host service refused [gpa, gpa+len): if that touches memory QEMU mapped
// without an fd, the first refusal per such range says so in one line naming
// it; later ones are only counted (DMA_UNMAP logs the count), so a guest
// retrying in a loop cannot flood the log. Never a DMA_READ/WRITE instead
// (docs/design.md invariant 3). Returns whether the range was one of those.
// Any backend thread: a shared lock on the table and the event queue's lock.
bool BackendHost::ReportUnreachable(const char* service, uint64_t gpa, uint64_t len) {
  UnreachableHit hit;
  if (!GuestMemory::Instance().NoteUnreachable(gpa, len, &hit)) return false;
  if (hit.first)
    Push(GuestErrorEvent((std::string(service) + " of " + Hex(gpa) + "+" + Hex(len) +
                                " refused: guest memory " + Hex(hit.gpa) + "+" + Hex(hit.size) +
                                " was mapped by the VMM without an fd (ROM, flash or a device BAR; all of RAM "
                                "with a plain -m), so the device cannot reach it; further refusals in it are "
                                "counted, not logged")
                             .c_str()));
  return true;
}

void* HostMemoryMapAcquire(void*, agfx_memory_range* out, uint32_t max, uint32_t* count) {
  if (!count) return nullptr;
  *count = 0;
  // Snapshot() copies the RegionRefs under the table's shared lock: from here
  // on a DMA_UNMAP on the JS thread only drops the table's own reference.
  std::vector<RegionRef> regions = GuestMemory::Instance().Snapshot();
  if (regions.size() > UINT32_MAX) return nullptr;
  const uint32_t n = static_cast<uint32_t>(regions.size());
  if (n > max || (n && !out)) {
    *count = n;  // too small: the caller asks again with room for n
    return nullptr;
  }
  auto* snap = new (std::nothrow) MemoryMapSnapshot{std::move(regions)};
  if (!snap) return nullptr;
  for (uint32_t i = 0; i < n; ++i) {
    const GuestRegion& r = *snap->regions[i];
    out[i] = agfx_memory_range{r.gpa, r.size, r.host};
  }
  *count = n;
  live_snapshots.fetch_add(1, std::memory_order_relaxed);
  return snap;
}

void HostMemoryMapRelease(void*, void* snapshot) {
  if (!snapshot) return;
  live_snapshots.fetch_sub(1, std::memory_order_relaxed);
  // Dropping the last reference to a region already gone from the table runs
  // ~GuestRegion (munmap + close) here, on the releasing thread: no lock is
  // held and nobody waits for it, so this is safe from any backend thread.
  delete static_cast<MemoryMapSnapshot*>(snapshot);
}

uint64_t LiveMemoryMapSnapshots() { return live_snapshots.load(std::memory_order_relaxed); }

BackendHost::BackendHost(WakeFn wake, void* wake_ctx) : wake_(wake), wake_ctx_(wake_ctx) {
  ops_.struct_size = sizeof ops_;
  ops_.opaque = this;
  // Every service below completes natively on the calling backend thread.
  ops_.create_task = [](void*, uint64_t size, void** base) { return TaskMemory::Instance().Create(size, base); };
  ops_.create_task_zero_fill = [](void*, uint64_t size, void** base) {
    return TaskMemory::Instance().Create(size, base, /*zero_fill=*/true);
  };
  ops_.destroy_task = [](void*, agfx_task* t) { TaskMemory::Instance().Destroy(t); };
  ops_.map_memory = [](void* self, agfx_task* t, uint64_t off, const agfx_phys_range* r, uint32_t n, bool ro) {
    if (TaskMemory::Instance().Map(t, off, r, n, ro)) return true;
    bool unreachable = false;
    for (uint32_t i = 0; r && i < n && !unreachable; ++i)
      unreachable = Self(self)->ReportUnreachable("map_memory", r[i].gpa, r[i].len);
    if (!unreachable)
      Self(self)->Push(GuestErrorEvent("map_memory: a guest range is not (entirely, writably) in shared guest RAM, or outside the task"));
    return false;
  };
  ops_.unmap_memory = [](void*, agfx_task* t, uint64_t off, uint64_t len) {
    return TaskMemory::Instance().Unmap(t, off, len);
  };
  ops_.read_memory = [](void* self, uint64_t gpa, uint64_t len, void* dst) {
    if (GuestMemory::Instance().Read(gpa, dst, len)) return true;
    Self(self)->ReportUnreachable("read_memory", gpa, len);
    return false;
  };
  ops_.write_memory = [](void* self, uint64_t gpa, uint64_t len, const void* src) {
    if (GuestMemory::Instance().Write(gpa, src, len)) return true;
    Self(self)->ReportUnreachable("write_memory", gpa, len);
    return false;
  };
  ops_.memory_map = [](void*, agfx_memory_range* out, uint32_t max) {
    auto regions = GuestMemory::Instance().Snapshot();
    for (uint32_t i = 0; i < regions.size() && i < max; ++i)
      out[i] = agfx_memory_range{regions[i]->gpa, regions[i]->size, regions[i]->host};
    return static_cast<uint32_t>(regions.size());
  };
  ops_.memory_map_acquire = HostMemoryMapAcquire;
  ops_.memory_map_release = HostMemoryMapRelease;
  ops_.raise_interrupt = [](void*, uint32_t vector) { IrqTable::Instance().Raise(vector); };
  ops_.iosfc_map = [](void* self, uint64_t gpa, uint64_t len, bool ro) {
    void* host = IosfcMappings::Instance().Map(gpa, len, ro);
    if (!host) Self(self)->ReportUnreachable("iosfc_map", gpa, len);
    return host;
  };
  ops_.iosfc_unmap = [](void* self, void* host) {
    if (IosfcMappings::Instance().Unmap(host)) return true;
    Self(self)->Push(GuestErrorEvent("IOSFC unmap of an address that is not mapped"));
    return false;
  };
  ops_.new_frame = [](void* self, uint32_t port) { Self(self)->Push(Ev(HostEvent::kNewFrame, port, 1)); };
  ops_.mode_changed = [](void* self, uint32_t port, uint32_t w, uint32_t h, uint32_t fmt) {
    Self(self)->Push(Ev(HostEvent::kModeChanged, port, w, h, fmt));
  };
  ops_.cursor_glyph = [](void* self, uint32_t port, const uint8_t* px, uint32_t w, uint32_t h, uint32_t stride,
                         uint32_t hx, uint32_t hy) {
    HostEvent ev = Ev(HostEvent::kCursorGlyph, port, w, h, hx, hy);
    ev.pixels.resize(size_t(w) * h * 4);
    for (uint32_t y = 0; y < h; ++y) std::memcpy(ev.pixels.data() + size_t(y) * w * 4, px + size_t(y) * stride, size_t(w) * 4);
    Self(self)->Push(std::move(ev));
  };
  ops_.cursor_show = [](void* self, uint32_t port, bool show) {
    Self(self)->Push(Ev(HostEvent::kCursorShow, port, show ? 1u : 0u));
  };
  ops_.cursor_moved = [](void* self, uint32_t port, uint32_t x, uint32_t y) {
    Self(self)->Push(Ev(HostEvent::kCursorMoved, port, x, y));
  };
  ops_.guest_error = [](void* self, const char* msg) {
    Self(self)->Push(GuestErrorEvent(msg));
  };
}

void BackendHost::Stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  queue_.clear();
}

void BackendHost::Push(HostEvent&& ev) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    if (!queue_.empty()) {
      HostEvent& last = queue_.back();
      if (ev.kind == HostEvent::kNewFrame && last.kind == HostEvent::kNewFrame && last.port == ev.port) {
        last.a += ev.a;
        ++coalesced_;
        return;
      }
      if (ev.kind == HostEvent::kCursorMoved && last.kind == HostEvent::kCursorMoved && last.port == ev.port) {
        last.a = ev.a;
        last.b = ev.b;
        return;
      }
    }
    if (queue_.size() >= kMaxQueuedEvents) {
      ++dropped_;
      return;
    }
    queue_.push_back(std::move(ev));
    ++queued_;
    if (!wake_pending_) wake = wake_pending_ = true;
  }
  if (wake) wake_(wake_ctx_);
}

std::deque<HostEvent> BackendHost::TakeEvents() {
  std::deque<HostEvent> events;
  std::lock_guard lock(mu_);
  wake_pending_ = false;
  if (!stopped_) events.swap(queue_);
  return events;
}

BackendHost::Counters BackendHost::GetCounters() {
  std::lock_guard lock(mu_);
  return {queued_, coalesced_, dropped_};
}

}  // namespace agfx
