// The PVG double's device and display state behind the Objective-C classes.
//
// A _PGDevice runs the soft device's command logic (native/src/soft: the
// same registers, ring and commands a soft guest drives) behind an agfx_host
// of the double's own, whose services reach the client only the way PVG
// does: memory through the descriptor's task blocks or memory map
// (GuestAccess), interrupts through raiseInterrupt from the double's own
// queue, display events through the PGDisplay's handlers on the display's
// queue, frames through encodeCurrentFrameToCommandBuffer.
#pragma once
#import <Foundation/Foundation.h>
#import <Metal/Metal.h>
#import <ParavirtualizedGraphics/ParavirtualizedGraphics.h>
#include <dispatch/dispatch.h>

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agfx_backend.h"
#include "guest_access.h"
#include "pg_api.h"
#include "soft/backend.h"     // the soft command logic's agfx_backend table
#include "agfx_soft.h"        // its guest interface (docs/soft-device.md)

namespace pvgdouble {

constexpr uint32_t kMaxPorts = AGFX_SOFT_PORTS;  // the soft device's DISPLAYS; the double's PGMaxDisplayPortCount
constexpr size_t kDefaultMmioLength = 0x4000;  // Apple: "should be sized to 16KB"
constexpr MTLTextureUsage kMinimumUsage = MTLTextureUsageShaderRead | MTLTextureUsageRenderTarget;

struct DeviceCore;

struct DisplayCore {
  std::weak_ptr<DeviceCore> dev;
  uint32_t port = 0, serial = 0;
  NSString* name = nil;  // retained
  NSSize mm{0, 0};
  dispatch_queue_t queue = nil;  // retained
  PGDisplayModeChangeHandler mode_change = nullptr;  // Block_copy'd
  PGDisplayNewFrameEventHandler new_frame = nullptr;
  PGDisplayCursorGlyphHandler glyph = nullptr;
  PGDisplayCursorShowHandler show = nullptr;
  PGDisplayCursorMoveHandler move = nullptr;
  std::atomic<bool> live{true};
  std::atomic<bool> plugged{false};
  std::mutex mu;  // modes, size, cursor
  NSArray* modes = nil;  // retained
  uint32_t width = 0, height = 0;
  PGDisplayCoord_t cursor{0xffff, 0xffff};
  std::atomic<uint64_t> guest_presents{0}, host_presents{0}, encodes{0};
  std::atomic<int> encodes_in_flight{0};
  ~DisplayCore();
  // Runs `fn` on the display's queue, unless the display is gone by then.
  void Deliver(void (^fn)(DisplayCore*));
};

struct DeviceConfig {
  id<MTLDevice> mtl = nil;  // retained
  size_t mmio_length = kDefaultMmioLength;
  TaskBlocks tasks;  // Block_copy'd (owned by GuestAccess once the device exists)
  PGRaiseInterrupt raise = nullptr;  // Block_copy'd
  uint32_t ports = 1;
  bool iosfc = false;
  bool static_map = false;
  std::vector<PGGuestPhysicalRange_s> map;
  bool isolation = false;
};

struct DeviceCore : std::enable_shared_from_this<DeviceCore> {
  enum class State { kFresh, kRunning, kSuspending, kSuspended, kResuming, kStopped };
  DeviceConfig cfg;
  std::unique_ptr<GuestAccess> mem;
  agfx_host host{};
  agfx_device* soft = nullptr;
  dispatch_queue_t irq_queue = nil;  // serial: interrupts, in order, off the caller's thread
  dispatch_queue_t work_queue = nil;  // concurrent: re-entrant callbacks (hazard)
  std::timed_mutex pvg_lock;          // PVG's internal lock (locked-handlers hazard)
  std::mutex mu;
  State state = State::kFresh;
  bool touched = false;  // any call since creation (willResume must be first)
  std::array<std::weak_ptr<DisplayCore>, kMaxPorts> displays;
  std::vector<uint8_t> resume_state;
  uint32_t resume_ports = 0;
  std::atomic<bool> dead{false};
  std::atomic<uint64_t> interrupts{0};

  ~DeviceCore();
  bool Start(std::string* err);
  void Teardown();  // the PGDevice's last release
  void RaiseInterrupt(uint32_t vector);
  std::shared_ptr<DisplayCore> Display(uint32_t port);
  static std::string StateName(State s);
};

// Variant mmio: the IOSurface host device of the process (pg_device.mm).
// RaiseIosfc raises its line (false if there is none); ResetIosfc drops its
// mappings (a reset of the PGDevice beside it).
bool RaiseIosfc(uint32_t vector);
void ResetIosfc();

// Checks a call on the device against its suspend/resume state; false and a
// violation if the call is not allowed now. Marks the device touched.
bool CheckCall(DeviceCore* d, const char* what, bool is_mmio);

}  // namespace pvgdouble
