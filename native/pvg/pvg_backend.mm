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
#import "pvg_internal.h"

#include "agfx_backend_table.h"

namespace {
constexpr agfx_backend kPvgBackend = agfx::BackendTable<agfx::pvg::PvgDevice>::Make("pvg");
static_assert(kPvgBackend.memory_map_changed && kPvgBackend.save_state && kPvgBackend.free_state &&
                  kPvgBackend.restore_state && kPvgBackend.set_running && kPvgBackend.max_display_ports &&
                  !kPvgBackend.update_frame,
              "pvg: every optional entry but update_frame");
}  // namespace

extern "C" const agfx_backend* agfx_pvg_backend(void) { return &kPvgBackend; }

#ifdef AGFX_PVG_STANDALONE
extern "C" __attribute__((visibility("default"))) const agfx_backend* agfx_backend_entry(void) { return &kPvgBackend; }
#endif
