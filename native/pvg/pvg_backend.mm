// The pvg backend's agfx_backend table: PvgDevice's methods, through the
// template every C++ backend uses (native/include/agfx_backend_table.h, as
// native/soft/backend.cc). Built into the addon on macOS (binding.gyp); with
// -DAGFX_PVG_STANDALONE it also exports agfx_backend_entry, for a dylib
// loaded with --backend lib:PATH.
//
// What the template fills from PvgDevice, and what it leaves out:
//  - save_state / restore_state swap the PGDevice inside the same agfx_device
//    (pvg_suspend.mm): PVG's suspend ends with the device released and its
//    resume must be the first call on a fresh one, so "the device keeps
//    running" means suspend, release, create, resume. free_state is free():
//    CopyState's malloc.
//  - set_running: -pause / -unpause (macOS 12+), interrupts held while
//    stopped.
//  - max_display_ports: PGMaxDisplayPortCount() on macOS 13+, 1 before
//    (PvgDevice::MaxDisplayPorts).
//  - update_frame: none (PvgDevice has no UpdateFrame). PVG renders on the
//    GPU and says nothing of what changed between frames: the daemon reads
//    whole frames (read_frame) and compares them.
//  - mmio_read64 / mmio_write64: IOSFC's 64-bit registers take 8-byte
//    accesses whole (finding 12); region_size: BAR0 from PVG's mmioLength
//    (finding 17).
//  - every call that may reach PVG runs through OffMainCalls (below).
#import "pvg_internal.h"

#include <atomic>
#include <memory>
#include <type_traits>

#include "agfx_backend_table.h"
#include "main_thread.h"

namespace {

// Every call into PVG that may come from the main thread goes through here
// (main_thread.h, findings 8 and 15): off the main thread it runs inline
// (the data plane's MMIO, issue 13); on it, it runs on a serial worker
// queue while the main thread turns the run loop, so PVG work put on the
// main queue runs and the call can finish. The worker ends with an empty
// block on the main queue, which makes the last turn return at once.
dispatch_queue_t CallQueue() {
  static dispatch_queue_t q = dispatch_queue_create("apple-gfxd.pvg.calls", DISPATCH_QUEUE_SERIAL);
  return q;
}

// The table's Calls (agfx_backend_table.h).
struct OffMainCalls {
  template <typename Fn>
  static auto Run(Fn&& fn) -> decltype(fn()) {
    using R = decltype(fn());
    if (!agfx::pvg::OnMainThread()) return fn();
    auto done = std::make_shared<std::atomic<bool>>(false);
    auto result = std::make_shared<std::conditional_t<std::is_void_v<R>, char, R>>();
    auto* f = &fn;  // valid: this thread waits below until the block is done
    dispatch_async(CallQueue(), ^{ @autoreleasepool {
      if constexpr (std::is_void_v<R>) (*f)();
      else *result = (*f)();
      done->store(true, std::memory_order_release);
      dispatch_async(dispatch_get_main_queue(), ^{});
    } });
    while (!done->load(std::memory_order_acquire)) agfx::pvg::ServiceMainQueue();
    if constexpr (!std::is_void_v<R>) return *result;
  }
};

constexpr agfx_backend kPvgBackend = agfx::BackendTable<agfx::pvg::PvgDevice, OffMainCalls>::Make("pvg");
static_assert(kPvgBackend.memory_map_changed && kPvgBackend.save_state && kPvgBackend.free_state &&
                  kPvgBackend.restore_state && kPvgBackend.set_running && kPvgBackend.max_display_ports &&
                  kPvgBackend.mmio_read64 && kPvgBackend.mmio_write64 && kPvgBackend.region_size &&
                  kPvgBackend.guest_memory_gone &&
                  !kPvgBackend.update_frame,
              "pvg: every optional entry but update_frame");

}  // namespace

extern "C" const agfx_backend* agfx_pvg_backend(void) { return &kPvgBackend; }

#ifdef AGFX_PVG_STANDALONE
extern "C" __attribute__((visibility("default"))) const agfx_backend* agfx_backend_entry(void) { return &kPvgBackend; }
#endif
