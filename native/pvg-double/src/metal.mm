// The PVG double's Metal subset (test-only): a device, BGRA8 textures backed
// by memory (a GPU copy, and for managed storage a CPU copy that only a blit
// synchronizeResource: brings up to date), command queues whose buffers run
// their work in order on a per-queue "GPU" thread and call completion
// handlers on another thread, and a blit encoder. What Metal's validation
// layer would reject is a contract violation here (double_core.h).
#import <Metal/Metal.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include <dispatch/dispatch.h>

#include "double_core.h"
#include "metal_internal.h"

using pvgdouble::Violation;

@interface AGFXMTLDevice : NSObject <MTLDevice>
@end
@interface AGFXMTLTexture : NSObject <MTLTexture> {
 @public
  id<MTLDevice> device_;  // not retained (devices are immortal here)
  NSUInteger width_, height_;
  MTLPixelFormat format_;
  MTLTextureUsage usage_;
  MTLStorageMode storage_;
  std::vector<uint8_t>* gpu_;
  std::vector<uint8_t>* cpu_;  // managed storage only
}
@end
@interface AGFXMTLCommandQueue : NSObject <MTLCommandQueue> {
 @public
  id<MTLDevice> device_;
  dispatch_queue_t gpu_;         // serial: the buffers' work, in commit order
  dispatch_queue_t completion_;  // serial: completion handlers, another thread
}
@end

struct CommandBufferImpl {
  std::mutex mu;
  MTLCommandBufferStatus status = MTLCommandBufferStatusNotEnqueued;
  bool encoder_open = false;
  bool failed = false;
  std::string failure;
  std::vector<std::pair<std::string, std::function<bool()>>> work;
  std::vector<MTLCommandBufferHandler> completed;  // Block_copy'd
};

@interface AGFXMTLCommandBuffer : NSObject <MTLCommandBuffer> {
 @public
  AGFXMTLCommandQueue* queue_;  // retained
  CommandBufferImpl* impl_;
  NSError* error_;
}
@end
@interface AGFXMTLBlitEncoder : NSObject <MTLBlitCommandEncoder> {
 @public
  AGFXMTLCommandBuffer* buffer_;  // retained
  bool ended_;
}
@end

// The stub header declares no ivars (GCC's runtime has the fragile ABI), so
// instances are of a private subclass that has them.
@interface AGFXTextureDescriptor : MTLTextureDescriptor {
 @public
  MTLPixelFormat format_;
  NSUInteger width_, height_;
  MTLTextureUsage usage_;
  MTLStorageMode storage_;
}
@end

// ---------------------------------------------------------------- device
@implementation AGFXMTLDevice
- (NSString*)name {
  return @"PVG double GPU";
}
- (BOOL)hasUnifiedMemory {
  return std::getenv("AGFX_PVG_DOUBLE_MANAGED") == nullptr;  // Apple silicon unless told Intel-like
}
- (BOOL)isRemovable {
  return NO;
}
- (BOOL)isLowPower {
  return NO;
}
- (id<MTLCommandQueue>)newCommandQueue {
  AGFXMTLCommandQueue* q = [AGFXMTLCommandQueue new];
  q->device_ = self;
  q->gpu_ = dispatch_queue_create("pvg-double.metal.gpu", DISPATCH_QUEUE_SERIAL);
  q->completion_ = dispatch_queue_create("pvg-double.metal.completion", DISPATCH_QUEUE_SERIAL);
  return q;
}
- (id<MTLTexture>)newTextureWithDescriptor:(MTLTextureDescriptor*)desc {
  AGFXTextureDescriptor* d = (AGFXTextureDescriptor*)desc;
  if (d->format_ != MTLPixelFormatBGRA8Unorm && d->format_ != MTLPixelFormatRGBA8Unorm) {
    Violation("metal-texture-format", "the double's Metal makes only BGRA8/RGBA8 textures");
    return nil;
  }
  if (d->width_ == 0 || d->height_ == 0 || d->width_ > 16384 || d->height_ > 16384) return nil;  // Metal returns nil
  AGFXMTLTexture* t = [AGFXMTLTexture new];
  t->device_ = self;
  t->width_ = d->width_;
  t->height_ = d->height_;
  t->format_ = d->format_;
  t->usage_ = d->usage_;
  t->storage_ = d->storage_;
  t->gpu_ = new std::vector<uint8_t>(size_t(d->width_) * d->height_ * 4, 0);
  t->cpu_ = d->storage_ == MTLStorageModeManaged ? new std::vector<uint8_t>(t->gpu_->size(), 0) : nullptr;
  return t;
}
@end

static AGFXMTLDevice* TheDevice() {
  static AGFXMTLDevice* d = [AGFXMTLDevice new];  // immortal, like the system's GPUs
  return d;
}

extern "C" id<MTLDevice> MTLCreateSystemDefaultDevice(void) { return [TheDevice() retain]; }
extern "C" NSArray<id<MTLDevice>>* MTLCopyAllDevices(void) { return [[NSArray alloc] initWithObjects:TheDevice(), nil]; }

