#include "device_policy.h"

namespace agfx::pvg {

IsolationChoice ChooseIsolation(uint32_t variant, uint32_t memory_model, Isolation requested, bool pvg_offers_it) {
  IsolationChoice c;
  const bool static_map = memory_model == AGFX_MEMORY_STATIC_MAP;
  if (requested == Isolation::kOn && (!static_map || !pvg_offers_it)) {
    c.error = static_map ? "process isolation requested but this macOS's PVG does not offer it"
                         : "process isolation needs the static memory map (--memory-model static)";
    return c;
  }
  if (!static_map || !pvg_offers_it) return c;  // nothing to set
  c.set = true;
  if (requested == Isolation::kOn) c.enable = true;
  else if (requested == Isolation::kOff) c.enable = false;
  else c.enable = variant == AGFX_VARIANT_MMIO;  // Mediouni: mmio (vmapple) only
  return c;
}

MapAction BeforeGuestAccess(const MapState& s) {
  if (!s.have_device) return s.map_empty ? MapAction::kNothing : MapAction::kCreate;
  if (s.map_stale && !s.touched && !s.map_empty) return MapAction::kReplace;
  return MapAction::kNothing;
}

MapAction AtReset(const MapState& s) {
  if (!s.have_device) return s.map_empty ? MapAction::kNothing : MapAction::kCreate;
  if (!s.map_stale || s.map_empty) return MapAction::kNothing;
  if (s.can_reset_with_map) return MapAction::kResetWithMap;
  // A reset puts the guest's driver back to its start: a fresh device with
  // the new map is as good as one reset, displays re-attached.
  return MapAction::kReplace;
}

MapAction AfterMapChange(const MapState& s) {
  if (!s.have_device || !s.map_stale) return MapAction::kNothing;
  if (!s.touched) return MapAction::kNothing;  // replaced before the first MMIO
  return s.can_reset_with_map ? MapAction::kResetWithMap : MapAction::kLogCannotUpdate;
}

uint32_t DisplaySerial(uint32_t requested, uint32_t instance, uint32_t port) {
  if (requested != 0) return requested;
  uint32_t s = (instance & 0xffffff00u) | ((port + 1) & 0xffu);
  return s != 0 ? s : 0x41470000u | ((port + 1) & 0xffu);
}

}  // namespace agfx::pvg
