// Tight encoding (7), what noVNC and TigerVNC prefer: each rectangle is cut
// into squares of at most TIGHT_TILE pixels a side (within the 2048-pixel
// width and 64 Ki-pixel limits every decoder has), and each goes as the
// cheapest of
//   fill   one colour (control 0x80 + one TPIXEL),
//   mono   two colours, 1 bit per pixel (palette filter, zlib stream 1),
//   indexed up to 256 colours, 1 byte per pixel (palette filter, stream 2),
//   full   TPIXELs (copy filter, stream 0), or JPEG at the client's quality
//          level when it sent one and the piece is photo-like (jpeg.ts).
// Data under 12 bytes goes uncompressed; the rest through the client's four
// persistent zlib streams with a sync flush per piece, after a compact length.
// TPIXEL: R, G, B bytes for 32-bit depth-24 formats with 8-bit channels,
// otherwise the client's PIXEL.
import type { PixelTranslator } from '../pixel-format.js';
import { Encoding, rectHeader, type Rect } from '../rfb.js';
import { DeflateStream } from './deflate-stream.js';
import { encodeJpeg } from './jpeg.js';

export const TIGHT_MAX_WIDTH = 2048;
export const TIGHT_MAX_PIXELS = 65536;
/**
 * The side of the squares a rectangle is cut into. Rectangle headers are
 * outside Tight's zlib streams, and its palette filter costs 8 bits a pixel
 * above two colours: on desktop-like content 256 was the smallest in bytes
 * (1.45x ZRLE, against 1.70x for 128 and 3.5x for 2048-wide bands;
 * docs/performance.md, "Tight against ZRLE").
 */
export const TIGHT_TILE = 256;
/** More colours than this in a piece and it goes as full colour (or JPEG). */
const MAX_PALETTE = 256;
/** JPEG only for pieces at least this big and with more colours than this (photos, not UI). */
const JPEG_MIN_PIXELS = 4096;
const JPEG_MIN_COLOURS = 64;

const CTL_FILL = 0x80;
const CTL_JPEG = 0x90;
const CTL_EXPLICIT_FILTER = 0x40;
const FILTER_PALETTE = 1;
const STREAM_FULL = 0;
const STREAM_MONO = 1;
const STREAM_INDEXED = 2;

/** A client's Tight state: its four zlib streams and what it asked for. */
export class TightState {
  private readonly streams: (DeflateStream | null)[] = [null, null, null, null];
  /** JPEG quality 0..9 from QualityLevel (-32..-23); null: lossless only. */
  quality: number | null = null;

  constructor(readonly zlibLevel: number) {}

  stream(i: number): DeflateStream {
    return (this.streams[i] ??= new DeflateStream(this.zlibLevel));
  }

  close(): void {
    for (const s of this.streams) s?.close();
  }
}

/** Whether TPIXELs are 3 bytes (R, G, B) for this client format. */
export function tight24(tr: PixelTranslator): boolean {
  const pf = tr.pf;
  return pf.bitsPerPixel === 32 && pf.depth === 24 && pf.trueColour && pf.redMax === 255 && pf.greenMax === 255 && pf.blueMax === 255;
}

/** Tight's compact length: 1 to 3 bytes, 7 bits each (the last 8). */
export function compactLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x4000) return Buffer.from([(n & 0x7f) | 0x80, n >> 7]);
  if (n >= 1 << 22) throw new Error(`Tight data of ${n} bytes`);
  return Buffer.from([(n & 0x7f) | 0x80, ((n >> 7) & 0x7f) | 0x80, n >> 14]);
}

/** The squares a rectangle is cut into, row by row. */
export function tightPieces(r: Rect): Rect[] {
  const out: Rect[] = [];
  for (let y = r.y; y < r.y + r.h; y += TIGHT_TILE)
    for (let x = r.x; x < r.x + r.w; x += TIGHT_TILE)
      out.push({ x, y, w: Math.min(TIGHT_TILE, r.x + r.w - x), h: Math.min(TIGHT_TILE, r.y + r.h - y) });
  return out;
}

/**
 * Per piece: the client pixel values, and its palette when it has few
 * colours. Shared by every session: safe because a piece's analysis and its
 * use (building the palette and data) run in one synchronous stretch, before
 * the next await.
 */
const values = new Uint32Array(TIGHT_MAX_PIXELS);
/** Each pixel's palette index (while the piece has at most MAX_PALETTE colours). */
const indices = new Uint8Array(TIGHT_MAX_PIXELS);
const paletteIndex = new Map<number, number>();
const paletteValues: number[] = [];

/** Distinct colours of the piece (values[] filled); MAX_PALETTE + 1 means "more". */
function analyse(tr: PixelTranslator, frame: Buffer, stride: number, p: Rect): number {
  paletteIndex.clear();
  paletteValues.length = 0;
  let n = 0;
  let prev = -1;
  let prevIndex = 0;
  let many = false;
  for (let r = 0; r < p.h; r++) {
    let s = (p.y + r) * stride + p.x * 4;
    for (let c = 0; c < p.w; c++, s += 4) {
      const v = tr.value(frame, s);
      if (v !== prev && !many) {
        // a Map lookup only where the colour changes (runs are the rule in UI content)
        prev = v;
        const k = paletteIndex.get(v);
        if (k !== undefined) prevIndex = k;
        else if (paletteValues.length === MAX_PALETTE) many = true;
        else {
          prevIndex = paletteValues.length;
          paletteIndex.set(v, prevIndex);
          paletteValues.push(v);
        }
      }
      indices[n] = prevIndex;
      values[n++] = v;
    }
  }
  return many ? MAX_PALETTE + 1 : paletteValues.length;
}

