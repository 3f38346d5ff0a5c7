// Carries a backend's display events to JS: owns the core BackendHost
// (core/host/backend_host.h) and wakes the JS thread through a threadsafe
// function, non-blocking, once per batch (docs/design.md invariant 1).
#pragma once
#include <napi.h>

#include <atomic>

#include "core/host/backend_host.h"

namespace agfx {

class HostEventBridge {
 public:
  // onEvents(events[]) runs on the JS thread with each batch.
  HostEventBridge(Napi::Env env, Napi::Function on_events);
  const agfx_host* ops() const { return host_.ops(); }
  // Stops delivering events; call only after the device (and every backend
  // thread) is gone. The object deletes itself once the last queued JS call
  // has run, so no queued wake-up ever sees freed memory.
  void Release();
  // Keeps the main dispatch queue serviced (addon/main_queue.h) until this
  // bridge is gone: after Release(), so after the device is destroyed, on
  // whichever thread (a data-plane thread may hold the last share of it,
  // and its MMIO or destroy may wait on the main queue: docs/design.md,
  // "Threads and locks"). The pump is released on the JS thread.
  void HoldMainQueuePump(Napi::Env env);

 private:
  ~HostEventBridge() = default;
  static void Wake(void* self);
  void Drain(Napi::Env env, Napi::Function fn);

  BackendHost host_;
  Napi::ThreadSafeFunction tsfn_;
  std::atomic<bool> released_{false};  // Release() may come from a data-plane thread
  bool pumping_ = false;  // JS thread only
};

}  // namespace agfx
