// main_queue.h on macOS: a libuv prepare hook and an unref'd timer on
// Node's loop turn the main thread's CFRunLoop without blocking, so blocks
// PVG puts on dispatch_get_main_queue() run while JS is idle. The same code
// on Linux turns the PVG double's run loop (main_queue_cf_linux.cc).
#include <CoreFoundation/CoreFoundation.h>
#include <uv.h>

#include "addon/main_queue.h"

namespace agfx {

namespace {
uv_prepare_t* g_prepare = nullptr;
uv_timer_t* g_timer = nullptr;
int g_users = 0;

// At most a few sources a turn: a flood of main-queue work cannot starve
// libuv (the next turn comes within 4 ms).
void Turn() {
  for (int i = 0; i < 8; ++i)
    if (CFRunLoopRunInMode(kCFRunLoopDefaultMode, 0, true) != kCFRunLoopRunHandledSource) break;
}
}  // namespace

void MainQueuePumpAcquire(Napi::Env env) {
  if (g_users++ > 0) return;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) {
    g_users = 0;
    return;
  }
  g_prepare = new uv_prepare_t;
  uv_prepare_init(loop, g_prepare);
  uv_prepare_start(g_prepare, [](uv_prepare_t*) { Turn(); });
  uv_unref(reinterpret_cast<uv_handle_t*>(g_prepare));
  g_timer = new uv_timer_t;
  uv_timer_init(loop, g_timer);
  uv_timer_start(g_timer, [](uv_timer_t*) { Turn(); }, 4, 4);
  uv_unref(reinterpret_cast<uv_handle_t*>(g_timer));
}

void MainQueuePumpRelease() {
  if (g_users == 0 || --g_users > 0) return;
  uv_prepare_stop(g_prepare);
  uv_close(reinterpret_cast<uv_handle_t*>(g_prepare), [](uv_handle_t* h) { delete reinterpret_cast<uv_prepare_t*>(h); });
  uv_timer_stop(g_timer);
  uv_close(reinterpret_cast<uv_handle_t*>(g_timer), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  g_prepare = nullptr;
  g_timer = nullptr;
}

}  // namespace agfx
