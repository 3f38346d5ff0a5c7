#include "pvg_modes.h"

namespace agfx::pvg {

bool ConvertModes(const agfx_display_mode* modes, uint32_t count, std::vector<PvgMode>* out, std::string* err) {
  out->clear();
  if (!modes || count == 0) {
    *err = "a display needs at least one mode";
    return false;
  }
  if (count > AGFX_MAX_MODES) {
    *err = std::to_string(count) + " modes; PVG takes at most " + std::to_string(AGFX_MAX_MODES);
    return false;
  }
  std::vector<PvgMode> modes_out;  // *out changes only on success
  modes_out.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const agfx_display_mode& m = modes[i];
    std::string which = "mode " + std::to_string(i) + " (" + std::to_string(m.width) + "x" + std::to_string(m.height) + ")";
    if (m.width == 0 || m.height == 0) {
      *err = which + ": width and height must be 1..65535";
      return false;
    }
    if (m.refresh_millihz == 0 || m.refresh_millihz > kMaxRefreshMilliHz) {
      *err = which + ": refresh rate must be in (0, 1000] Hz";
      return false;
    }
    for (uint32_t j = 0; j < i; ++j) {
      if (modes[j].width == m.width && modes[j].height == m.height && modes[j].refresh_millihz == m.refresh_millihz) {
        *err = which + " repeats mode " + std::to_string(j);
        return false;
      }
    }
    modes_out.push_back(PvgMode{m.width, m.height, m.refresh_millihz / 1000.0});
  }
  out->swap(modes_out);
  return true;
}

}  // namespace agfx::pvg