function writeTpixel(tr: PixelTranslator, is24: boolean, out: Buffer, o: number, v: number): number {
  if (!is24) return tr.writeValue(out, o, v);
  // 3 bytes, red green blue: the channel values at their shifts.
  const pf = tr.pf;
  out[o] = (v >>> pf.redShift) & 0xff;
  out[o + 1] = (v >>> pf.greenShift) & 0xff;
  out[o + 2] = (v >>> pf.blueShift) & 0xff;
  return o + 3;
}

/** Basic compression: raw under 12 bytes, else compact length + this piece of the stream. */
async function compressed(state: TightState, stream: number, data: Buffer): Promise<Buffer[]> {
  if (data.length < 12) return [data];
  const z = await state.stream(stream).compress(data);
  return [compactLength(z.length), z];
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A fill rectangle (one colour). */
function fillRect(tr: PixelTranslator, is24: boolean, tp: number, t: Rect, v: number): Buffer[] {
  const px = Buffer.allocUnsafe(1 + tp);
  px[0] = CTL_FILL;
  writeTpixel(tr, is24, px, 1, v);
  return [rectHeader(t.x, t.y, t.w, t.h, Encoding.TIGHT), px];
}

/**
 * The rectangle in Tight: one or more rectangles (each header + data) for the
 * update. `frame` must stay unchanged until this resolves (the caller pins it).
 * `lossy` collects the pieces sent as JPEG (to be refreshed losslessly).
 * Solid squares next to each other in a row, of one colour, go as one fill.
 */
export async function encodeTight(
  tr: PixelTranslator,
  frame: Buffer,
  stride: number,
  r: Rect,
  state: TightState,
  lossy?: Rect[],
): Promise<Buffer[][]> {
  const is24 = tight24(tr);
  const tp = is24 ? 3 : tr.bpp;
  const out: Buffer[][] = [];
  /** Solid squares of one colour, in one row, not sent yet. */
  let run: { r: Rect; v: number } | null = null;
  const flush = (): void => {
    if (run) out.push(fillRect(tr, is24, tp, run.r, run.v));
    run = null;
  };
  let first = true;
  for (const p of tightPieces(r)) {
    // A big rectangle yields to the event loop between pieces: the JS thread
    // also answers vCPUs waiting on region replies (docs/design.md invariant 3).
    if (!first) await nextTurn();
    first = false;
    const colours = analyse(tr, frame, stride, p);
    const n = p.w * p.h;
    if (colours === 1) {
      if (run && run.v === values[0] && run.r.y === p.y && run.r.x + run.r.w === p.x) run.r.w += p.w;
      else {
        flush();
        run = { r: { ...p }, v: values[0]! };
      }
      continue;
    }
    flush();
    const header = rectHeader(p.x, p.y, p.w, p.h, Encoding.TIGHT);
    if (colours <= MAX_PALETTE && (colours === 2 || colours * tp < n)) {
      const mono = colours === 2;
      const head = Buffer.allocUnsafe(3 + colours * tp);
      head[0] = ((mono ? STREAM_MONO : STREAM_INDEXED) << 4) | CTL_EXPLICIT_FILTER;
      head[1] = FILTER_PALETTE;
      head[2] = colours - 1;
      let o = 3;
      for (const v of paletteValues) o = writeTpixel(tr, is24, head, o, v);
      let data: Buffer;
      if (mono) {
        const rowBytes = (p.w + 7) >> 3;
        data = Buffer.alloc(rowBytes * p.h);
        for (let y = 0, i = 0; y < p.h; y++)
          for (let x = 0; x < p.w; x++, i++) if (indices[i] === 1) data[y * rowBytes + (x >> 3)]! |= 0x80 >> (x & 7);
      } else data = Buffer.from(indices.subarray(0, n));
      out.push([header, head, ...(await compressed(state, mono ? STREAM_MONO : STREAM_INDEXED, data))]);
      continue;
    }
    if (state.quality !== null && is24 && n >= JPEG_MIN_PIXELS && colours > JPEG_MIN_COLOURS) {
      const jpeg = encodeJpeg(frame, stride, p, state.quality);
      out.push([header, Buffer.from([CTL_JPEG]), compactLength(jpeg.length), jpeg]);
      lossy?.push(p);
      continue;
    }
    const data = Buffer.allocUnsafe(n * tp);
    for (let i = 0, o = 0; i < n; i++) o = writeTpixel(tr, is24, data, o, values[i]!);
    out.push([header, Buffer.from([STREAM_FULL << 4]), ...(await compressed(state, STREAM_FULL, data))]);
  }
  flush();
  return out;
}
