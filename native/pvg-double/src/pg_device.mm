// The PVG double's PGDevice (class _PGDevice, as in the framework), its
// creation functions, the IOSurface host device, and the agfx_host the soft
// command logic runs against (pg_core.h). Test-only.
#include <cstdint>
#import <Foundation/Foundation.h>
#import <ParavirtualizedGraphics/ParavirtualizedGraphics.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "appkit_internal.h"
#include "double_core.h"
#include "pg_api.h"
#include "pg_core.h"

using pvgdouble::DeviceCore;
using pvgdouble::DisplayCore;
using pvgdouble::Hazard;
using pvgdouble::Note;
using pvgdouble::On;
using pvgdouble::Violation;

PG_EXPORT NSErrorDomain const PGResumeErrorDomain = @"PGResumeErrorDomain";

namespace pvgdouble {

namespace {

constexpr char kStateMagic[8] = {'P', 'G', 'D', 'B', 'L', 'S', 'U', '1'};

DeviceCore* Core(void* opaque) { return static_cast<DeviceCore*>(opaque); }

// ---- the soft command logic's host services, PVG-style ----
agfx_task* HCreateTask(void* o, uint64_t size, void** base) { return Core(o)->mem->CreateTask(size, base); }
void HDestroyTask(void* o, agfx_task* t) { Core(o)->mem->DestroyTask(t); }
bool HMapMemory(void* o, agfx_task* t, uint64_t off, const agfx_phys_range* r, uint32_t n, bool ro) {
  return Core(o)->mem->MapMemory(t, off, r, n, ro);
}
bool HUnmapMemory(void* o, agfx_task* t, uint64_t off, uint64_t len) { return Core(o)->mem->UnmapMemory(t, off, len); }
bool HReadMemory(void* o, uint64_t gpa, uint64_t len, void* dst) { return Core(o)->mem->Read(gpa, len, dst); }
bool HWriteMemory(void* o, uint64_t gpa, uint64_t len, const void* src) { return Core(o)->mem->Write(gpa, len, src); }
uint32_t HMemoryMap(void* o, agfx_memory_range* out, uint32_t max) { return Core(o)->mem->Ranges(out, max); }
void HRaise(void* o, uint32_t vector) { Core(o)->RaiseInterrupt(vector); }
void* HIosfcMap(void*, uint64_t, uint64_t, bool) { return nullptr; }  // the gfx device has no IOSFC
bool HIosfcUnmap(void*, void*) { return false; }

void HNewFrame(void* o, uint32_t port) {
  auto d = Core(o)->Display(port);
  if (!d) return;
  d->guest_presents++;
  int n = On(Hazard::kFrameFlood) ? 4 : 1;  // PVG may signal more frames than the guest presented
  for (int i = 0; i < n; ++i)
    d->Deliver(^(DisplayCore* c) {
      if (c->new_frame) c->new_frame();
    });
}

void HModeChanged(void* o, uint32_t port, uint32_t w, uint32_t h, uint32_t) {
  auto d = Core(o)->Display(port);
  if (!d || w == 0 || h == 0) return;  // an unplug: the client released the display, PVG says nothing
  {
    std::lock_guard l(d->mu);
    d->width = w;
    d->height = h;
  }
  d->Deliver(^(DisplayCore* c) {
    if (c->mode_change) c->mode_change(PGDisplayCoord_t{uint16_t(w), uint16_t(h)}, 'BGRA');
  });
}

void HCursorGlyph(void* o, uint32_t port, const uint8_t* px, uint32_t w, uint32_t h, uint32_t stride, uint32_t hx,
                  uint32_t hy) {
  auto d = Core(o)->Display(port);
  if (!d || !d->glyph) return;  // no glyph handler: PVG composites the cursor into the frame
  NSBitmapImageRep* g = NewRgbaGlyph(px, w, h, stride, 8);  // +1, rows padded
  d->Deliver(^(DisplayCore* c) {
    c->glyph(g, PGDisplayCoord_t{uint16_t(hx), uint16_t(hy)});
    [g release];
  });
}

void HCursorShow(void* o, uint32_t port, bool show) {
  auto d = Core(o)->Display(port);
  if (!d) return;
  d->Deliver(^(DisplayCore* c) {
    if (c->show) c->show(show ? YES : NO);
  });
}

void HCursorMoved(void* o, uint32_t port, uint32_t x, uint32_t y) {
  auto d = Core(o)->Display(port);
  if (!d) return;
  {
    std::lock_guard l(d->mu);
    d->cursor = PGDisplayCoord_t{uint16_t(x), uint16_t(y)};
  }
  d->Deliver(^(DisplayCore* c) {
    if (c->move) c->move();
  });
}

void HGuestError(void*, const char* msg) { Note("guest-error", msg); }

}  // namespace

// ---- DisplayCore ----
DisplayCore::~DisplayCore() {
  [name release];
  [queue release];
  [modes release];
  if (mode_change) Block_release(mode_change);
  if (new_frame) Block_release(new_frame);
  if (glyph) Block_release(glyph);
  if (show) Block_release(show);
  if (move) Block_release(move);
}

// ---- DeviceCore ----
std::string DeviceCore::StateName(State s) {
  switch (s) {
    case State::kFresh: return "fresh";
    case State::kRunning: return "running";
    case State::kSuspending: return "suspending";
    case State::kSuspended: return "suspended (finishSuspend returned)";
    case State::kResuming: return "resuming";
    case State::kStopped: return "stopped";
  }
  return "?";
}

DeviceCore::~DeviceCore() {
  [cfg.mtl release];
  if (cfg.raise) Block_release(cfg.raise);
  if (irq_queue) dispatch_release(irq_queue);
  if (work_queue) dispatch_release(work_queue);
}

bool DeviceCore::Start(std::string* err) {
  host.struct_size = sizeof host;
  host.opaque = this;
  host.create_task = HCreateTask;
  host.destroy_task = HDestroyTask;
  host.map_memory = HMapMemory;
  host.unmap_memory = HUnmapMemory;
  host.read_memory = HReadMemory;
  host.write_memory = HWriteMemory;
  host.memory_map = HMemoryMap;
  host.raise_interrupt = HRaise;
  host.iosfc_map = HIosfcMap;
  host.iosfc_unmap = HIosfcUnmap;
  host.new_frame = HNewFrame;
  host.mode_changed = HModeChanged;
  host.cursor_glyph = HCursorGlyph;
  host.cursor_show = HCursorShow;
  host.cursor_moved = HCursorMoved;
  host.guest_error = HGuestError;
  irq_queue = dispatch_queue_create("pvg-double.interrupts", DISPATCH_QUEUE_SERIAL);
  work_queue = dispatch_queue_create("pvg-double.work", DISPATCH_QUEUE_CONCURRENT);
  agfx_device_config c{sizeof c, cfg.iosfc ? uint32_t(AGFX_VARIANT_MMIO) : uint32_t(AGFX_VARIANT_PCI),
                       cfg.static_map ? uint32_t(AGFX_MEMORY_STATIC_MAP) : uint32_t(AGFX_MEMORY_TASKS), cfg.ports};
  char e[256] = {0};
  soft = agfx::SoftBackend()->create(&c, &host, e, sizeof e);
  if (!soft) *err = e;
  return soft != nullptr;
}

std::shared_ptr<DisplayCore> DeviceCore::Display(uint32_t port) {
  if (port >= kMaxPorts || dead) return nullptr;
  std::lock_guard l(mu);
  return displays[port].lock();
}

void DeviceCore::RaiseInterrupt(uint32_t vector) {
  {
    std::lock_guard l(mu);
    if (state == State::kSuspending || state == State::kSuspended) return;  // none after willSuspend
  }
  interrupts++;
  // Variant mmio: vector 1 is the IOSurface mapper's line (QEMU's irq_iosfc),
  // which only the IOSurface host device raises; the gfx device has one line.
  if (cfg.iosfc && vector == 1 && RaiseIosfc(vector)) return;
  auto self = shared_from_this();
  PGRaiseInterrupt raise = cfg.raise;
  // From PVG's own queue, never the caller's thread.
  dispatch_async(irq_queue, ^{
    (void)self;
    raise(vector);
  });
}

void DeviceCore::Teardown() {
  dead = true;
  auto self = shared_from_this();
  void (^finish)(void) = ^{
    if (self->soft) agfx::SoftBackend()->destroy(self->soft);  // may call destroyTask
    self->soft = nullptr;
    self->mem->DropOwnTask();
  };
  if (On(Hazard::kLateTeardown)) {
    // PVG tears down asynchronously: destroyTask and a last interrupt come
    // ~100 ms after the client's last release (finding 10).
    PGRaiseInterrupt raise = cfg.raise;
    dispatch_after(dispatch_time(DISPATCH_TIME_NOW, int64_t(100 * NSEC_PER_MSEC)), work_queue, ^{
      finish();
      raise(0);
    });
    return;
  }
  finish();
  dispatch_sync(irq_queue, ^{});  // interrupts queued before the release are delivered by now
}

bool CheckCall(DeviceCore* d, const char* what, bool is_mmio) {
  std::unique_lock l(d->mu);
  d->touched = true;
  if (d->state == DeviceCore::State::kSuspended) {
    l.unlock();
    Violation("call-after-finish-suspend", std::string(what) +
                                               " on a PGDevice after -finishSuspend: PVG requires the device to be "
                                               "released then, and used no more");
    return false;
  }
  if (is_mmio && d->state == DeviceCore::State::kResuming) {
    l.unlock();
    Violation("mmio-before-did-resume", std::string(what) +
                                            " between -willResumeWithSuspendState:error: and -didResume: guest CPUs "
                                            "must not run yet");
    return false;
  }
  if (is_mmio && d->state == DeviceCore::State::kSuspending)
    Note("mmio-while-suspending", std::string(what) + " after -willSuspend: guest CPUs should be halted by now");
  return true;
}

namespace {

// The main-queue hazard: PVG work that waits on the main queue (QEMU's main
// loop runs on a CFRunLoop-serviced main thread; Node's does not).
// Two kinds: inside the call (the caller must not be the main thread, and
// someone must service the main queue meanwhile), and 20 ms later from a
// PVG queue, after the call returned: only a host that services the main
// queue while it is otherwise idle (the daemon's libuv hook turning the run
// loop, addon/main_queue_darwin.cc) runs that one; else main-queue-not-serviced.
void MainQueueWork(const char* what) {
  if (!On(Hazard::kMainQueue)) return;
  dispatch_sync(dispatch_get_main_queue(), ^{
    (void)what;
  });
  dispatch_after(dispatch_time(DISPATCH_TIME_NOW, int64_t(20 * NSEC_PER_MSEC)),
                 dispatch_get_global_queue(DISPATCH_QUEUE_PRIORITY_DEFAULT, 0), ^{
                   dispatch_sync(dispatch_get_main_queue(), ^{
                   });
                 });
}

// The re-entrant hazard: two host callbacks at once from other threads,
// waited for before the MMIO call returns (Phil Dennis-Jordan: never more
// than 2 at once; readMemory occasionally concurrent).
void Reentrant(DeviceCore* d) {
  if (!On(Hazard::kReentrant) || !d->soft) return;
  uint64_t ring = uint64_t(agfx::SoftBackend()->mmio_read(d->soft, AGFX_REGION_GFX, AGFX_SOFT_REG_RING_BASE_LO)) |
                  uint64_t(agfx::SoftBackend()->mmio_read(d->soft, AGFX_REGION_GFX, AGFX_SOFT_REG_RING_BASE_HI)) << 32;
  dispatch_group_t g = dispatch_group_create();
  GuestAccess* mem = d->mem.get();
  for (int i = 0; i < 2; ++i)
    dispatch_group_async(g, d->work_queue, ^{
      uint8_t buf[64];
      if (ring) (void)mem->Read(ring, sizeof buf, buf);
      if (!mem->static_map()) {
        void* base = nullptr;
        agfx_task* t = mem->CreateTask(1 << 16, &base);
        if (t) mem->DestroyTask(t);
      }
    });
  if (dispatch_group_wait(g, dispatch_time(DISPATCH_TIME_NOW, int64_t(5 * NSEC_PER_SEC))) != 0)
    Violation("reentrant-callback-deadlock",
              "host callbacks PVG made from other threads during an MMIO call did not complete in 5 s: they wait "
              "for something the MMIO caller holds");
  else
    dispatch_release(g);
}

}  // namespace

}  // namespace pvgdouble

