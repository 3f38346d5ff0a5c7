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

#include "portable/memory_map.h"
#include "portable/pvg_modes.h"

#if AGFX_PVG_HAVE_TASK_API
static_assert(sizeof(PGPhysicalMemoryRange_t) == sizeof(agfx_phys_range) &&
                  offsetof(PGPhysicalMemoryRange_t, physicalLength) == offsetof(agfx_phys_range, len),
              "PVG's physical ranges are passed to the host unchanged");
#endif

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
  if (host->struct_size < sizeof h) h.memory_map_acquire = nullptr, h.memory_map_release = nullptr;
  return h;
}
void RaiseToHost(void* ctx, uint32_t vector) {
  auto* h = static_cast<const agfx_host*>(ctx);
  h->raise_interrupt(h->opaque, vector);
}
}  // namespace

PvgDevice::PvgDevice(const agfx_device_config* cfg, const agfx_host* host)
    : host_(CopyHost(host)),
      variant_(cfg->variant),
      memory_model_(cfg->memory_model),
      irq_(RaiseToHost, const_cast<agfx_host*>(&host_)) {}

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
  // A private serial queue for every display handler: Node's main thread runs
  // libuv, not a CFRunLoop, so blocks on dispatch_get_main_queue() would never run.
  display_queue_ = dispatch_queue_create("apple-gfxd.pvg.display", DISPATCH_QUEUE_SERIAL);
  inflight_ = dispatch_group_create();

  // Kept for the device's life: a PGDevice swap (save/restore) creates the
  // fresh device from this same descriptor: same memory model, same blocks.
  desc_ = [PGDeviceDescriptor new];  // +1
  PGDeviceDescriptor* desc = desc_;
  mmio_length_ = desc.mmioLength;  // the framework's recommended BAR size
  desc.device = mtl_;
  if (port_count_ > 1) {
    if (@available(macOS 13.0, *)) desc.displayPortCount = port_count_;
  }
  IrqLatch* irq = &irq_;
  const bool mmio_variant = variant_ == AGFX_VARIANT_MMIO;
  desc.raiseInterrupt = ^(uint32_t vector) {
    // Any PVG queue, possibly inside an MMIO call: a pipe/eventfd write that
    // never blocks and never needs the JS thread, or (device stopped) an
    // atomic bit set in the latch. The MMIO variant has one gfx line (QEMU
    // ignores the vector there); PCI passes the MSI vector.
    irq->Raise(mmio_variant ? kGfxVector : vector);
  };

  bool ok = memory_model_ == AGFX_MEMORY_TASKS ? ConfigureTasks(desc, err, err_len)
                                               : ConfigureStaticMap(desc, isolation, err, err_len);
  if (!ok) return false;
  // QEMU creates the IOSurface host device before the PGDevice.
  if (mmio_variant && !ConfigureIosfc(desc, err, err_len)) return false;

  pgdev_ = NewPgDevice(desc);
  if (!pgdev_) {
    Fail(err, err_len, "PVG refused to create the device");
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
#if AGFX_PVG_HAVE_TASK_API
  if (![desc respondsToSelector:@selector(setCreateTask:)]) {
    Fail(err, err_len, "this macOS has no PVG task callbacks; use the static memory map");
    return false;
  }
  const agfx_host* h = &host_;
  // All five run synchronously on PVG's threads, also from inside an
  // mmioWriteAtOffset: on the data-plane thread. Each is one native host service
  // (address-space reservation, MAP_FIXED alias, memcpy from the DMA regions)
  // and never waits for the JS thread, so that MMIO call can complete.
  desc.createTask = ^PGTask_t*(uint64_t vm_size, void** base) {
    agfx_task* t = h->create_task(h->opaque, vm_size, base);
    if (!t) return nullptr;  // QEMU dereferences NULL here; we report the failure
    PGTask_t* task = new (std::nothrow) PGTask_s{t};
    if (!task) h->destroy_task(h->opaque, t);
    return task;
  };
  desc.destroyTask = ^(PGTask_t* task) {
    h->destroy_task(h->opaque, task->host_task);
    delete task;
  };
  desc.mapMemory = ^bool(PGTask_t* task, uint32_t count, uint64_t offset, bool read_only, PGPhysicalMemoryRange_t* ranges) {
    return h->map_memory(h->opaque, task->host_task, offset, reinterpret_cast<const agfx_phys_range*>(ranges), count,
                         read_only);
  };
  desc.unmapMemory = ^bool(PGTask_t* task, uint64_t offset, uint64_t length) {
    return h->unmap_memory(h->opaque, task->host_task, offset, length);
  };
  // A memcpy from the mmap'd guest RAM: never a vfio-user DMA_READ, which would
  // wait on QEMU while a vCPU waits on us (docs/design.md invariant 3).
  desc.readMemory = ^bool(uint64_t gpa, uint64_t length, void* dst) { return h->read_memory(h->opaque, gpa, length, dst); };
  return true;
#else
  (void)desc;
  Fail(err, err_len,
       "the task memory model is not in this build: the macOS 27 SDK obsoletes PVG's task callbacks; "
       "use the static memory map (macOS 15.4+)");
  return false;
#endif
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
  if (![desc respondsToSelector:@selector(setMemoryMapDescriptor:)]) {
    Fail(err, err_len, "this macOS has no PVG static memory map (needs 15.4+); use the task memory model");
    return false;
  }
  std::string e;
  auto map = std::make_shared<PinnedMemoryMap>();
  PGMemoryMapDescriptor* pgmap = map->Acquire(&host_, &e) ? NewPgMap(*map, &e) : nil;
  if (!pgmap) {
    Fail(err, err_len, e);
    return false;
  }
  AdoptMap(map, pgmap);
  // The IOSurface host device keeps the map it is created with.
  if (variant_ == AGFX_VARIANT_MMIO) iosfc_map_ = map;
  // No guest RAM shared yet: PVG gets the map at the next reset (QEMU sends
  // DEVICE_RESET after its DMA_MAPs at machine reset).
  map_stale_ = map->ranges().empty();
  desc.memoryMapDescriptor = memory_map_;
  bool want_isolation = isolation != AGFX_PVG_ISOLATION_OFF;
  if ([desc respondsToSelector:@selector(setEnableProcessIsolation:)]) {
    desc.enableProcessIsolation = want_isolation;
  } else if (isolation == AGFX_PVG_ISOLATION_ON) {
    Fail(err, err_len, "process isolation requested but this macOS's PVG does not offer it");
    return false;
  }
  if ([desc respondsToSelector:@selector(setEnableArgumentBuffers:)]) desc.enableArgumentBuffers = true;
#if AGFX_PVG_HAVE_TASK_API
  const agfx_host* h = &host_;
  if ([desc respondsToSelector:@selector(setReadMemory:)])
    desc.readMemory = ^bool(uint64_t gpa, uint64_t length, void* dst) { return h->read_memory(h->opaque, gpa, length, dst); };
#endif
  return true;
}

