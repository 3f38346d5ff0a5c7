// Versions of one display's frame and what changed between them, for the
// backend ABI's update_frame: every change (a present's damage, a blit's
// move, a full replacement) makes a new version; the last kDepth changes are
// kept so a reader holding any recent version learns what to copy.
#ifndef AGFX_SOFT_FRAME_HISTORY_H
#define AGFX_SOFT_FRAME_HISTORY_H

#include <algorithm>
#include <cstdint>
#include <deque>
#include <vector>

#include "agfx_backend.h"

namespace agfx {

inline bool Empty(const agfx_rect& r) { return r.width == 0 || r.height == 0; }

inline uint64_t Area(const agfx_rect& r) { return uint64_t(r.width) * r.height; }

inline agfx_rect Union(const agfx_rect& a, const agfx_rect& b) {
  if (Empty(a)) return b;
  if (Empty(b)) return a;
  uint32_t x0 = std::min(a.x, b.x), y0 = std::min(a.y, b.y);
  uint32_t x1 = std::max(a.x + a.width, b.x + b.width), y1 = std::max(a.y + a.height, b.y + b.height);
  return {x0, y0, x1 - x0, y1 - y0};
}

inline agfx_rect Intersect(const agfx_rect& a, const agfx_rect& b) {
  uint32_t x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y);
  uint32_t x1 = std::min(a.x + a.width, b.x + b.width), y1 = std::min(a.y + a.height, b.y + b.height);
  if (x1 <= x0 || y1 <= y0) return {0, 0, 0, 0};
  return {x0, y0, x1 - x0, y1 - y0};
}

// a minus b: up to four rectangles (the bands above, below, left and right of b).
inline void Subtract(const agfx_rect& a, const agfx_rect& b, std::vector<agfx_rect>& out) {
  agfx_rect i = Intersect(a, b);
  if (Empty(i)) {
    if (!Empty(a)) out.push_back(a);
    return;
  }
  if (i.y > a.y) out.push_back({a.x, a.y, a.width, i.y - a.y});
  if (i.y + i.height < a.y + a.height) out.push_back({a.x, i.y + i.height, a.width, a.y + a.height - i.y - i.height});
  if (i.x > a.x) out.push_back({a.x, i.y, i.x - a.x, i.height});
  if (i.x + i.width < a.x + a.width) out.push_back({i.x + i.width, i.y, a.x + a.width - i.x - i.width, i.height});
}

// Merges rectangles until at most `max` are left, each time the pair whose
// bounding box adds the least area; first drops those inside another. Few
// rectangles: quadratic is fine.
inline void MergeDown(std::vector<agfx_rect>& rs, size_t max) {
  for (size_t i = 0; i < rs.size();) {
    bool inside = false;
    for (size_t j = 0; j < rs.size() && !inside; ++j)
      inside = j != i && Area(Intersect(rs[i], rs[j])) == Area(rs[i]) && (Area(rs[i]) < Area(rs[j]) || j < i);
    if (inside) rs.erase(rs.begin() + long(i));
    else ++i;
  }
  while (rs.size() > max) {
    size_t bi = 0, bj = 1;
    uint64_t best = UINT64_MAX;
    for (size_t i = 0; i < rs.size(); ++i)
      for (size_t j = i + 1; j < rs.size(); ++j) {
        uint64_t cost = Area(Union(rs[i], rs[j])) - Area(rs[i]) - Area(rs[j]) + Area(Intersect(rs[i], rs[j]));
        if (cost < best) best = cost, bi = i, bj = j;
      }
    rs[bi] = Union(rs[bi], rs[bj]);
    rs.erase(rs.begin() + long(bj));
  }
}

class FrameHistory {
 public:
  static constexpr size_t kDepth = 64;

  uint64_t version() const { return version_; }

  // The whole frame was replaced (mode change, reset, restore): nothing
  // before this version can be brought forward.
  void Replace() {
    floor_ = ++version_;
    changes_.clear();
  }

  void Damage(std::vector<agfx_rect> rects) {
    MergeDown(rects, AGFX_MAX_DAMAGE);
    Push({0, std::move(rects), false, {0, 0, 0, 0}, 0, 0});
  }

