// The PVG double's descriptor classes: PGDeviceDescriptor, PGDisplayDescriptor,
// PGDisplayMode, PGIOSurfaceHostDeviceDescriptor, PGMemoryMapDescriptor.
// Test-only. Which selectors exist follows the macOS profile
// (double_core.h): the task callbacks until the macOS 27 SDK's removal,
// displayPortCount from 13, the static map from 15.4, the IOSurface mapper's
// mapMemory/unmapMemory until 15.3. Sending one the profile lacks is
// "unrecognized selector", which aborts as it did QEMU (gitlab #2913).
#include <Block.h>

#include <cstring>
#include <string>

#include "double_core.h"
#include "pg_api.h"

using pvgdouble::MacOSAtLeast;
using pvgdouble::Violation;

namespace {

// Block-typed "copy" properties: blocks are not objects under GCC's runtime,
// so setters use Block_copy/Block_release.
template <typename B>
void SetBlock(B* slot, B value) {
  B old = *slot;
  *slot = nullptr;
  if (value) *slot = (B)Block_copy(value);
  if (old) Block_release(old);
}

bool DeviceDescriptorHas(SEL s) {
  const char* n = sel_getName(s);
  static const char* const task[] = {"setCreateTask:", "createTask", "setDestroyTask:", "destroyTask", "setMapMemory:",
                                     "mapMemory",      "setUnmapMemory:", "unmapMemory", "setReadMemory:", "readMemory"};
  for (const char* t : task)
    if (std::strcmp(n, t) == 0) return !MacOSAtLeast(27, 0);
  if (!std::strcmp(n, "setDisplayPortCount:") || !std::strcmp(n, "displayPortCount")) return MacOSAtLeast(13, 0);
  static const char* const map[] = {"setMemoryMapDescriptor:", "memoryMapDescriptor", "setEnableProcessIsolation:",
                                    "enableProcessIsolation",  "setEnableArgumentBuffers:", "enableArgumentBuffers"};
  for (const char* t : map)
    if (std::strcmp(n, t) == 0) return MacOSAtLeast(15, 4);
  return true;
}

bool IosfcDescriptorHas(SEL s) {
  const char* n = sel_getName(s);
  if (!std::strcmp(n, "setMapMemory:") || !std::strcmp(n, "mapMemory") || !std::strcmp(n, "setUnmapMemory:") ||
      !std::strcmp(n, "unmapMemory"))
    return !MacOSAtLeast(15, 4);
  if (!std::strcmp(n, "setMemoryMapDescriptor:") || !std::strcmp(n, "memoryMapDescriptor")) return MacOSAtLeast(15, 4);
  return true;
}

void Unrecognized(const char* cls, SEL s) {
  Violation("unrecognized-selector", std::string("-[") + cls + " " + sel_getName(s) +
                                         "]: unrecognized selector sent to instance (macOS " +
                                         std::to_string(pvgdouble::MacOS() / 100) + "." +
                                         std::to_string(pvgdouble::MacOS() % 100) + " has no such method)");
}

}  // namespace

#define DEVICE_GATE()                                                   \
  if (!DeviceDescriptorHas(_cmd)) Unrecognized("PGDeviceDescriptor", _cmd)
#define IOSFC_GATE()                                                    \
  if (!IosfcDescriptorHas(_cmd)) Unrecognized("PGIOSurfaceHostDeviceDescriptor", _cmd)

// ---------------------------------------------------------------- PGDeviceDescriptor
@implementation PGDeviceDescriptor
@dynamic device, mmioLength, createTask, destroyTask, mapMemory, unmapMemory, readMemory, raiseInterrupt, addTraceRange,
    removeTraceRange, displayPortCount;
+ (id)allocWithZone:(NSZone*)zone {
  if (self == [PGDeviceDescriptor class]) return [AGFXPGDeviceDescriptor allocWithZone:zone];
  return [super allocWithZone:zone];
}
+ (id)alloc {
  return [self allocWithZone:NULL];
}
+ (BOOL)instancesRespondToSelector:(SEL)s {
  if (self == [PGDeviceDescriptor class]) return [AGFXPGDeviceDescriptor instancesRespondToSelector:s];
  return [super instancesRespondToSelector:s];
}
@end

