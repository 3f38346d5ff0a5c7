// The host side of the backend ABI: every agfx_host service, implemented
// natively, plus the bridge that carries display events to JS.
//
// Events are fire-and-forget (docs/design.md invariant 1): a backend thread
// appends to a queue under a short mutex and, when the queue was empty, makes
// one non-blocking threadsafe-function call to wake JS. It never waits for
// JS. While JS is busy, consecutive new-frame events of a display are
// coalesced into a count and consecutive cursor moves into the last
// position, so the queue stays bounded and order is kept: JS gets the counts
// when it drains.
#pragma once
#include <napi.h>

#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "agfx_backend.h"

namespace agfx {

constexpr uint32_t kMaxPorts = 16;

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
// Test-only bindings (testMemoryMap*): drive the two services above from JS.
void InitBackendHostTestHooks(Napi::Env env, Napi::Object exports);

class BackendHost {
 public:
  BackendHost(Napi::Env env, Napi::Function on_events);
  const agfx_host* ops() const { return &ops_; }
  // Stops delivering events; call only after the device (and every backend
  // thread) is gone. The object deletes itself once the last queued JS call
  // has run, so no queued wake-up ever sees freed memory.
  void Release();

  struct Counters {
    uint64_t queued, coalesced_frames, dropped;
  };
  Counters GetCounters();

 private:
  ~BackendHost() = default;
  static BackendHost* Self(void* opaque) { return static_cast<BackendHost*>(opaque); }
  void Push(HostEvent&& ev);
  // A failed guest-memory service: names a range mapped without an fd, once.
  bool ReportUnreachable(const char* service, uint64_t gpa, uint64_t len);
  void Drain(Napi::Env env, Napi::Function fn);

  agfx_host ops_{};
  Napi::ThreadSafeFunction tsfn_;
  std::mutex mu_;
  bool released_ = false;
  bool wake_pending_ = false;
  std::deque<HostEvent> queue_;
  uint64_t queued_ = 0, coalesced_ = 0, dropped_ = 0;
};

}  // namespace agfx
