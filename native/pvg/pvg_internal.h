// Internals of the pvg backend (Objective-C++, manual retain/release: every
// `id` member below is owned, i.e. retained once, and released by its owner).
//
// Threads and queues, and what each may touch:
//  - the daemon's threads (the ABI calls): MMIO on the client's data-plane
//    thread; reset, displays, read_frame and state from the JS thread (all
//    but read_frame and memory_map_changed run on pvg_backend.mm's call
//    queue while the JS thread, Node's main thread, turns the run loop:
//    main_thread.h), possibly at the same time as MMIO
//    (docs/design.md, "Threads and locks"). Both call into
//    PVG holding no lock of ours but PvgDevice::gate_ (which no callback
//    takes; shared for MMIO, exclusive for reset/suspend); they take
//    PvgDevice::mu_ only around table updates and PvgDisplay::frame_mu only
//    to copy a frame out.
//  - PVG's own queues: call the descriptor blocks (tasks, memory, interrupts,
//    IOSFC), which go straight to agfx_host services (native, never the JS
//    thread: docs/design.md invariant 1) and touch none of our locks.
//  - display_queue_ (private serial queue, never dispatch_get_main_queue():
//    the main queue is serviced only while the addon's libuv hook runs the
//    CFRunLoop, addon/main_queue_darwin.cc): every PGDisplay handler and all
//    render-pipeline state (FramePacer, texture). Every block we run on a
//    queue drains its own @autoreleasepool (finding 14: QEMU's queues are
//    DISPATCH_AUTORELEASE_FREQUENCY_WORK_ITEM).
//  - PVG's callbacks and Metal's completions hold a HostLink (shared_ptr,
//    captured by value in each block): PVG may call destroyTask or
//    raiseInterrupt after the PGDevice's last release, so they never reach
//    the agfx_host once the device is destroyed (finding 10).
//  - the global default queue: encodeCurrentFrameToCommandBuffer only (QEMU:
//    not safe where PVG-internal locks may be held).
//  - Metal's completion thread: only hops back to display_queue_.
#pragma once
#import <Foundation/Foundation.h>
#import <Metal/Metal.h>
#import <ParavirtualizedGraphics/ParavirtualizedGraphics.h>
#include <dispatch/dispatch.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "agfx_backend.h"
#include "agfx_pvg_extras.h"
#include "portable/device_policy.h"
#include "portable/frame_pacing.h"
#include "portable/irq_latch.h"
#include "portable/memory_map.h"

@class PGIOSurfaceHostDevice;
@class PGMemoryMapDescriptor;

// No SDK-version #if here: the task callbacks are set through our own
// declarations (pvg_private.h) when the running PVG has them, so one build
// serves macOS 11 to 27 (finding 16).

namespace agfx::pvg {

constexpr uint32_t kMaxPorts = 8;        // _PGDevice has 8 display slots (inference)
constexpr uint64_t kIosfcLength = 0x10000;  // QEMU's iomem_iosfc
constexpr uint32_t kGfxVector = 0, kIosfcVector = 1;

void Fail(char* err, size_t err_len, const std::string& msg);
std::string Describe(NSError* e);

// What PVG's callback blocks and late render completions reach the host
// through. Shared by the device and every block (captured by value), so it
// outlives whichever goes last; once the device is destroyed (Close) the
// blocks find it closed and do nothing. A block holds `mu` shared for the
// duration of its host call; Close takes it exclusively, so no host call is
// in flight once it returns. Host calls never wait for the thread that
// destroys the device (docs/design.md invariant 1), so Close cannot
// deadlock.
struct HostLink {
  explicit HostLink(const agfx_host& h);
  agfx_host host;
  IrqLatch irq;  // every raiseInterrupt goes through it (set_running)
  std::shared_mutex mu;
  bool open = true;  // mu
  void Close();
  // Runs fn(host) unless closed; false if closed.
  template <typename Fn>
  bool With(Fn&& fn) {
    std::shared_lock lock(mu);
    if (!open) return false;
    fn(host);
    return true;
  }
};
using HostLinkRef = std::shared_ptr<HostLink>;

// One attached display. Shared by the device table and by in-flight render
// blocks (they hold a shared_ptr, so the object outlives the last completion);
// PVG's handler blocks hold only a weak_ptr (no cycle through pgdisp).
struct PvgDisplay {
  HostLinkRef link;  // closed once the device is destroyed: late completions do nothing
  uint32_t port = 0;
  uint32_t serial = 0;
  std::mutex disp_mu;                     // guards pgdisp only (retain/steal)
  id<PGDisplay> pgdisp = nil;             // owned; nil once retired
  // Owned (retained at creation, released in the destructor, which runs
  // when the last render block lets go of the display): a Metal completion
  // arriving after the device is gone still finds them (finding 11).
  id<MTLDevice> mtl = nil;
  id<MTLCommandQueue> mtl_queue = nil;
  dispatch_queue_t queue = nil;           // the device's display queue
  dispatch_group_t inflight = nil;        // the device's render group
  std::atomic<bool> live{true};           // false once detached: no more events