@implementation AGFXPGDeviceDescriptor
+ (BOOL)instancesRespondToSelector:(SEL)s {
  return DeviceDescriptorHas(s) && [super instancesRespondToSelector:s];
}
- (BOOL)respondsToSelector:(SEL)s {
  return DeviceDescriptorHas(s) && [super respondsToSelector:s];
}
- (id)init {
  if ((self = [super init])) {
    mmio_length_ = 0x4000;  // the recommended BAR size (Apple: "should be sized to 16KB")
    ports_ = 1;
  }
  return self;
}
- (void)dealloc {
  [device_ release];
  SetBlock(&create_, (PGCreateTask)nullptr);
  SetBlock(&destroy_, (PGDestroyTask)nullptr);
  SetBlock(&map_, (PGMapMemory)nullptr);
  SetBlock(&unmap_, (PGUnmapMemory)nullptr);
  SetBlock(&read_, (PGReadMemory)nullptr);
  SetBlock(&raise_, (PGRaiseInterrupt)nullptr);
  SetBlock(&add_trace_, (PGAddTraceRange)nullptr);
  SetBlock(&remove_trace_, (PGRemoveTraceRange)nullptr);
  [map_desc_ release];
  [super dealloc];
}
- (id<MTLDevice>)device {
  return device_;
}
- (void)setDevice:(id<MTLDevice>)d {
  [d retain];
  [device_ release];
  device_ = d;
}
- (size_t)mmioLength {
  return mmio_length_;
}
- (void)setMmioLength:(size_t)n {
  mmio_length_ = n;
}
- (PGCreateTask)createTask {
  DEVICE_GATE();
  return create_;
}
- (void)setCreateTask:(PGCreateTask)b {
  DEVICE_GATE();
  SetBlock(&create_, b);
}
- (PGDestroyTask)destroyTask {
  DEVICE_GATE();
  return destroy_;
}
- (void)setDestroyTask:(PGDestroyTask)b {
  DEVICE_GATE();
  SetBlock(&destroy_, b);
}
- (PGMapMemory)mapMemory {
  DEVICE_GATE();
  return map_;
}
- (void)setMapMemory:(PGMapMemory)b {
  DEVICE_GATE();
  SetBlock(&map_, b);
}
- (PGUnmapMemory)unmapMemory {
  DEVICE_GATE();
  return unmap_;
}
- (void)setUnmapMemory:(PGUnmapMemory)b {
  DEVICE_GATE();
  SetBlock(&unmap_, b);
}
- (PGReadMemory)readMemory {
  DEVICE_GATE();
  return read_;
}
- (void)setReadMemory:(PGReadMemory)b {
  DEVICE_GATE();
  SetBlock(&read_, b);
}
- (PGRaiseInterrupt)raiseInterrupt {
  return raise_;
}
- (void)setRaiseInterrupt:(PGRaiseInterrupt)b {
  SetBlock(&raise_, b);
}
- (PGAddTraceRange)addTraceRange {
  return add_trace_;
}
- (void)setAddTraceRange:(PGAddTraceRange)b {
  SetBlock(&add_trace_, b);
}
- (PGRemoveTraceRange)removeTraceRange {
  return remove_trace_;
}
- (void)setRemoveTraceRange:(PGRemoveTraceRange)b {
  SetBlock(&remove_trace_, b);
}
- (uint32_t)displayPortCount {
  DEVICE_GATE();
  return ports_;
}
- (void)setDisplayPortCount:(uint32_t)n {
  DEVICE_GATE();
  ports_ = n;
}
- (bool)usingIOSurfaceMapper {
  return iosfc_;
}
- (void)setUsingIOSurfaceMapper:(bool)v {
  iosfc_ = v;
}
- (PGMemoryMapDescriptor*)memoryMapDescriptor {
  DEVICE_GATE();
  return map_desc_;
}
- (void)setMemoryMapDescriptor:(PGMemoryMapDescriptor*)m {
  DEVICE_GATE();
  [m retain];
  [map_desc_ release];
  map_desc_ = m;
}
- (bool)enableProcessIsolation {
  DEVICE_GATE();
  return isolation_;
}
- (void)setEnableProcessIsolation:(bool)v {
  DEVICE_GATE();
  isolation_ = v;
}
- (bool)enableArgumentBuffers {
  DEVICE_GATE();
  return argbuf_;
}
- (void)setEnableArgumentBuffers:(bool)v {
  DEVICE_GATE();
  argbuf_ = v;
}
@end

