/* <dispatch/dispatch.h> of the PVG double (test-only; never in the macOS
 * build): the libdispatch subset the double implements on pthreads
 * (native/pvg-double/src/dispatch.mm), because Debian has no libdispatch.
 * It replaces native/stubs/dispatch/dispatch.h on the double's include path
 * and is a superset of it: same types (dispatch objects are Objective-C
 * objects, OS_OBJECT_USE_OBJC = 1, as on macOS), same signatures.
 *
 * Semantics kept from libdispatch: serial queues run one block at a time in
 * FIFO order on pool threads; concurrent and global queues run blocks in
 * parallel; dispatch_sync onto the serial queue the caller is running on is
 * a deadlock and aborts, as libdispatch's "dispatch_sync called on queue
 * already owned by current thread" does; the main queue runs only when its
 * host drains it on the main thread (dispatch_main_queue_drain_np, the
 * double's stand-in for CFRunLoop servicing it); queued work keeps a queue
 * alive. */
#ifndef AGFX_DOUBLE_DISPATCH_H
#define AGFX_DOUBLE_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
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
@protocol OS_dispatch_semaphore <OS_dispatch_object>
@end

typedef NSObject<OS_dispatch_object> *dispatch_object_t;
typedef NSObject<OS_dispatch_queue> *dispatch_queue_t;
typedef NSObject<OS_dispatch_queue_attr> *dispatch_queue_attr_t;
typedef NSObject<OS_dispatch_group> *dispatch_group_t;
typedef NSObject<OS_dispatch_semaphore> *dispatch_semaphore_t;
typedef void (^dispatch_block_t)(void);
typedef void (*dispatch_function_t)(void *);
typedef uint64_t dispatch_time_t;

#define DISPATCH_QUEUE_SERIAL NULL
#define DISPATCH_QUEUE_PRIORITY_HIGH 2
#define DISPATCH_QUEUE_PRIORITY_DEFAULT 0
#define DISPATCH_QUEUE_PRIORITY_LOW (-2)
#define DISPATCH_QUEUE_PRIORITY_BACKGROUND INT16_MIN
#define DISPATCH_TIME_NOW (0ull)
#define DISPATCH_TIME_FOREVER (~0ull)
#ifndef NSEC_PER_SEC
#define NSEC_PER_SEC 1000000000ull
#endif
#ifndef NSEC_PER_MSEC
#define NSEC_PER_MSEC 1000000ull
#endif
#ifndef NSEC_PER_USEC
#define NSEC_PER_USEC 1000ull
#endif

#ifdef __cplusplus
extern "C" {
#endif
/* DISPATCH_QUEUE_CONCURRENT is a global attribute object, as in libdispatch. */
dispatch_queue_attr_t _dispatch_queue_attr_concurrent_np(void);
#define DISPATCH_QUEUE_CONCURRENT (_dispatch_queue_attr_concurrent_np())

dispatch_queue_t dispatch_queue_create(const char *label, dispatch_queue_attr_t attr);
dispatch_queue_t dispatch_get_global_queue(intptr_t identifier, uintptr_t flags);
dispatch_queue_t dispatch_get_main_queue(void);
const char *dispatch_queue_get_label(dispatch_queue_t queue);
void dispatch_async(dispatch_queue_t queue, dispatch_block_t block);
void dispatch_async_f(dispatch_queue_t queue, void *context, dispatch_function_t work);
void dispatch_sync(dispatch_queue_t queue, DISPATCH_NOESCAPE dispatch_block_t block);
void dispatch_sync_f(dispatch_queue_t queue, void *context, dispatch_function_t work);
void dispatch_after(dispatch_time_t when, dispatch_queue_t queue, dispatch_block_t block);
dispatch_group_t dispatch_group_create(void);
void dispatch_group_enter(dispatch_group_t group);
void dispatch_group_leave(dispatch_group_t group);
intptr_t dispatch_group_wait(dispatch_group_t group, dispatch_time_t timeout);
void dispatch_group_async(dispatch_group_t group, dispatch_queue_t queue, dispatch_block_t block);
void dispatch_group_notify(dispatch_group_t group, dispatch_queue_t queue, dispatch_block_t block);
dispatch_semaphore_t dispatch_semaphore_create(intptr_t value);
intptr_t dispatch_semaphore_signal(dispatch_semaphore_t dsema);
intptr_t dispatch_semaphore_wait(dispatch_semaphore_t dsema, dispatch_time_t timeout);
dispatch_time_t dispatch_time(dispatch_time_t when, int64_t delta);
void dispatch_retain(dispatch_object_t object);
void dispatch_release(dispatch_object_t object);

/* Not libdispatch API: the double's hooks (the _np suffix as in libdispatch's
 * own non-portable calls). */
/* Runs what the main queue holds, on the main thread (the process's first
 * thread); returns how many blocks ran. This is what a CFRunLoop iteration
 * does on macOS (_dispatch_main_queue_callback_4CF). Aborts off the main thread. */
size_t dispatch_main_queue_drain_np(void);
/* The queue the calling thread is running a block of, or NULL. */
dispatch_queue_t dispatch_current_queue_np(void);
/* True if the calling thread is running a block of `queue` (or of a queue
 * that a dispatch_sync from it is waiting on). */
bool dispatch_queue_is_current_np(dispatch_queue_t queue);
/* True on the process's main thread. */
bool dispatch_is_main_thread_np(void);
#ifdef __cplusplus
}
#endif
#endif
