// Display mode lists for PVG: validation of the daemon's agfx_display_mode
// list and conversion to what PGDisplayMode takes (PGDisplayCoord_t uint16
// pixel sizes, refresh rate as a double in Hz). Framework-independent.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "agfx_backend.h"

namespace agfx::pvg {

struct PvgMode {
  uint16_t width;
  uint16_t height;
  double refresh_hz;
};

// Highest refresh rate accepted (Hz); the daemon's parser caps at 1000 too.
constexpr uint32_t kMaxRefreshMilliHz = 1000u * 1000u;

// Converts `count` modes (*out is cleared, and filled only on success); false
// with a message in *err if the list is empty,
// longer than AGFX_MAX_MODES (PVG's 128), or a mode has a zero size, a zero
// or too high refresh rate, or repeats an earlier width x height @ rate.
// The order is kept: PVG prefers the first mode.
bool ConvertModes(const agfx_display_mode* modes, uint32_t count, std::vector<PvgMode>* out, std::string* err);


}  // namespace agfx::pvg
