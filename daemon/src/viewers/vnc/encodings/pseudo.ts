// Pseudo-encodings: Cursor (-239), DesktopSize (-223), DesktopName (-307),
// ExtendedDesktopSize (-308).
import type { CursorGlyph } from '../../../display/display-source.js';
import type { PixelTranslator } from '../pixel-format.js';
import { Encoding, rectHeader, u32 } from '../rfb.js';

/** Alpha at or above this is part of the cursor's shape. */
const ALPHA_OPAQUE = 128;

/**
 * The guest's cursor glyph as the client's local cursor: pixels in the
 * client's format plus a 1-bit mask (alpha >= 128), rows padded to bytes.
 * `null` sends the empty (0x0) cursor, which hides it.
 */
export function encodeCursor(tr: PixelTranslator, glyph: CursorGlyph | null): Buffer[] {
  if (!glyph || glyph.width === 0 || glyph.height === 0) return [rectHeader(0, 0, 0, 0, Encoding.CURSOR)];
  const { width: w, height: h } = glyph;
  const pixels = tr.rect(glyph.pixels, w * 4, 0, 0, w, h);
  const rowBytes = (w + 7) >> 3;
  const mask = Buffer.alloc(rowBytes * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) if (glyph.pixels[(y * w + x) * 4 + 3]! >= ALPHA_OPAQUE) mask[y * rowBytes + (x >> 3)]! |= 0x80 >> (x & 7);
  return [rectHeader(Math.min(glyph.hotX, w - 1), Math.min(glyph.hotY, h - 1), w, h, Encoding.CURSOR), pixels, mask];
}

export function encodeDesktopSize(width: number, height: number): Buffer[] {
  return [rectHeader(0, 0, width, height, Encoding.DESKTOP_SIZE)];
}

export const ExtDesktopReason = { SERVER: 0, CLIENT: 1, OTHER_CLIENT: 2 } as const;
export const ExtDesktopStatus = { OK: 0, PROHIBITED: 1, NO_RESOURCES: 2, INVALID_LAYOUT: 3 } as const;

/** One screen covering the framebuffer, id = the display's serial. */
export function encodeExtendedDesktopSize(reason: number, status: number, width: number, height: number, screenId: number): Buffer[] {
  const body = Buffer.alloc(4 + 16);
  body[0] = 1; // number of screens
  body.writeUInt32BE(screenId >>> 0, 4);
  body.writeUInt16BE(0, 8);
  body.writeUInt16BE(0, 10);
  body.writeUInt16BE(width, 12);
  body.writeUInt16BE(height, 14);
  body.writeUInt32BE(0, 16); // flags
  return [rectHeader(reason, status, width, height, Encoding.EXTENDED_DESKTOP_SIZE), body];
}

/** DesktopName: the desktop's new name, UTF-8 (any length: send it after the pixel rectangles, see ClientSession.compose). */
export function encodeDesktopName(name: string): Buffer[] {
  const text = Buffer.from(name, 'utf8');
  return [rectHeader(0, 0, 0, 0, Encoding.DESKTOP_NAME), u32(text.length), text];
}
