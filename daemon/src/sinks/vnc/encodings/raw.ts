// Raw encoding (0): the rectangle's pixels in the client's format.
import type { PixelTranslator } from '../pixel-format.js';
import { Encoding, rectHeader, type Rect } from '../rfb.js';

export function encodeRaw(tr: PixelTranslator, frame: Buffer, stride: number, r: Rect): Buffer[] {
  return [rectHeader(r.x, r.y, r.w, r.h, Encoding.RAW), tr.rect(frame, stride, r.x, r.y, r.w, r.h)];
}
