/*
 * The agfx_backend table of a backend written as a C++ class (C++17 and
 * Objective-C++; the ABI itself is agfx_backend.h). One template, used by the
 * soft backend (native/soft/backend.cc) and the pvg backend
 * (native/pvg/pvg_backend.mm):
 *
 *   const agfx_backend kTable = agfx::BackendTable<MyDevice>::Make("name");
 *   const agfx_backend kTable = agfx::BackendTable<MyDevice, MyCalls>::Make("name");
 *
 * Calls (default InlineCalls) decides on which thread the device's calls run:
 * `template <class Fn> static auto Run(Fn&& fn) -> decltype(fn())` runs fn
 * and returns its result. The pvg backend's moves a call made on the main
 * thread to a worker while the main thread services the main dispatch queue
 * (pvg-on-a-mac.md findings 8 and 15). Every entry goes through Calls::Run
 * except those that only read or copy the device's own state and never call
 * into a framework: read_frame, update_frame, memory_map_changed,
 * region_size, free_state, max_display_ports.
 *
 * MyDevice provides, with the signatures of the matching agfx_backend
 * entries minus the leading agfx_device*:
 *   static MyDevice* Create(const agfx_device_config*, const agfx_host*, char* err, size_t err_len);
 *   MmioRead, MmioWrite, Reset, AttachDisplay, SetModes, DetachDisplay,
 *   ReadFrame, CursorPosition;
 * and, optional (the entry is NULL without them):
 *   MemoryMapChanged, SaveState(void** blob, size_t* len) returning a
 *   malloc'd blob (freed with free()), RestoreState, SetRunning, UpdateFrame,
 *   MmioRead64, MmioWrite64, RegionSize, GuestMemoryGone,
 *   static uint32_t MaxDisplayPorts().
 * The device is destroyed with delete.
 */
#ifndef AGFX_BACKEND_TABLE_H
#define AGFX_BACKEND_TABLE_H

#ifndef __cplusplus
#error "agfx_backend_table.h is C++; C backends fill agfx_backend themselves"
#endif

#include <cstdlib>
#include <type_traits>

#include "agfx_backend.h"