  // The pixels at (src_x, src_y, dst.width, dst.height) were copied to dst.
  void Move(const agfx_rect& dst, uint32_t src_x, uint32_t src_y) { Push({0, {}, true, dst, src_x, src_y}); }

  // What changed from `since` to now, folded into one move and at most
  // AGFX_MAX_DAMAGE rectangles (see agfx_frame_update). The frame is
  // width x height.
  void Fold(uint64_t since, uint32_t width, uint32_t height, agfx_frame_update* u) const {
    u->version = version_;
    u->full = false;
    u->move = agfx_rect{0, 0, 0, 0};
    u->move_src_x = u->move_src_y = 0;
    u->damage_count = 0;
    if (since == version_ && since != 0) return;
    if (since == 0 || since < floor_ || since > version_) {
      u->full = true;
      u->damage[0] = {0, 0, width, height};
      u->damage_count = 1;
      return;
    }
    std::vector<agfx_rect> damage;
    bool moved = false;
    for (const Change& c : changes_) {
      if (c.version <= since) continue;
      if (!c.move) {
        damage.insert(damage.end(), c.rects.begin(), c.rects.end());
        continue;
      }
      // Pixels the reader lacks inside the source travel with the move.
      agfx_rect src{c.src_x, c.src_y, c.dst.width, c.dst.height};
      for (size_t i = 0, n = damage.size(); i < n; ++i) {
        agfx_rect stale = Intersect(damage[i], src);
        if (!Empty(stale)) damage.push_back({stale.x - c.src_x + c.dst.x, stale.y - c.src_y + c.dst.y, stale.width, stale.height});
      }
      if (!moved) {
        moved = true;
        u->move = c.dst;
        u->move_src_x = c.src_x;
        u->move_src_y = c.src_y;
        continue;
      }
      // A second move composes with the first where the pixels it takes
      // were put there by the first one (a scroll followed by a scroll is
      // one longer scroll); the rest of both destinations is damage.
      int64_t dx1 = int64_t(u->move.x) - u->move_src_x, dy1 = int64_t(u->move.y) - u->move_src_y;
      int64_t dx2 = int64_t(c.dst.x) - c.src_x, dy2 = int64_t(c.dst.y) - c.src_y;
      agfx_rect first = u->move;
      agfx_rect kept{0, 0, 0, 0};
      int64_t fx = int64_t(first.x) + dx2, fy = int64_t(first.y) + dy2;
      if (fx + first.width > 0 && fy + first.height > 0) {
        int64_t x0 = std::max<int64_t>(fx, 0), y0 = std::max<int64_t>(fy, 0);
        agfx_rect shifted{uint32_t(x0), uint32_t(y0), uint32_t(fx + first.width - x0), uint32_t(fy + first.height - y0)};
        kept = Intersect(c.dst, shifted);
      }
      Subtract(first, c.dst, damage);
      Subtract(c.dst, kept, damage);
      if (Empty(kept)) {
        u->move = {0, 0, 0, 0};
        u->move_src_x = u->move_src_y = 0;
        moved = false;  // nothing of the first move survives: a later one may start afresh
        damage.push_back(first);
      } else {
        u->move = kept;
        u->move_src_x = uint32_t(int64_t(kept.x) - dx1 - dx2);
        u->move_src_y = uint32_t(int64_t(kept.y) - dy1 - dy2);
      }
      if (damage.size() > 4 * AGFX_MAX_DAMAGE) MergeDown(damage, AGFX_MAX_DAMAGE);
    }
    MergeDown(damage, AGFX_MAX_DAMAGE);
    std::copy(damage.begin(), damage.end(), u->damage);
    u->damage_count = uint32_t(damage.size());
  }

 private:
  struct Change {
    uint64_t version;
    std::vector<agfx_rect> rects;  // damage
    bool move;
    agfx_rect dst;  // move
    uint32_t src_x, src_y;
  };

  void Push(Change c) {
    c.version = ++version_;
    changes_.push_back(std::move(c));
    if (changes_.size() > kDepth) {
      floor_ = changes_.front().version;
      changes_.pop_front();
    }
  }

  uint64_t version_ = 0;
  uint64_t floor_ = 0;  // the oldest version a reader may hold
  std::deque<Change> changes_;
};

}  // namespace agfx

#endif
