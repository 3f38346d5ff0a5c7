// Internals of the pvg backend (Objective-C++, manual retain/release: every
// `id` member below is owned, i.e. retained once, and released by its owner).
//
// Threads and queues, and what each may touch:
//  - daemon thread (the ABI calls: MMIO, reset, displays, read_frame): calls
//    into PVG holding no lock of ours; takes PvgDevice::mu_ only around table
//    updates and PvgDisplay::frame_mu only to copy a frame out.
//  - PVG's own queues: call the descriptor blocks (tasks, memory, interrupts,
//    IOSFC), which go straight to agfx_host services (native, never the JS
//    thread: DESIGN.md invariant 1) and touch none of our locks.
//  - display_queue_ (private serial queue; Node's main thread runs no
//    CFRunLoop, so never dispatch_get_main_queue()): every PGDisplay handler
//    and all render-pipeline state (FramePacer, texture).
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
#include <string>
#include <vector>

#include "agfx_backend.h"
#include "agfx_pvg_extras.h"
#include "portable/frame_pacing.h"

@class PGIOSurfaceHostDevice;
@class PGMemoryMapDescriptor;

// The task/mapping callbacks (PGTask_t, createTask, mapMemory, ...) exist up
// to the macOS 26 SDK; the macOS 27 SDK obsoletes them. Override with
// -DAGFX_PVG_TASK_API=0 or 1 if an SDK is misdetected.
#if defined(AGFX_PVG_TASK_API)
#define AGFX_PVG_HAVE_TASK_API AGFX_PVG_TASK_API
#elif defined(MAC_OS_VERSION_27_0)
#define AGFX_PVG_HAVE_TASK_API 0
#else
#define AGFX_PVG_HAVE_TASK_API 1
#endif

namespace agfx::pvg {

constexpr uint32_t kMaxPorts = 8;        // _PGDevice has 8 display slots (inference)
constexpr uint64_t kIosfcLength = 0x10000;  // QEMU's iomem_iosfc
constexpr uint32_t kGfxVector = 0, kIosfcVector = 1;

void Fail(char* err, size_t err_len, const std::string& msg);
std::string Describe(NSError* e);

// One attached display. Shared by the device table and by in-flight render
// blocks (they hold a shared_ptr, so the object outlives the last completion);
// PVG's handler blocks hold only a weak_ptr (no cycle through pgdisp).
struct PvgDisplay {
  agfx_host host{};  // a copy: valid even if a late completion outlives the device
  uint32_t port = 0;
  uint32_t serial = 0;
  std::mutex disp_mu;                     // guards pgdisp only (retain/steal)
  id<PGDisplay> pgdisp = nil;             // owned; nil once retired
  id<MTLDevice> mtl = nil;                // not owned (the device's)
  id<MTLCommandQueue> mtl_queue = nil;    // not owned
  dispatch_queue_t queue = nil;           // not owned: the device's display queue
  dispatch_group_t inflight = nil;        // not owned: the device's render group
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
};

class PvgDevice {
 public:
  static PvgDevice* Create(const agfx_device_config* cfg, const agfx_host* host, char* err, size_t err_len);
  ~PvgDevice();

  uint32_t MmioRead(uint32_t region, uint64_t off);
  void MmioWrite(uint32_t region, uint64_t off, uint32_t v);
  void Reset();
  bool AttachDisplay(uint32_t port, uint32_t serial, const char* name, const agfx_display_mode* modes, uint32_t n);
  bool SetModes(uint32_t port, const agfx_display_mode* modes, uint32_t n);
  bool DetachDisplay(uint32_t port);
  bool ReadFrame(uint32_t port, void* dst, size_t len, agfx_frame_info* info);
  bool CursorPosition(uint32_t port, uint32_t* x, uint32_t* y);
  void MemoryMapChanged();

  // agfx_pvg_extras.h
  void SuspendBegin();
  bool SuspendFinish(void** blob, size_t* len, char* err, size_t err_len);
  const char* ResumeBegin(const void* blob, size_t len);
  void ResumeFinish();

 private:
  PvgDevice(const agfx_device_config* cfg, const agfx_host* host);
  bool Init(const agfx_device_config* cfg, char* err, size_t err_len);
  bool ConfigureTasks(PGDeviceDescriptor* desc, char* err, size_t err_len);
  bool ConfigureStaticMap(PGDeviceDescriptor* desc, uint32_t isolation, char* err, size_t err_len);
  bool ConfigureIosfc(PGDeviceDescriptor* desc, char* err, size_t err_len);
  std::shared_ptr<PvgDisplay> Display(uint32_t port);
  void DetachAll();
  void GuestError(const std::string& msg) { host_.guest_error(host_.opaque, msg.c_str()); }
  bool BuildPgMap(std::vector<agfx_memory_range>* ranges, PGMemoryMapDescriptor** out, std::string* err);

  const agfx_host host_;  // a copy: blocks capture &host_, stable for the device's life
  const uint32_t variant_;
  const uint32_t memory_model_;
  uint32_t port_count_ = 1;
  size_t mmio_length_ = 0;

  id<MTLDevice> mtl_ = nil;                 // owned
  id<MTLCommandQueue> mtl_queue_ = nil;     // owned
  id<PGDevice> pgdev_ = nil;                // owned
  PGIOSurfaceHostDevice* iosfc_ = nil;      // owned (variant mmio)
  PGMemoryMapDescriptor* memory_map_ = nil; // owned (static model)
  dispatch_queue_t display_queue_ = nil;    // owned
  dispatch_group_t inflight_ = nil;         // owned
  std::string last_error_;                  // ResumeBegin's message
  std::atomic<bool> touched_{false};        // any MMIO, display or reset since creation

  std::mutex mu_;  // displays_, map state; never held while calling into PVG
  std::array<std::shared_ptr<PvgDisplay>, kMaxPorts> displays_{};
  std::array<bool, kMaxPorts> attaching_{};
  std::vector<agfx_memory_range> map_ranges_;  // what PVG was given
  bool map_stale_ = false;                     // guest RAM changed since
};

// pvg_display.mm
std::shared_ptr<PvgDisplay> NewDisplay(id<PGDevice> pgdev, const agfx_host* host, uint32_t port, uint32_t serial,
                                       const char* name, NSArray* modes, id<MTLDevice> mtl, id<MTLCommandQueue> queue,
                                       dispatch_queue_t display_queue, dispatch_group_t inflight, std::string* err);
// Converts and validates a mode list; nil with *err on failure. Autoreleased.
NSArray* ModeArray(const agfx_display_mode* modes, uint32_t n, std::string* err);
// Marks the display dead and releases PGDisplay (hot-unplug).
void RetireDisplay(const std::shared_ptr<PvgDisplay>& d);

// pvg_device.mm
id<MTLDevice> CopySuitableMetalDevice();  // +1

}  // namespace agfx::pvg

// PGTask_t is the client's type; ours is the host's agfx_task, passed through
// unchanged (PVG never looks inside).
#if AGFX_PVG_HAVE_TASK_API
struct PGTask_s {
  agfx_task* host_task;
};
#endif
