#include "addon/host_events.h"

#include "addon/main_queue.h"

namespace agfx {

HostEventBridge::HostEventBridge(Napi::Env env, Napi::Function on_events) : host_(&HostEventBridge::Wake, this) {
  tsfn_ = Napi::ThreadSafeFunction::New(env, on_events, "agfx-backend-events", 0, 1,
                                       [this](Napi::Env) {
                                         if (pumping_) MainQueuePumpRelease();
                                         delete this;
                                       });
  tsfn_.Unref(env);  // events alone do not keep the daemon alive
}

void HostEventBridge::HoldMainQueuePump(Napi::Env env) {
  if (pumping_) return;
  MainQueuePumpAcquire(env);
  pumping_ = true;
}

void HostEventBridge::Release() {
  if (released_.exchange(true)) return;
  host_.Stop();
  tsfn_.Release();
}

// On a backend thread. Non-blocking: if Node is shutting down the call fails
// and is dropped.
void HostEventBridge::Wake(void* self) {
  auto* bridge = static_cast<HostEventBridge*>(self);
  bridge->tsfn_.NonBlockingCall([bridge](Napi::Env env, Napi::Function fn) { bridge->Drain(env, fn); });
}

void HostEventBridge::Drain(Napi::Env env, Napi::Function fn) {
  std::deque<HostEvent> events = host_.TakeEvents();
  if (events.empty()) return;  // released meanwhile
  Napi::Array out = Napi::Array::New(env, events.size());
  static const char* kNames[] = {"new_frame", "mode_changed", "cursor_glyph", "cursor_show", "cursor_moved", "guest_error"};
  uint32_t i = 0;
  for (auto& ev : events) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", kNames[ev.kind]);
    o.Set("port", ev.port);
    switch (ev.kind) {
      case HostEvent::kNewFrame:
        o.Set("count", ev.a);
        break;
      case HostEvent::kModeChanged:
        o.Set("width", ev.a);
        o.Set("height", ev.b);
        o.Set("format", ev.c);
        break;
      case HostEvent::kCursorGlyph:
        o.Set("width", ev.a);
        o.Set("height", ev.b);
        o.Set("hotX", ev.c);
        o.Set("hotY", ev.d);
        o.Set("pixels", Napi::Buffer<uint8_t>::Copy(env, ev.pixels.data(), ev.pixels.size()));
        break;
      case HostEvent::kCursorShow:
        o.Set("show", ev.a != 0);
        break;
      case HostEvent::kCursorMoved:
        o.Set("x", ev.a);
        o.Set("y", ev.b);
        break;
      case HostEvent::kGuestError:
        o.Set("message", ev.message);
        break;
    }
    out.Set(i++, o);
  }
  // A throwing handler (or Node tearing down) must not escape a threadsafe-
  // function callback: that would be std::terminate for the whole daemon.
  try {
    fn.Call({out});
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();  // reported as an uncaught exception, then logged
  }
}

}  // namespace agfx
