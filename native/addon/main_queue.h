// Servicing the main dispatch queue while JS is idle (macOS; pvg-on-a-mac.md
// finding 8). PVG may put work on the main queue; on macOS only the main
// thread's CFRunLoop drains it, and Node's main thread runs libuv. While a
// pvg device exists, a libuv prepare hook turns the run loop once without
// blocking (CFRunLoopRunInMode(default, 0, true)) before each poll, and an
// unref'd 4 ms timer makes sure a poll never sleeps longer than that. Calls
// into PVG themselves never run on the main thread (pvg/main_thread.h).
// main_queue_darwin.cc, on macOS and on Linux, where the run loop it turns
// is the PVG double's (test-only; main_queue_cf_linux.cc finds it in the
// loaded pvg library). JS thread only; counted, so nested users are fine.
#pragma once
#include <napi.h>

namespace agfx {

void MainQueuePumpAcquire(Napi::Env env);
void MainQueuePumpRelease();

}  // namespace agfx
