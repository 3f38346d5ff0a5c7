#include "frame_pacing.h"

namespace agfx::pvg {

FramePacer::Event FramePacer::OnNewFrame() {
  ++c_.events;
  if (pending_ >= kMaxPending) {  // the guest is too far ahead
    ++c_.dropped;
    return Event::kDropped;
  }
  ++pending_;
  // With one render in flight, this one is queued: the in-flight render's
  // completion starts it (QEMU: "if pending_frames > 1 return").
  return pending_ == 1 ? Event::kRenderNow : Event::kQueued;
}

bool FramePacer::OnRenderDone(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPublished: ++c_.published; break;
    case Outcome::kStale: ++c_.stale; break;
    case Outcome::kFailed: ++c_.failed; break;
  }
  if (pending_ == 0) {  // a completion nobody started: never go negative
    ++c_.underflows;
    return false;
  }
  --pending_;
  return pending_ > 0;
}

}  // namespace agfx::pvg
