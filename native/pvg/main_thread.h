// The main thread and the main dispatch queue, for the pvg backend
// (pvg-on-a-mac.md findings 8 and 15). PVG may put work on the main queue
// and wait for it from inside a call (QEMU's display handlers ran there;
// Mediouni's series and QEMU's cocoa main-loop thread exist for this). On
// macOS only the main thread's CFRunLoop drains that queue, and Node's main
// thread runs libuv: addon/main_queue_darwin.cc turns the run loop from a
// libuv hook while JS is idle, and RunOffMain (pvg_backend.mm) keeps it
// turning while a PVG call is under way: the call runs on a worker queue and
// the main thread services the main queue until it is done. So no PVG call
// is made from the main thread, where a wait on the main queue would never
// end.
//
// The one place with platform #ifs in native/pvg: macOS (CFRunLoop), which
// the PVG double on Linux provides too (its CFRunLoopRunInMode turns drain
// its main queue, pthread_main_np: native/pvg-double/sdk), and the
// syntax-only check against GNUstep (scripts/check-pvg.sh), which has
// neither.
#pragma once
#include <dispatch/dispatch.h>

#if defined(__APPLE__) || defined(AGFX_PVG_DOUBLE)
#include <CoreFoundation/CoreFoundation.h>
#include <pthread.h>
namespace agfx::pvg {
inline bool OnMainThread() { return pthread_main_np() != 0; }
// One turn of the main run loop: returns after the main queue's source ran
// (returnAfterSourceHandled), or after 10 ms with nothing to do.
inline void ServiceMainQueue() { CFRunLoopRunInMode(kCFRunLoopDefaultMode, 0.010, true); }
}  // namespace agfx::pvg
#else
namespace agfx::pvg {
inline bool OnMainThread() { return false; }
inline void ServiceMainQueue() {}
}  // namespace agfx::pvg
#endif
