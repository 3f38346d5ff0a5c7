// What changed between two versions of a display's frame, as the viewers use
// it: an optional move (a blit: VNC CopyRect) and damaged rectangles, folded
// over any number of read-outs; and the tile grid the viewers send updates in.

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The pixels at (srcX, srcY, w, h) were copied to (x, y). */
export interface Move extends Rect {
  srcX: number;
  srcY: number;
}

/**
 * Applying `move` (if any) to the older frame, then replacing `rects` with
 * the newer frame's pixels, gives the newer frame.
 */
export interface Changes {
  move: Move | null;
  rects: Rect[];
}

export const TILE = 64;

export const tileCols = (width: number, tile = TILE): number => Math.ceil(width / tile);
export const tileRows = (height: number, tile = TILE): number => Math.ceil(height / tile);

export function intersect(a: Rect, b: Rect): Rect | null {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.w, b.x + b.w);
  const y1 = Math.min(a.y + a.h, b.y + b.h);
  return x1 > x && y1 > y ? { x, y, w: x1 - x, h: y1 - y } : null;
}

export function union(a: Rect | null, b: Rect): Rect {
  if (!a) return { ...b };
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y };
}

const area = (r: Rect): number => r.w * r.h;

/** `r` grown to whole cells of a `grid`-pixel grid. */
export function roundOut(r: Rect, grid: number): Rect {
  const x = Math.floor(r.x / grid) * grid;
  const y = Math.floor(r.y / grid) * grid;
  return { x, y, w: Math.ceil((r.x + r.w) / grid) * grid - x, h: Math.ceil((r.y + r.h) / grid) * grid - y };
}

/**
 * Above this many rectangles mergeDown first snaps them to a coarse grid
 * (coarsen), so that its quadratic-per-merge search never runs on a count
 * the guest or a lagging viewer controls.
 */
export const MERGE_INPUT_MAX = 64;

/**
 * Merges rectangles until at most `max` are left, each time the pair whose
 * bounding box adds the least area. More than MERGE_INPUT_MAX are first
 * coarsened to at most that many, so the cost is bounded whatever comes in.
 * Empty rectangles must not be passed.
 */
export function mergeDown(input: Rect[], max: number): Rect[] {
  const rects = input.length > MERGE_INPUT_MAX ? coarsen(input, MERGE_INPUT_MAX) : input;
  // Those inside another (or equal to an earlier one) go first.
  const rs = rects
    .filter(
      (r, i) => !rects.some((o, j) => j !== i && intersect(r, o)?.w === r.w && intersect(r, o)?.h === r.h && (area(r) < area(o) || j < i)),
    )
    .map((r) => ({ ...r }));
  while (rs.length > max) {
    let bi = 0;
    let bj = 1;
    let best = Infinity;
    for (let i = 0; i < rs.length; i++)
      for (let j = i + 1; j < rs.length; j++) {
        const a = rs[i]!;
        const b = rs[j]!;
        const both = intersect(a, b);
        const cost = area(union(a, b)) - area(a) - area(b) + (both ? area(both) : 0);
        if (cost < best) [best, bi, bj] = [cost, i, j];
      }
    rs[bi] = union(rs[bi]!, rs[bj]!);
    rs.splice(bj, 1);
  }
  return rs;
}

/**
 * At most `max` rectangles covering `rects`: their cells on a grid over
 * their bounding box, the grid as fine as `max` cells allow. Linear in the
 * input (each rectangle marks at most `max` cells).
 */
export function coarsen(rects: Rect[], max: number): Rect[] {
  if (rects.length <= max) return rects;
  let box = rects[0]!;
  for (const r of rects) box = union(box, r);
  // the smallest cell (a multiple of 8 pixels) that keeps the grid within max cells
  let cell = Math.max(8, Math.ceil(Math.sqrt((box.w * box.h) / max) / 8) * 8);
  while (tileCols(box.w, cell) * tileRows(box.h, cell) > max) cell += 8;
  const marks = new Uint8Array(tileCols(box.w, cell) * tileRows(box.h, cell));
  for (const r of rects) markRect(marks, box.w, box.h, { x: r.x - box.x, y: r.y - box.y, w: r.w, h: r.h }, cell);
  return tilesToRects(marks, box.w, box.h, cell).map((r) => ({ x: r.x + box.x, y: r.y + box.y, w: r.w, h: r.h }));
}

/** a minus b: up to four rectangles (the bands above, below, left and right of b). */
export function subtract(a: Rect, b: Rect): Rect[] {
  const i = intersect(a, b);
  if (!i) return a.w > 0 && a.h > 0 ? [{ ...a }] : [];
  const out: Rect[] = [];
  if (i.y > a.y) out.push({ x: a.x, y: a.y, w: a.w, h: i.y - a.y });
  if (i.y + i.h < a.y + a.h) out.push({ x: a.x, y: i.y + i.h, w: a.w, h: a.y + a.h - i.y - i.h });
  if (i.x > a.x) out.push({ x: a.x, y: i.y, w: i.x - a.x, h: i.h });
  if (i.x + i.w < a.x + a.w) out.push({ x: i.x + i.w, y: i.y, w: a.x + a.w - i.x - i.w, h: i.h });
  return out;
}

/**
 * A fold keeps at most this many rectangles (then merges down to
 * FOLD_MERGED), as the soft backend's history does: a bound on what grows
 * with input (docs/design.md invariant 4).
 */