bool PvgDevice::ConfigureIosfc(PGDeviceDescriptor* desc, char* err, size_t err_len) {
  Class dcls = NSClassFromString(@"PGIOSurfaceHostDeviceDescriptor");
  Class cls = NSClassFromString(@"PGIOSurfaceHostDevice");
  if (!dcls || !cls || ![desc respondsToSelector:@selector(setUsingIOSurfaceMapper:)]) {
    Fail(err, err_len, "variant mmio needs PVG's IOSurface mapper, which this host lacks (arm64 macOS only)");
    return false;
  }
  PGIOSurfaceHostDeviceDescriptor* idesc = [[[dcls alloc] init] autorelease];
  const agfx_host* h = &host_;
  if (memory_model_ == AGFX_MEMORY_TASKS) {
    // Gone since macOS 15.4: checking first avoids QEMU's "unrecognized selector" abort.
    if (![idesc respondsToSelector:@selector(setMapMemory:)] || ![idesc respondsToSelector:@selector(setUnmapMemory:)]) {
      Fail(err, err_len, "this macOS has no IOSurface mapMemory callback (15.4+); use the static memory map");
      return false;
    }
    // PVG threads, also inside an IOSFC MMIO write: iosfc_map is arithmetic on
    // the guest-memory table plus a reference count (no syscall, no JS).
    idesc.mapMemory = ^bool(uint64_t phys, uint64_t len, bool ro, void** va, void*, void*) {
      void* p = h->iosfc_map(h->opaque, phys, len, ro);
      *va = p;
      return p != nullptr;
    };
    idesc.unmapMemory = ^bool(void* va, void*, void*, void*, void*, void*) { return h->iosfc_unmap(h->opaque, va); };
  } else {
    if (![idesc respondsToSelector:@selector(setMemoryMapDescriptor:)]) {
      Fail(err, err_len, "this macOS's IOSurface mapper takes no static memory map");
      return false;
    }
    idesc.memoryMapDescriptor = memory_map_;
  }
  IrqLatch* irq = &irq_;
  idesc.raiseInterrupt = ^bool(uint32_t) {
    irq->Raise(kIosfcVector);  // non-blocking pipe/eventfd write, or held while stopped
    return true;
  };
  iosfc_ = [[cls alloc] initWithDescriptor:idesc];
  if (!iosfc_) {
    Fail(err, err_len, "PVG refused to create the IOSurface host device");
    return false;
  }
  desc.usingIOSurfaceMapper = true;
  return true;
}

