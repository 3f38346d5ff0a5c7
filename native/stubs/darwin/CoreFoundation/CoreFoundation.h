/* Stub of <CoreFoundation/CoreFoundation.h> for the Darwin compile check
 * (scripts/check-darwin.sh): the run-loop calls the addon's main-queue
 * pump uses (addon/main_queue_darwin.cc) and the types Foundation's stub
 * needs, with the SDK's signatures. Nothing here is implemented. */
#ifndef AGFX_STUB_DARWIN_COREFOUNDATION_H
#define AGFX_STUB_DARWIN_COREFOUNDATION_H
#include <MacTypes.h>
#include <stdint.h>

#ifdef __cplusplus
#define CF_EXPORT extern "C" __attribute__((visibility("default")))
#else
#define CF_EXPORT extern __attribute__((visibility("default")))
#endif
#ifndef NS_RETURNS_INNER_POINTER
#define NS_RETURNS_INNER_POINTER __attribute__((objc_returns_inner_pointer))
#endif

typedef double CFTimeInterval;
typedef const struct __CFString *CFStringRef;
typedef struct __CFRunLoop *CFRunLoopRef;
typedef int32_t CFRunLoopRunResult;
enum {
  kCFRunLoopRunFinished = 1,
  kCFRunLoopRunStopped = 2,
  kCFRunLoopRunTimedOut = 3,
  kCFRunLoopRunHandledSource = 4,
};
CF_EXPORT const CFStringRef kCFRunLoopDefaultMode;
CF_EXPORT const CFStringRef kCFRunLoopCommonModes;
CF_EXPORT CFRunLoopRef CFRunLoopGetMain(void);
CF_EXPORT CFRunLoopRef CFRunLoopGetCurrent(void);
CF_EXPORT CFRunLoopRunResult CFRunLoopRunInMode(CFStringRef mode, CFTimeInterval seconds,
                                                Boolean returnAfterSourceHandled);
CF_EXPORT void CFRunLoopWakeUp(CFRunLoopRef rl);
#endif
