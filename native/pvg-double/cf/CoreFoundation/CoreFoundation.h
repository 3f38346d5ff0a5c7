/* <CoreFoundation/CoreFoundation.h> of the PVG double (test-only; never in
 * the macOS build): the run-loop calls the daemon's main-queue pump
 * (native/addon/main_queue_darwin.cc) and the pvg backend
 * (native/pvg/main_thread.h) make, with the SDK's signatures. Implemented in
 * native/pvg-double/src/dispatch.mm: a turn of the main thread's run loop
 * drains the double's main queue, as _dispatch_main_queue_callback_4CF does
 * on macOS; other threads have no main-queue source. Also used by the Linux
 * addon to call that pump (native/addon/main_queue_cf_linux.cc). Plain C. */
#ifndef AGFX_DOUBLE_COREFOUNDATION_H
#define AGFX_DOUBLE_COREFOUNDATION_H
#include <stdint.h>

#ifdef __cplusplus
#define CF_EXPORT extern "C" __attribute__((visibility("default")))
#else
#define CF_EXPORT extern __attribute__((visibility("default")))
#endif

typedef unsigned char Boolean;
typedef double CFTimeInterval;
typedef const struct __CFString *CFStringRef;
typedef int32_t CFRunLoopRunResult;
enum {
  kCFRunLoopRunFinished = 1,
  kCFRunLoopRunStopped = 2,
  kCFRunLoopRunTimedOut = 3,
  kCFRunLoopRunHandledSource = 4,
};
CF_EXPORT const CFStringRef kCFRunLoopDefaultMode;
CF_EXPORT const CFStringRef kCFRunLoopCommonModes;
CF_EXPORT CFRunLoopRunResult CFRunLoopRunInMode(CFStringRef mode, CFTimeInterval seconds, Boolean returnAfterSourceHandled);
#endif
