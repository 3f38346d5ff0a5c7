// JPEG for Tight (tight.ts): a rectangle of a BGRA frame as baseline JFIF at
// a Tight quality level, with jpeg-js (pure JavaScript, pinned in
// package.json). Runs on the JS thread: Tight sends JPEG only for pieces of
// at most 64 Ki pixels, one per turn of the event loop.
import jpeg from 'jpeg-js';
import type { Rect } from '../rfb.js';

/** JPEG quality for Tight quality levels 0..9 (the table TigerVNC and TurboVNC use). */
export const JPEG_QUALITY = [15, 29, 41, 42, 62, 77, 79, 86, 92, 100] as const;

export function encodeJpeg(frame: Buffer, stride: number, r: Rect, level: number): Buffer {
  const rgba = Buffer.allocUnsafe(r.w * r.h * 4);
  for (let y = 0, o = 0; y < r.h; y++) {
    let s = (r.y + y) * stride + r.x * 4;
    for (let x = 0; x < r.w; x++, s += 4, o += 4) {
      rgba[o] = frame[s + 2]!;
      rgba[o + 1] = frame[s + 1]!;
      rgba[o + 2] = frame[s]!;
      rgba[o + 3] = 0xff;
    }
  }
  return jpeg.encode({ data: rgba, width: r.w, height: r.h }, JPEG_QUALITY[Math.max(0, Math.min(9, level))]).data;
}
