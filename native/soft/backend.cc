// The soft backend's agfx_backend table: SoftDevice's methods, through the
// template every C++ backend uses (native/include/agfx_backend_table.h).
#include "soft/backend.h"

#include <cstdio>

#include "agfx_backend_table.h"
#include "soft/device.h"

namespace agfx {

soft::SoftDevice* soft::SoftDevice::Create(const agfx_device_config* cfg, const agfx_host* host, char* err,
                                           size_t err_len) {
  if (!cfg || !host || host->struct_size < sizeof(agfx_host)) {
    if (err && err_len) std::snprintf(err, err_len, "soft backend: host services missing or too old");
    return nullptr;
  }
  if (cfg->memory_model != AGFX_MEMORY_TASKS && cfg->memory_model != AGFX_MEMORY_STATIC_MAP) {
    if (err && err_len) std::snprintf(err, err_len, "soft backend: unknown memory model %u", cfg->memory_model);
    return nullptr;
  }
  return new SoftDevice(cfg, host);
}

namespace {
constexpr agfx_backend kSoftBackend = BackendTable<soft::SoftDevice>::Make("soft");
}  // namespace

const agfx_backend* SoftBackend() { return &kSoftBackend; }

}  // namespace agfx