using pvgdouble::CheckCall;

// The IOSurface host device of the process (variant mmio has one, next to the
// PGDevice that has usingIOSurfaceMapper). A reset of that PGDevice resets
// the guest's IOSurface mappings too: the soft guest interface says so, and
// PVG's guest driver re-initialises both after a device reset.
namespace pvgdouble {
std::mutex g_iosfc_mu;
void* g_iosfc = nullptr;  // IosfcCore*
void ResetIosfc();
bool RaiseIosfc(uint32_t vector);
}  // namespace pvgdouble

// ---------------------------------------------------------------- _PGDevice
@interface _PGDevice : NSObject <PGDevice> {
 @public
  std::shared_ptr<DeviceCore>* core_;
}
@end

@implementation _PGDevice
- (void)dealloc {
  (*core_)->Teardown();
  delete core_;
  [super dealloc];
}
- (DeviceCore*)core {
  return core_->get();
}
- (uint32_t)mmioReadAtOffset:(size_t)offset {
  DeviceCore* d = core_->get();
  if (!CheckCall(d, "-mmioReadAtOffset:", true)) return 0;
  if (offset % 4 || offset >= d->cfg.mmio_length) {
    Violation("mmio-offset", "-mmioReadAtOffset: " + std::to_string(offset) + " unaligned or past mmioLength");
    return 0;
  }
  return agfx::SoftBackend()->mmio_read(d->soft, AGFX_REGION_GFX, offset);
}
- (void)mmioWriteAtOffset:(size_t)offset value:(uint32_t)value {
  DeviceCore* d = core_->get();
  if (!CheckCall(d, "-mmioWriteAtOffset:value:", true)) return;
  if (offset % 4 || offset >= d->cfg.mmio_length) {
    Violation("mmio-offset", "-mmioWriteAtOffset: " + std::to_string(offset) + " unaligned or past mmioLength");
    return;
  }
  pvgdouble::MainQueueWork("mmioWrite");
  pvgdouble::Reentrant(d);
  agfx::SoftBackend()->mmio_write(d->soft, AGFX_REGION_GFX, offset, value);
  if (d->cfg.iosfc && offset == AGFX_SOFT_REG_CONTROL && value == 1) pvgdouble::ResetIosfc();  // CONTROL = 1
}
- (id<PGDisplay>)newDisplayWithDescriptor:(PGDisplayDescriptor*)descriptor port:(NSUInteger)port serialNum:(uint32_t)serial {
  extern id<PGDisplay> AGFXNewDisplay(std::shared_ptr<DeviceCore> dev, PGDisplayDescriptor* desc, NSUInteger port,
                                      uint32_t serial);
  if (!CheckCall(core_->get(), "-newDisplayWithDescriptor:port:serialNum:", false)) return nil;
  return AGFXNewDisplay(*core_, descriptor, port, serial);
}
- (void)willSuspend {
  DeviceCore* d = core_->get();
  if (!CheckCall(d, "-willSuspend", false)) return;
  agfx::SoftBackend()->set_running(d->soft, false);  // no new commands, no new interrupts
  std::lock_guard l(d->mu);
  d->state = DeviceCore::State::kSuspending;
}
- (NSData*)finishSuspend {
  DeviceCore* d = core_->get();
  if (!CheckCall(d, "-finishSuspend", false)) return nil;
  {
    std::lock_guard l(d->mu);
    if (d->state != DeviceCore::State::kSuspending) {
      Violation("finish-suspend-without-will-suspend", "-finishSuspend without -willSuspend first");
      return nil;
    }
  }
  pvgdouble::MainQueueWork("finishSuspend");
  uint32_t ports = 0;
  for (uint32_t p = 0; p < pvgdouble::kMaxPorts; ++p)
    if (auto disp = d->Display(p); disp && disp->plugged) ports |= 1u << p;
  void* blob = nullptr;
  size_t len = 0;
  if (!agfx::SoftBackend()->save_state(d->soft, &blob, &len)) return nil;
  NSMutableData* data = [[NSMutableData alloc] initWithBytes:pvgdouble::kStateMagic length:8];
  [data appendBytes:&ports length:4];
  [data appendBytes:blob length:len];
  agfx::SoftBackend()->free_state(d->soft, blob);
  std::lock_guard l(d->mu);
  d->state = DeviceCore::State::kSuspended;
  return data;  // NS_RETURNS_RETAINED
}
- (bool)willResumeWithSuspendState:(NSData*)state error:(NSError**)error {
  DeviceCore* d = core_->get();
  {
    std::lock_guard l(d->mu);
    if (d->touched || d->state != DeviceCore::State::kFresh)
      Violation("resume-not-first-call",
                "-willResumeWithSuspendState:error: must be the first call on a freshly created PGDevice");
    d->touched = true;
  }
  const uint8_t* p = static_cast<const uint8_t*>(state.bytes);
  if (state.length < 12 || std::memcmp(p, pvgdouble::kStateMagic, 8) != 0) {
    if (error)
      *error = [NSError errorWithDomain:PGResumeErrorDomain code:PGResumeErrorCodeInvalidContent userInfo:nil];
    return false;
  }
  std::lock_guard l(d->mu);
  std::memcpy(&d->resume_ports, p + 8, 4);
  d->resume_state.assign(p + 12, p + state.length);
  d->state = DeviceCore::State::kResuming;
  return true;
}
- (void)didResume {
  DeviceCore* d = core_->get();
  std::vector<uint8_t> blob;
  uint32_t ports;
  {
    std::lock_guard l(d->mu);
    if (d->state != DeviceCore::State::kResuming) {
      Violation("did-resume-without-will-resume", "-didResume without a successful -willResumeWithSuspendState:error:");
      return;
    }
    blob.swap(d->resume_state);
    ports = d->resume_ports;
  }
  for (uint32_t p = 0; p < pvgdouble::kMaxPorts; ++p) {
    auto disp = d->Display(p);
    if ((ports >> p & 1) && !(disp && disp->plugged))
      Violation("display-not-reattached", "display port " + std::to_string(p) +
                                              " was attached at suspend but not again before -didResume (PVG: "
                                              "re-attach displays after willResume and before didResume)");
  }
  char err[256] = {0};
  if (!blob.empty() && !agfx::SoftBackend()->restore_state(d->soft, blob.data(), blob.size(), err, sizeof err))
    Note("resume-state", std::string("the suspend state did not apply: ") + err);
  {
    std::lock_guard l(d->mu);
    d->state = DeviceCore::State::kRunning;
  }
  agfx::SoftBackend()->set_running(d->soft, true);
  if (On(Hazard::kIrqOnResume)) d->RaiseInterrupt(0);  // "may raise an initial interrupt"
}
- (void)pause {
  DeviceCore* d = core_->get();
  if (!CheckCall(d, "-pause", false)) return;
  agfx::SoftBackend()->set_running(d->soft, false);  // returns once guest-memory writes are done
}
- (void)unpause {
  DeviceCore* d = core_->get();
  if (!CheckCall(d, "-unpause", false)) return;
  agfx::SoftBackend()->set_running(d->soft, true);
  // A device that runs again works off what the guest queued meanwhile at
  // once; the double waits for that (up to 1 s) so that what a client does
  // right after -unpause sees it done, not by chance.
  for (int i = 0; i < 200; ++i) {
    uint32_t st = agfx::SoftBackend()->mmio_read(d->soft, AGFX_REGION_GFX, AGFX_SOFT_REG_STATUS);
    if (!(st & AGFX_SOFT_STATUS_RING_READY) || (st & AGFX_SOFT_STATUS_HALTED) || ((st & AGFX_SOFT_STATUS_IDLE) && !(st & AGFX_SOFT_STATUS_BUSY))) break;  // no ring, halted, or idle
    usleep(5000);
  }
  if (On(Hazard::kIrqOnResume)) d->RaiseInterrupt(0);  // "may raise an interrupt"
}
- (void)stop {
  DeviceCore* d = core_->get();
  if (!CheckCall(d, "-stop", false)) return;
  agfx::SoftBackend()->reset(d->soft);  // releases all guest memory (tasks)
  d->mem->DropOwnTask();
  std::lock_guard l(d->mu);
  d->state = DeviceCore::State::kStopped;
}
- (void)reset {
  DeviceCore* d = core_->get();
  if (!CheckCall(d, "-reset", false)) return;
  pvgdouble::MainQueueWork("reset");
  agfx::SoftBackend()->reset(d->soft);
  d->mem->DropOwnTask();
  if (d->cfg.iosfc) pvgdouble::ResetIosfc();
  std::lock_guard l(d->mu);
  if (d->state == DeviceCore::State::kStopped || d->state == DeviceCore::State::kFresh) d->state = DeviceCore::State::kRunning;
}
// Private (class dump: -(BOOL)resetWithMemoryMap:), macOS 15.4+.
- (BOOL)resetWithMemoryMap:(PGMemoryMapDescriptor*)map {
  DeviceCore* d = core_->get();
  if (!pvgdouble::MacOSAtLeast(15, 4)) {
    Violation("unrecognized-selector", "-[_PGDevice resetWithMemoryMap:]: unrecognized selector (before macOS 15.4)");
    return NO;
  }
  if (!CheckCall(d, "-resetWithMemoryMap:", false)) return NO;
  if (!map || map->ranges_->empty()) {
    Violation("empty-memory-map", "-resetWithMemoryMap: with an empty map");
    return NO;
  }
  if (On(Hazard::kResetMapRefused)) return NO;  // the old map stays in use
  pvgdouble::MainQueueWork("reset");
  d->mem->ReplaceMap(*map->ranges_);
  agfx::SoftBackend()->memory_map_changed(d->soft);
  agfx::SoftBackend()->reset(d->soft);
  return YES;
}
- (BOOL)respondsToSelector:(SEL)s {
  if (std::strcmp(sel_getName(s), "resetWithMemoryMap:") == 0 && !pvgdouble::MacOSAtLeast(15, 4)) return NO;
  return [super respondsToSelector:s];
}
@end