// ---------------------------------------------------------------- texture
@implementation AGFXMTLTexture
- (void)dealloc {
  delete gpu_;
  delete cpu_;
  [super dealloc];
}
- (NSUInteger)width {
  return width_;
}
- (NSUInteger)height {
  return height_;
}
- (MTLPixelFormat)pixelFormat {
  return format_;
}
- (MTLTextureUsage)usage {
  return usage_;
}
- (MTLStorageMode)storageMode {
  return storage_;
}
- (void)getBytes:(void*)bytes bytesPerRow:(NSUInteger)bpr fromRegion:(MTLRegion)r mipmapLevel:(NSUInteger)level {
  if (storage_ == MTLStorageModePrivate) {
    Violation("metal-getbytes-private", "getBytes: on a texture with private storage");
    return;
  }
  if (level != 0 || r.origin.x + r.size.width > width_ || r.origin.y + r.size.height > height_ || r.size.depth != 1 ||
      bpr < r.size.width * 4) {
    Violation("metal-getbytes-region", "getBytes: region outside the texture, bad mip level or bytesPerRow too small");
    return;
  }
  const std::vector<uint8_t>& src = cpu_ ? *cpu_ : *gpu_;
  for (NSUInteger y = 0; y < r.size.height; ++y)
    std::memcpy(static_cast<uint8_t*>(bytes) + y * bpr, src.data() + ((r.origin.y + y) * width_ + r.origin.x) * 4,
                r.size.width * 4);
}
@end

// ---------------------------------------------------------------- queue
@implementation AGFXMTLCommandQueue
- (void)dealloc {
  dispatch_release(gpu_);
  dispatch_release(completion_);
  [super dealloc];
}
- (id<MTLCommandBuffer>)commandBuffer {
  AGFXMTLCommandBuffer* b = [AGFXMTLCommandBuffer new];
  b->queue_ = [self retain];
  b->impl_ = new CommandBufferImpl();
  return [b autorelease];  // Metal: the queue's buffers are autoreleased
}
@end

// ---------------------------------------------------------------- buffer
@implementation AGFXMTLCommandBuffer
- (void)dealloc {
  for (auto h : impl_->completed) Block_release(h);
  delete impl_;
  [error_ release];
  [queue_ release];
  [super dealloc];
}
- (MTLCommandBufferStatus)status {
  std::lock_guard l(impl_->mu);
  return impl_->status;
}
- (NSError*)error {
  return error_;
}
- (id<MTLBlitCommandEncoder>)blitCommandEncoder {
  std::lock_guard l(impl_->mu);
  if (impl_->status != MTLCommandBufferStatusNotEnqueued || impl_->encoder_open) {
    Violation("metal-encoder-order", "blitCommandEncoder on a committed buffer or with another encoder still open");
    return nil;
  }
  impl_->encoder_open = true;
  AGFXMTLBlitEncoder* e = [AGFXMTLBlitEncoder new];
  e->buffer_ = [self retain];
  return [e autorelease];
}
- (void)addCompletedHandler:(MTLCommandBufferHandler)block {
  std::lock_guard l(impl_->mu);
  if (impl_->status >= MTLCommandBufferStatusCommitted) {
    Violation("metal-handler-after-commit", "addCompletedHandler: after commit (Metal asserts)");
    return;
  }
  impl_->completed.push_back(Block_copy(block));
}
- (void)commit {
  {
    std::lock_guard l(impl_->mu);
    if (impl_->status != MTLCommandBufferStatusNotEnqueued) {
      Violation("metal-double-commit", "commit of a command buffer already committed");
      return;
    }
    if (impl_->encoder_open) Violation("metal-encoder-open", "commit with an encoder not ended (endEncoding)");
    impl_->status = MTLCommandBufferStatusCommitted;
  }
  [self retain];  // a committed buffer lives until its handlers ran
  AGFXMTLCommandQueue* q = queue_;
  dispatch_async(q->gpu_, ^{
    @autoreleasepool {  // the double's own work: leaves nothing in the worker's pool
    bool ok = true;
    std::string why;
    for (auto& [what, fn] : impl_->work)
      if (!fn()) {
        ok = false;
        why = what;
        break;
      }
    {
      std::lock_guard l(impl_->mu);
      impl_->status = ok ? MTLCommandBufferStatusCompleted : MTLCommandBufferStatusError;
    }
    if (!ok)
      error_ = [[NSError alloc] initWithDomain:@"MTLCommandBufferErrorDomain"
                                          code:1
                                      userInfo:[NSDictionary dictionaryWithObject:[NSString stringWithUTF8String:why.c_str()]
                                                                           forKey:NSLocalizedDescriptionKey]];
    // Completion handlers run on another thread; with the metal-stall hazard
    // they come late (a GPU stall), after clients that wait a fixed time gave up.
    dispatch_block_t complete = ^{
      std::vector<MTLCommandBufferHandler> hs;
      {
        std::lock_guard l(impl_->mu);
        hs = impl_->completed;
      }
      for (auto h : hs) h(self);
      [self release];
    };
    if (pvgdouble::On(pvgdouble::Hazard::kMetalStall))
      dispatch_after(dispatch_time(DISPATCH_TIME_NOW, int64_t(pvgdouble::StallMs()) * int64_t(NSEC_PER_MSEC)), q->completion_,
                     complete);
    else
      dispatch_async(q->completion_, complete);
    }
  });
}
@end

