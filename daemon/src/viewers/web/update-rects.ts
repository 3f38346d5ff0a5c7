// Which parts of a frame a browser viewer gets, and their pixels as RGBA.
import { intersect, mergeDown, type Changes, type Rect } from '../../display/damage.js';

export type { Rect };

/** More rectangles than this and merging some is cheaper to send. */
export const MAX_RECTS = 24;

/**
 * Rectangles to send for `changes`: the display's own damage rectangles,
 * clipped to the frame, merged down to MAX_RECTS. The browser copies nothing
 * itself, so a move counts as damage.
 */
export function updateRects(changes: Changes, width: number, height: number): Rect[] {
  const frame = { x: 0, y: 0, w: width, h: height };
  const all = changes.move ? [changes.move, ...changes.rects] : changes.rects;
  const clipped = all.map((r) => intersect({ x: r.x, y: r.y, w: r.w, h: r.h }, frame)).filter((r): r is Rect => r !== null);
  return mergeDown(clipped, MAX_RECTS);
}

/**
 * Copies rectangle `r` of a BGRA frame out as RGBA, alpha forced to 0xff
 * (the guest's framebuffer alpha means nothing on screen).
 */
export function extractRgba(bgra: Buffer, width: number, r: Rect): Buffer {
  const out = Buffer.allocUnsafe(r.w * r.h * 4);
  const row = width * 4;
  let d = 0;
  for (let y = r.y; y < r.y + r.h; y++) {
    let s = y * row + r.x * 4;
    const e = s + r.w * 4;
    for (; s < e; s += 4, d += 4) {
      out[d] = bgra[s + 2]!;
      out[d + 1] = bgra[s + 1]!;
      out[d + 2] = bgra[s]!;
      out[d + 3] = 0xff;
    }
  }
  return out;
}