  // display queue only
  FramePacer pacer;
  id<MTLTexture> texture = nil;  // owned
  bool managed = false;
  uint32_t tex_w = 0, tex_h = 0;

  // frame_mu: what read_frame and cursor_position copy out
  std::mutex frame_mu;
  std::vector<uint8_t> frame;  // BGRA8, width * 4 bytes per row
  uint32_t width = 0, height = 0;
  uint64_t sequence = 0;

  ~PvgDisplay();
  // Host calls from the display queue / render completions.
  void GuestError(const char* msg);
};

// What a display was attached with, to attach it again on a fresh PGDevice
// (same port, serial, name and modes); `old` carries the last frame over.
struct DisplaySpec {
  uint32_t port = 0;
  uint32_t serial = 0;
  std::string name;
  std::vector<agfx_display_mode> modes;
  std::shared_ptr<PvgDisplay> old;
};

// The agfx_device. The PGDevice inside it can be swapped (suspend + resume
// for save_state, a fresh device for restore_state) while this object, and
// so the agfx_device pointer the daemon holds, stays the same.
//
// gate_ serialises the swap with everything else that calls the PGDevice:
// MMIO, reset and display calls hold it shared, a swap (save/restore, the
// suspend/resume extras, set_running, reset) holds it exclusively, so no
// MMIO is in flight on a PGDevice being released and none reaches a fresh
// one before -willResumeWithSuspendState:. No PVG callback or display
// handler ever takes gate_ (they go straight to agfx_host services or stay
// on display_queue_), so holding it across a PVG call cannot deadlock
// (docs/design.md invariant 1), and a swap waits only for our own calls.
class PvgDevice {
 public:
  static PvgDevice* Create(const agfx_device_config* cfg, const agfx_host* host, char* err, size_t err_len);
  ~PvgDevice();
  // agfx_backend.max_display_ports: PGMaxDisplayPortCount() on macOS 13+
  // (@available-guarded, agfx_pvg_max_display_ports), 1 before; at most the
  // kMaxPorts slots we keep (pvg_suspend.mm).
  static uint32_t MaxDisplayPorts();

  uint32_t MmioRead(uint32_t region, uint64_t off);
  void MmioWrite(uint32_t region, uint64_t off, uint32_t v);
  // 8-byte accesses passed whole (IOSFC's 64-bit registers, finding 12).
  uint64_t MmioRead64(uint32_t region, uint64_t off);
  void MmioWrite64(uint32_t region, uint64_t off, uint64_t v);
  uint64_t RegionSize(uint32_t region) const;
  // Takes gate_ shared for an MMIO access, the static model's device made
  // current first (gate_ exclusive, only when NeedsSwap()).
  void BeginAccess(std::shared_lock<std::shared_mutex>* shared);
  void Reset();
  bool AttachDisplay(uint32_t port, uint32_t serial, const char* name, const agfx_display_mode* modes, uint32_t n);
  bool SetModes(uint32_t port, const agfx_display_mode* modes, uint32_t n);
  bool DetachDisplay(uint32_t port);
  bool ReadFrame(uint32_t port, void* dst, size_t len, agfx_frame_info* info);
  bool CursorPosition(uint32_t port, uint32_t* x, uint32_t* y);
  void MemoryMapChanged();
  // agfx_backend guest_memory_gone: a fresh PGDevice (tasks) or none until
  // guest RAM is known (static), every map snapshot released.
  void GuestMemoryGone();

