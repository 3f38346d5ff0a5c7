// The double's declarations of ParavirtualizedGraphics' private classes, from
// the class dumps and QEMU's re-declarations (shared/reference/apple-gfx.md
// §7); the public ones come from native/stubs/ParavirtualizedGraphics. This
// is the framework's side: it does not include the client's pvg_private.h.
#pragma once
#include <stdint.h>
#import <Foundation/Foundation.h>
#import <ParavirtualizedGraphics/ParavirtualizedGraphics.h>

typedef bool (^IOSFCMapMemory)(uint64_t phys, uint64_t len, bool ro, void** va, void*, void*);
typedef bool (^IOSFCUnmapMemory)(void* va, void*, void*, void*, void*, void*);
typedef bool (^IOSFCRaiseInterrupt)(uint32_t vector);

struct PGGuestPhysicalRange_s {
  uint64_t physicalAddress;
  uint64_t physicalLength;
  void* hostAddress;
};

#ifdef __cplusplus
#include <memory>
#include <vector>
namespace pvgdouble {
struct DeviceCore;
}
#endif

// Ivars are the double's own (the client never subclasses these).
@interface PGMemoryMapDescriptor : NSObject {
 @public
  std::vector<PGGuestPhysicalRange_s>* ranges_;
}
- (void)addRange:(struct PGGuestPhysicalRange_s)range;
- (NSArray*)getRanges;
@end

@interface PGIOSurfaceHostDeviceDescriptor : NSObject {
 @public
  IOSFCMapMemory map_;
  IOSFCUnmapMemory unmap_;
  IOSFCRaiseInterrupt raise_;
  PGMemoryMapDescriptor* map_desc_;
  size_t mmio_length_;
}
@property (readwrite, nonatomic, copy) IOSFCMapMemory mapMemory;
@property (readwrite, nonatomic, copy) IOSFCUnmapMemory unmapMemory;
@property (readwrite, nonatomic, copy) IOSFCRaiseInterrupt raiseInterrupt;
@property (readwrite, nonatomic, retain) PGMemoryMapDescriptor* memoryMapDescriptor;
@property (readwrite, nonatomic) size_t mmioLength;
@end

@interface PGIOSurfaceHostDevice : NSObject {
 @public
  void* core_;  // IosfcCore (pg_device.mm)
}
- (instancetype)initWithDescriptor:(PGIOSurfaceHostDeviceDescriptor*)desc;
- (uint32_t)mmioReadAtOffset:(size_t)offset;
- (void)mmioWriteAtOffset:(size_t)offset value:(uint32_t)value;
@end

@interface PGDeviceDescriptor (DoublePrivate)
@property (readwrite, nonatomic) bool usingIOSurfaceMapper;
@property (readwrite, nonatomic, retain) PGMemoryMapDescriptor* memoryMapDescriptor;
@property (readwrite, nonatomic) bool enableProcessIsolation;
@property (readwrite, nonatomic) bool enableArgumentBuffers;
@end

// The double's instance classes behind the public ones (the stub headers
// declare no ivars, and GCC's runtime has the fragile ABI).
@interface AGFXPGDeviceDescriptor : PGDeviceDescriptor {
 @public
  id<MTLDevice> device_;
  size_t mmio_length_;
  PGCreateTask create_;
  PGDestroyTask destroy_;
  PGMapMemory map_;
  PGUnmapMemory unmap_;
  PGReadMemory read_;
  PGRaiseInterrupt raise_;
  PGAddTraceRange add_trace_;
  PGRemoveTraceRange remove_trace_;
  uint32_t ports_;
  bool iosfc_;
  PGMemoryMapDescriptor* map_desc_;
  bool isolation_, argbuf_;
}
@end

@interface AGFXPGDisplayDescriptor : PGDisplayDescriptor {
 @public
  NSString* name_;
  NSSize mm_;
  dispatch_queue_t queue_;
  PGDisplayModeChangeHandler mode_change_;
  PGDisplayNewFrameEventHandler new_frame_;
  PGDisplayCursorGlyphHandler glyph_;
  PGDisplayCursorShowHandler show_;
  PGDisplayCursorMoveHandler move_;
  // Set by newDisplayWithDescriptor: the display made from it (weak); a
  // setter called while it lives is a violation.
  std::weak_ptr<void>* used_by_;
}
@end

@interface AGFXPGDisplayMode : PGDisplayMode {
 @public
  PGDisplayCoord_t size_;
  double hz_;
}
@end