PvgDevice::~PvgDevice() {
  @autoreleasepool {
    DetachAll();
    // Renders still in flight finish on display_queue_, which never waits for
    // this thread; after that no block touches the device.
    if (inflight_) dispatch_group_wait(inflight_, dispatch_time(DISPATCH_TIME_NOW, int64_t(5 * NSEC_PER_SEC)));
    // Handler blocks PVG queued before the displays went away: they see
    // live == false and do nothing, but must not outlive the host.
    if (display_queue_) dispatch_sync(display_queue_, ^{});
    [pgdev_ release];  // PVG may call destroyTask from here: the host is still alive
    [iosfc_ release];
    [desc_ release];
    [memory_map_ release];
    [mtl_queue_ release];
    [mtl_ release];
  }
  // Only now, with no PVG object left that was given them, may the mapped
  // guest-RAM snapshots go (memory_map_release; may munmap).
  dev_map_.reset();
  iosfc_map_.reset();
  pending_map_.reset();
  if (inflight_) dispatch_release(inflight_);
  if (display_queue_) dispatch_release(display_queue_);
}

// MMIO runs on the client's data-plane thread holding only gate_ (shared), while
// the JS thread may call the display functions (shared too) or reset
// (exclusive: it waits for the MMIO in progress). PVG may
// synchronously call the descriptor blocks from its own queues and wait for
// them, and every one of them completes natively without gate_ (QEMU instead
// hops to a global queue because its vCPU thread holds the BQL; we hold
// nothing a callback needs). gate_ only keeps a PGDevice swap out.
// pgdev_ is nil only between a suspend and the next resume/reset: messaging
// nil reads 0 and drops writes, so MMIO is still answered.
uint32_t PvgDevice::MmioRead(uint32_t region, uint64_t off) {
  std::shared_lock gate(gate_);
  touched_ = true;
  @autoreleasepool {
    if (region == AGFX_REGION_GFX && off < mmio_length_) return [pgdev_ mmioReadAtOffset:size_t(off)];
    if (region == AGFX_REGION_IOSFC && iosfc_ && off < kIosfcLength) return [iosfc_ mmioReadAtOffset:size_t(off)];
  }
  return 0;
}

void PvgDevice::MmioWrite(uint32_t region, uint64_t off, uint32_t v) {
  std::shared_lock gate(gate_);
  touched_ = true;
  @autoreleasepool {
    if (region == AGFX_REGION_GFX && off < mmio_length_) [pgdev_ mmioWriteAtOffset:size_t(off) value:v];
    else if (region == AGFX_REGION_IOSFC && iosfc_ && off < kIosfcLength) [iosfc_ mmioWriteAtOffset:size_t(off) value:v];
  }
}

