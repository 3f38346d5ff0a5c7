#include "cursor_convert.h"

#include "agfx_backend.h"

namespace agfx::pvg {

bool ConvertCursorGlyph(const uint8_t* pixels, uint32_t width, uint32_t height, size_t bytes_per_row,
                        uint32_t bits_per_pixel, uint32_t hot_x, uint32_t hot_y, CursorGlyph* out, std::string* err) {
  if (bits_per_pixel != 32) {
    *err = "cursor glyph with " + std::to_string(bits_per_pixel) + " bits per pixel; only 32 is supported";
    return false;
  }
  if (width == 0 || height == 0 || width > kMaxCursorSide || height > kMaxCursorSide) {
    *err = "cursor glyph of " + std::to_string(width) + "x" + std::to_string(height) + " pixels is out of range";
    return false;
  }
  if (!pixels || bytes_per_row < size_t(width) * 4) {
    *err = "cursor glyph rows of " + std::to_string(bytes_per_row) + " bytes are shorter than width * 4";
    return false;
  }
  out->width = width;
  out->height = height;
  out->hot_x = hot_x < width ? hot_x : width - 1;
  out->hot_y = hot_y < height ? hot_y : height - 1;
  out->bgra.resize(size_t(width) * height * 4);
  uint8_t* d = out->bgra.data();
  for (uint32_t y = 0; y < height; ++y) {
    const uint8_t* s = pixels + size_t(y) * bytes_per_row;  // skip the row padding
    for (uint32_t x = 0; x < width; ++x, s += 4, d += 4) {
      d[0] = s[2];  // B
      d[1] = s[1];  // G
      d[2] = s[0];  // R
      d[3] = s[3];  // A, premultiplied or not, as given
    }
  }
  return true;
}

void CursorPositionFromPvg(uint16_t x, uint16_t y, uint32_t* out_x, uint32_t* out_y) {
  bool off = x == 0xffff && y == 0xffff;
  *out_x = off ? AGFX_CURSOR_OFF_DISPLAY : x;
  *out_y = off ? AGFX_CURSOR_OFF_DISPLAY : y;
}

}  // namespace agfx::pvg