// ---------------------------------------------------------------- creation
namespace {

id<PGDevice> NewDevice(PGDeviceDescriptor* descriptor) {
  pvgdouble::CheckBlocksRuntime();
  AGFXPGDeviceDescriptor* d = (AGFXPGDeviceDescriptor*)descriptor;
  if (![d isKindOfClass:[AGFXPGDeviceDescriptor class]]) return nil;
  if (!d->device_) {
    Note("no-metal-device", "PGDeviceDescriptor.device is nil");
    return nil;
  }
  if (!d->raise_) {
    Violation("missing-raise-interrupt", "PGDeviceDescriptor.raiseInterrupt is nil");
    return nil;
  }
  if (!d->add_trace_ != !d->remove_trace_) {
    Violation("trace-range-pair", "addTraceRange and removeTraceRange must be set together");
    return nil;
  }
  auto core = std::make_shared<DeviceCore>();
  pvgdouble::DeviceConfig& c = core->cfg;
  c.mtl = [d->device_ retain];
  c.mmio_length = d->mmio_length_;
  c.raise = (PGRaiseInterrupt)Block_copy(d->raise_);
  c.ports = d->ports_;
  c.iosfc = d->iosfc_;
  c.isolation = d->isolation_;
  c.static_map = pvgdouble::MacOSAtLeast(15, 4) && d->map_desc_ != nil;
  if (c.ports < 1 || c.ports > pvgdouble::kMaxPorts) {
    Violation("display-port-count", "displayPortCount " + std::to_string(c.ports) + " outside 1..PGMaxDisplayPortCount()");
    return nil;
  }
  if (c.static_map) {
    c.map = *d->map_desc_->ranges_;
    if (c.map.empty()) {
      Violation("empty-memory-map",
                "PGDevice created with an empty PGMemoryMapDescriptor: PVG needs the guest-RAM map at creation "
                "(finding 4; Mediouni's series builds it from guest RAM first)");
      return nil;
    }
    core->mem = std::make_unique<pvgdouble::GuestAccess>(pvgdouble::TaskBlocks{}, &c.map);
  } else {
    if (!d->create_ || !d->destroy_ || !d->map_ || !d->unmap_ || !d->read_) {
      Violation("missing-task-callback",
                "the task memory model needs createTask, destroyTask, mapMemory, unmapMemory and readMemory");
      return nil;
    }
    core->mem = std::make_unique<pvgdouble::GuestAccess>(
        pvgdouble::TaskBlocks{d->create_, d->destroy_, d->map_, d->unmap_, d->read_}, nullptr);
  }
  std::string err;
  if (!core->Start(&err)) {
    Note("device-start", err);
    return nil;
  }
  if (c.static_map && On(Hazard::kTouchMap)) {
    std::weak_ptr<DeviceCore> weak = core;
    dispatch_queue_t q = core->work_queue;
    __block void (^tick)(void) = nullptr;
    tick = Block_copy(^{
      auto s = weak.lock();
      if (!s || s->dead) {
        Block_release(tick);
        return;
      }
      s->mem->TouchMap();
      dispatch_after(dispatch_time(DISPATCH_TIME_NOW, int64_t(50 * NSEC_PER_MSEC)), q, tick);
    });
    dispatch_async(q, tick);
  }
  _PGDevice* dev = [_PGDevice new];
  dev->core_ = new std::shared_ptr<DeviceCore>(core);
  return dev;
}

}  // namespace