void PvgDevice::Reset() {
  // Exclusive: resetWithMemoryMap: switches PVG to a new map, whose pinned
  // snapshot must replace the old one with no MMIO using either meanwhile.
  std::unique_lock gate(gate_);
  touched_ = true;
  @autoreleasepool {
    if (!pgdev_) {
      // Left without a PGDevice (a suspend without resume, or a failed
      // creation): a reset is a fresh device with the displays re-attached.
      auto specs = TakeDisplays();
      std::string e;
      if (!CreatePgDevice(&e)) GuestError("pvg: reset: cannot create a fresh device: " + e);
      ReattachDisplays(&specs);
      if (irq_.stopped()) PausePg();
      return;
    }
    bool stale;
    {
      std::lock_guard lock(mu_);
      stale = map_stale_;
    }
    id<AGFXPGDeviceMemoryMapReset> remap = (id<AGFXPGDeviceMemoryMapReset>)pgdev_;
    std::shared_ptr<PinnedMemoryMap> map;
    PGMemoryMapDescriptor* fresh = nil;
    if (memory_model_ == AGFX_MEMORY_STATIC_MAP && stale && [remap respondsToSelector:@selector(resetWithMemoryMap:)]) {
      std::string e;
      map = MapForNewDevice(&e);
      if (map) fresh = NewPgMap(*map, &e);
      if (!fresh) GuestError("pvg: cannot rebuild the guest-RAM map at reset: " + e);
    }
    // No mu_ held: reset may drain PVG work that calls the host services.
    if (fresh) {
      [remap resetWithMemoryMap:fresh];  // blocking: PVG uses the new map from here on
      AdoptMap(map, fresh);              // so the old snapshot can go now
    } else if (@available(macOS 12.0, *)) {
      [pgdev_ reset];
    } else {
      GuestError("pvg: device reset needs macOS 12; the device keeps its state");
    }
    pg_paused_ = false;  // a reset device runs; pause it again if the daemon stopped it
    if (irq_.stopped()) PausePg();
  }
}

// Daemon thread, after a DMA_MAP/UNMAP. PVG cannot take a new map while it
// runs: the new one is pinned now (pending_map_) and handed over at the next
// reset or PGDevice swap; until then dev_map_ keeps every range PVG has
// mapped, even one the VMM just unmapped, and AdoptMap releases it after the
// switch. Never calls into PVG, so no gate_.
void PvgDevice::MemoryMapChanged() {
  if (memory_model_ != AGFX_MEMORY_STATIC_MAP) return;  // tasks look guest RAM up per mapping
  auto now = std::make_shared<PinnedMemoryMap>();
  std::string e;
  bool built = now->Acquire(&host_, &e);
  bool changed;
  std::shared_ptr<PinnedMemoryMap> dropped;  // released outside mu_ (may munmap)
  bool can_update = false;
  {
    std::lock_guard lock(mu_);
    changed = !built || !dev_map_ || !SameMemoryMap(now->ranges(), dev_map_->ranges());
    dropped.swap(pending_map_);
    if (changed) {
      map_stale_ = true;
      if (built) pending_map_ = now;
    } else {
      map_stale_ = false;  // back to what PVG has
    }
  }
  if (!changed) return;
  {
    std::shared_lock gate(gate_);  // pgdev_ is swapped under gate_
    can_update = pgdev_ == nil || [(id)pgdev_ respondsToSelector:@selector(resetWithMemoryMap:)];
  }
  GuestError(std::string("pvg: the guest-RAM map changed after PVG was given it") + (built ? "" : " (" + e + ")") +
             (can_update ? "; PVG gets the new map at the next device reset (until then it keeps the old one mapped)"
                         : "; this macOS cannot update it: restart apple-gfxd with the guest"));
}

std::shared_ptr<PvgDisplay> PvgDevice::Display(uint32_t port) {
  if (port >= kMaxPorts) return nullptr;
  std::lock_guard lock(mu_);
  return displays_[port];
}

bool PvgDevice::AttachDisplay(uint32_t port, uint32_t serial, const char* name, const agfx_display_mode* modes,
                              uint32_t n) {
  std::shared_lock gate(gate_);  // newDisplayWithDescriptor: on pgdev_, never mid-swap
  touched_ = true;
  if (port >= port_count_) return false;
  @autoreleasepool {
    std::string e;
    NSArray* list = ModeArray(modes, n, &e);
    if (!list) return false;
    {
      std::lock_guard lock(mu_);
      if (displays_[port] || attaching_[port]) return false;
      attaching_[port] = true;
    }
    // Unlocked: creating the display and the first modeList assignment
    // (hot-plug) may make PVG run handlers, which never take mu_ anyway.
    uint32_t stable = StableSerial(serial, port);
    auto d = NewDisplay(pgdev_, &host_, port, stable, name, list, mtl_, mtl_queue_, display_queue_, inflight_, nullptr, &e);
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