namespace agfx {

namespace backend_table_detail {
// Whether Device has the member `name` (any signature).
#define AGFX_BACKEND_TABLE_HAS(name)                                                   \
  template <typename D, typename = void>                                               \
  struct Has##name : std::false_type {};                                               \
  template <typename D>                                                                \
  struct Has##name<D, std::void_t<decltype(&D::name)>> : std::true_type {};
AGFX_BACKEND_TABLE_HAS(MemoryMapChanged)
AGFX_BACKEND_TABLE_HAS(SaveState)
AGFX_BACKEND_TABLE_HAS(RestoreState)
AGFX_BACKEND_TABLE_HAS(SetRunning)
AGFX_BACKEND_TABLE_HAS(UpdateFrame)
AGFX_BACKEND_TABLE_HAS(MaxDisplayPorts)
AGFX_BACKEND_TABLE_HAS(MmioRead64)
AGFX_BACKEND_TABLE_HAS(MmioWrite64)
AGFX_BACKEND_TABLE_HAS(RegionSize)
AGFX_BACKEND_TABLE_HAS(GuestMemoryGone)
#undef AGFX_BACKEND_TABLE_HAS
}  // namespace backend_table_detail

// The default Calls: on the caller's thread.
struct InlineCalls {
  template <typename Fn>
  static auto Run(Fn&& fn) -> decltype(fn()) {
    return fn();
  }
};

template <typename Device, typename Calls = InlineCalls>
class BackendTable {
 public:
  static constexpr agfx_backend Make(const char* name) {
    namespace has = backend_table_detail;
    agfx_backend b{};
    b.abi_version = AGFX_BACKEND_ABI_VERSION;
    b.struct_size = sizeof(agfx_backend);
    b.name = name;
    b.create = [](const agfx_device_config* cfg, const agfx_host* host, char* err, size_t err_len) {
      return Calls::Run([&] { return reinterpret_cast<agfx_device*>(Device::Create(cfg, host, err, err_len)); });
    };
    b.destroy = [](agfx_device* d) { Calls::Run([&] { delete Dev(d); }); };
    b.mmio_read = [](agfx_device* d, uint32_t region, uint64_t off) {
      return Calls::Run([&] { return Dev(d)->MmioRead(region, off); });
    };
    b.mmio_write = [](agfx_device* d, uint32_t region, uint64_t off, uint32_t v) {
      Calls::Run([&] { Dev(d)->MmioWrite(region, off, v); });
    };
    b.reset = [](agfx_device* d) { Calls::Run([&] { Dev(d)->Reset(); }); };
    b.attach_display = [](agfx_device* d, uint32_t port, uint32_t serial, const char* display_name,
                          const agfx_display_mode* modes, uint32_t n) {
      return Calls::Run([&] { return Dev(d)->AttachDisplay(port, serial, display_name, modes, n); });
    };
    b.set_modes = [](agfx_device* d, uint32_t port, const agfx_display_mode* modes, uint32_t n) {
      return Calls::Run([&] { return Dev(d)->SetModes(port, modes, n); });
    };
    b.detach_display = [](agfx_device* d, uint32_t port) { return Calls::Run([&] { return Dev(d)->DetachDisplay(port); }); };
    b.read_frame = [](agfx_device* d, uint32_t port, void* dst, size_t len, agfx_frame_info* info) {
      return Dev(d)->ReadFrame(port, dst, len, info);
    };
    b.cursor_position = [](agfx_device* d, uint32_t port, uint32_t* x, uint32_t* y) {
      return Calls::Run([&] { return Dev(d)->CursorPosition(port, x, y); });
    };
    if constexpr (has::HasMemoryMapChanged<Device>::value) b.memory_map_changed = [](agfx_device* d) { Dev(d)->MemoryMapChanged(); };
    if constexpr (has::HasSaveState<Device>::value) {
      b.save_state = [](agfx_device* d, void** blob, size_t* len) {
        return Calls::Run([&] { return Dev(d)->SaveState(blob, len); });
      };
      b.free_state = [](agfx_device*, void* blob) { std::free(blob); };
    }
    if constexpr (has::HasRestoreState<Device>::value) {
      b.restore_state = [](agfx_device* d, const void* blob, size_t len, char* err, size_t err_len) {
        return Calls::Run([&] { return Dev(d)->RestoreState(blob, len, err, err_len); });
      };
    }
    if constexpr (has::HasSetRunning<Device>::value) {
      b.set_running = [](agfx_device* d, bool running) { Calls::Run([&] { Dev(d)->SetRunning(running); }); };
    }
    if constexpr (has::HasUpdateFrame<Device>::value) {
      b.update_frame = [](agfx_device* d, uint32_t port, void* dst, size_t len, agfx_frame_info* info, agfx_frame_update* u) {
        return Dev(d)->UpdateFrame(port, dst, len, info, u);
      };
    }
    if constexpr (has::HasMmioRead64<Device>::value) {
      b.mmio_read64 = [](agfx_device* d, uint32_t region, uint64_t off) {
        return Calls::Run([&] { return Dev(d)->MmioRead64(region, off); });
      };
    }
    if constexpr (has::HasMmioWrite64<Device>::value) {
      b.mmio_write64 = [](agfx_device* d, uint32_t region, uint64_t off, uint64_t v) {
        Calls::Run([&] { Dev(d)->MmioWrite64(region, off, v); });
      };
    }
    if constexpr (has::HasRegionSize<Device>::value) {
      b.region_size = [](agfx_device* d, uint32_t region) { return Dev(d)->RegionSize(region); };
    }
    if constexpr (has::HasMaxDisplayPorts<Device>::value) b.max_display_ports = [] { return Device::MaxDisplayPorts(); };
    if constexpr (has::HasGuestMemoryGone<Device>::value) {
      b.guest_memory_gone = [](agfx_device* d) { Calls::Run([&] { Dev(d)->GuestMemoryGone(); }); };
    }
    return b;
  }

 private:
  static Device* Dev(agfx_device* d) { return reinterpret_cast<Device*>(d); }
};

}  // namespace agfx

#endif /* AGFX_BACKEND_TABLE_H */