PG_EXPORT id<PGDevice> PGNewDeviceWithDescriptor(PGDeviceDescriptor* descriptor) { return NewDevice(descriptor); }
PG_EXPORT id<PGDevice> PGCreateDeviceWithDescriptor(PGDeviceDescriptor* descriptor) { return NewDevice(descriptor); }

PG_EXPORT uint32_t PGMaxDisplayPortCount(void) {
  // Absent before macOS 13: the client's @available guard (always true on
  // Linux) would have used 1 there, so that is the answer.
  return pvgdouble::MacOSAtLeast(13, 0) ? pvgdouble::kMaxPorts : 1;
}

PG_EXPORT NSURL* PGCopyOptionROMURL(void) {
  // A small legacy option ROM image (0x55AA, size in 512-byte blocks,
  // checksum 0), written once per process.
  static std::string path = [] {
    std::string p = "/tmp/pvg-double-option-rom-" + std::to_string(::getpid()) + ".bin";
    std::vector<uint8_t> rom(3000, 0);
    rom[0] = 0x55, rom[1] = 0xAA, rom[2] = uint8_t((rom.size() + 511) / 512);
    const char* text = "apple-gfxd PVG double option ROM";
    std::memcpy(rom.data() + 0x20, text, std::strlen(text));
    uint8_t sum = 0;
    for (uint8_t b : rom) sum = uint8_t(sum + b);
    rom[0x1f] = uint8_t(-sum);
    if (FILE* f = std::fopen(p.c_str(), "wb")) {
      std::fwrite(rom.data(), 1, rom.size(), f);
      std::fclose(f);
    }
    return p;
  }();
  return [[NSURL alloc] initFileURLWithPath:[NSString stringWithUTF8String:path.c_str()]];  // "Copy": +1
}

