// The pvg backend: a PGDevice (ParavirtualizedGraphics.framework) behind the
// apple-gfxd backend ABI. Device creation, both memory models, the IOSurface
// mapper (variant mmio), MMIO, reset and the static-map bookkeeping.
// Displays are in pvg_display.mm, suspend/resume and the option ROM in
// pvg_suspend.mm, the C table in pvg_backend.mm.
// Manual retain/release throughout (see pvg_internal.h for ownership).
#import "pvg_internal.h"
#import "pvg_private.h"

#include <cstddef>
#include <cstring>
#include <new>
#include <cstdio>

#include "portable/device_policy.h"
#include "portable/memory_map.h"
#include "portable/pvg_modes.h"
#include <objc/runtime.h>

static_assert(sizeof(PGPhysicalMemoryRange_t) == sizeof(agfx_phys_range) &&
                  offsetof(PGPhysicalMemoryRange_t, physicalLength) == offsetof(agfx_phys_range, len),
              "PVG's physical ranges are passed to the host unchanged");

// PGTask_t is the client's type: ours wraps the host's agfx_task, and PVG
// only passes back what createTask returned.
struct AgfxPgTask {
  agfx_task* host_task;
};

namespace agfx::pvg {

void Fail(char* err, size_t err_len, const std::string& msg) {
  if (err && err_len) std::snprintf(err, err_len, "pvg backend: %s", msg.c_str());
}

std::string Describe(NSError* e) {
  if (!e) return "unknown error";
  const char* d = e.localizedDescription.UTF8String;
  return std::string(e.domain.UTF8String ? e.domain.UTF8String : "?") + " " + std::to_string((long long)e.code) +
         (d ? std::string(": ") + d : std::string());
}

// QEMU's choice: a unified-memory GPU first, else a non-removable one, else the
// system default. Returns +1.
id<MTLDevice> CopySuitableMetalDevice() {
  id<MTLDevice> dev = nil;
  NSArray<id<MTLDevice>>* devs = MTLCopyAllDevices();  // +1
  for (id<MTLDevice> candidate in devs) {
    if (candidate.hasUnifiedMemory) {
      dev = candidate;
      break;
    }
    if (!candidate.removable) dev = candidate;
  }
  if (dev) [dev retain];
  else dev = MTLCreateSystemDefaultDevice();
  [devs release];
  return dev;
}

namespace {
// The host struct as this build knows it: fields beyond the daemon's
// struct_size (an older host) are left NULL, so AGFX_HOST_HAS() is false.
agfx_host CopyHost(const agfx_host* host) {
  agfx_host h{};
  std::memcpy(&h, host, host->struct_size < sizeof h ? host->struct_size : sizeof h);
  h.struct_size = sizeof h;
  // Only fields that lie wholly inside the daemon's struct_size are kept.
  if (host->struct_size < offsetof(agfx_host, memory_map_release) + sizeof h.memory_map_release)
    h.memory_map_acquire = nullptr, h.memory_map_release = nullptr;
  if (host->struct_size < offsetof(agfx_host, create_task_zero_fill) + sizeof h.create_task_zero_fill)
    h.create_task_zero_fill = nullptr;
  return h;
}
void RaiseToHost(void* ctx, uint32_t vector) {
  auto* h = static_cast<const agfx_host*>(ctx);
  h->raise_interrupt(h->opaque, vector);
}
}  // namespace

// irq raises straight to the host: it is only reached through With() (the
// blocks) or from the daemon's own threads while the device exists.
HostLink::HostLink(const agfx_host& h) : host(h), irq(RaiseToHost, &host) {}

void HostLink::Close() {
  std::unique_lock lock(mu);  // waits for host calls in flight on PVG's threads
  open = false;
}

PvgDevice::PvgDevice(const agfx_device_config* cfg, const agfx_host* host)
    : link_(std::make_shared<HostLink>(CopyHost(host))),
      host_(link_->host),
      irq_(link_->irq),
      variant_(cfg->variant),
      memory_model_(cfg->memory_model) {}

PvgDevice* PvgDevice::Create(const agfx_device_config* cfg, const agfx_host* host, char* err, size_t err_len) {
  // Hosts from before memory_map_acquire are accepted (the static map is
  // then unpinned, and said so); anything older is refused.
  if (!cfg || cfg->struct_size < sizeof(agfx_device_config) || !host ||
      host->struct_size < offsetof(agfx_host, memory_map_acquire)) {
    Fail(err, err_len, "device config or host services missing or too old");
    return nullptr;
  }
  if (cfg->variant > AGFX_VARIANT_MMIO || cfg->memory_model > AGFX_MEMORY_STATIC_MAP) {
    Fail(err, err_len, "unknown variant or memory model");
    return nullptr;
  }
  PvgDevice* d = new PvgDevice(cfg, host);
  bool ok;
  @autoreleasepool {
    ok = d->Init(cfg, err, err_len);
  }
  if (!ok) {
    delete d;
    return nullptr;
  }
  return d;
}

bool PvgDevice::Init(const agfx_device_config* cfg, char* err, size_t err_len) {
  uint32_t max_ports = agfx_pvg_max_display_ports();
  port_count_ = cfg->display_port_count ? cfg->display_port_count : 1;
  if (port_count_ > max_ports || port_count_ > kMaxPorts) {
    Fail(err, err_len, std::to_string(port_count_) + " display ports requested; PVG on this host supports " +
                           std::to_string(max_ports < kMaxPorts ? max_ports : kMaxPorts) +
                           " (several ports need macOS 13+)");
    return false;
  }
  uint32_t isolation = AGFX_PVG_ISOLATION_DEFAULT;
  if (cfg->struct_size >= sizeof(agfx_pvg_device_config))
    isolation = reinterpret_cast<const agfx_pvg_device_config*>(cfg)->process_isolation;

  mtl_ = CopySuitableMetalDevice();
  if (!mtl_) {
    Fail(err, err_len, "no Metal device (PVG needs a Metal-capable GPU)");
    return false;
  }
  mtl_queue_ = [mtl_ newCommandQueue];
  if (!mtl_queue_) {
    Fail(err, err_len, "cannot create a Metal command queue");
    return false;
  }
  // A private serial queue for every display handler, never the main queue
  // (pvg_internal.h).
  display_queue_ = dispatch_queue_create("apple-gfxd.pvg.display", DISPATCH_QUEUE_SERIAL);
  inflight_ = dispatch_group_create();

  // Kept for the device's life: every PGDevice of this object (a swap for
  // save/restore, a replacement with a new guest-RAM map) is created from
  // this same descriptor: same memory model, same blocks.
  desc_ = [PGDeviceDescriptor new];  // +1
  PGDeviceDescriptor* desc = desc_;
  mmio_length_ = desc.mmioLength;  // the framework's recommended BAR size (region_size, finding 17)
  desc.device = mtl_;
  if (port_count_ > 1) {
    if (@available(macOS 13.0, *)) desc.displayPortCount = port_count_;
  }
  HostLinkRef link = link_;
  const bool mmio_variant = variant_ == AGFX_VARIANT_MMIO;
  desc.raiseInterrupt = ^(uint32_t vector) {
    // Any PVG queue, possibly inside an MMIO call, possibly after the
    // device's release: a pipe/eventfd write that never blocks and never
    // needs the JS thread, or (device stopped) an atomic bit set in the
    // latch. The MMIO variant has one gfx line (QEMU ignores the vector
    // there); PCI passes the MSI vector.
    link->With([&](const agfx_host&) { link->irq.Raise(mmio_variant ? kGfxVector : vector); });
  };

  bool ok = memory_model_ == AGFX_MEMORY_TASKS ? ConfigureTasks(desc, err, err_len)
                                               : ConfigureStaticMap(desc, isolation, err, err_len);
  if (!ok) return false;
  if (mmio_variant && (!NSClassFromString(@"PGIOSurfaceHostDeviceDescriptor") ||
                       !NSClassFromString(@"PGIOSurfaceHostDevice") ||
                       ![desc respondsToSelector:@selector(setUsingIOSurfaceMapper:)])) {
    Fail(err, err_len, "variant mmio needs PVG's IOSurface mapper, which this host lacks (arm64 macOS only)");
    return false;
  }
  if (mmio_variant) desc.usingIOSurfaceMapper = true;

  // The static model creates the PGDevice only once guest RAM is known
  // (finding 4): Mediouni's series hands PVG the whole map at creation.
  // Until then MMIO reads 0 and displays wait (orphans_).
  std::string e;
  if (memory_model_ == AGFX_MEMORY_STATIC_MAP) {
    {
      std::lock_guard lock(mu_);
      UpdateNeedsSwap();
    }
    std::unique_lock gate(gate_);
    MakeCurrentLocked();
    return true;
  }
  if (!CreatePgDevice(&e)) {
    Fail(err, err_len, e);
    return false;
  }
  return true;
}

id<PGDevice> NewPgDevice(PGDeviceDescriptor* desc) {
#if defined(PG_SUPPORT_CREATE_DEVICE)
  if (@available(macOS 15.2, *)) {
    return PGCreateDeviceWithDescriptor(desc);  // NS_RETURNS_RETAINED: +1
  }
#endif
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
  return PGNewDeviceWithDescriptor(desc);  // "New": +1 (only unannotated for ARC)
#pragma clang diagnostic pop
}

bool PvgDevice::ConfigureTasks(PGDeviceDescriptor* desc, char* err, size_t err_len) {
  // Decided at run time, not by SDK (finding 16): PVG of macOS 11 to 15.3
  // has the setters, later ones may not.
  const SEL setters[] = {@selector(setCreateTask:), @selector(setDestroyTask:), @selector(setMapMemory:),
                         @selector(setUnmapMemory:), @selector(setReadMemory:)};
  for (SEL s : setters) {
    if (![desc respondsToSelector:s]) {
      Fail(err, err_len, std::string("this macOS's PVG has no task callbacks (") + sel_getName(s) +
                             "); use the static memory map (--memory-model static, macOS 15.4+)");
      return false;
    }
  }
  HostLinkRef link = link_;
  // All five run synchronously on PVG's threads, also from inside an MMIO
  // call (on the client's data-plane thread). Each is one native host service (address-space reservation,
  // MAP_FIXED alias, fault-safe copy from the DMA regions) and never waits
  // for the JS thread, so that MMIO call can complete. After the device is
  // destroyed (link closed) they fail or do nothing.
  AGFXCreateTask create = ^AgfxPgTask*(uint64_t vm_size, void** base) {
    AgfxPgTask* task = nullptr;
    link->With([&](const agfx_host& h) {
      // QEMU's tasks: zero-fill reservations and holes (finding 9), where
      // the daemon offers them.
      agfx_task* t = h.create_task_zero_fill ? h.create_task_zero_fill(h.opaque, vm_size, base)
                                             : h.create_task(h.opaque, vm_size, base);
      if (!t) return;  // QEMU dereferences NULL here; we report the failure
      task = new (std::nothrow) AgfxPgTask{t};
      if (!task) h.destroy_task(h.opaque, t);
    });
    return task;
  };
  AGFXDestroyTask destroy = ^(AgfxPgTask* task) {
    // Closed: the daemon's TaskMemory frees the reservation with the session.
    link->With([&](const agfx_host& h) { h.destroy_task(h.opaque, task->host_task); });
    delete task;
  };
  AGFXMapMemory map = ^bool(AgfxPgTask* task, uint32_t count, uint64_t offset, bool read_only,
                            PGPhysicalMemoryRange_t* ranges) {
    bool ok = false;
    link->With([&](const agfx_host& h) {
      ok = h.map_memory(h.opaque, task->host_task, offset, reinterpret_cast<const agfx_phys_range*>(ranges), count,
                        read_only);
    });
    return ok;
  };
  AGFXUnmapMemory unmap = ^bool(AgfxPgTask* task, uint64_t offset, uint64_t length) {
    bool ok = false;
    link->With([&](const agfx_host& h) { ok = h.unmap_memory(h.opaque, task->host_task, offset, length); });
    return ok;
  };
  // A fault-safe copy from the mmap'd guest RAM: never a vfio-user DMA_READ,
  // which would wait on QEMU while a vCPU waits on us (docs/design.md
  // invariant 3).
  AGFXReadMemory read = ^bool(uint64_t gpa, uint64_t length, void* dst) {
    bool ok = false;
    link->With([&](const agfx_host& h) { ok = h.read_memory(h.opaque, gpa, length, dst); });
    return ok;
  };
  // Each setter copies its block (a `copy` property): the descriptor holds
  // them, and with them `link`.
  [desc performSelector:@selector(setCreateTask:) withObject:(id)create];
  [desc performSelector:@selector(setDestroyTask:) withObject:(id)destroy];
  [desc performSelector:@selector(setMapMemory:) withObject:(id)map];
  [desc performSelector:@selector(setUnmapMemory:) withObject:(id)unmap];
  [desc performSelector:@selector(setReadMemory:) withObject:(id)read];
  return true;
}

PGMemoryMapDescriptor* PvgDevice::NewPgMap(const PinnedMemoryMap& pinned, std::string* err) {
  Class cls = NSClassFromString(@"PGMemoryMapDescriptor");
  if (!cls) {
    *err = "PGMemoryMapDescriptor not found: the static memory map needs macOS 15.4+";
    return nil;
  }
  PGMemoryMapDescriptor* map = [[cls alloc] init];  // +1
  for (const agfx_memory_range& r : pinned.ranges()) [map addRange:PGGuestPhysicalRange_s{r.gpa, r.len, r.host}];
  return map;
}

std::shared_ptr<PinnedMemoryMap> PvgDevice::MapForNewDevice(std::string* err) {
  {
    std::lock_guard lock(mu_);
    if (pending_map_) return pending_map_;
    if (dev_map_ && !map_stale_) return dev_map_;
  }
  auto map = std::make_shared<PinnedMemoryMap>();
  if (!map->Acquire(&host_, err)) return nullptr;
  return map;
}

void PvgDevice::AdoptMap(const std::shared_ptr<PinnedMemoryMap>& map, PGMemoryMapDescriptor* pgmap) {
  std::shared_ptr<PinnedMemoryMap> old, old_pending;
  PGMemoryMapDescriptor* old_pg;
  bool warn = false;
  {
    std::lock_guard lock(mu_);
    old.swap(dev_map_);
    dev_map_ = map;
    old_pending.swap(pending_map_);  // `map` is the newest view of the table
    map_stale_ = false;
    old_pg = memory_map_;
    memory_map_ = pgmap;
    if (!map->pinned() && !unpinned_warned_) warn = unpinned_warned_ = true;
  }
  [old_pg release];
  if (warn)
    GuestError("pvg: this daemon's host has no memory_map_acquire: a DMA_UNMAP can unmap guest RAM PVG still uses");
  // `old` and `old_pending` go here, outside mu_: PVG no longer uses them (it
  // switched to `map` before we were called), so their regions may be unmapped.
}

bool PvgDevice::ConfigureStaticMap(PGDeviceDescriptor* desc, uint32_t isolation, char* err, size_t err_len) {
  if (!NSClassFromString(@"PGMemoryMapDescriptor") || ![desc respondsToSelector:@selector(setMemoryMapDescriptor:)]) {
    Fail(err, err_len, "this macOS has no PVG static memory map (needs 15.4+); use the task memory model");
    return false;
  }
  IsolationChoice iso = ChooseIsolation(variant_, memory_model_, static_cast<Isolation>(isolation),
                                        [desc respondsToSelector:@selector(setEnableProcessIsolation:)]);
  if (!iso.error.empty()) {
    Fail(err, err_len, iso.error);
    return false;
  }
  if (iso.set) desc.enableProcessIsolation = iso.enable;  // Mediouni: mmio variant only (finding 13)
  if ([desc respondsToSelector:@selector(setEnableArgumentBuffers:)]) desc.enableArgumentBuffers = true;
  // No readMemory with a static map (finding 13): PVG reads guest RAM
  // through the map's host pointers.
  return true;
}

bool PvgDevice::CreateIosfc(const std::shared_ptr<PinnedMemoryMap>& map, PGMemoryMapDescriptor* pgmap,
                            std::string* err) {
  Class dcls = NSClassFromString(@"PGIOSurfaceHostDeviceDescriptor");
  Class cls = NSClassFromString(@"PGIOSurfaceHostDevice");
  if (!dcls || !cls) {
    *err = "variant mmio needs PVG's IOSurface mapper, which this host lacks (arm64 macOS only)";
    return false;
  }
  PGIOSurfaceHostDeviceDescriptor* idesc = [[[dcls alloc] init] autorelease];
  HostLinkRef link = link_;
  if (memory_model_ == AGFX_MEMORY_TASKS) {
    // Gone since macOS 15.4: checking first avoids QEMU's "unrecognized selector" abort.
    if (![idesc respondsToSelector:@selector(setMapMemory:)] || ![idesc respondsToSelector:@selector(setUnmapMemory:)]) {
      *err = "this macOS has no IOSurface mapMemory callback (15.4+); use the static memory map";
      return false;
    }
    // PVG threads, also inside an IOSFC MMIO write: iosfc_map is arithmetic on
    // the guest-memory table plus a reference count (no syscall, no JS).
    idesc.mapMemory = ^bool(uint64_t phys, uint64_t len, bool ro, void** va, void*, void*) {
      void* p = nullptr;
      link->With([&](const agfx_host& h) { p = h.iosfc_map(h.opaque, phys, len, ro); });
      *va = p;
      return p != nullptr;
    };
    idesc.unmapMemory = ^bool(void* va, void*, void*, void*, void*, void*) {
      bool ok = false;
      link->With([&](const agfx_host& h) { ok = h.iosfc_unmap(h.opaque, va); });
      return ok;
    };
  } else {
    if (![idesc respondsToSelector:@selector(setMemoryMapDescriptor:)]) {
      *err = "this macOS's IOSurface mapper takes no static memory map";
      return false;
    }
    idesc.memoryMapDescriptor = pgmap;
  }
  // Mediouni (15.4+): the IOSurface window is 0x10000 (QEMU's iomem_iosfc).
  if ([idesc respondsToSelector:@selector(setMmioLength:)]) idesc.mmioLength = kIosfcLength;
  idesc.raiseInterrupt = ^bool(uint32_t) {
    link->With([&](const agfx_host&) { link->irq.Raise(kIosfcVector); });  // non-blocking, or held while stopped
    return true;
  };
  PGIOSurfaceHostDevice* dev = [[cls alloc] initWithDescriptor:idesc];
  if (!dev) {
    *err = "PVG refused to create the IOSurface host device";
    return false;
  }
  [iosfc_ release];
  iosfc_ = dev;
  std::shared_ptr<PinnedMemoryMap> old;
  {
    std::lock_guard lock(mu_);
    old.swap(iosfc_map_);
    iosfc_map_ = map;  // kept mapped while iosfc_ may use it
  }
  return true;  // `old` goes here: the IOSurface device given it is released
}

PvgDevice::~PvgDevice() {
  @autoreleasepool {
    DetachAll();
    // Renders still in flight finish on display_queue_, which never waits for
    // this thread. Each holds its display (which retains the queue, group
    // and command queue, finding 11), so a completion later than this wait
    // is still safe: it finds the link closed and does nothing.
    if (inflight_) dispatch_group_wait(inflight_, dispatch_time(DISPATCH_TIME_NOW, int64_t(5 * NSEC_PER_SEC)));
    // Handler blocks PVG queued before the displays went away: they see
    // live == false and do nothing.
    if (display_queue_) dispatch_sync(display_queue_, ^{});
    [pgdev_ release];  // PVG may call destroyTask from here, or later (the link stays open until below)
    [iosfc_ release];
    [desc_ release];
    [memory_map_ release];
    [mtl_queue_ release];
    [mtl_ release];
  }
  // From here no block reaches the host, however late PVG calls it
  // (finding 10); Close waits for a call in flight.
  link_->Close();
  // Only now, with no PVG object left that was given them, may the mapped
  // guest-RAM snapshots go (memory_map_release; may munmap).
  dev_map_.reset();
  iosfc_map_.reset();
  pending_map_.reset();
  if (inflight_) dispatch_release(inflight_);
  if (display_queue_) dispatch_release(display_queue_);
}

// ---- the static model's device lifecycle (findings 4, 5) ----------------

MapState PvgDevice::MapStateLocked() {
  MapState st;
  st.have_device = pgdev_ != nil;
  std::lock_guard lock(mu_);
  const auto& latest = pending_map_ ? pending_map_ : dev_map_;
  st.map_empty = !latest || latest->ranges().empty();
  st.map_stale = map_stale_;
  st.touched = guest_touched_;
  st.can_reset_with_map = pgdev_ && [(id)pgdev_ respondsToSelector:@selector(resetWithMemoryMap:)];
  return st;
}

// mu_ held. Whether an access must take the slow path (gate_ exclusive).
void PvgDevice::UpdateNeedsSwap() {
  if (memory_model_ != AGFX_MEMORY_STATIC_MAP) return;
  const auto& latest = pending_map_ ? pending_map_ : dev_map_;
  bool have_ram = latest && !latest->ranges().empty();
  // No device yet (and guest RAM known), or a new map the device has not
  // seen while no MMIO reached it: BeforeGuestAccess has work.
  needs_swap_.store(have_ram && (!dev_map_ || !pgdev_ || (map_stale_ && !guest_touched_)), std::memory_order_release);
}

void PvgDevice::ReplacePgDevice(const char* why) {
  auto specs = TakeDisplays();
  DropPgDevice();
  std::string e;
  if (!CreatePgDevice(&e)) {
    if (e != create_error_) GuestError(std::string("pvg: ") + why + ": cannot create the device: " + e);
    create_error_ = e;
  } else {
    create_error_.clear();
  }
  ReattachDisplays(&specs);
  if (pgdev_ && irq_.stopped()) PausePg();
}

void PvgDevice::MakeCurrentLocked() {
  if (memory_model_ != AGFX_MEMORY_STATIC_MAP) return;
  switch (BeforeGuestAccess(MapStateLocked())) {
    case MapAction::kCreate:
      ReplacePgDevice("guest RAM is known");
      break;
    case MapAction::kReplace:
      ReplacePgDevice("guest RAM changed before the guest's first access");
      break;
    default:
      break;
  }
  std::lock_guard lock(mu_);
  UpdateNeedsSwap();
}

// MMIO runs on the client's data-plane thread (docs/design.md, "Threads and
// locks"), never the JS thread, which is Node's main thread: on macOS PVG's
// MMIO may wait for a block it put on the main dispatch queue
// (pvg-on-a-mac.md §8), and only the main thread drains that queue. Waiting
// here is safe because the data-plane thread is not the JS thread, as long
// as the JS thread keeps turning the run loop from its libuv hook
// (addon/main_queue.h; held until the device is destroyed) and never waits
// for this MMIO (docs/design.md invariant 1). Meanwhile the JS thread may call
// the display functions (gate_ shared too), and the daemon's long-call thread
// reset/suspend (exclusive: they wait for the MMIO in progress; docs/design.md,
// "Long backend calls").
// MMIO holds only gate_ (shared): PVG may synchronously call the
// descriptor blocks from its own queues and wait for them, and every one of
// them completes natively without gate_. gate_ only keeps a PGDevice swap
// out. pgdev_ is nil before the static model's first map and between a
// suspend and the next resume/reset: messaging nil reads 0 and drops writes,
// so MMIO is still answered.
void PvgDevice::BeginAccess(std::shared_lock<std::shared_mutex>* shared) {
  if (NeedsSwap()) {
    std::unique_lock excl(gate_);
    MakeCurrentLocked();
    if (pgdev_) guest_touched_ = true;  // the access below is the guest's
    std::lock_guard lock(mu_);
    UpdateNeedsSwap();
  }
  *shared = std::shared_lock(gate_);
  touched_ = true;
  if (!guest_touched_.load(std::memory_order_relaxed)) guest_touched_ = true;
}

uint32_t PvgDevice::MmioRead(uint32_t region, uint64_t off) {
  std::shared_lock<std::shared_mutex> gate;
  BeginAccess(&gate);
  @autoreleasepool {
    if (region == AGFX_REGION_GFX && off < mmio_length_) return [pgdev_ mmioReadAtOffset:size_t(off)];
    if (region == AGFX_REGION_IOSFC && iosfc_ && off < kIosfcLength) return uint32_t([iosfc_ mmioReadAtOffset:size_t(off)]);
  }
  return 0;
}

void PvgDevice::MmioWrite(uint32_t region, uint64_t off, uint32_t v) {
  std::shared_lock<std::shared_mutex> gate;
  BeginAccess(&gate);
  @autoreleasepool {
    if (region == AGFX_REGION_GFX && off < mmio_length_) [pgdev_ mmioWriteAtOffset:size_t(off) value:v];
    else if (region == AGFX_REGION_IOSFC && iosfc_ && off < kIosfcLength) [iosfc_ mmioWriteAtOffset:size_t(off) value:v];
  }
}

// IOSFC's registers are 64 bits wide (class dump: reg_ringBase,
// reg_descriptorBase; vmapple RAM starts at 0x70000000): an 8-byte guest
// access reaches it whole (finding 12). PGDevice takes dwords only (QEMU:
// impl 4..4), so an 8-byte gfx access is two, low dword first.
uint64_t PvgDevice::MmioRead64(uint32_t region, uint64_t off) {
  if (region != AGFX_REGION_IOSFC) {
    uint64_t lo = MmioRead(region, off);
    return lo | uint64_t(MmioRead(region, off + 4)) << 32;
  }
  std::shared_lock<std::shared_mutex> gate;
  BeginAccess(&gate);
  @autoreleasepool {
    if (iosfc_ && off <= kIosfcLength - 8) return [iosfc_ mmioReadAtOffset:size_t(off)];
  }
  return 0;
}

void PvgDevice::MmioWrite64(uint32_t region, uint64_t off, uint64_t v) {
  if (region != AGFX_REGION_IOSFC) {
    MmioWrite(region, off, uint32_t(v));
    MmioWrite(region, off + 4, uint32_t(v >> 32));
    return;
  }
  std::shared_lock<std::shared_mutex> gate;
  BeginAccess(&gate);
  @autoreleasepool {
    if (iosfc_ && off <= kIosfcLength - 8) [iosfc_ mmioWriteAtOffset:size_t(off) value:v];
  }
}

// BAR0's size is PVG's recommended mmioLength, as QEMU's
// apple_gfx_get_default_mmio_range_size (finding 17).
uint64_t PvgDevice::RegionSize(uint32_t region) const {
  if (region == AGFX_REGION_GFX) return mmio_length_;
  if (region == AGFX_REGION_IOSFC && variant_ == AGFX_VARIANT_MMIO) return kIosfcLength;
  return 0;
}

void PvgDevice::Reset() {
  // Exclusive: resetWithMemoryMap: switches PVG to a new map, whose pinned
  // snapshot must replace the old one with no MMIO using either meanwhile.
  std::unique_lock gate(gate_);
  @autoreleasepool {
    MapState st = memory_model_ == AGFX_MEMORY_STATIC_MAP ? MapStateLocked() : MapState{};
    MapAction action = memory_model_ == AGFX_MEMORY_STATIC_MAP ? AtReset(st) : MapAction::kNothing;
    if (!pgdev_ && memory_model_ != AGFX_MEMORY_STATIC_MAP) action = MapAction::kCreate;
    if (action == MapAction::kCreate || action == MapAction::kReplace) {
      // No PGDevice (a suspend without resume, a failed creation, guest RAM
      // only now known), or a new map and no resetWithMemoryMap:: a fresh
      // device with the displays re-attached is a reset.
      ReplacePgDevice("reset");
    } else if (action == MapAction::kResetWithMap) {
      std::string e;
      std::shared_ptr<PinnedMemoryMap> map = MapForNewDevice(&e);
      PGMemoryMapDescriptor* fresh = map ? NewPgMap(*map, &e) : nil;  // +1
      id<AGFXPGDeviceMemoryMapReset> remap = (id<AGFXPGDeviceMemoryMapReset>)pgdev_;
      // No mu_ held: reset may drain PVG work that calls the host services.
      if (fresh && [remap resetWithMemoryMap:fresh]) {
        AdoptMap(map, fresh);  // PVG uses the new map from here on: the old snapshot can go
      } else {
        // NO: PVG refused the new map and keeps the old one, whose snapshot
        // (dev_map_) stays pinned (finding 4).
        [fresh release];
        GuestError(fresh ? "pvg: PVG refused the new guest-RAM map at reset (resetWithMemoryMap: NO); it keeps the old one"
                         : "pvg: cannot build the guest-RAM map at reset: " + e);
        if (@available(macOS 12.0, *)) [pgdev_ reset];
      }
    } else if (pgdev_) {
      if (@available(macOS 12.0, *)) [pgdev_ reset];
      else GuestError("pvg: device reset needs macOS 12; the device keeps its state");
    }
    touched_ = true;          // a call on the PGDevice (ResumeBegin)
    guest_touched_ = false;   // the guest's driver starts over
    pg_paused_ = false;  // a reset device runs; pause it again if the daemon stopped it
    if (pgdev_ && irq_.stopped()) PausePg();
    std::lock_guard lock(mu_);
    UpdateNeedsSwap();
  }
}

// agfx_backend guest_memory_gone: the VMM left with its guest memory (issue
// 12 defect 2, docs/design.md invariant 5). What PVG requires: the PGDevice
// goes (PVG destroys its tasks through destroyTask and drops its IOSFC
// mappings with it; a device given a PGMemoryMapDescriptor cannot be told
// the map is gone, only replaced), the static model's snapshots go with it,
// and the next device starts from the next VMM's memory: for the static model
// once that guest RAM is known (finding 4, the next DMA_MAP and first access),
// for tasks at once. The displays stay attached for the daemon and come back
// with the next device (orphans_). gate_ exclusive, as for a swap.
void PvgDevice::GuestMemoryGone() {
  std::unique_lock gate(gate_);
  @autoreleasepool {
    auto specs = TakeDisplays();
    DropPgDevice();
    std::shared_ptr<PinnedMemoryMap> dev, iosfc, pending;  // released after mu_ (may munmap)
    PGMemoryMapDescriptor* old_pg = nil;
    {
      std::lock_guard lock(mu_);
      dev.swap(dev_map_);
      iosfc.swap(iosfc_map_);
      pending.swap(pending_map_);
      map_stale_ = false;
      old_pg = memory_map_;
      memory_map_ = nil;
      UpdateNeedsSwap();
    }
    if (memory_model_ == AGFX_MEMORY_STATIC_MAP) {
      desc_.memoryMapDescriptor = nil;  // held the old guest's host addresses
    } else {
      std::string e;
      if (!CreatePgDevice(&e)) GuestError("pvg: the VMM left: cannot create a fresh device: " + e);
    }
    [old_pg release];
    ReattachDisplays(&specs);  // without a PGDevice: kept as orphans_ for the next one
    touched_ = false;
    guest_touched_ = false;
    if (pgdev_ && irq_.stopped()) PausePg();
    std::lock_guard lock(mu_);
    UpdateNeedsSwap();
  }
}

// Daemon thread, after a DMA_MAP/UNMAP. PVG cannot take a new map while it
// runs: the new one is pinned now (pending_map_) and handed over before the
// guest's first access (a fresh device), at the next reset
// (resetWithMemoryMap:, or a fresh device) or PGDevice swap; until then
// dev_map_ keeps every range PVG has mapped, even one the VMM just
// unmapped, and AdoptMap releases it after the switch. Never calls into PVG.
void PvgDevice::MemoryMapChanged() {
  if (memory_model_ != AGFX_MEMORY_STATIC_MAP) return;  // tasks look guest RAM up per mapping
  auto now = std::make_shared<PinnedMemoryMap>();
  std::string e;
  bool built = now->Acquire(&host_, &e);
  std::shared_ptr<PinnedMemoryMap> dropped;  // released outside mu_ (may munmap)
  MapState st;
  {
    std::lock_guard lock(mu_);
    bool changed = !built || !dev_map_ || !SameMemoryMap(now->ranges(), dev_map_->ranges());
    dropped.swap(pending_map_);
    map_stale_ = changed;
    if (changed && built) pending_map_ = now;
    UpdateNeedsSwap();
    st.have_device = dev_map_ != nullptr;
    st.map_stale = map_stale_;
    st.touched = guest_touched_;
  }
  if (!built) GuestError("pvg: cannot read the guest-RAM map: " + e);
  if (!st.have_device || !st.map_stale) return;
  {
    std::shared_lock gate(gate_);  // pgdev_ is swapped under gate_
    st.have_device = pgdev_ != nil;
    st.can_reset_with_map = pgdev_ && [(id)pgdev_ respondsToSelector:@selector(resetWithMemoryMap:)];
  }
  switch (AfterMapChange(st)) {
    case MapAction::kResetWithMap:
      GuestError("pvg: the guest-RAM map changed while the guest uses the device; PVG gets it at the next device "
                 "reset (until then it keeps the old one mapped)");
      break;
    case MapAction::kLogCannotUpdate:
      GuestError("pvg: the guest-RAM map changed while the guest uses the device and this macOS's PVG has no "
                 "resetWithMemoryMap:: the device is replaced at the next reset; until then PVG keeps the old map");
      break;
    default:
      break;
  }
}

std::shared_ptr<PvgDisplay> PvgDevice::Display(uint32_t port) {
  if (port >= kMaxPorts) return nullptr;
  std::lock_guard lock(mu_);
  return displays_[port];
}

bool PvgDevice::AttachDisplay(uint32_t port, uint32_t serial, const char* name, const agfx_display_mode* modes,
                              uint32_t n) {
  if (port >= port_count_) return false;
  // Per daemon instance, stable across restarts (finding 18): the daemon
  // derives `serial` from its socket path or --serial-base.
  const uint32_t stable = DisplaySerial(serial, 0x41470000u, port);
  if (NeedsSwap()) {
    std::unique_lock excl(gate_);
    MakeCurrentLocked();
  }
  std::shared_lock gate(gate_);  // newDisplayWithDescriptor: on pgdev_, never mid-swap
  @autoreleasepool {
    std::string e;
    NSArray* list = ModeArray(modes, n, &e);
    if (!list) return false;
    {
      std::lock_guard lock(mu_);
      if (displays_[port] || attaching_[port]) return false;
      for (const DisplaySpec& o : orphans_)
        if (o.port == port) return false;
      if (!pgdev_) {
        // Static model before guest RAM is known: attached for the daemon,
        // hot-plugged on the PGDevice when it is created (ReattachDisplays).
        orphans_.push_back(DisplaySpec{port, stable, name ? name : "", std::vector<agfx_display_mode>(modes, modes + n), nullptr});
        return true;
      }
      attaching_[port] = true;
    }
    touched_ = true;
    // Unlocked: creating the display and the first modeList assignment
    // (hot-plug) may make PVG run handlers, which never take mu_ anyway.
    auto d = NewDisplay(pgdev_, link_, port, stable, name, list, mtl_, mtl_queue_, display_queue_, inflight_, nullptr, &e);
    std::lock_guard lock(mu_);
    attaching_[port] = false;
    displays_[port] = d;
    if (d) specs_[port] = DisplaySpec{port, stable, name ? name : "", std::vector<agfx_display_mode>(modes, modes + n), nullptr};
    return d != nullptr;
  }
}

bool PvgDevice::SetModes(uint32_t port, const agfx_display_mode* modes, uint32_t n) {
  std::shared_lock gate(gate_);  // the display stays on the current pgdev_
  auto d = Display(port);
  if (!d) return false;
  @autoreleasepool {
    std::string e;
    NSArray* list = ModeArray(modes, n, &e);
    if (!list) return false;
    id<PGDisplay> disp;
    {
      std::lock_guard lock(d->disp_mu);
      disp = [d->pgdisp retain];
    }
    // No lock held: the assignment may trigger a mode change on display_queue_.
    disp.modeList = list;
    bool ok = disp != nil;
    [disp release];
    if (ok) {
      std::lock_guard lock(mu_);
      specs_[port].modes.assign(modes, modes + n);  // a re-attach after a swap uses these
    }
    return ok;
  }
}

bool PvgDevice::DetachDisplay(uint32_t port) {
  std::shared_lock gate(gate_);
  std::shared_ptr<PvgDisplay> d;
  {
    std::lock_guard lock(mu_);
    if (port >= kMaxPorts) return false;
    for (auto it = orphans_.begin(); it != orphans_.end(); ++it) {
      if (it->port != port) continue;
      orphans_.erase(it);  // waiting for a PGDevice: nothing to unplug
      return true;
    }
    if (!displays_[port]) return false;
    d.swap(displays_[port]);
    specs_[port] = DisplaySpec{};
  }
  @autoreleasepool {
    RetireDisplay(d);
  }
  host_.mode_changed(host_.opaque, port, 0, 0, AGFX_FORMAT_BGRA8);
  return true;
}

void PvgDevice::DetachAll() {
  for (uint32_t p = 0; p < kMaxPorts; ++p) {
    std::shared_ptr<PvgDisplay> d;
    {
      std::lock_guard lock(mu_);
      d.swap(displays_[p]);
    }
    if (d) RetireDisplay(d);
  }
}

bool PvgDevice::ReadFrame(uint32_t port, void* dst, size_t len, agfx_frame_info* info) {
  auto d = Display(port);
  if (!d) return false;
  std::lock_guard lock(d->frame_mu);
  if (d->width == 0 || d->height == 0) return false;  // no mode yet: no frame
  if (info) *info = agfx_frame_info{d->width, d->height, d->width * 4, AGFX_FORMAT_BGRA8, d->sequence};
  if (!dst) return true;  // size query
  if (len < d->frame.size()) return false;
  std::memcpy(dst, d->frame.data(), d->frame.size());
  return true;
}

}  // namespace agfx::pvg
