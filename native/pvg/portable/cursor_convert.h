// Cursor glyphs: PVG hands an NSBitmapImageRep (32 bits per pixel, bytes in
// R, G, B, A order, rows padded to bytesPerRow); the host wants tightly packed
// BGRA8 (agfx_host.cursor_glyph). Alpha is copied unchanged: if the glyph is
// premultiplied it stays premultiplied (QEMU does the same).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace agfx::pvg {

constexpr uint32_t kMaxCursorSide = 1024;

struct CursorGlyph {
  uint32_t width = 0, height = 0;
  uint32_t hot_x = 0, hot_y = 0;
  std::vector<uint8_t> bgra;  // width * 4 bytes per row
};

// False (with *err) unless bits_per_pixel == 32, 1 <= width, height <=
// kMaxCursorSide, bytes_per_row >= width * 4 and pixels is non-null. The hot
// spot is clamped into the glyph.
bool ConvertCursorGlyph(const uint8_t* pixels, uint32_t width, uint32_t height, size_t bytes_per_row,
                        uint32_t bits_per_pixel, uint32_t hot_x, uint32_t hot_y, CursorGlyph* out, std::string* err);

// PVG's cursorPosition uses {0xffff, 0xffff} for "not on this display";
// the ABI's AGFX_CURSOR_OFF_DISPLAY is the same value in 32 bits.
void CursorPositionFromPvg(uint16_t x, uint16_t y, uint32_t* out_x, uint32_t* out_y);

}  // namespace agfx::pvg
