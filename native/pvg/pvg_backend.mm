// The pvg backend's agfx_backend table: C glue onto PvgDevice, the same
// pattern as native/soft/backend.cc. Built into the addon on macOS
// (binding.gyp); with -DAGFX_PVG_STANDALONE it also exports
// agfx_backend_entry, for a dylib loaded with --backend lib:PATH.
#import "pvg_internal.h"

#include <atomic>
#include <cstdlib>
#include <memory>
#include <type_traits>

#include "main_thread.h"

using agfx::pvg::PvgDevice;

namespace {

PvgDevice* Dev(agfx_device* d) { return reinterpret_cast<PvgDevice*>(d); }

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

template <typename Fn>
auto OffMain(Fn&& fn) -> decltype(fn()) {
  using R = decltype(fn());
  if (!agfx::pvg::OnMainThread()) return fn();
  auto done = std::make_shared<std::atomic<bool>>(false);
  auto result = std::make_shared<std::conditional_t<std::is_void_v<R>, char, R>>();
  Fn* f = &fn;  // valid: this thread waits below until the block is done
  dispatch_async(CallQueue(), ^{ @autoreleasepool {
    if constexpr (std::is_void_v<R>) (*f)();
    else *result = (*f)();
    done->store(true, std::memory_order_release);
    dispatch_async(dispatch_get_main_queue(), ^{});
  } });
  while (!done->load(std::memory_order_acquire)) agfx::pvg::ServiceMainQueue();
  if constexpr (!std::is_void_v<R>) return *result;
}

agfx_device* Create(const agfx_device_config* cfg, const agfx_host* host, char* err, size_t err_len) {
  return OffMain([&] { return reinterpret_cast<agfx_device*>(PvgDevice::Create(cfg, host, err, err_len)); });
}

const agfx_backend kPvgBackend = {
    AGFX_BACKEND_ABI_VERSION,
    sizeof(agfx_backend),
    "pvg",
    Create,
    [](agfx_device* d) { OffMain([&] { delete Dev(d); }); },
    [](agfx_device* d, uint32_t region, uint64_t off) { return OffMain([&] { return Dev(d)->MmioRead(region, off); }); },
    [](agfx_device* d, uint32_t region, uint64_t off, uint32_t v) { OffMain([&] { Dev(d)->MmioWrite(region, off, v); }); },
    [](agfx_device* d) { OffMain([&] { Dev(d)->Reset(); }); },
    [](agfx_device* d, uint32_t port, uint32_t serial, const char* name, const agfx_display_mode* m, uint32_t n) {
      return OffMain([&] { return Dev(d)->AttachDisplay(port, serial, name, m, n); });
    },
    [](agfx_device* d, uint32_t port, const agfx_display_mode* m, uint32_t n) {
      return OffMain([&] { return Dev(d)->SetModes(port, m, n); });
    },
    [](agfx_device* d, uint32_t port) { return OffMain([&] { return Dev(d)->DetachDisplay(port); }); },
    [](agfx_device* d, uint32_t port, void* dst, size_t len, agfx_frame_info* info) {
      return Dev(d)->ReadFrame(port, dst, len, info);
    },
    [](agfx_device* d, uint32_t port, uint32_t* x, uint32_t* y) {
      return OffMain([&] { return Dev(d)->CursorPosition(port, x, y); });
    },
    [](agfx_device* d) { Dev(d)->MemoryMapChanged(); },
    // save_state / restore_state swap the PGDevice inside the same
    // agfx_device (pvg_suspend.mm): PVG's suspend ends with the device
    // released and its resume must be the first call on a fresh one, so
    // "the device keeps running" means suspend, release, create, resume.
    [](agfx_device* d, void** blob, size_t* len) { return OffMain([&] { return Dev(d)->SaveState(blob, len); }); },
    [](agfx_device*, void* blob) { std::free(blob); },  // CopyState's malloc
    [](agfx_device* d, const void* blob, size_t len, char* err, size_t err_len) {
      return OffMain([&] { return Dev(d)->RestoreState(blob, len, err, err_len); });
    },
    // -pause / -unpause (macOS 12+), interrupts held while stopped.
    [](agfx_device* d, bool running) { OffMain([&] { Dev(d)->SetRunning(running); }); },
    // PVG renders on the GPU and says nothing of what changed between frames:
    // the daemon reads whole frames (read_frame) and compares them.
    nullptr,  // update_frame
    // IOSFC's 64-bit registers take 8-byte accesses whole (finding 12).
    [](agfx_device* d, uint32_t region, uint64_t off) { return OffMain([&] { return Dev(d)->MmioRead64(region, off); }); },
    [](agfx_device* d, uint32_t region, uint64_t off, uint64_t v) { OffMain([&] { Dev(d)->MmioWrite64(region, off, v); }); },
    // BAR0 from PVG's mmioLength (finding 17).
    [](agfx_device* d, uint32_t region) { return Dev(d)->RegionSize(region); },
};

}  // namespace

extern "C" const agfx_backend* agfx_pvg_backend(void) { return &kPvgBackend; }

#ifdef AGFX_PVG_STANDALONE
extern "C" __attribute__((visibility("default"))) const agfx_backend* agfx_backend_entry(void) { return &kPvgBackend; }
#endif