// ---------------------------------------------------------------- IOSurface host device
namespace {

struct IosfcCore {
  IOSFCMapMemory map = nullptr;
  IOSFCUnmapMemory unmap = nullptr;
  IOSFCRaiseInterrupt raise = nullptr;
  std::vector<PGGuestPhysicalRange_s> ranges;
  bool static_map = false;
  agfx_host host{};
  agfx_device* soft = nullptr;
  dispatch_queue_t irq_queue = nil;
};

IosfcCore* Io(void* o) { return static_cast<IosfcCore*>(o); }
void* IoMap(void* o, uint64_t gpa, uint64_t len, bool ro) {
  IosfcCore* c = Io(o);
  if (!c->static_map) {
    void* va = nullptr;
    return c->map && c->map(gpa, len, ro, &va, nullptr, nullptr) ? va : nullptr;
  }
  for (const auto& r : c->ranges)
    if (gpa >= r.physicalAddress && len <= r.physicalLength && gpa - r.physicalAddress <= r.physicalLength - len)
      return static_cast<uint8_t*>(r.hostAddress) + (gpa - r.physicalAddress);
  return nullptr;
}
bool IoUnmap(void* o, void* va) {
  IosfcCore* c = Io(o);
  if (!c->static_map) return c->unmap && c->unmap(va, nullptr, nullptr, nullptr, nullptr, nullptr);
  return true;
}
void IoRaise(void* o, uint32_t vector) {
  IosfcCore* c = Io(o);
  IOSFCRaiseInterrupt r = c->raise;
  if (!r) return;
  dispatch_async(c->irq_queue, ^{
    r(vector);
  });
}
void IoGuestError(void*, const char* msg) { Note("guest-error", msg); }
agfx_task* IoNoTask(void*, uint64_t, void**) { return nullptr; }
void IoNoDestroy(void*, agfx_task*) {}
bool IoNoMap(void*, agfx_task*, uint64_t, const agfx_phys_range*, uint32_t, bool) { return false; }
bool IoNoUnmap(void*, agfx_task*, uint64_t, uint64_t) { return false; }
bool IoNoRead(void*, uint64_t, uint64_t, void*) { return false; }
bool IoNoWrite(void*, uint64_t, uint64_t, const void*) { return false; }
uint32_t IoNoRanges(void*, agfx_memory_range*, uint32_t) { return 0; }
void IoNoFrame(void*, uint32_t) {}
void IoNoMode(void*, uint32_t, uint32_t, uint32_t, uint32_t) {}
void IoNoGlyph(void*, uint32_t, const uint8_t*, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t) {}
void IoNoShow(void*, uint32_t, bool) {}
void IoNoMove(void*, uint32_t, uint32_t, uint32_t) {}

}  // namespace

