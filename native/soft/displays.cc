// Display ports: hot-plug for the daemon, the cursor commands
// (CURSOR_GLYPH, CURSOR_SHOW, CURSOR_MOVE), reset and state. The frames
// themselves are in frames.cc.
#include "soft/displays.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "soft/common.h"

namespace agfx::soft {

bool Displays::HasMode(const Display& d, uint32_t w, uint32_t h) {
  return std::any_of(d.modes.begin(), d.modes.end(), [&](const agfx_display_mode& m) { return m.width == w && m.height == h; });
}

// Allocates first: when that throws std::bad_alloc the display is as it was.
void Displays::SetModeLocked(Display& d, uint32_t w, uint32_t h) {
  auto px = BlackFrame(w, h);
  d.width = w;
  d.height = h;
  d.frame = std::move(px);
  d.history.Replace();
}

// Opaque black in the current mode, as a new version with no history.
void Displays::Blank(Display& d) {
  d.frame = BlackFrame(d.width, d.height);
  d.history.Replace();
}

std::shared_ptr<std::vector<uint8_t>> Displays::BlackFrame(uint32_t w, uint32_t h) {
  auto px = std::make_shared<std::vector<uint8_t>>(size_t(w) * h * 4, 0);
  for (size_t i = 3; i < px->size(); i += 4) (*px)[i] = 0xff;
  return px;
}

bool Displays::Attached(uint64_t port) {
  std::lock_guard lock(disp_mu_);
  return displays_[port].attached;
}

// ------------------------------------------------------------ the daemon's

bool Displays::Attach(uint32_t port, uint32_t serial, const char* name, const agfx_display_mode* modes, uint32_t n) {
  if (port >= AGFX_SOFT_PORTS || n == 0 || n > AGFX_MAX_MODES) return false;
  for (uint32_t i = 0; i < n; ++i)
    if (modes[i].width == 0 || modes[i].height == 0) return false;
  uint32_t w, h;
  bool raise = false;
  {
    std::lock_guard lock(disp_mu_);
    Display& d = displays_[port];
    if (d.attached) return false;
    d = Display{};
    d.attached = true;
    d.serial = serial;
    d.name = name ? name : "";
    d.modes.assign(modes, modes + n);
    try {
      SetModeLocked(d, modes[0].width, modes[0].height);  // the preferred mode until the guest picks one
    } catch (const std::bad_alloc&) {
      d = Display{};  // no memory for its frame: not attached
      return false;
    }
    w = d.width;
    h = d.height;
    raise = ChangedLocked(port);
  }
  host_.mode_changed(host_.opaque, port, w, h, AGFX_FORMAT_BGRA8);
  if (raise) RaiseChanged();
  return true;
}

bool Displays::SetModes(uint32_t port, const agfx_display_mode* modes, uint32_t n) {
  if (port >= AGFX_SOFT_PORTS || n == 0 || n > AGFX_MAX_MODES) return false;
  for (uint32_t i = 0; i < n; ++i)
    if (modes[i].width == 0 || modes[i].height == 0) return false;
  bool changed = false, raise = false;
  uint32_t w, h;
  {
    std::lock_guard lock(disp_mu_);
    Display& d = displays_[port];
    if (!d.attached) return false;
    std::vector<agfx_display_mode> old = d.modes;
    try {
      d.modes.assign(modes, modes + n);
      if (!HasMode(d, d.width, d.height)) {
        SetModeLocked(d, modes[0].width, modes[0].height);
        changed = true;
      }
    } catch (const std::bad_alloc&) {
      d.modes = std::move(old);  // no memory for the new frame: nothing changed
      return false;
    }
    w = d.width;
    h = d.height;
    raise = ChangedLocked(port);
  }
  if (changed) host_.mode_changed(host_.opaque, port, w, h, AGFX_FORMAT_BGRA8);
  if (raise) RaiseChanged();
  return true;
}

bool Displays::Detach(uint32_t port) {
  if (port >= AGFX_SOFT_PORTS) return false;
  bool raise = false;
  {
    std::lock_guard lock(disp_mu_);
    if (!displays_[port].attached) return false;
    displays_[port] = Display{};
    raise = ChangedLocked(port);
  }
  host_.mode_changed(host_.opaque, port, 0, 0, AGFX_FORMAT_BGRA8);
  if (raise) RaiseChanged();
  return true;
}

// ------------------------------------------------- the display port registers

bool Displays::ChangedLocked(uint32_t port) {
  generation_[port]++;
  changed_ |= 1u << port;
  return (display_irq_ & AGFX_SOFT_DISPLAY_IRQ_ENABLE) != 0;
}

// Vector 0, as fences: a driver's handler looks at DISPLAY_CHANGED and IRQ_STATUS.
void Displays::RaiseChanged() { host_.raise_interrupt(host_.opaque, 0); }

bool Displays::ReadReg(uint64_t off, uint32_t* v) {
  if (off < AGFX_SOFT_REG_PORT_SELECT || off > AGFX_SOFT_REG_DISPLAY_IRQ) return false;
  std::lock_guard lock(disp_mu_);
  const uint32_t p = port_select_;  // < AGFX_SOFT_PORTS (WriteReg)
  const Display& d = displays_[p];
  const bool has_mode = d.attached && mode_index_ < d.modes.size();
  switch (off) {
    case AGFX_SOFT_REG_PORT_SELECT: *v = p; return true;
    case AGFX_SOFT_REG_PORT_STATUS: *v = d.attached ? AGFX_SOFT_PORT_ATTACHED : 0; return true;
    case AGFX_SOFT_REG_PORT_GENERATION: *v = generation_[p]; return true;
    case AGFX_SOFT_REG_PORT_MODE_COUNT: *v = d.attached ? uint32_t(d.modes.size()) : 0; return true;
    case AGFX_SOFT_REG_PORT_MODE_INDEX: *v = mode_index_; return true;
    case AGFX_SOFT_REG_PORT_MODE_SIZE:
      *v = has_mode ? uint32_t(d.modes[mode_index_].width) | uint32_t(d.modes[mode_index_].height) << 16 : 0;
      return true;
    case AGFX_SOFT_REG_PORT_MODE_RATE: *v = has_mode ? d.modes[mode_index_].refresh_millihz : 0; return true;
    case AGFX_SOFT_REG_PORT_CURRENT: *v = d.attached ? (d.width & 0xffff) | (d.height & 0xffff) << 16 : 0; return true;
    case AGFX_SOFT_REG_DISPLAY_CHANGED: *v = changed_; return true;
    case AGFX_SOFT_REG_DISPLAY_IRQ: *v = display_irq_; return true;
    default: *v = 0; return true;  // the gaps between them: unassigned
  }
}

bool Displays::WriteReg(uint64_t off, uint32_t v) {
  if (off < AGFX_SOFT_REG_PORT_SELECT || off > AGFX_SOFT_REG_DISPLAY_IRQ) return false;
  bool raise = false;
  {
    std::lock_guard lock(disp_mu_);
    switch (off) {
      case AGFX_SOFT_REG_PORT_SELECT:
        if (v >= AGFX_SOFT_PORTS) break;  // refused below
        port_select_ = v;
        return true;
      case AGFX_SOFT_REG_PORT_MODE_INDEX:
        if (v >= AGFX_MAX_MODES) break;
        mode_index_ = v;
        return true;
      case AGFX_SOFT_REG_DISPLAY_CHANGED: changed_ &= ~v; return true;
      case AGFX_SOFT_REG_DISPLAY_IRQ:
        // Enabling with changes pending raises at once, so none is missed between reading and enabling.
        raise = (v & AGFX_SOFT_DISPLAY_IRQ_ENABLE) && !(display_irq_ & AGFX_SOFT_DISPLAY_IRQ_ENABLE) && changed_ != 0;
        display_irq_ = v & AGFX_SOFT_DISPLAY_IRQ_ENABLE;
        break;
      default:
        return true;  // read-only or unassigned: ignored (docs/soft-device.md)
    }
  }
  if (off == AGFX_SOFT_REG_DISPLAY_IRQ) {
    if (raise) RaiseChanged();
    return true;
  }
  GuestError(host_, off == AGFX_SOFT_REG_PORT_SELECT ? "PORT_SELECT of " + std::to_string(v) + ", past the last port"
                                                     : "PORT_MODE_INDEX of " + std::to_string(v) + ", past the mode limit");
  return true;
}

bool Displays::CursorPosition(uint32_t port, uint32_t* x, uint32_t* y) {
  std::lock_guard lock(disp_mu_);
  if (port >= AGFX_SOFT_PORTS || !displays_[port].attached) return false;
  *x = displays_[port].cursor_x;
  *y = displays_[port].cursor_y;
  return true;
}

void Displays::Reset() {
  std::vector<uint32_t> hidden;
  {
    std::lock_guard lock(disp_mu_);
    port_select_ = mode_index_ = display_irq_ = 0;
    // A driver starting over has seen no display yet: every attached port counts as changed.
    changed_ = 0;
    for (uint32_t p = 0; p < AGFX_SOFT_PORTS; ++p)
      if (displays_[p].attached) changed_ |= 1u << p;
    for (uint32_t p = 0; p < AGFX_SOFT_PORTS; ++p) {
      Display& d = displays_[p];
      if (!d.attached) continue;
      Blank(d);
      d.cursor_x = d.cursor_y = AGFX_CURSOR_OFF_DISPLAY;
      hidden.push_back(p);
    }
  }
  for (uint32_t p : hidden) host_.cursor_show(host_.opaque, p, false);
}

// ------------------------------------------------------- the guest's commands

// CURSOR_GLYPH: a0 port, a1 task, a2 task offset, a3 width | height << 16,
// a4 hot x | hot y << 16.
uint32_t Displays::CursorGlyph(const uint64_t* a, Tasks& tasks) {
  if (a[0] >= AGFX_SOFT_PORTS || !Attached(a[0])) return AGFX_SOFT_ST_NO_DISPLAY;
  const Task* t = tasks.Find(a[1]);
  if (!t) return AGFX_SOFT_ST_NO_TASK;
  uint32_t w = a[3] & 0xffff, h = (a[3] >> 16) & 0xffff, hx = a[4] & 0xffff, hy = (a[4] >> 16) & 0xffff;
  if (w == 0 || h == 0 || w > AGFX_SOFT_MAX_GLYPH || h > AGFX_SOFT_MAX_GLYPH || (a[3] >> 32) || (a[4] >> 32)) return AGFX_SOFT_ST_BAD_ARGS;
  uint64_t bytes = uint64_t(w) * h * 4;
  if (!Tasks::InTask(t, a[2], bytes)) return AGFX_SOFT_ST_OUT_OF_RANGE;
  std::vector<uint8_t> px(bytes);
  if (!tasks.Read(t, a[2], px.data(), px.size())) return AGFX_SOFT_ST_NOT_MAPPED;
  {
    std::lock_guard lock(disp_mu_);
    Display& d = displays_[a[0]];
    d.glyph = px;
    d.glyph_w = w;
    d.glyph_h = h;
    d.hot_x = hx;
    d.hot_y = hy;
  }
  host_.cursor_glyph(host_.opaque, uint32_t(a[0]), px.data(), w, h, w * 4, hx, hy);
  return AGFX_SOFT_ST_OK;
}

uint32_t Displays::CursorShow(const uint64_t* a) {
  if (a[0] >= AGFX_SOFT_PORTS || !Attached(a[0])) return AGFX_SOFT_ST_NO_DISPLAY;
  if (a[1] > 1) return AGFX_SOFT_ST_BAD_ARGS;
  {
    std::lock_guard lock(disp_mu_);
    displays_[a[0]].cursor_shown = a[1] == 1;
  }
  host_.cursor_show(host_.opaque, uint32_t(a[0]), a[1] == 1);
  return AGFX_SOFT_ST_OK;
}

uint32_t Displays::CursorMove(const uint64_t* a) {
  if (a[0] >= AGFX_SOFT_PORTS) return AGFX_SOFT_ST_NO_DISPLAY;
  if (a[1] > 0xffff || a[2] > 0xffff) return AGFX_SOFT_ST_BAD_ARGS;
  {
    std::lock_guard lock(disp_mu_);
    Display& d = displays_[a[0]];
    if (!d.attached) return AGFX_SOFT_ST_NO_DISPLAY;
    d.cursor_x = uint32_t(a[1]);
    d.cursor_y = uint32_t(a[2]);
  }
  host_.cursor_moved(host_.opaque, uint32_t(a[0]), uint32_t(a[1]), uint32_t(a[2]));
  return AGFX_SOFT_ST_OK;
}

// ------------------------------------------------------------------ state

void Displays::Save(StateWriter& w) {
  std::lock_guard lock(disp_mu_);
  w.u32(AGFX_SOFT_PORTS);
  for (uint32_t p = 0; p < AGFX_SOFT_PORTS; ++p) {
    const Display& d = displays_[p];
    w.u8(d.attached);
    w.u32(d.width);
    w.u32(d.height);
    w.u64(d.sequence);
    w.bytes(*d.frame);
    w.u32(d.cursor_x);
    w.u32(d.cursor_y);
    w.u8(d.cursor_shown);
    w.u32(d.glyph_w);
    w.u32(d.glyph_h);
    w.u32(d.hot_x);
    w.u32(d.hot_y);
    w.bytes(d.glyph);
  }
  w.u32(port_select_);
  w.u32(mode_index_);
  w.u32(changed_);
  w.u32(display_irq_);
  for (uint32_t g : generation_) w.u32(g);
}

// The daemon attaches the state's displays before the backend's part is
// applied; a blob that has another set attached was not written by save with
// that display list (the two halves disagree), and is refused.
bool Displays::Load(StateReader& r, std::string* err) {
  uint32_t ports = r.u32();
  if (r.ok() && ports > AGFX_SOFT_PORTS) {
    *err = "display records for " + std::to_string(ports) + " ports; the device has " + std::to_string(AGFX_SOFT_PORTS);
    return false;
  }
  for (uint32_t p = ports; r.ok() && p < AGFX_SOFT_PORTS; ++p) {
    std::lock_guard lock(disp_mu_);
    if (displays_[p].attached) {
      *err = "display " + std::to_string(p) + " is in the state's display list but not in its backend part";
      return false;
    }
  }
  for (uint32_t p = 0; r.ok() && p < ports; ++p) {
    bool attached = r.u8() != 0;
    uint32_t w = r.u32(), h = r.u32();
    uint64_t seq = r.u64();
    std::vector<uint8_t> frame = r.bytes(size_t(65535) * 65535 * 4);
    uint32_t cx = r.u32(), cy = r.u32();
    bool shown = r.u8() != 0;
    uint32_t gw = r.u32(), gh = r.u32(), hx = r.u32(), hy = r.u32();
    std::vector<uint8_t> glyph = r.bytes(AGFX_SOFT_MAX_GLYPH * AGFX_SOFT_MAX_GLYPH * 4);
    if (!r.ok()) break;
    bool have = false, mode_ok = false, agree = true;
    bool glyph_ok = glyph.size() == size_t(gw) * gh * 4 && gw && gh;
    {
      std::lock_guard lock(disp_mu_);
      Display& d = displays_[p];
      agree = attached == d.attached;
      have = agree && attached;  // displays are the daemon's: restored only where attached
      if (have) {
        mode_ok = HasMode(d, w, h) && frame.size() == size_t(w) * h * 4;
        if (mode_ok) {
          d.width = w;
          d.height = h;
          d.frame = std::make_shared<std::vector<uint8_t>>(std::move(frame));
          d.history.Replace();
          d.sequence = seq;
        }
        d.cursor_x = cx;
        d.cursor_y = cy;
        d.cursor_shown = shown;
        if (glyph_ok) {
          d.glyph = glyph;
          d.glyph_w = gw;
          d.glyph_h = gh;
          d.hot_x = hx;
          d.hot_y = hy;
        }
      }
    }
    if (!agree) {
      *err = "display " + std::to_string(p) + (attached ? " is attached in the state's backend part but not in its display list"
                                                          : " is in the state's display list but not in its backend part");
      return false;
    }
    if (!have) continue;
    if (mode_ok) {
      host_.mode_changed(host_.opaque, p, w, h, AGFX_FORMAT_BGRA8);
      host_.new_frame(host_.opaque, p);
    }
    if (glyph_ok) host_.cursor_glyph(host_.opaque, p, glyph.data(), gw, gh, gw * 4, hx, hy);
    host_.cursor_show(host_.opaque, p, shown);
    host_.cursor_moved(host_.opaque, p, cx, cy);
  }
  uint32_t select = r.u32(), index = r.u32(), changed = r.u32(), irq = r.u32();
  std::array<uint32_t, AGFX_SOFT_PORTS> gen{};
  for (uint32_t& g : gen) g = r.u32();
  if (!r.ok()) return true;  // the caller reports the truncation
  if (select >= AGFX_SOFT_PORTS || index >= AGFX_MAX_MODES || (changed >> AGFX_SOFT_PORTS) != 0 || (irq & ~AGFX_SOFT_DISPLAY_IRQ_ENABLE) != 0) {
    *err = "bad display port register record";
    return false;
  }
  std::lock_guard lock(disp_mu_);
  port_select_ = select;
  mode_index_ = index;
  changed_ = changed;
  display_irq_ = irq;
  generation_ = gen;
  return true;
}

}  // namespace agfx::soft
