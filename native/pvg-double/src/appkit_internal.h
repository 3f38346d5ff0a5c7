#pragma once
#import <AppKit/NSBitmapImageRep.h>
#include <cstdint>
namespace pvgdouble {
// +1: an RGBA8 glyph (as PVG's cursorGlyphHandler gets it) from BGRA8 pixels,
// each row padded by `pad` bytes of garbage.
NSBitmapImageRep* NewRgbaGlyph(const uint8_t* bgra, uint32_t w, uint32_t h, uint32_t stride, uint32_t pad);
}
