// The pvg backend's decisions that need no framework, as pure functions so
// that portable_test.cc checks each one (pvg-on-a-mac.md findings 4, 5, 13,
// 16, 18):
//  - which memory model and process isolation a device gets;
//  - when, with the static memory map, the PGDevice is created and how a
//    change of guest RAM reaches it (resetWithMemoryMap:, a replacement
//    device before the guest's first MMIO, or only a log line);
//  - display serial numbers.
#pragma once
#include <cstdint>
#include <string>

#include "agfx_backend.h"

namespace agfx::pvg {

// ---- process isolation (finding 13) ------------------------------------
// enum agfx_pvg_isolation's values (agfx_pvg_extras.h), repeated here so
// this file needs no Apple header.
enum class Isolation : uint32_t { kDefault = 0, kOn = 1, kOff = 2 };
struct IsolationChoice {
  bool set = false;     // call setEnableProcessIsolation: at all
  bool enable = false;  // the value to set
  std::string error;    // non-empty: refuse to create the device
};
// Mediouni's series enables isolation for the mmio variant (vmapple) with
// the static map only; the PCI variant runs without it. An explicit
// kOn/kOff wins where PVG offers the property; kOn where it does not (or
// with tasks, which have no isolation) is an error.
IsolationChoice ChooseIsolation(uint32_t variant, uint32_t memory_model, Isolation requested, bool pvg_offers_it);

// ---- static-map device lifecycle (findings 4, 5) ------------------------
struct MapState {
  bool have_device = false;        // a PGDevice exists
  bool map_empty = true;           // the guest-memory table has no range
  bool map_stale = false;          // the table differs from what the PGDevice got
  bool touched = false;            // the guest made an MMIO access since the PGDevice was created
  bool can_reset_with_map = false; // -resetWithMemoryMap: exists
};
enum class MapAction {
  kNothing,          // the device is current (or cannot be made so yet)
  kCreate,           // no device and guest RAM is known: create it now, from the map
  kReplace,          // create a fresh device with the new map (no MMIO reached the old one)
  kResetWithMap,     // -resetWithMemoryMap: at the next reset
  kLogCannotUpdate,  // PVG keeps the old map: say so (restart with the guest)
};
// Before an MMIO access (or attaching a display): what must happen first.
MapAction BeforeGuestAccess(const MapState& s);
// At a device reset.
MapAction AtReset(const MapState& s);
// After the guest-memory table changed (DMA_MAP/UNMAP): what to tell.
MapAction AfterMapChange(const MapState& s);

// ---- display serials (finding 18) ----------------------------------------
// The serial a display is attached with: the daemon's if non-zero (it
// derives them from its socket path or --serial-base, so two daemons'
// displays differ and a restart keeps them), else one from `instance` (a
// per-daemon value) and the port. Never 0.
uint32_t DisplaySerial(uint32_t requested, uint32_t instance, uint32_t port);

}  // namespace agfx::pvg