  // agfx_backend save_state / restore_state / set_running (pvg_suspend.mm)
  bool SaveState(void** blob, size_t* len);
  bool RestoreState(const void* blob, size_t len, char* err, size_t err_len);
  void SetRunning(bool running);

  // agfx_pvg_extras.h (pvg_suspend.mm), on the same building blocks
  void SuspendBegin();
  bool SuspendFinish(void** blob, size_t* len, char* err, size_t err_len);
  const char* ResumeBegin(const void* blob, size_t len);
  void ResumeFinish();

 private:
  PvgDevice(const agfx_device_config* cfg, const agfx_host* host);
  bool Init(const agfx_device_config* cfg, char* err, size_t err_len);
  bool ConfigureTasks(PGDeviceDescriptor* desc, char* err, size_t err_len);
  bool ConfigureStaticMap(PGDeviceDescriptor* desc, uint32_t isolation, char* err, size_t err_len);
  // The IOSurface host device (variant mmio), created after the PGDevice as
  // in Mediouni's series, with the PGDevice's map (static model).
  bool CreateIosfc(const std::shared_ptr<PinnedMemoryMap>& map, PGMemoryMapDescriptor* pgmap, std::string* err);
  // Static model (findings 4, 5): create or replace the PGDevice as
  // portable/device_policy.h says, before a guest access. gate_ exclusive.
  void MakeCurrentLocked();
  MapState MapStateLocked();
  void ReplacePgDevice(const char* why);  // gate_ exclusive
  bool NeedsSwap() const { return needs_swap_.load(std::memory_order_acquire); }
  void UpdateNeedsSwap();  // mu_ held
  std::shared_ptr<PvgDisplay> Display(uint32_t port);
  void DetachAll();
  void GuestError(const std::string& msg) { host_.guest_error(host_.opaque, msg.c_str()); }
  static PGMemoryMapDescriptor* NewPgMap(const PinnedMemoryMap& map, std::string* err);  // +1
  // The map a new PGDevice (or resetWithMemoryMap:) gets: the pending one,
  // the current one if still right, else a fresh snapshot. Null with *err.
  std::shared_ptr<PinnedMemoryMap> MapForNewDevice(std::string* err);
  // After PVG switched to `map`: it becomes the current one and the old one
  // is released (its unmapped regions munmapped) on return.
  void AdoptMap(const std::shared_ptr<PinnedMemoryMap>& map, PGMemoryMapDescriptor* pgmap);

  // The swap's building blocks (pvg_suspend.mm); all with gate_ held
  // exclusively, none with mu_ held.
  bool CreatePgDevice(std::string* err);       // pgdev_ = a fresh device from desc_
  void DropPgDevice();                         // releases pgdev_ (PVG: after finishSuspend, required)
  std::vector<DisplaySpec> TakeDisplays();     // hot-unplugs all, waits for their renders
  void ReattachDisplays(std::vector<DisplaySpec>* specs);
  // -willResumeWithSuspendState:error:, then (mmio) the IOSurface device's
  // -restoreWithSavedState:error:.
  bool WillResume(NSData* state, NSData* iosfc_state, std::string* msg);
  void DidResume();                            // -didResume, then pause again if stopped
  // willSuspend + finishSuspend (+1 state), and (mmio) the IOSurface
  // device's -saveState (+1).
  bool SuspendLocked(NSData** state, NSData** iosfc_state, std::string* err);
  void PausePg();
  void UnpausePg();

