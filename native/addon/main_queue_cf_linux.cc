// Linux: CoreFoundation's run loop for addon/main_queue_darwin.cc (the
// macOS pump, compiled here unchanged). Linux has no CoreFoundation and no
// main dispatch queue; the one backend with a main queue is the pvg backend
// built against the PVG double (test-only, native/pvg-double/), whose
// library exports CFRunLoopRunInMode (a turn drains the double's main
// queue). The first turn looks for it among the loaded libraries (the pump
// runs only once a pvg backend exists, so its library is loaded by then)
// and keeps that library loaded; without one a turn does nothing.
// JS thread only (the pump's hooks run there), as on macOS: main-queue
// work runs on the JS thread while JS is idle, which is why no PVG call is
// made from it (docs/design.md invariant 1; pvg/main_thread.h).
#include <CoreFoundation/CoreFoundation.h>
#include <dlfcn.h>
#include <link.h>

namespace {
using RunInMode = CFRunLoopRunResult (*)(CFStringRef, CFTimeInterval, Boolean);
struct Found {
  RunInMode run = nullptr;
  const CFStringRef* default_mode = nullptr;
};

// The first loaded library, other than this one, that exports both.
Found Find() {
  Found f;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) -> int {
        auto* f = static_cast<Found*>(out);
        if (!info->dlpi_name || !*info->dlpi_name) return 0;
        void* h = ::dlopen(info->dlpi_name, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
        if (!h) return 0;
        auto run = reinterpret_cast<RunInMode>(::dlsym(h, "CFRunLoopRunInMode"));
        auto mode = static_cast<const CFStringRef*>(::dlsym(h, "kCFRunLoopDefaultMode"));
        // Not the addon's own forwarder (below); a library that has both
        // keeps the reference taken here, so it stays loaded while cached.
        if (!run || !mode || run == &CFRunLoopRunInMode) {
          ::dlclose(h);  // NOLOAD: drops only the reference this took
          return 0;
        }
        f->run = run;
        f->default_mode = mode;
        return 1;
      },
      &f);
  return f;
}

Found g_found;
bool g_looked = false;
}  // namespace

extern "C" {
// The addon's own kCFRunLoopDefaultMode: replaced by the library's at the call.
const CFStringRef kCFRunLoopDefaultMode = reinterpret_cast<CFStringRef>("kCFRunLoopDefaultMode");
const CFStringRef kCFRunLoopCommonModes = reinterpret_cast<CFStringRef>("kCFRunLoopCommonModes");

CFRunLoopRunResult CFRunLoopRunInMode(CFStringRef mode, CFTimeInterval seconds, Boolean returnAfterSourceHandled) {
  if (!g_looked) {  // once: the pvg library is loaded before the pump starts
    g_looked = true;
    g_found = Find();
  }
  if (!g_found.run) return kCFRunLoopRunFinished;  // no run loop: nothing to service
  return g_found.run(mode == kCFRunLoopDefaultMode ? *g_found.default_mode : mode, seconds, returnAfterSourceHandled);
}
}
