// Linux: CoreFoundation's run loop for addon/main_queue_darwin.cc (the
// macOS pump, compiled here unchanged). Linux has no CoreFoundation and no
// main dispatch queue; the one backend with a main queue is the pvg backend
// built against the PVG double (test-only, native/pvg-double/), whose
// library exports CFRunLoopRunInMode (a turn drains the double's main queue).
// MainQueuePumpAcquire names that library by an address inside it; these
// forward to its CFRunLoopRunInMode, or do nothing when none was found.
// JS thread only (the pump's hooks run there), as on macOS: main-queue
// work runs on the JS thread while JS is idle, which is why no PVG call is
// made from it (docs/design.md invariant 1; pvg/main_thread.h).
#include <CoreFoundation/CoreFoundation.h>
#include <dlfcn.h>

#include "addon/main_queue.h"

namespace agfx {
namespace {
using RunInMode = CFRunLoopRunResult (*)(CFStringRef, CFTimeInterval, Boolean);
RunInMode g_run = nullptr;
const CFStringRef* g_default_mode = nullptr;
}  // namespace

void MainQueueRunLoopFrom(const void* inside_library) {
  g_run = nullptr;
  g_default_mode = nullptr;
  Dl_info info{};
  if (!inside_library || !::dladdr(inside_library, &info) || !info.dli_fname) return;
  // The library is loaded already (the backend's handle keeps it): NOLOAD
  // only finds it; the extra reference is dropped again at once.
  void* h = ::dlopen(info.dli_fname, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  if (!h) return;
  g_run = reinterpret_cast<RunInMode>(::dlsym(h, "CFRunLoopRunInMode"));
  g_default_mode = static_cast<const CFStringRef*>(::dlsym(h, "kCFRunLoopDefaultMode"));
  if (!g_run || !g_default_mode) g_run = nullptr;
  ::dlclose(h);
}

}  // namespace agfx

extern "C" {
// The addon's own kCFRunLoopDefaultMode: replaced by the library's at the call.
const CFStringRef kCFRunLoopDefaultMode = reinterpret_cast<CFStringRef>("kCFRunLoopDefaultMode");
const CFStringRef kCFRunLoopCommonModes = reinterpret_cast<CFStringRef>("kCFRunLoopCommonModes");

CFRunLoopRunResult CFRunLoopRunInMode(CFStringRef mode, CFTimeInterval seconds, Boolean returnAfterSourceHandled) {
  if (!agfx::g_run) return kCFRunLoopRunFinished;  // no run loop: nothing to service
  return agfx::g_run(mode == kCFRunLoopDefaultMode ? *agfx::g_default_mode : mode, seconds, returnAfterSourceHandled);
}
}