// ---------------------------------------------------------------- blit
@implementation AGFXMTLBlitEncoder
- (void)dealloc {
  if (!ended_) Violation("metal-encoder-not-ended", "a blit encoder released without endEncoding (Metal asserts)");
  [buffer_ release];
  [super dealloc];
}
- (void)synchronizeResource:(id<MTLResource>)resource {
  if (ended_) {
    Violation("metal-encoder-ended", "synchronizeResource: after endEncoding");
    return;
  }
  if (![(id)resource isKindOfClass:[AGFXMTLTexture class]]) {
    Violation("metal-foreign-resource", "synchronizeResource: of an object that is not this device's texture");
    return;
  }
  AGFXMTLTexture* t = (AGFXMTLTexture*)resource;
  [t retain];
  std::lock_guard l(buffer_->impl_->mu);
  buffer_->impl_->work.emplace_back("synchronizeResource", [t] {
    if (t->cpu_) *t->cpu_ = *t->gpu_;
    [t release];
    return true;
  });
}
- (void)endEncoding {
  if (ended_) return;
  ended_ = true;
  std::lock_guard l(buffer_->impl_->mu);
  buffer_->impl_->encoder_open = false;
}
@end

// ---------------------------------------------------------------- MTLTextureDescriptor

@implementation MTLTextureDescriptor
@dynamic usage, storageMode;
+ (id)allocWithZone:(NSZone*)zone {
  if (self == [MTLTextureDescriptor class]) return [AGFXTextureDescriptor allocWithZone:zone];
  return [super allocWithZone:zone];
}
+ (id)alloc {
  return [self allocWithZone:NULL];
}
+ (MTLTextureDescriptor*)texture2DDescriptorWithPixelFormat:(MTLPixelFormat)f
                                                      width:(NSUInteger)w
                                                     height:(NSUInteger)h
                                                  mipmapped:(BOOL)mip {
  AGFXTextureDescriptor* d = [[AGFXTextureDescriptor alloc] init];
  d->format_ = f;
  d->width_ = w;
  d->height_ = h;
  d->usage_ = MTLTextureUsageShaderRead;  // Metal's default
  // Metal's default storage: shared on unified memory, managed otherwise (macOS).
  d->storage_ = std::getenv("AGFX_PVG_DOUBLE_MANAGED") ? MTLStorageModeManaged : MTLStorageModeShared;
  if (mip) Violation("metal-mipmaps", "the double's Metal makes no mipmapped textures");
  return [d autorelease];
}
- (id)copyWithZone:(NSZone*)zone {
  return [self retain];
}
@end

@implementation AGFXTextureDescriptor
- (MTLTextureUsage)usage {
  return usage_;
}
- (void)setUsage:(MTLTextureUsage)u {
  usage_ = u;
}
- (MTLStorageMode)storageMode {
  return storage_;
}
- (void)setStorageMode:(MTLStorageMode)s {
  storage_ = s;
}
- (MTLPixelFormat)pixelFormat {
  return format_;
}
- (NSUInteger)width {
  return width_;
}
- (NSUInteger)height {
  return height_;
}
@end

namespace pvgdouble {

id<MTLDevice> DeviceOf(id object) {
  if ([object isKindOfClass:[AGFXMTLTexture class]]) return ((AGFXMTLTexture*)object)->device_;
  if ([object isKindOfClass:[AGFXMTLCommandBuffer class]]) return ((AGFXMTLCommandBuffer*)object)->queue_->device_;
  return nil;
}
bool IsDoubleTexture(id object) { return [object isKindOfClass:[AGFXMTLTexture class]]; }
bool IsDoubleCommandBuffer(id object) { return [object isKindOfClass:[AGFXMTLCommandBuffer class]]; }
uint8_t* GpuPixels(id<MTLTexture> texture) { return ((AGFXMTLTexture*)texture)->gpu_->data(); }

bool EncodeWork(id<MTLCommandBuffer> buffer, const char* what, std::function<bool()> work) {
  AGFXMTLCommandBuffer* b = (AGFXMTLCommandBuffer*)buffer;
  std::lock_guard l(b->impl_->mu);
  if (b->impl_->status != MTLCommandBufferStatusNotEnqueued || b->impl_->encoder_open) {
    Violation("metal-encode-order", std::string(what) + " into a command buffer already committed or with an encoder open");
    return false;
  }
  b->impl_->work.emplace_back(what, std::move(work));
  return true;
}

}  // namespace pvgdouble
