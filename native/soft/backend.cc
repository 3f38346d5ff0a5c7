// The soft backend's agfx_backend table: C glue onto SoftDevice.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "soft/device.h"
#include "soft/backend.h"

namespace agfx {

namespace {

using soft::SoftDevice;

SoftDevice* Dev(agfx_device* d) { return reinterpret_cast<SoftDevice*>(d); }

agfx_device* Create(const agfx_device_config* cfg, const agfx_host* host, char* err, size_t err_len) {
  if (!cfg || !host || host->struct_size < sizeof(agfx_host)) {
    if (err && err_len) std::snprintf(err, err_len, "soft backend: host services missing or too old");
    return nullptr;
  }
  if (cfg->memory_model != AGFX_MEMORY_TASKS && cfg->memory_model != AGFX_MEMORY_STATIC_MAP) {
    if (err && err_len) std::snprintf(err, err_len, "soft backend: unknown memory model %u", cfg->memory_model);
    return nullptr;
  }
  return reinterpret_cast<agfx_device*>(new SoftDevice(cfg, host));
}

const agfx_backend kSoftBackend = {
    AGFX_BACKEND_ABI_VERSION,
    sizeof(agfx_backend),
    "soft",
    Create,
    [](agfx_device* d) { delete Dev(d); },
    [](agfx_device* d, uint32_t region, uint64_t off) { return Dev(d)->MmioRead(region, off); },
    [](agfx_device* d, uint32_t region, uint64_t off, uint32_t v) { Dev(d)->MmioWrite(region, off, v); },
    [](agfx_device* d) { Dev(d)->Reset(); },
    [](agfx_device* d, uint32_t port, uint32_t serial, const char* name, const agfx_display_mode* m, uint32_t n) {
      return Dev(d)->displays().Attach(port, serial, name, m, n);
    },
    [](agfx_device* d, uint32_t port, const agfx_display_mode* m, uint32_t n) { return Dev(d)->displays().SetModes(port, m, n); },
    [](agfx_device* d, uint32_t port) { return Dev(d)->displays().Detach(port); },
    [](agfx_device* d, uint32_t port, void* dst, size_t len, agfx_frame_info* info) {
      return Dev(d)->displays().ReadFrame(port, dst, len, info);
    },
    [](agfx_device* d, uint32_t port, uint32_t* x, uint32_t* y) { return Dev(d)->displays().CursorPosition(port, x, y); },
    [](agfx_device* d) { Dev(d)->MemoryMapChanged(); },
    [](agfx_device* d, void** blob, size_t* len) {
      std::vector<uint8_t> state;
      try {
        state = Dev(d)->Save();
      } catch (const std::bad_alloc&) {
        return false;  // out of memory: no state, the device goes on
      }
      *blob = std::malloc(state.size());
      if (!*blob) return false;
      std::memcpy(*blob, state.data(), state.size());
      *len = state.size();
      return true;
    },
    [](agfx_device*, void* blob) { std::free(blob); },
    [](agfx_device* d, const void* blob, size_t len, char* err, size_t err_len) {
      std::string why;
      if (Dev(d)->Restore(static_cast<const uint8_t*>(blob), len, &why)) return true;
      if (err && err_len) std::snprintf(err, err_len, "%s", why.c_str());
      return false;
    },
    [](agfx_device* d, bool running) { Dev(d)->SetRunning(running); },
    [](agfx_device* d, uint32_t port, void* dst, size_t len, agfx_frame_info* info, agfx_frame_update* u) {
      return Dev(d)->displays().UpdateFrame(port, dst, len, info, u);
    },
    nullptr,  // mmio_read64: 8-byte accesses are split into dwords
    nullptr,  // mmio_write64
    nullptr,  // region_size: the daemon's default BAR sizes
};

}  // namespace

const agfx_backend* SoftBackend() { return &kSoftBackend; }

}  // namespace agfx
