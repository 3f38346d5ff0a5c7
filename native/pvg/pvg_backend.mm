// The pvg backend's agfx_backend table: C glue onto PvgDevice, the same
// pattern as native/src/soft/soft_device.cc. Built into the addon on macOS
// (binding.gyp); with -DAGFX_PVG_STANDALONE it also exports
// agfx_backend_entry, for a dylib loaded with --backend lib:PATH.
#import "pvg_internal.h"

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
    // PVG's suspend must end with the device destroyed and its resume must be
    // the first call on a fresh device (agfx_pvg_extras.h), which the
    // keep-running save_state/restore_state contract cannot express yet: the
    // daemon reports UNSUPPORTED for pvg until it drives that sequence.
    nullptr,  // save_state
    nullptr,  // free_state
    nullptr,  // restore_state
    nullptr,  // set_running (PVG's pause/unpause: not wired yet)
};

}  // namespace

extern "C" const agfx_backend* agfx_pvg_backend(void) { return &kPvgBackend; }

#ifdef AGFX_PVG_STANDALONE
extern "C" __attribute__((visibility("default"))) const agfx_backend* agfx_backend_entry(void) { return &kPvgBackend; }
#endif
