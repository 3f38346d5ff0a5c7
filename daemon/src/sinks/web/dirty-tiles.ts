// Which parts of a frame changed since the last frame sent to a viewer.
//
// Rows are compared whole first (one memcmp each), so an idle or mostly idle
// display costs little; changed rows are then compared per TILE-pixel column,
// dirty tiles are merged into rectangles (runs along a tile row, then runs of
// equal span down the rows), and each rectangle is tightened to the pixels that
// really changed.
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export const TILE = 32;
/** More rectangles than this and one bounding rectangle is cheaper to send. */
export const MAX_RECTS = 24;

/**
 * Rectangles of `cur` that differ from `prev` (both BGRA, rows of width*4
 * bytes, same size). Empty when the frames are equal.
 */
export function dirtyRects(prev: Buffer, cur: Buffer, width: number, height: number, tile = TILE): Rect[] {
  const row = width * 4;
  const cols = Math.ceil(width / tile);
  const rowsOfTiles = Math.ceil(height / tile);
  const dirty = new Uint8Array(cols * rowsOfTiles);
  let any = false;
  for (let y = 0; y < height; y++) {
    const o = y * row;
    if (cur.compare(prev, o, o + row, o, o + row) === 0) continue;
    any = true;
    const tr = ((y / tile) | 0) * cols;
    for (let tx = 0; tx < cols; tx++) {
      if (dirty[tr + tx]) continue;
      const s = o + tx * tile * 4;
      const e = Math.min(s + tile * 4, o + row);
      if (cur.compare(prev, s, e, s, e) !== 0) dirty[tr + tx] = 1;
    }
  }
  if (!any) return [];

  // Runs of dirty tiles along each tile row, merged downwards when the span matches.
  let open: Rect[] = [];
  const done: Rect[] = [];
  for (let ty = 0; ty < rowsOfTiles; ty++) {
    const runs: Rect[] = [];
    for (let tx = 0; tx < cols; tx++) {
      if (!dirty[ty * cols + tx]) continue;
      let end = tx;
      while (end + 1 < cols && dirty[ty * cols + end + 1]) end++;
      runs.push({ x: tx, y: ty, w: end - tx + 1, h: 1 });
      tx = end;
    }
    const next: Rect[] = [];
    for (const r of runs) {
      const i = open.findIndex((o) => o.x === r.x && o.w === r.w);
      if (i >= 0) {
        const o = open.splice(i, 1)[0]!;
        o.h++;
        next.push(o);
      } else next.push(r);
    }
    done.push(...open);
    open = next;
  }
  done.push(...open);

  let rects = done.map((r) => ({
    x: r.x * tile,
    y: r.y * tile,
    w: Math.min(r.w * tile, width - r.x * tile),
    h: Math.min(r.h * tile, height - r.y * tile),
  }));
  if (rects.length > MAX_RECTS) rects = [bounds(rects)];
  return rects.map((r) => tighten(prev, cur, row, r)).filter((r): r is Rect => r !== null);
}

function bounds(rects: Rect[]): Rect {
  const x0 = Math.min(...rects.map((r) => r.x));
  const y0 = Math.min(...rects.map((r) => r.y));
  const x1 = Math.max(...rects.map((r) => r.x + r.w));
  const y1 = Math.max(...rects.map((r) => r.y + r.h));
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/** Shrinks `r` to the bounding box of the pixels that differ inside it. */
function tighten(prev: Buffer, cur: Buffer, row: number, r: Rect): Rect | null {
  const rowDiffers = (y: number): boolean => {
    const s = y * row + r.x * 4;
    return cur.compare(prev, s, s + r.w * 4, s, s + r.w * 4) !== 0;
  };
  let y0 = r.y;
  let y1 = r.y + r.h - 1;
  while (y0 <= y1 && !rowDiffers(y0)) y0++;
  if (y0 > y1) return null;
  while (y1 > y0 && !rowDiffers(y1)) y1--;
  const colDiffers = (x: number): boolean => {
    for (let y = y0; y <= y1; y++) {
      const s = y * row + x * 4;
      if (cur.readUInt32LE(s) !== prev.readUInt32LE(s)) return true;
    }
    return false;
  };
  let x0 = r.x;
  let x1 = r.x + r.w - 1;
  while (x0 < x1 && !colDiffers(x0)) x0++;
  while (x1 > x0 && !colDiffers(x1)) x1--;
  return { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
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
