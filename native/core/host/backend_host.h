// The host side of the backend ABI: every agfx_host service, implemented
// natively, and the queue that carries display events out of the backend.
//
// Events are fire-and-forget (docs/design.md invariant 1): a backend thread
// appends to a queue under a short mutex and, when the queue was empty, calls
// the owner's wake function once (outside the lock); the owner takes the
// events later from its own thread. No backend thread ever waits for the
// owner. While the owner is busy, consecutive new-frame events of a display
// are coalesced into a count and consecutive cursor moves into the last
// position, so the queue stays bounded (kMaxQueuedEvents) and order is kept.
// The addon's owner is addon/host_events.cc (a threadsafe function to JS).
#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "agfx_backend.h"

namespace agfx {

struct HostEvent {
  enum Kind { kNewFrame, kModeChanged, kCursorGlyph, kCursorShow, kCursorMoved, kGuestError } kind = kNewFrame;
  uint32_t port = 0;
  uint32_t a = 0, b = 0, c = 0, d = 0, e = 0;
  std::vector<uint8_t> pixels;
  std::string message;
};

// agfx_host.memory_map_acquire / memory_map_release: a snapshot of the
// guest-memory table that holds a reference (RegionRef) on every region it
// lists, so their mmaps outlive a DMA_UNMAP until the snapshot is released.
// Free functions (opaque is unused) so the test hooks call exactly what a
// backend calls.
void* HostMemoryMapAcquire(void* opaque, agfx_memory_range* out, uint32_t max, uint32_t* count);
void HostMemoryMapRelease(void* opaque, void* snapshot);
// Snapshots acquired and not yet released (all hosts of this process).
uint64_t LiveMemoryMapSnapshots();

class BackendHost {
 public:
  static constexpr size_t kMaxQueuedEvents = 65536;
  // Called on the posting backend thread, no lock held, when the queue goes
  // from empty to non-empty. Must not block.
  using WakeFn = void (*)(void* ctx);

  BackendHost(WakeFn wake, void* wake_ctx);
  BackendHost(const BackendHost&) = delete;
  BackendHost& operator=(const BackendHost&) = delete;

  const agfx_host* ops() const { return &ops_; }
  // Drops the queued events and takes no more. Call only after the device
  // (and every backend thread) is gone.
  void Stop();
  // The queued events in order; re-arms the wake-up. Empty once stopped.
  std::deque<HostEvent> TakeEvents();

  struct Counters {
    uint64_t queued, coalesced_frames, dropped;
  };
  Counters GetCounters();

 private:
  static BackendHost* Self(void* opaque) { return static_cast<BackendHost*>(opaque); }
  void Push(HostEvent&& ev);
  // A failed guest-memory service: names a range mapped without an fd, once.
  bool ReportUnreachable(const char* service, uint64_t gpa, uint64_t len);

  agfx_host ops_{};
  const WakeFn wake_;
  void* const wake_ctx_;
  std::mutex mu_;  // the fields below; never held across a call out
  bool stopped_ = false;
  bool wake_pending_ = false;
  std::deque<HostEvent> queue_;
  uint64_t queued_ = 0, coalesced_ = 0, dropped_ = 0;
};

}  // namespace agfx
