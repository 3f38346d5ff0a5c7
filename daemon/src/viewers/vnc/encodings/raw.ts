// Raw encoding (0): the rectangle's pixels in the client's format; and
// CopyRect (1): the client copies a rectangle of its own framebuffer.
import type { Move } from '../../../display/damage.js';
import type { PixelTranslator } from '../pixel-format.js';
import { Encoding, rectHeader, type Rect } from '../rfb.js';

export function encodeRaw(tr: PixelTranslator, frame: Buffer, stride: number, r: Rect): Buffer[] {
  return [rectHeader(r.x, r.y, r.w, r.h, Encoding.RAW), tr.rect(frame, stride, r.x, r.y, r.w, r.h)];
}

export function encodeCopyRect(m: Move): Buffer[] {
  const src = Buffer.alloc(4);
  src.writeUInt16BE(m.srcX, 0);
  src.writeUInt16BE(m.srcY, 2);
  return [rectHeader(m.x, m.y, m.w, m.h, Encoding.COPY_RECT), src];
}
