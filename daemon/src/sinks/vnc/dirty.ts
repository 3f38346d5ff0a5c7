// Damage detection: which 64x64 tiles of a frame differ from the frame a
// client last got, and the rectangles that cover them. Rows are compared
// with memcmp (Buffer.compare) first, so an unchanged frame costs one
// memcmp per row and a changed row pins down its tiles quickly.
import type { Rect } from './rfb.js';

export const TILE = 64;

export const tileCols = (width: number): number => Math.ceil(width / TILE);
export const tileRows = (height: number): number => Math.ceil(height / TILE);

/**
 * Sets `dirty[ty * cols + tx] = 1` for every tile of the width x height
 * area (top-left of both frames) whose pixels differ. Both frames are BGRA,
 * `prevStride` / `nextStride` bytes per row. Returns the number of tiles newly marked.
 */
export function markDirtyTiles(prev: Buffer, prevStride: number, next: Buffer, nextStride: number, width: number, height: number, dirty: Uint8Array): number {
  const cols = tileCols(width);
  const rowBytes = width * 4;
  let marked = 0;
  for (let ty = 0; ty * TILE < height; ty++) {
    const base = ty * cols;
    let clean = 0;
    for (let tx = 0; tx < cols; tx++) if (!dirty[base + tx]) clean++;
    const yEnd = Math.min(height, (ty + 1) * TILE);
    // Packed rows: one memcmp for the whole band of tiles first.
    if (prevStride === rowBytes && nextStride === rowBytes) {
      const p0 = ty * TILE * rowBytes;
      const p1 = yEnd * rowBytes;
      if (next.compare(prev, p0, p1, p0, p1) === 0) continue;
    }
    for (let y = ty * TILE; y < yEnd && clean > 0; y++) {
      const p = y * prevStride;
      const n = y * nextStride;
      if (next.compare(prev, p, p + rowBytes, n, n + rowBytes) === 0) continue;
      for (let tx = 0; tx < cols; tx++) {
        if (dirty[base + tx]) continue;
        const o = tx * TILE * 4;
        const e = Math.min(rowBytes, o + TILE * 4);
        if (next.compare(prev, p + o, p + e, n + o, n + e) !== 0) {
          dirty[base + tx] = 1;
          clean--;
          marked++;
        }
      }
    }
  }
  return marked;
}

/** Marks every tile that intersects `r`. */
export function markRect(dirty: Uint8Array, width: number, height: number, r: Rect): void {
  const cols = tileCols(width);
  const x1 = Math.min(width, r.x + r.w);
  const y1 = Math.min(height, r.y + r.h);
  if (r.x >= x1 || r.y >= y1) return;
  for (let ty = Math.floor(r.y / TILE); ty * TILE < y1; ty++)
    for (let tx = Math.floor(r.x / TILE); tx * TILE < x1; tx++) dirty[ty * cols + tx] = 1;
}

/**
 * Rectangles covering the marked tiles: horizontal runs of tiles, merged
 * with the runs below when they span the same columns. Clipped to the frame.
 */
export function tilesToRects(dirty: Uint8Array, width: number, height: number): Rect[] {
  const cols = tileCols(width);
  const rows = tileRows(height);
  const rects: Rect[] = [];
  let open = new Map<number, Rect>(); // key: tx0 * 65536 + tx1, runs of the previous tile row
  for (let ty = 0; ty < rows; ty++) {
    const next = new Map<number, Rect>();
    const y = ty * TILE;
    const h = Math.min(TILE, height - y);
    for (let tx = 0; tx < cols; ) {
      if (!dirty[ty * cols + tx]) {
        tx++;
        continue;
      }
      const start = tx;
      while (tx < cols && dirty[ty * cols + tx]) tx++;
      const key = start * 65536 + tx;
      const above = open.get(key);
      if (above) {
        above.h += h;
        open.delete(key);
        next.set(key, above);
      } else {
        const x = start * TILE;
        const r = { x, y, w: Math.min(width, tx * TILE) - x, h };
        rects.push(r);
        next.set(key, r);
      }
    }
    open = next;
  }
  return rects;
}

/**
 * Changed tiles between two frames, shared by all viewers that go from the
 * same frame to the same frame (the common case: several viewers of one
 * display keep up with it), so the comparison runs once per frame pair.
 */
const pairCache = new WeakMap<Buffer, { next: Buffer; width: number; height: number; tiles: Uint8Array }>();

export function changedTiles(prev: Buffer, next: Buffer, width: number, height: number): Uint8Array {
  const hit = pairCache.get(prev);
  if (hit && hit.next === next && hit.width === width && hit.height === height) return hit.tiles;
  const tiles = new Uint8Array(tileCols(width) * tileRows(height));
  markDirtyTiles(prev, width * 4, next, width * 4, width, height, tiles);
  pairCache.set(prev, { next, width, height, tiles });
  return tiles;
}
