// The pvg backend's agfx_backend table: C glue onto PvgDevice, the same
// pattern as native/soft/backend.cc. Built into the addon on macOS
// (binding.gyp); with -DAGFX_PVG_STANDALONE it also exports
// agfx_backend_entry, for a dylib loaded with --backend lib:PATH.
#import "pvg_internal.h"

#include <cstdlib>

using agfx::pvg::PvgDevice;

namespace {

PvgDevice* Dev(agfx_device* d) { return reinterpret_cast<PvgDevice*>(d); }

agfx_device* Create(const agfx_device_config* cfg, const agfx_host* host, char* err, size_t err_len) {
  return reinterpret_cast<agfx_device*>(PvgDevice::Create(cfg, host, err, err_len));
}

const agfx_backend kPvgBackend = {
    AGFX_BACKEND_ABI_VERSION,
    sizeof(agfx_backend),
    "pvg",
    Create,
    [](agfx_device* d) { delete Dev(d); },
    [](agfx_device* d, uint32_t region, uint64_t off) { return Dev(d)->MmioRead(region, off); },
    [](agfx_device* d, uint32_t region, uint64_t off, uint32_t v) { Dev(d)->MmioWrite(region, off, v); },
    [](agfx_device* d) { Dev(d)->Reset(); },
    [](agfx_device* d, uint32_t port, uint32_t serial, const char* name, const agfx_display_mode* m, uint32_t n) {
      return Dev(d)->AttachDisplay(port, serial, name, m, n);
    },
    [](agfx_device* d, uint32_t port, const agfx_display_mode* m, uint32_t n) { return Dev(d)->SetModes(port, m, n); },
    [](agfx_device* d, uint32_t port) { return Dev(d)->DetachDisplay(port); },
    [](agfx_device* d, uint32_t port, void* dst, size_t len, agfx_frame_info* info) {
      return Dev(d)->ReadFrame(port, dst, len, info);
    },
    [](agfx_device* d, uint32_t port, uint32_t* x, uint32_t* y) { return Dev(d)->CursorPosition(port, x, y); },
    [](agfx_device* d) { Dev(d)->MemoryMapChanged(); },
    // save_state / restore_state swap the PGDevice inside the same
    // agfx_device (pvg_suspend.mm): PVG's suspend ends with the device
    // released and its resume must be the first call on a fresh one, so
    // "the device keeps running" means suspend, release, create, resume.
    [](agfx_device* d, void** blob, size_t* len) { return Dev(d)->SaveState(blob, len); },
    [](agfx_device*, void* blob) { std::free(blob); },  // CopyState's malloc
    [](agfx_device* d, const void* blob, size_t len, char* err, size_t err_len) {
      return Dev(d)->RestoreState(blob, len, err, err_len);
    },
    // -pause / -unpause (macOS 12+), interrupts held while stopped.
    [](agfx_device* d, bool running) { Dev(d)->SetRunning(running); },
    // PVG renders on the GPU and says nothing of what changed between frames:
    // the daemon reads whole frames (read_frame) and compares them.
    nullptr,  // update_frame
};

}  // namespace

extern "C" const agfx_backend* agfx_pvg_backend(void) { return &kPvgBackend; }

#ifdef AGFX_PVG_STANDALONE
extern "C" __attribute__((visibility("default"))) const agfx_backend* agfx_backend_entry(void) { return &kPvgBackend; }
#endif
