// Frame pacing of one display, QEMU apple-gfx's pending_frames logic:
// at most one encode in flight plus one queued behind it. A new-frame event
// while two are pending is dropped (coalesced: the queued render will encode
// the newest guest frame anyway). A render whose size no longer matches the
// display mode (a mode change happened meanwhile) is discarded as stale.
//
// Not thread-safe by design: the pvg backend touches it only from its private
// serial display queue, as QEMU touches pending_frames only under the BQL.
#pragma once
#include <cstdint>

namespace agfx::pvg {

class FramePacer {
 public:
  static constexpr int kMaxPending = 2;

  enum class Event { kDropped, kQueued, kRenderNow };
  enum class Outcome { kPublished, kStale, kFailed };

  // PVG's newFrameEventHandler fired.
  Event OnNewFrame();
  // A render finished (completion handler) or failed to encode. Returns true
  // when another render must start now (a frame was queued behind it).
  bool OnRenderDone(Outcome outcome);
  // A finished render of rw x rh may be published on a display now w x h.
  static bool Publishable(uint32_t rw, uint32_t rh, uint32_t w, uint32_t h) { return w && h && rw == w && rh == h; }

  int pending() const { return pending_; }
  struct Counters {
    uint64_t events, dropped, published, stale, failed, underflows;
  };
  Counters counters() const { return c_; }

 private:
  int pending_ = 0;
  Counters c_{};
};

}  // namespace agfx::pvg