export const FOLD_MAX = 64;
const FOLD_MERGED = 16;

/**
 * Appends `next` (the changes after those in `into`) to `into`. Pixels the
 * older frame lacked inside a move's source travel with it; damage the move
 * paints over is gone (the move's destination holds what its source had).
 * A second move composes with the first where the pixels it takes were put
 * there by the first one (a scroll after a scroll is one longer scroll); the
 * rest of both destinations becomes damage. The same rules as the soft
 * backend's history (native/soft/frame_history.h), and the same bound:
 * without it every move would copy every rectangle it carries, doubling the
 * count per read-out folded (issue 17: 2^n rectangles, then a RangeError).
 */
export function appendChanges(into: Changes, next: Changes): void {
  const m = next.move;
  if (m) {
    const src = { x: m.srcX, y: m.srcY, w: m.w, h: m.h };
    const dst2 = { x: m.x, y: m.y, w: m.w, h: m.h };
    const rects: Rect[] = [];
    for (const r of into.rects) {
      const s = intersect(r, src);
      if (s) rects.push({ x: s.x - m.srcX + m.x, y: s.y - m.srcY + m.y, w: s.w, h: s.h });
      for (const left of subtract(r, dst2)) rects.push(left);
    }
    into.rects = rects;
    const first = into.move;
    if (!first) into.move = { ...m };
    else {
      const d2x = m.x - m.srcX;
      const d2y = m.y - m.srcY;
      const dst1 = { x: first.x, y: first.y, w: first.w, h: first.h };
      const kept = intersect(dst2, { x: first.x + d2x, y: first.y + d2y, w: first.w, h: first.h });
      for (const r of subtract(dst1, dst2)) into.rects.push(r);
      for (const r of kept ? subtract(dst2, kept) : [dst2]) into.rects.push(r);
      if (kept) into.move = { ...kept, srcX: kept.x - (first.x - first.srcX) - d2x, srcY: kept.y - (first.y - first.srcY) - d2y };
      else {
        into.move = null;
        into.rects.push(dst1);
      }
    }
  }
  for (const r of next.rects) into.rects.push(r);
  if (into.rects.length > FOLD_MAX) into.rects = mergeDown(into.rects, FOLD_MERGED);
}

/**
 * Sets `dirty[ty * cols + tx] = 1` for every tile of the width x height
 * area (top-left of both frames) whose pixels differ. Both frames are BGRA,
 * `prevStride` / `nextStride` bytes per row. Rows are compared with memcmp
 * (Buffer.compare) first, so an unchanged frame costs one memcmp per band
 * of tiles and a changed row pins down its tiles quickly. Returns the number
 * of tiles newly marked.
 */
export function markDirtyTiles(
  prev: Buffer,
  prevStride: number,
  next: Buffer,
  nextStride: number,
  width: number,
  height: number,
  dirty: Uint8Array,
  tile = TILE,
): number {
  const cols = tileCols(width, tile);
  const rowBytes = width * 4;
  let marked = 0;
  for (let ty = 0; ty * tile < height; ty++) {
    const base = ty * cols;
    let clean = 0;
    for (let tx = 0; tx < cols; tx++) if (!dirty[base + tx]) clean++;
    const yEnd = Math.min(height, (ty + 1) * tile);
    if (prevStride === rowBytes && nextStride === rowBytes) {
      const p0 = ty * tile * rowBytes;
      const p1 = yEnd * rowBytes;
      if (next.compare(prev, p0, p1, p0, p1) === 0) continue;
    }
    for (let y = ty * tile; y < yEnd && clean > 0; y++) {
      const p = y * prevStride;
      const n = y * nextStride;
      if (next.compare(prev, p, p + rowBytes, n, n + rowBytes) === 0) continue;
      for (let tx = 0; tx < cols; tx++) {
        if (dirty[base + tx]) continue;
        const o = tx * tile * 4;
        const e = Math.min(rowBytes, o + tile * 4);
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
export function markRect(dirty: Uint8Array, width: number, height: number, r: Rect, tile = TILE): void {
  const cols = tileCols(width, tile);
  const x1 = Math.min(width, r.x + r.w);
  const y1 = Math.min(height, r.y + r.h);
  if (r.x >= x1 || r.y >= y1) return;
  for (let ty = Math.floor(r.y / tile); ty * tile < y1; ty++)
    for (let tx = Math.floor(r.x / tile); tx * tile < x1; tx++) dirty[ty * cols + tx] = 1;
}

/**
 * Rectangles covering the marked tiles: horizontal runs of tiles, merged
 * with the runs below when they span the same columns. Clipped to the frame.
 */
export function tilesToRects(dirty: Uint8Array, width: number, height: number, tile = TILE): Rect[] {
  const cols = tileCols(width, tile);
  const rows = tileRows(height, tile);
  const rects: Rect[] = [];
  let open = new Map<number, Rect>(); // key: tx0 * 65536 + tx1, runs of the previous tile row
  for (let ty = 0; ty < rows; ty++) {
    const next = new Map<number, Rect>();
    const y = ty * tile;
    const h = Math.min(tile, height - y);
    for (let tx = 0; tx < cols;) {
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
        const x = start * tile;
        const r = { x, y, w: Math.min(width, tx * tile) - x, h };
        rects.push(r);
        next.set(key, r);
      }
    }
    open = next;
  }
  return rects;
}
