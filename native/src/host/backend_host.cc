#include "host/backend_host.h"

#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <map>
#include <new>
#include <thread>

#include "guest_memory.h"
#include "host/iosfc_map.h"
#include "host/task_memory.h"
#include "irq_table.h"

namespace agfx {

namespace {
constexpr size_t kMaxQueuedEvents = 65536;

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

BackendHost::BackendHost(Napi::Env env, Napi::Function on_events) {
  tsfn_ = Napi::ThreadSafeFunction::New(env, on_events, "agfx-backend-events", 0, 1,
                                       [this](Napi::Env) { delete this; });
  tsfn_.Unref(env);  // events alone do not keep the daemon alive

  ops_.struct_size = sizeof ops_;
  ops_.opaque = this;
  // Every service below completes natively on the calling backend thread.
  ops_.create_task = [](void*, uint64_t size, void** base) { return TaskMemory::Instance().Create(size, base); };
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

void BackendHost::Release() {
  std::lock_guard lock(mu_);
  if (released_) return;
  released_ = true;
  queue_.clear();
  tsfn_.Release();
}

void BackendHost::Push(HostEvent&& ev) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (released_) return;
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
  // Non-blocking: if Node is shutting down the call fails and is dropped.
  if (wake) tsfn_.NonBlockingCall([this](Napi::Env env, Napi::Function fn) { Drain(env, fn); });
}

void BackendHost::Drain(Napi::Env env, Napi::Function fn) {
  std::deque<HostEvent> events;
  {
    std::lock_guard lock(mu_);
    wake_pending_ = false;
    if (released_) return;
    events.swap(queue_);
  }
  Napi::Array out = Napi::Array::New(env, events.size());
  static const char* kNames[] = {"new_frame", "mode_changed", "cursor_glyph", "cursor_show", "cursor_moved", "guest_error"};
  uint32_t i = 0;
  for (auto& ev : events) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", kNames[ev.kind]);
    o.Set("port", ev.port);
    switch (ev.kind) {
      case HostEvent::kNewFrame:
        o.Set("count", ev.a);
        break;
      case HostEvent::kModeChanged:
        o.Set("width", ev.a);
        o.Set("height", ev.b);
        o.Set("format", ev.c);
        break;
      case HostEvent::kCursorGlyph:
        o.Set("width", ev.a);
        o.Set("height", ev.b);
        o.Set("hotX", ev.c);
        o.Set("hotY", ev.d);
        o.Set("pixels", Napi::Buffer<uint8_t>::Copy(env, ev.pixels.data(), ev.pixels.size()));
        break;
      case HostEvent::kCursorShow:
        o.Set("show", ev.a != 0);
        break;
      case HostEvent::kCursorMoved:
        o.Set("x", ev.a);
        o.Set("y", ev.b);
        break;
      case HostEvent::kGuestError:
        o.Set("message", ev.message);
        break;
    }
    out.Set(i++, o);
  }
  // A throwing handler (or Node tearing down) must not escape a threadsafe-
  // function callback: that would be std::terminate for the whole daemon.
  try {
    fn.Call({out});
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();  // reported as an uncaught exception, then logged
  }
}

BackendHost::Counters BackendHost::GetCounters() {
  std::lock_guard lock(mu_);
  return {queued_, coalesced_, dropped_};
}

// ------------------------------------------------- test-only bindings
// testMemoryMapAcquire(max) -> {token, count, ranges: [{gpa, len, host}]}
//   (token null when the ranges did not fit or on failure),
// testMemoryMapRead(host, len) -> Buffer | null (a fault-safe copy from a raw
//   host address: null where nothing is mapped),
// testMemoryMapRelease(token, fromThread) -> bool,
// testMemoryMapLive() -> snapshots not yet released.
namespace {

std::mutex test_mu;
std::map<uint32_t, void*> test_snapshots;
uint32_t test_next = 1;

Napi::Value TestAcquire(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t max = info[0].As<Napi::Number>().Uint32Value();
  std::vector<agfx_memory_range> ranges(max);
  uint32_t count = 0;
  void* snap = HostMemoryMapAcquire(nullptr, ranges.data(), max, &count);
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", count);
  Napi::Array arr = Napi::Array::New(env);
  if (!snap) {
    o.Set("token", env.Null());
    o.Set("ranges", arr);
    return o;
  }
  uint32_t token;
  {
    std::lock_guard lock(test_mu);
    token = test_next++;
    test_snapshots[token] = snap;
  }
  o.Set("token", token);
  for (uint32_t i = 0; i < count; ++i) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("gpa", Napi::BigInt::New(env, ranges[i].gpa));
    r.Set("len", Napi::BigInt::New(env, ranges[i].len));
    r.Set("host", Napi::BigInt::New(env, uint64_t(reinterpret_cast<uintptr_t>(ranges[i].host))));
    arr.Set(i, r);
  }
  o.Set("ranges", arr);
  return o;
}

Napi::Value TestRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool lossless = true;
  uint64_t addr = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
  uint32_t len = info[1].As<Napi::Number>().Uint32Value();
  auto buf = Napi::Buffer<uint8_t>::New(env, len);
  iovec local{buf.Data(), len};
  iovec remote{reinterpret_cast<void*>(static_cast<uintptr_t>(addr)), len};
  // process_vm_readv, not memcpy: an unmapped address is EFAULT, not SIGSEGV.
  if (::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0) != static_cast<ssize_t>(len)) return env.Null();
  return buf;
}

Napi::Value TestRelease(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t token = info[0].As<Napi::Number>().Uint32Value();
  bool from_thread = info.Length() > 1 && info[1].ToBoolean();
  void* snap = nullptr;
  {
    std::lock_guard lock(test_mu);
    auto it = test_snapshots.find(token);
    if (it == test_snapshots.end()) return Napi::Boolean::New(env, false);
    snap = it->second;
    test_snapshots.erase(it);
  }
  if (from_thread) std::thread([snap] { HostMemoryMapRelease(nullptr, snap); }).join();  // as a backend thread would
  else HostMemoryMapRelease(nullptr, snap);
  return Napi::Boolean::New(env, true);
}

Napi::Value TestLive(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(LiveMemoryMapSnapshots()));
}

}  // namespace

void InitBackendHostTestHooks(Napi::Env env, Napi::Object exports) {
  exports.Set("testMemoryMapAcquire", Napi::Function::New(env, TestAcquire));
  exports.Set("testMemoryMapRead", Napi::Function::New(env, TestRead));
  exports.Set("testMemoryMapRelease", Napi::Function::New(env, TestRelease));
  exports.Set("testMemoryMapLive", Napi::Function::New(env, TestLive));
}

}  // namespace agfx
