/* Stub of <dispatch/dispatch.h>: only what native/pvg uses. Dispatch objects
 * are Objective-C objects (OS_OBJECT_USE_OBJC = 1), as on macOS, so that
 * `@property (retain) dispatch_queue_t queue` in PGDisplay.h type-checks. */
#ifndef AGFX_STUB_DISPATCH_H
#define AGFX_STUB_DISPATCH_H

#include <stdint.h>
#include <Block.h>
#import <Foundation/NSObject.h>

#define OS_OBJECT_USE_OBJC 1
#define DISPATCH_NOESCAPE __attribute__((__noescape__))

@protocol OS_dispatch_object <NSObject>
@end
@protocol OS_dispatch_queue <OS_dispatch_object>
@end
@protocol OS_dispatch_queue_attr <OS_dispatch_object>
@end
@protocol OS_dispatch_group <OS_dispatch_object>
@end

typedef NSObject<OS_dispatch_object> *dispatch_object_t;
typedef NSObject<OS_dispatch_queue> *dispatch_queue_t;
typedef NSObject<OS_dispatch_queue_attr> *dispatch_queue_attr_t;
typedef NSObject<OS_dispatch_group> *dispatch_group_t;
typedef void (^dispatch_block_t)(void);
typedef uint64_t dispatch_time_t;

#define DISPATCH_QUEUE_SERIAL NULL
#define DISPATCH_QUEUE_PRIORITY_DEFAULT 0
#define DISPATCH_TIME_NOW (0ull)
#define DISPATCH_TIME_FOREVER (~0ull)
#ifndef NSEC_PER_SEC
#define NSEC_PER_SEC 1000000000ull
#endif
#ifndef NSEC_PER_MSEC
#define NSEC_PER_MSEC 1000000ull
#endif

#ifdef __cplusplus
extern "C" {
#endif
dispatch_queue_t dispatch_queue_create(const char *label, dispatch_queue_attr_t attr);
dispatch_queue_t dispatch_get_global_queue(intptr_t identifier, uintptr_t flags);
dispatch_queue_t dispatch_get_main_queue(void);
void dispatch_async(dispatch_queue_t queue, dispatch_block_t block);
void dispatch_sync(dispatch_queue_t queue, DISPATCH_NOESCAPE dispatch_block_t block);
dispatch_group_t dispatch_group_create(void);
void dispatch_group_enter(dispatch_group_t group);
void dispatch_group_leave(dispatch_group_t group);
intptr_t dispatch_group_wait(dispatch_group_t group, dispatch_time_t timeout);
dispatch_time_t dispatch_time(dispatch_time_t when, int64_t delta);
void dispatch_retain(dispatch_object_t object);
void dispatch_release(dispatch_object_t object);
#ifdef __cplusplus
}
#endif
#endif
