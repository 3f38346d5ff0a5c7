/* Stub of <ParavirtualizedGraphics/PGDevice.h> (public API, macOS 11+).
 * With AGFX_STUB_SDK_MAJOR >= 27 the task/mapping callbacks are left out, as
 * the macOS 27 SDK obsoletes them. */
#ifndef AGFX_STUB_PGDEVICE_H
#define AGFX_STUB_PGDEVICE_H
#import <Foundation/Foundation.h>
#import <Metal/Metal.h>
#include <ParavirtualizedGraphics/PGDefines.h>

NS_ASSUME_NONNULL_BEGIN

@class PGDisplayDescriptor;
@protocol PGDisplay;

typedef struct PGPhysicalMemoryRange_s {
  uint64_t physicalAddress;
  uint64_t physicalLength;
} PGPhysicalMemoryRange_t;

typedef struct PGTraceRange_s PGTraceRange_t;

#if AGFX_STUB_SDK_MAJOR < 27
typedef struct PGTask_s PGTask_t;
typedef PGTask_t *_Nullable (^PGCreateTask)(uint64_t vmSize, void *_Nullable *_Nonnull baseAddress);
typedef void (^PGDestroyTask)(PGTask_t *_Nonnull task);
typedef bool (^PGMapMemory)(PGTask_t *_Nonnull task, uint32_t rangeCount, uint64_t virtualOffset, bool readOnly,
                            PGPhysicalMemoryRange_t *_Nonnull ranges);
typedef bool (^PGUnmapMemory)(PGTask_t *_Nonnull task, uint64_t virtualOffset, uint64_t length);
typedef bool (^PGReadMemory)(uint64_t physicalAddress, uint64_t length, void *_Nonnull dst);
#endif
typedef void (^PGRaiseInterrupt)(uint32_t vector);
typedef void (^PGTraceRangeHandler)(PGPhysicalMemoryRange_t *_Nonnull dirtyRange);
typedef PGTraceRange_t *_Nullable (^PGAddTraceRange)(PGPhysicalMemoryRange_t *_Nonnull range,
                                                     PGTraceRangeHandler _Nonnull handler);
typedef void (^PGRemoveTraceRange)(PGTraceRange_t *_Nonnull range);

API_AVAILABLE(macos(11.0))
@interface PGDeviceDescriptor : NSObject
@property (readwrite, nonatomic, retain, nullable) id<MTLDevice> device;
@property (readwrite, nonatomic) size_t mmioLength;
#if AGFX_STUB_SDK_MAJOR < 27
@property (readwrite, nonatomic, copy, nullable) PGCreateTask createTask;
@property (readwrite, nonatomic, copy, nullable) PGDestroyTask destroyTask;
@property (readwrite, nonatomic, copy, nullable) PGMapMemory mapMemory;
@property (readwrite, nonatomic, copy, nullable) PGUnmapMemory unmapMemory;
@property (readwrite, nonatomic, copy, nullable) PGReadMemory readMemory;
#endif
@property (readwrite, nonatomic, copy, nullable) PGRaiseInterrupt raiseInterrupt;
@property (readwrite, nonatomic, copy, nullable) PGAddTraceRange addTraceRange;
@property (readwrite, nonatomic, copy, nullable) PGRemoveTraceRange removeTraceRange;
@property (readwrite, nonatomic) uint32_t displayPortCount API_AVAILABLE(macos(13.0));
@end

API_AVAILABLE(macos(11.0))
@protocol PGDevice <NSObject>
- (uint32_t)mmioReadAtOffset:(size_t)offset;
- (void)mmioWriteAtOffset:(size_t)offset value:(uint32_t)value;
- (id<PGDisplay> _Nullable)newDisplayWithDescriptor:(PGDisplayDescriptor *)descriptor
                                               port:(NSUInteger)port
                                          serialNum:(uint32_t)serialNum;
- (void)willSuspend;
- (NSData *_Nullable)finishSuspend NS_RETURNS_RETAINED;
- (bool)willResumeWithSuspendState:(NSData *)suspendState error:(NSError **)error;
- (void)didResume;
- (void)pause API_AVAILABLE(macos(12.0));
- (void)unpause API_AVAILABLE(macos(12.0));
- (void)stop API_AVAILABLE(macos(12.0));
- (void)reset API_AVAILABLE(macos(12.0));
@end

PG_EXPORT NSErrorDomain const PGResumeErrorDomain API_AVAILABLE(macos(11.0));
typedef NS_ENUM(NSUInteger, PGResumeErrorCode) {
  PGResumeErrorCodeInternalFault = 0,
  PGResumeErrorCodeInvalidSuspendStateVersion = 1,
  PGResumeErrorCodeInvalidContent = 2,
  PGResumeErrorCodeInvalidGuestVersion = 3,
  PGResumeErrorCodeIncompatibleDevice = 4,
  PGResumeErrorCodeInvalidDisplayPortCount = 5,
};

PG_EXPORT id<PGDevice> _Nullable PGNewDeviceWithDescriptor(PGDeviceDescriptor *descriptor)
    API_DEPRECATED("Use PGCreateDeviceWithDescriptor", macos(11.0, 15.2));
PG_EXPORT id<PGDevice> _Nullable PGCreateDeviceWithDescriptor(PGDeviceDescriptor *descriptor) NS_RETURNS_RETAINED
    API_AVAILABLE(macos(15.2));
PG_EXPORT uint32_t PGMaxDisplayPortCount(void) API_AVAILABLE(macos(13.0));
PG_EXPORT NSURL *PGCopyOptionROMURL(void) API_AVAILABLE(macos(11.0));

NS_ASSUME_NONNULL_END
#endif