// ---------------------------------------------------------------- PGDisplayDescriptor
@implementation PGDisplayDescriptor
@dynamic name, sizeInMillimeters, queue, modeChangeHandler, newFrameEventHandler, cursorGlyphHandler, cursorShowHandler,
    cursorMoveHandler;
+ (id)allocWithZone:(NSZone*)zone {
  if (self == [PGDisplayDescriptor class]) return [AGFXPGDisplayDescriptor allocWithZone:zone];
  return [super allocWithZone:zone];
}
+ (id)alloc {
  return [self allocWithZone:NULL];
}
@end

@implementation AGFXPGDisplayDescriptor
- (id)init {
  if ((self = [super init])) used_by_ = new std::weak_ptr<void>();
  return self;
}
- (void)dealloc {
  [name_ release];
  [queue_ release];
  SetBlock(&mode_change_, (PGDisplayModeChangeHandler)nullptr);
  SetBlock(&new_frame_, (PGDisplayNewFrameEventHandler)nullptr);
  SetBlock(&glyph_, (PGDisplayCursorGlyphHandler)nullptr);
  SetBlock(&show_, (PGDisplayCursorShowHandler)nullptr);
  SetBlock(&move_, (PGDisplayCursorMoveHandler)nullptr);
  delete used_by_;
  [super dealloc];
}
// PVG copies the descriptor into the display it makes; a later change does
// nothing to that display, so a client that relies on one is wrong.
- (void)checkUnused:(const char*)what {
  if (!used_by_->expired())
    Violation("display-descriptor-changed-after-use",
              std::string("PGDisplayDescriptor.") + what +
                  " set while a display created from this descriptor is alive: PVG took its values at "
                  "newDisplayWithDescriptor: and ignores the change");
}
- (NSString*)name {
  return name_;
}
- (void)setName:(NSString*)n {
  [self checkUnused:"name"];
  NSString* c = [n copy];
  [name_ release];
  name_ = c;
}
- (NSSize)sizeInMillimeters {
  return mm_;
}
- (void)setSizeInMillimeters:(NSSize)s {
  [self checkUnused:"sizeInMillimeters"];
  mm_ = s;
}
- (dispatch_queue_t)queue {
  return queue_;
}
- (void)setQueue:(dispatch_queue_t)q {
  [self checkUnused:"queue"];
  [q retain];
  [queue_ release];
  queue_ = q;
}
- (PGDisplayModeChangeHandler)modeChangeHandler {
  return mode_change_;
}
- (void)setModeChangeHandler:(PGDisplayModeChangeHandler)b {
  [self checkUnused:"modeChangeHandler"];
  SetBlock(&mode_change_, b);
}
- (PGDisplayNewFrameEventHandler)newFrameEventHandler {
  return new_frame_;
}
- (void)setNewFrameEventHandler:(PGDisplayNewFrameEventHandler)b {
  [self checkUnused:"newFrameEventHandler"];
  SetBlock(&new_frame_, b);
}
- (PGDisplayCursorGlyphHandler)cursorGlyphHandler {
  return glyph_;
}
- (void)setCursorGlyphHandler:(PGDisplayCursorGlyphHandler)b {
  [self checkUnused:"cursorGlyphHandler"];
  SetBlock(&glyph_, b);
}
- (PGDisplayCursorShowHandler)cursorShowHandler {
  return show_;
}
- (void)setCursorShowHandler:(PGDisplayCursorShowHandler)b {
  [self checkUnused:"cursorShowHandler"];
  SetBlock(&show_, b);
}
- (PGDisplayCursorMoveHandler)cursorMoveHandler {
  return move_;
}
- (void)setCursorMoveHandler:(PGDisplayCursorMoveHandler)b {
  [self checkUnused:"cursorMoveHandler"];
  SetBlock(&move_, b);
}
@end

