// Frames: what the guest draws (SET_MODE, PRESENT, COPY_RECT) and what the
// daemon reads out of it (read_frame, update_frame with damage).
#include <algorithm>
#include <cstring>

#include "soft/displays.h"

namespace agfx::soft {

bool Displays::ReadFrame(uint32_t port, void* dst, size_t len, agfx_frame_info* info) {
  std::lock_guard lock(disp_mu_);
  if (port >= AGFX_SOFT_PORTS || !displays_[port].attached) return false;
  const Display& d = displays_[port];
  if (info) *info = agfx_frame_info{d.width, d.height, d.width * 4, AGFX_FORMAT_BGRA8, d.sequence};
  if (!dst) return true;  // size query
  if (len < d.frame->size()) return false;
  std::memcpy(dst, d.frame->data(), d.frame->size());
  return true;
}

// Brings the caller's copy of a frame (version u->since) up to date, copying
// only the pixels the history says changed.
bool Displays::UpdateFrame(uint32_t port, void* dst, size_t len, agfx_frame_info* info, agfx_frame_update* u) {
  std::lock_guard lock(disp_mu_);
  if (port >= AGFX_SOFT_PORTS || !displays_[port].attached) return false;
  const Display& d = displays_[port];
  if (info) *info = agfx_frame_info{d.width, d.height, d.width * 4, AGFX_FORMAT_BGRA8, d.sequence};
  if (!dst || len < d.frame->size()) return false;
  d.history.Fold(u->since, d.width, d.height, u);
  size_t row = size_t(d.width) * 4;
  auto copy = [&](const agfx_rect& r) {
    agfx_rect c = Intersect(r, {0, 0, d.width, d.height});
    for (uint32_t y = c.y; y < c.y + c.height; ++y)
      std::memcpy(static_cast<uint8_t*>(dst) + row * y + size_t(c.x) * 4, d.frame->data() + row * y + size_t(c.x) * 4,
                  size_t(c.width) * 4);
  };
  copy(u->move);
  for (uint32_t i = 0; i < u->damage_count; ++i) copy(u->damage[i]);
  return true;
}

// SET_MODE: a0 port, a1 width, a2 height (one of the port's modes).
uint32_t Displays::SetMode(const uint64_t* a) {
  if (a[0] >= AGFX_SOFT_PORTS) return AGFX_SOFT_ST_NO_DISPLAY;
  {
    std::lock_guard lock(disp_mu_);
    Display& d = displays_[a[0]];
    if (!d.attached) return AGFX_SOFT_ST_NO_DISPLAY;
    if (a[1] > 0xffff || a[2] > 0xffff || !HasMode(d, uint32_t(a[1]), uint32_t(a[2]))) return AGFX_SOFT_ST_BAD_MODE;
    SetModeLocked(d, uint32_t(a[1]), uint32_t(a[2]));
  }
  host_.mode_changed(host_.opaque, uint32_t(a[0]), uint32_t(a[1]), uint32_t(a[2]), AGFX_FORMAT_BGRA8);
  return AGFX_SOFT_ST_OK;
}

// PRESENT: a5 = 0 copies the whole frame and finds the damage by comparing
// it with the current one; otherwise a5 is the guest's damage rectangle
// (x | y << 16 | width << 32 | height << 48) and only it is read.
uint32_t Displays::Present(const uint64_t* a, Tasks& tasks) {
  if (a[0] >= AGFX_SOFT_PORTS) return AGFX_SOFT_ST_NO_DISPLAY;
  uint32_t w, h;
  std::shared_ptr<std::vector<uint8_t>> current;
  {
    std::lock_guard lock(disp_mu_);
    const Display& d = displays_[a[0]];
    if (!d.attached) return AGFX_SOFT_ST_NO_DISPLAY;
    w = d.width;
    h = d.height;
    current = d.frame;
  }
  const Task* t = tasks.Find(a[1]);
  if (!t) return AGFX_SOFT_ST_NO_TASK;
  uint64_t stride = a[3], row = uint64_t(w) * 4;
  if (stride < row || stride > AGFX_SOFT_MAX_STRIDE || a[4] > AGFX_FORMAT_XRGB8) return AGFX_SOFT_ST_BAD_ARGS;
  agfx_rect area{0, 0, w, h};
  if (a[5]) {
    area = {uint32_t(a[5] & 0xffff), uint32_t((a[5] >> 16) & 0xffff), uint32_t((a[5] >> 32) & 0xffff), uint32_t(a[5] >> 48)};
    if (Empty(area) || area.x + area.width > w || area.y + area.height > h) return AGFX_SOFT_ST_BAD_ARGS;
  }
  uint64_t need = stride * (h - 1) + row;
  if (!Tasks::InTask(t, a[2], need)) return AGFX_SOFT_ST_OUT_OF_RANGE;
  size_t area_row = size_t(area.width) * 4;
  present_buf_.resize(area_row * area.height);
  if (!tasks.ReadRows(t, a[2] + stride * area.y + uint64_t(area.x) * 4, stride, area.height, area_row, present_buf_.data()))
    return AGFX_SOFT_ST_NOT_MAPPED;
  if (a[4] == AGFX_FORMAT_XRGB8)
    for (size_t i = 3; i < present_buf_.size(); i += 4) present_buf_[i] = 0xff;
  // Without a guest rectangle, the damage is what differs. Compared outside
  // the lock: only this thread writes a frame in place, and a mode change
  // replaces the vector instead (caught below), so `current` holds still.
  std::vector<agfx_rect> damage = a[5] ? std::vector<agfx_rect>{area} : DiffRects(present_buf_.data(), current->data(), w, h);
  {
    std::lock_guard lock(disp_mu_);
    Display& d = displays_[a[0]];
    if (!d.attached || d.frame != current) return AGFX_SOFT_ST_BAD_MODE;  // mode changed meanwhile
    uint8_t* px = d.frame->data();
    for (const agfx_rect& r : damage)
      for (uint32_t y = r.y; y < r.y + r.height; ++y)
        std::memcpy(px + row * y + size_t(r.x) * 4, present_buf_.data() + area_row * (y - area.y) + size_t(r.x - area.x) * 4,
                    size_t(r.width) * 4);
    if (!damage.empty()) d.history.Damage(std::move(damage));
    ++d.sequence;
  }
  host_.new_frame(host_.opaque, uint32_t(a[0]));
  return AGFX_SOFT_ST_OK;
}

std::vector<agfx_rect> Displays::DiffRects(const uint8_t* a, const uint8_t* b, uint32_t w, uint32_t h) {
  size_t row = size_t(w) * 4;
  std::vector<agfx_rect> out;
  for (uint32_t band = 0; band < h; band += kDamageBand) {
    uint32_t x0 = w, x1 = 0, y0 = h, y1 = 0;
    for (uint32_t y = band; y < std::min(h, band + kDamageBand); ++y) {
      const uint8_t* pa = a + row * y;
      const uint8_t* pb = b + row * y;
      if (std::memcmp(pa, pb, row) == 0) continue;
      uint32_t l = 0, r = w;
      while (l < x0 && std::memcmp(pa + size_t(l) * 4, pb + size_t(l) * 4, 4) == 0) ++l;
      while (r > std::max(x1, l + 1) && std::memcmp(pa + size_t(r - 1) * 4, pb + size_t(r - 1) * 4, 4) == 0) --r;
      x0 = std::min(x0, l);
      x1 = std::max(x1, r);
      if (y0 == h) y0 = y;
      y1 = y + 1;
    }
    if (y0 == h) continue;
    agfx_rect box{x0, y0, x1 - x0, y1 - y0};
    if (!out.empty() && out.back().x == box.x && out.back().width == box.width && out.back().y + out.back().height == box.y)
      out.back().height += box.height;
    else
      out.push_back(box);
  }
  return out;
}

// COPY_RECT: a1 = source x | y << 16, a2 = destination x | y << 16,
// a3 = width | height << 16; a blit within the frame (scrolling, window
// moves), shown to viewers as a move (VNC CopyRect).
uint32_t Displays::CopyRect(const uint64_t* a) {
  if (a[0] >= AGFX_SOFT_PORTS) return AGFX_SOFT_ST_NO_DISPLAY;
  if ((a[1] | a[2] | a[3]) >> 32) return AGFX_SOFT_ST_BAD_ARGS;
  uint32_t sx = a[1] & 0xffff, sy = uint32_t(a[1] >> 16), dx = a[2] & 0xffff, dy = uint32_t(a[2] >> 16);
  uint32_t cw = a[3] & 0xffff, ch = uint32_t(a[3] >> 16);
  {
    std::lock_guard lock(disp_mu_);
    Display& d = displays_[a[0]];
    if (!d.attached) return AGFX_SOFT_ST_NO_DISPLAY;
    if (cw == 0 || ch == 0 || sx + cw > d.width || sy + ch > d.height || dx + cw > d.width || dy + ch > d.height)
      return AGFX_SOFT_ST_BAD_ARGS;
    // In place, under the lock: readers never see half a blit.
    size_t row = size_t(d.width) * 4;
    uint8_t* px = d.frame->data();
    for (uint32_t i = 0; i < ch; ++i) {
      uint32_t r = dy > sy ? ch - 1 - i : i;  // overlapping blits: walk away from the destination
      std::memmove(px + row * (dy + r) + size_t(dx) * 4, px + row * (sy + r) + size_t(sx) * 4, size_t(cw) * 4);
    }
    if (sx != dx || sy != dy) d.history.Move({dx, dy, cw, ch}, sx, sy);
    ++d.sequence;
  }
  host_.new_frame(host_.opaque, uint32_t(a[0]));
  return AGFX_SOFT_ST_OK;
}

}  // namespace agfx::soft
