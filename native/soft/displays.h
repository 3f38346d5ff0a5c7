// The soft device's display ports (docs/soft-device.md): what the daemon
// attaches (modes), what the guest draws (SET_MODE, PRESENT, COPY_RECT) and
// its cursor, and the frames and damage the daemon reads out.
//
// Threading: the daemon's calls come on the JS thread, the commands on the
// worker; disp_mu_ guards every Display and is a leaf: host services and
// events are called after it is released, never with it held. Only the
// worker writes a frame in place (under disp_mu_); any other change replaces
// the frame vector, so the worker can compare against its own reference
// without the lock (docs/design.md, "Threads and locks").
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agfx_backend.h"
#include "agfx_soft.h"
#include "soft/frame_history.h"
#include "soft/state_io.h"
#include "soft/tasks.h"

namespace agfx::soft {

struct Display {
  bool attached = false;
  uint32_t serial = 0;
  std::string name;
  std::vector<agfx_display_mode> modes;
  uint32_t width = 0, height = 0;
  // BGRA8, width*4 per row (see the threading note above).
  std::shared_ptr<std::vector<uint8_t>> frame = std::make_shared<std::vector<uint8_t>>();
  FrameHistory history;
  uint64_t sequence = 0;
  uint32_t cursor_x = AGFX_CURSOR_OFF_DISPLAY, cursor_y = AGFX_CURSOR_OFF_DISPLAY;
  bool cursor_shown = false;
  uint32_t glyph_w = 0, glyph_h = 0, hot_x = 0, hot_y = 0;
  std::vector<uint8_t> glyph;  // BGRA8
};

class Displays {
 public:
  explicit Displays(const agfx_host& host) : host_(host) {}

  // The daemon's (JS thread).
  bool Attach(uint32_t port, uint32_t serial, const char* name, const agfx_display_mode* modes, uint32_t n);
  bool SetModes(uint32_t port, const agfx_display_mode* modes, uint32_t n);
  bool Detach(uint32_t port);
  bool ReadFrame(uint32_t port, void* dst, size_t len, agfx_frame_info* info);
  bool UpdateFrame(uint32_t port, void* dst, size_t len, agfx_frame_info* info, agfx_frame_update* u);
  bool CursorPosition(uint32_t port, uint32_t* x, uint32_t* y);

  // Ring commands (worker thread); each returns a Status.
  uint32_t SetMode(const uint64_t* a);
  uint32_t Present(const uint64_t* a, Tasks& tasks);
  uint32_t CopyRect(const uint64_t* a);
  uint32_t CursorGlyph(const uint64_t* a, Tasks& tasks);
  uint32_t CursorShow(const uint64_t* a);
  uint32_t CursorMove(const uint64_t* a);

  // The display port registers (docs/soft-device.md, "Display port
  // registers"), on the MMIO caller's thread: false when `off` is not one.
  // A change the daemon makes (attach, set_modes, detach) sets the port's
  // DISPLAY_CHANGED bit and, when enabled, raises vector 0 after disp_mu_ is
  // released (docs/design.md invariant 1: nothing is held across the host call).
  bool ReadReg(uint64_t off, uint32_t* v);
  bool WriteReg(uint64_t off, uint32_t v);

  // Device reset: every attached display black, its cursor off the display
  // and hidden; the display port registers at their reset values.
  void Reset();
  void Save(StateWriter& w);
  // Restores each saved display onto the port's attached one (displays are
  // the daemon's: a port not attached now is skipped) and tells the host.
  bool Load(StateReader& r, std::string* err);

 private:
  bool Attached(uint64_t port);
  static bool HasMode(const Display& d, uint32_t w, uint32_t h);
  // With disp_mu_ held: `port`'s attached state or mode list changed; true
  // when the guest wants an interrupt for it (raise it once disp_mu_ is released).
  bool ChangedLocked(uint32_t port);
  void RaiseChanged();
  static void SetModeLocked(Display& d, uint32_t w, uint32_t h);
  static void Blank(Display& d);
  static std::shared_ptr<std::vector<uint8_t>> BlackFrame(uint32_t w, uint32_t h);
  // Where two packed frames differ: per band of kDamageBand rows, the box of
  // the differing pixels; bands with the same columns merge.
  static constexpr uint32_t kDamageBand = 16;
  static std::vector<agfx_rect> DiffRects(const uint8_t* a, const uint8_t* b, uint32_t w, uint32_t h);

  const agfx_host& host_;
  std::vector<uint8_t> present_buf_;  // worker thread only: reused, never shared
  std::mutex disp_mu_;                // displays_; a leaf
  std::array<Display, AGFX_SOFT_PORTS> displays_{};
  // The display port registers (disp_mu_). generation_ counts each port's
  // changes and is never reset, so a driver can tell a list it read whole.
  uint32_t port_select_ = 0, mode_index_ = 0, changed_ = 0, display_irq_ = 0;
  std::array<uint32_t, AGFX_SOFT_PORTS> generation_{};
};

}  // namespace agfx::soft