@implementation PGIOSurfaceHostDevice
- (instancetype)initWithDescriptor:(PGIOSurfaceHostDeviceDescriptor*)desc {
  if (!(self = [super init])) return nil;
  auto* c = new IosfcCore();
  c->static_map = pvgdouble::MacOSAtLeast(15, 4);
  if (c->static_map) {
    if (!desc->map_desc_ || desc->map_desc_->ranges_->empty()) {
      Violation("empty-memory-map",
                "PGIOSurfaceHostDevice created with an empty or no PGMemoryMapDescriptor: it keeps the map it is "
                "created with (finding 5)");
      delete c;
      [self release];
      return nil;
    }
    c->ranges = *desc->map_desc_->ranges_;
  } else {
    if (!desc->map_ || !desc->unmap_) {
      Violation("missing-iosfc-callback", "the IOSurface mapper needs mapMemory and unmapMemory before macOS 15.4");
      delete c;
      [self release];
      return nil;
    }
    c->map = (IOSFCMapMemory)Block_copy(desc->map_);
    c->unmap = (IOSFCUnmapMemory)Block_copy(desc->unmap_);
  }
  if (desc->raise_) c->raise = (IOSFCRaiseInterrupt)Block_copy(desc->raise_);
  c->irq_queue = dispatch_queue_create("pvg-double.iosfc.interrupts", DISPATCH_QUEUE_SERIAL);
  agfx_host& h = c->host;
  h.struct_size = sizeof h;
  h.opaque = c;
  h.create_task = IoNoTask;
  h.destroy_task = IoNoDestroy;
  h.map_memory = IoNoMap;
  h.unmap_memory = IoNoUnmap;
  h.read_memory = IoNoRead;
  h.write_memory = IoNoWrite;
  h.memory_map = IoNoRanges;
  h.raise_interrupt = IoRaise;
  h.iosfc_map = IoMap;
  h.iosfc_unmap = IoUnmap;
  h.new_frame = IoNoFrame;
  h.mode_changed = IoNoMode;
  h.cursor_glyph = IoNoGlyph;
  h.cursor_show = IoNoShow;
  h.cursor_moved = IoNoMove;
  h.guest_error = IoGuestError;
  agfx_device_config cfg{sizeof cfg, AGFX_VARIANT_MMIO, AGFX_MEMORY_TASKS, 1};
  char e[256] = {0};
  c->soft = agfx::SoftBackend()->create(&cfg, &h, e, sizeof e);
  core_ = c;
  std::lock_guard l(pvgdouble::g_iosfc_mu);
  pvgdouble::g_iosfc = c;
  return self;
}
- (void)dealloc {
  auto* c = static_cast<IosfcCore*>(core_);
  {
    std::lock_guard l(pvgdouble::g_iosfc_mu);
    if (pvgdouble::g_iosfc == c) pvgdouble::g_iosfc = nullptr;
  }
  if (c) {
    if (c->soft) agfx::SoftBackend()->destroy(c->soft);
    dispatch_sync(c->irq_queue, ^{});
    dispatch_release(c->irq_queue);
    if (c->map) Block_release(c->map);
    if (c->unmap) Block_release(c->unmap);
    if (c->raise) Block_release(c->raise);
    delete c;
  }
  [super dealloc];
}
- (uint32_t)mmioReadAtOffset:(size_t)offset {
  auto* c = static_cast<IosfcCore*>(core_);
  return c->soft ? agfx::SoftBackend()->mmio_read(c->soft, AGFX_REGION_IOSFC, offset) : 0;
}
- (void)mmioWriteAtOffset:(size_t)offset value:(uint32_t)value {
  auto* c = static_cast<IosfcCore*>(core_);
  if (c->soft) agfx::SoftBackend()->mmio_write(c->soft, AGFX_REGION_IOSFC, offset, value);
}
@end

void pvgdouble::ResetIosfc() {
  std::lock_guard l(g_iosfc_mu);
  auto* c = static_cast<IosfcCore*>(g_iosfc);
  if (c && c->soft) agfx::SoftBackend()->reset(c->soft);
}

bool pvgdouble::RaiseIosfc(uint32_t vector) {
  std::lock_guard l(g_iosfc_mu);
  auto* c = static_cast<IosfcCore*>(g_iosfc);
  if (!c || !c->raise) return false;
  IoRaise(c, vector);
  return true;
}
