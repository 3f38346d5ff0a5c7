// ZRLE encoding (16): 64x64 tiles, each solid, packed-palette (2..16 colours),
// plain RLE or raw, whichever is smallest, in CPIXELs (3 bytes for 24-bit
// colour in 32-bit pixels); the tile stream goes through the client's
// persistent deflate stream.
import type { PixelTranslator } from '../pixel-format.js';
import { Encoding, rectHeader, u32, type Rect } from '../rfb.js';
import type { DeflateStream } from './deflate-stream.js';

export const ZRLE_TILE = 64;

const SUB_RAW = 0;
const SUB_SOLID = 1;
const SUB_PLAIN_RLE = 128;

const vals = new Uint32Array(ZRLE_TILE * ZRLE_TILE);
const palette = new Uint32Array(16);

/** Encodes one tile into `out` at `o`; returns the new offset. */
function encodeTile(
  tr: PixelTranslator,
  frame: Buffer,
  stride: number,
  x: number,
  y: number,
  tw: number,
  th: number,
  out: Buffer,
  o: number,
): number {
  const cp = tr.cpixelBytes;
  let n = 0;
  let pal = 0; // distinct colours seen, 17 = too many
  let rleBytes = 0;
  let run = 0;
  let prev = -1;
  for (let r = 0; r < th; r++) {
    let s = (y + r) * stride + x * 4;
    for (let c = 0; c < tw; c++, s += 4) {
      const v = tr.value(frame, s);
      vals[n++] = v;
      if (v === prev) {
        run++;
        continue;
      }
      if (run > 0) rleBytes += cp + Math.floor((run - 1) / 255) + 1;
      prev = v;
      run = 1;
      if (pal <= 16) {
        let k = 0;
        while (k < pal && palette[k] !== v) k++;
        if (k === pal) {
          if (pal < 16) palette[k] = v;
          pal++;
        }
      }
    }
  }
  rleBytes += cp + Math.floor((run - 1) / 255) + 1;

  if (pal === 1) {
    out[o++] = SUB_SOLID;
    return tr.writeValue(out, o, vals[0]!, true);
  }
  const rawBytes = n * cp;
  const bits = pal <= 2 ? 1 : pal <= 4 ? 2 : 4;
  const packedBytes = pal <= 16 ? pal * cp + th * Math.ceil((tw * bits) / 8) : Infinity;
  if (packedBytes <= rawBytes && packedBytes <= rleBytes) {
    out[o++] = pal;
    for (let k = 0; k < pal; k++) o = tr.writeValue(out, o, palette[k]!, true);
    let i = 0;
    for (let r = 0; r < th; r++) {
      let acc = 0;
      let nbits = 0;
      for (let c = 0; c < tw; c++) {
        const v = vals[i++]!;
        let k = 0;
        while (palette[k] !== v) k++;
        acc = (acc << bits) | k;
        nbits += bits;
        if (nbits === 8) {
          out[o++] = acc;
          acc = 0;
          nbits = 0;
        }
      }
      if (nbits > 0) out[o++] = (acc << (8 - nbits)) & 0xff;
    }
    return o;
  }
  if (rleBytes < rawBytes) {
    out[o++] = SUB_PLAIN_RLE;
    let i = 0;
    while (i < n) {
      const v = vals[i]!;
      let len = 1;
      while (i + len < n && vals[i + len] === v) len++;
      i += len;
      o = tr.writeValue(out, o, v, true);
      let rest = len - 1;
      while (rest >= 255) {
        out[o++] = 255;
        rest -= 255;
      }
      out[o++] = rest;
    }
    return o;
  }
  out[o++] = SUB_RAW;
  for (let i = 0; i < n; i++) o = tr.writeValue(out, o, vals[i]!, true);
  return o;
}

/** The uncompressed ZRLE stream of tiles [from, to) of a rectangle (row-major 64x64 tiles). */
export function zrleTiles(tr: PixelTranslator, frame: Buffer, stride: number, r: Rect, from = 0, to = Infinity): Buffer {
  const tilesX = Math.ceil(r.w / ZRLE_TILE);
  const last = Math.min(to, tilesX * Math.ceil(r.h / ZRLE_TILE));
  const out = Buffer.allocUnsafe(Math.max(0, last - from) * (1 + ZRLE_TILE * ZRLE_TILE * tr.cpixelBytes));
  let o = 0;
  for (let t = from; t < last; t++) {
    const tx = (t % tilesX) * ZRLE_TILE;
    const ty = Math.floor(t / tilesX) * ZRLE_TILE;
    o = encodeTile(tr, frame, stride, r.x + tx, r.y + ty, Math.min(ZRLE_TILE, r.w - tx), Math.min(ZRLE_TILE, r.h - ty), out, o);
  }
  return out.subarray(0, o);
}

/**
 * Tiles encoded per turn of the event loop: a full-screen rectangle (510
 * tiles at 1920x1080) is encoded in slices, so vfio-user messages and other
 * viewers are served in between instead of waiting for the whole screen.
 */
const TILES_PER_TURN = 16;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The rectangle in ZRLE; `frame` must stay unchanged until this resolves (the caller pins it). */
export async function encodeZrle(tr: PixelTranslator, frame: Buffer, stride: number, r: Rect, z: DeflateStream): Promise<Buffer[]> {
  const tiles = Math.ceil(r.w / ZRLE_TILE) * Math.ceil(r.h / ZRLE_TILE);
  for (let t = 0; t < tiles; t += TILES_PER_TURN) {
    if (t > 0) await nextTurn();
    z.push(zrleTiles(tr, frame, stride, r, t, t + TILES_PER_TURN));
  }
  const data = await z.finish();
  return [rectHeader(r.x, r.y, r.w, r.h, Encoding.ZRLE), u32(data.length), data];
}
