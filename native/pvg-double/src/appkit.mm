// The PVG double's AppKit: NSImageRep / NSBitmapImageRep, only as PVG hands
// cursor glyphs to its client (RGBA8, 32 bits per pixel, rows possibly
// padded). Test-only. The stub header has no ivars (fragile ABI), so the
// pixels live in a side buffer owned by the object.
#import <AppKit/NSBitmapImageRep.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "appkit_internal.h"

@interface AGFXBitmapImageRep : NSBitmapImageRep {
 @public
  std::vector<uint8_t>* px_;
  NSInteger w_, h_, bpr_;
}
@end

@implementation NSImageRep
@dynamic pixelsWide, pixelsHigh;
@end

@implementation NSBitmapImageRep
@dynamic bitmapData, bitsPerPixel, bytesPerRow;
@end

@implementation AGFXBitmapImageRep
- (void)dealloc {
  delete px_;
  [super dealloc];
}
- (NSInteger)pixelsWide {
  return w_;
}
- (void)setPixelsWide:(NSInteger)w {
  w_ = w;
}
- (NSInteger)pixelsHigh {
  return h_;
}
- (void)setPixelsHigh:(NSInteger)h {
  h_ = h;
}
- (unsigned char*)bitmapData {
  return px_->data();
}
- (NSInteger)bitsPerPixel {
  return 32;
}
- (NSInteger)bytesPerRow {
  return bpr_;
}
@end

namespace pvgdouble {

NSBitmapImageRep* NewRgbaGlyph(const uint8_t* bgra, uint32_t w, uint32_t h, uint32_t stride, uint32_t pad) {
  AGFXBitmapImageRep* r = [AGFXBitmapImageRep new];
  r->w_ = w;
  r->h_ = h;
  r->bpr_ = NSInteger(w) * 4 + pad;  // rows padded, as AppKit may
  r->px_ = new std::vector<uint8_t>(size_t(r->bpr_) * h, 0xEE);
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x) {
      const uint8_t* s = bgra + size_t(y) * stride + size_t(x) * 4;
      uint8_t* d = r->px_->data() + size_t(y) * r->bpr_ + size_t(x) * 4;
      d[0] = s[2], d[1] = s[1], d[2] = s[0], d[3] = s[3];  // RGBA in memory
    }
  return r;
}

}  // namespace pvgdouble