  const HostLinkRef link_;  // blocks capture a copy; Close()d in the destructor
  const agfx_host& host_;   // link_->host, for calls from the daemon's threads
  IrqLatch& irq_;           // link_->irq
  const uint32_t variant_;
  const uint32_t memory_model_;
  uint32_t port_count_ = 1;
  size_t mmio_length_ = 0;
  std::atomic<bool> needs_swap_{false};  // static model: MakeCurrentLocked has work (no device, or a stale untouched one)
  std::string create_error_;             // gate_: why the last deferred creation failed (logged once)

  std::shared_mutex gate_;                  // see the class comment
  id<MTLDevice> mtl_ = nil;                 // owned
  id<MTLCommandQueue> mtl_queue_ = nil;     // owned
  PGDeviceDescriptor* desc_ = nil;          // owned: every PGDevice of this object is created from it
  id<PGDevice> pgdev_ = nil;                // owned; nil between a suspend and the next resume/reset
  bool pg_paused_ = false;                  // -pause sent to pgdev_ (gate_)
  bool pause_warned_ = false;               // gate_
  PGIOSurfaceHostDevice* iosfc_ = nil;      // owned (variant mmio); replaced with each PGDevice
  PGMemoryMapDescriptor* memory_map_ = nil; // owned (static model): what pgdev_ was given
  dispatch_queue_t display_queue_ = nil;    // owned
  dispatch_group_t inflight_ = nil;         // owned
  std::string last_error_;                  // ResumeBegin's message
  std::atomic<bool> touched_{false};        // any MMIO, display or reset since pgdev_ was created (ResumeBegin)
  std::atomic<bool> guest_touched_{false};  // any guest MMIO since pgdev_ was created or reset (device_policy MapState)

  std::mutex mu_;  // displays_, specs_, map state; never held while calling into PVG
  std::array<std::shared_ptr<PvgDisplay>, kMaxPorts> displays_{};
  std::array<bool, kMaxPorts> attaching_{};
  std::array<DisplaySpec, kMaxPorts> specs_{};  // what each attached display was attached with
  std::vector<DisplaySpec> orphans_;            // attached for the daemon while there is no PGDevice
  // Static model: the snapshots that keep PVG's host pointers mapped.
  std::shared_ptr<PinnedMemoryMap> dev_map_;      // pgdev_'s map
  std::shared_ptr<PinnedMemoryMap> iosfc_map_;    // iosfc_'s map (from its creation)
  std::shared_ptr<PinnedMemoryMap> pending_map_;  // the table now, when it differs from dev_map_
  bool map_stale_ = false;                        // guest RAM changed since PVG got dev_map_
  bool unpinned_warned_ = false;                  // mu_
};

// pvg_display.mm
// `carry` (optional): a retired display of the same port whose last frame
// and sequence number the new one starts from (a PGDevice swap).
std::shared_ptr<PvgDisplay> NewDisplay(id<PGDevice> pgdev, const HostLinkRef& link, uint32_t port, uint32_t serial,
                                       const char* name, NSArray* modes, id<MTLDevice> mtl, id<MTLCommandQueue> queue,
                                       dispatch_queue_t display_queue, dispatch_group_t inflight,
                                       PvgDisplay* carry, std::string* err);
// Converts and validates a mode list; nil with *err on failure. Autoreleased.
NSArray* ModeArray(const agfx_display_mode* modes, uint32_t n, std::string* err);
// Marks the display dead and releases PGDisplay (hot-unplug).
void RetireDisplay(const std::shared_ptr<PvgDisplay>& d);

// pvg_device.mm
id<MTLDevice> CopySuitableMetalDevice();  // +1
// PGCreateDeviceWithDescriptor (15.2+) or PGNewDeviceWithDescriptor: +1 or nil.
id<PGDevice> NewPgDevice(PGDeviceDescriptor* desc);

}  // namespace agfx::pvg