// ---------------------------------------------------------------- PGDisplayMode
@implementation PGDisplayMode
@dynamic sizeInPixels, refreshRate;
+ (id)allocWithZone:(NSZone*)zone {
  if (self == [PGDisplayMode class]) return [AGFXPGDisplayMode allocWithZone:zone];
  return [super allocWithZone:zone];
}
+ (id)alloc {
  return [self allocWithZone:NULL];
}
- (instancetype)initWithSizeInPixels:(PGDisplayCoord_t)s refreshRateInHz:(double)hz {
  return [super init];  // AGFXPGDisplayMode overrides
}
@end

@implementation AGFXPGDisplayMode
- (instancetype)initWithSizeInPixels:(PGDisplayCoord_t)s refreshRateInHz:(double)hz {
  if (s.x == 0 || s.y == 0 || !(hz >= 0)) {
    [self release];
    return nil;
  }
  if ((self = [super init])) {
    size_ = s;
    hz_ = hz;
  }
  return self;
}
- (PGDisplayCoord_t)sizeInPixels {
  return size_;
}
- (double)refreshRate {
  return hz_;
}
@end

// ---------------------------------------------------------------- IOSurface mapper descriptor
@implementation PGIOSurfaceHostDeviceDescriptor
- (id)init {
  if ((self = [super init])) mmio_length_ = 0x10000;
  return self;
}
+ (BOOL)instancesRespondToSelector:(SEL)s {
  return IosfcDescriptorHas(s) && [super instancesRespondToSelector:s];
}
- (BOOL)respondsToSelector:(SEL)s {
  return IosfcDescriptorHas(s) && [super respondsToSelector:s];
}
- (void)dealloc {
  SetBlock(&map_, (IOSFCMapMemory)nullptr);
  SetBlock(&unmap_, (IOSFCUnmapMemory)nullptr);
  SetBlock(&raise_, (IOSFCRaiseInterrupt)nullptr);
  [map_desc_ release];
  [super dealloc];
}
- (IOSFCMapMemory)mapMemory {
  IOSFC_GATE();
  return map_;
}
- (void)setMapMemory:(IOSFCMapMemory)b {
  IOSFC_GATE();
  SetBlock(&map_, b);
}
- (IOSFCUnmapMemory)unmapMemory {
  IOSFC_GATE();
  return unmap_;
}
- (void)setUnmapMemory:(IOSFCUnmapMemory)b {
  IOSFC_GATE();
  SetBlock(&unmap_, b);
}
- (IOSFCRaiseInterrupt)raiseInterrupt {
  return raise_;
}
- (void)setRaiseInterrupt:(IOSFCRaiseInterrupt)b {
  SetBlock(&raise_, b);
}
- (PGMemoryMapDescriptor*)memoryMapDescriptor {
  IOSFC_GATE();
  return map_desc_;
}
- (void)setMemoryMapDescriptor:(PGMemoryMapDescriptor*)m {
  IOSFC_GATE();
  [m retain];
  [map_desc_ release];
  map_desc_ = m;
}
- (size_t)mmioLength {
  return mmio_length_;
}
- (void)setMmioLength:(size_t)n {
  mmio_length_ = n;
}
@end

// ---------------------------------------------------------------- PGMemoryMapDescriptor
@implementation PGMemoryMapDescriptor
- (id)init {
  if ((self = [super init])) ranges_ = new std::vector<PGGuestPhysicalRange_s>();
  return self;
}
- (void)dealloc {
  delete ranges_;
  [super dealloc];
}
- (void)addRange:(struct PGGuestPhysicalRange_s)r {
  if (r.physicalLength == 0 || !r.hostAddress)
    Violation("memory-map-bad-range", "PGMemoryMapDescriptor addRange: with an empty range or no host address");
  ranges_->push_back(r);
}
- (NSArray*)getRanges {
  NSMutableArray* a = [NSMutableArray array];
  for (const auto& r : *ranges_) [a addObject:[NSValue valueWithBytes:&r objCType:@encode(struct PGGuestPhysicalRange_s)]];
  return a;
}
@end
