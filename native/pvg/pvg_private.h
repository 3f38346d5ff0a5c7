// Private ParavirtualizedGraphics declarations, re-declared here as QEMU's
// apple-gfx-mmio.m does ("PVG only ships header files for the PCI variant").
// Sources: QEMU hw/display/apple-gfx-mmio.m (IOSurface mapper) and class
// dumps of macOS 15.6 / 26.0 (static memory map); see
// shared/reference/apple-gfx.md §7.
//
// None of these is guaranteed to exist at run time. Classes are looked up with
// NSClassFromString (no link-time dependency: the addon still loads where a
// class is missing) and every selector is checked with respondsToSelector:
// before use (macOS 15.4 removed -[PGIOSurfaceHostDeviceDescriptor
// setMapMemory:], and calling it aborted QEMU: gitlab qemu-project/qemu#2913).
#pragma once
#import <Foundation/Foundation.h>
#import <ParavirtualizedGraphics/ParavirtualizedGraphics.h>

NS_ASSUME_NONNULL_BEGIN

// ---- IOSurface mapper (variant mmio, arm64 hosts) ----

typedef bool (^IOSFCMapMemory)(uint64_t phys, uint64_t len, bool ro, void *_Nullable *_Nonnull va,
                               void *_Nullable, void *_Nullable);
typedef bool (^IOSFCUnmapMemory)(void *_Nullable va, void *_Nullable, void *_Nullable, void *_Nullable,
                                 void *_Nullable, void *_Nullable);
typedef bool (^IOSFCRaiseInterrupt)(uint32_t vector);

@interface PGDeviceDescriptor (IOSurfaceMapper)
@property (readwrite, nonatomic) bool usingIOSurfaceMapper;
@end

@interface PGIOSurfaceHostDeviceDescriptor : NSObject
- (instancetype)init;
@property (readwrite, nonatomic, copy, nullable) IOSFCMapMemory mapMemory;
@property (readwrite, nonatomic, copy, nullable) IOSFCUnmapMemory unmapMemory;
@property (readwrite, nonatomic, copy, nullable) IOSFCRaiseInterrupt raiseInterrupt;
@end

// QEMU declares the MMIO methods with 32-bit values; the class dump (15.6)
// shows 64-bit registers (reg_ringBase, reg_descriptorBase) and 64-bit
// accessors, so they are declared 64-bit here and 8-byte guest accesses
// pass whole (finding 12). A 4-byte access passes zero-extended, and a
// 4-byte read keeps the low half, which is right for either width.
@interface PGIOSurfaceHostDevice : NSObject
- (instancetype)initWithDescriptor:(PGIOSurfaceHostDeviceDescriptor *)desc;
- (uint64_t)mmioReadAtOffset:(size_t)offset;
- (void)mmioWriteAtOffset:(size_t)offset value:(uint64_t)value;
@end

// Its state (class dump 15.6), for migration of the mmio variant (finding 7).
// Checked with respondsToSelector: before use.
@interface PGIOSurfaceHostDevice (State)
- (nullable NSData *)saveState;
- (BOOL)restoreWithSavedState:(NSData *)state error:(NSError *_Nullable *_Nullable)error;
@end

// ---- static guest-memory map (macOS 15.4+) ----

struct PGGuestPhysicalRange_s {
  uint64_t physicalAddress;
  uint64_t physicalLength;
  void *hostAddress;
};

@interface PGMemoryMapDescriptor : NSObject
- (void)addRange:(struct PGGuestPhysicalRange_s)range;
@end

@interface PGDeviceDescriptor (StaticMemoryMap)
@property (readwrite, nonatomic, retain, nullable) PGMemoryMapDescriptor *memoryMapDescriptor;
@property (readwrite, nonatomic) bool enableProcessIsolation;
@property (readwrite, nonatomic) bool enableArgumentBuffers;
@end

// The IOSurface host device's MMIO window size (class dump; Mediouni's
// series sets 0x10000 on 15.4+).
@interface PGIOSurfaceHostDeviceDescriptor (MmioLength)
@property (readwrite, nonatomic) size_t mmioLength;
@end

@interface PGIOSurfaceHostDeviceDescriptor (StaticMemoryMap)
@property (readwrite, nonatomic, retain, nullable) PGMemoryMapDescriptor *memoryMapDescriptor;
@end

// -[_PGDevice resetWithMemoryMap:] (private). The class dump (15.6) types it
// -(BOOL): NO means PVG refused the new map and keeps using the old one.
@protocol AGFXPGDeviceMemoryMapReset <NSObject>
- (BOOL)resetWithMemoryMap:(PGMemoryMapDescriptor *)map;
@end

// ---- the task/mapping callbacks (PGDeviceDescriptor, macOS 11 to 15.3) ----
// Our own declarations of PGDevice.h's PGCreateTask ... PGReadMemory, the
// same block signatures with our own task type (PGTask_t is the client's
// type anyway: PVG only passes back what createTask returned). The macOS 27
// SDK marks the SDK's ones obsoleted, so using those would tie the build to
// an SDK; with these, one build serves macOS 11 to 27 and the choice is made
// at run time: the setters are looked up with respondsToSelector: and called
// with performSelector:withObject: (a block is an object; each setter copies
// it).
struct AgfxPgTask;
typedef struct AgfxPgTask *_Nullable (^AGFXCreateTask)(uint64_t vmSize, void *_Nullable *_Nonnull baseAddress);
typedef void (^AGFXDestroyTask)(struct AgfxPgTask *_Nonnull task);
typedef bool (^AGFXMapMemory)(struct AgfxPgTask *_Nonnull task, uint32_t rangeCount, uint64_t virtualOffset,
                              bool readOnly, PGPhysicalMemoryRange_t *_Nonnull ranges);
typedef bool (^AGFXUnmapMemory)(struct AgfxPgTask *_Nonnull task, uint64_t virtualOffset, uint64_t length);
typedef bool (^AGFXReadMemory)(uint64_t physicalAddress, uint64_t length, void *_Nonnull dst);

NS_ASSUME_NONNULL_END
