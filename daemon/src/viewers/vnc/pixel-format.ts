// RFB pixel formats (RFC 6143 7.4) and the translation of our BGRA8 frames
// into whatever true-colour format a client asked for with SetPixelFormat.

export interface PixelFormat {
  bitsPerPixel: number;
  depth: number;
  bigEndian: boolean;
  trueColour: boolean;
  redMax: number;
  greenMax: number;
  blueMax: number;
  redShift: number;
  greenShift: number;
  blueShift: number;
}

/** What we announce in ServerInit: BGRX in memory, i.e. our frames as they are. */
export const SERVER_PIXEL_FORMAT: PixelFormat = {
  bitsPerPixel: 32,
  depth: 24,
  bigEndian: false,
  trueColour: true,
  redMax: 255,
  greenMax: 255,
  blueMax: 255,
  redShift: 16,
  greenShift: 8,
  blueShift: 0,
};

export function encodePixelFormat(pf: PixelFormat): Buffer {
  const b = Buffer.alloc(16);
  b[0] = pf.bitsPerPixel;
  b[1] = pf.depth;
  b[2] = pf.bigEndian ? 1 : 0;
  b[3] = pf.trueColour ? 1 : 0;
  b.writeUInt16BE(pf.redMax, 4);
  b.writeUInt16BE(pf.greenMax, 6);
  b.writeUInt16BE(pf.blueMax, 8);
  b[10] = pf.redShift;
  b[11] = pf.greenShift;
  b[12] = pf.blueShift;
  return b;
}

export function decodePixelFormat(b: Buffer, o = 0): PixelFormat {
  return {
    bitsPerPixel: b[o]!,
    depth: b[o + 1]!,
    bigEndian: b[o + 2] !== 0,
    trueColour: b[o + 3] !== 0,
    redMax: b.readUInt16BE(o + 4),
    greenMax: b.readUInt16BE(o + 6),
    blueMax: b.readUInt16BE(o + 8),
    redShift: b[o + 10]!,
    greenShift: b[o + 11]!,
    blueShift: b[o + 12]!,
  };
}

/** Why a client's format cannot be served, or null when it can. */
export function unsupportedReason(pf: PixelFormat): string | null {
  if (![8, 16, 32].includes(pf.bitsPerPixel)) return `bits-per-pixel ${pf.bitsPerPixel}`;
  if (!pf.trueColour) return 'colour-map formats are not supported';
  for (const [max, shift] of [
    [pf.redMax, pf.redShift],
    [pf.greenMax, pf.greenShift],
    [pf.blueMax, pf.blueShift],
  ] as const) {
    if (max === 0 || (max & (max + 1)) !== 0) return `channel max ${max} is not 2^n-1`;
    if (shift + Math.log2(max + 1) > pf.bitsPerPixel) return `channel (max ${max}, shift ${shift}) does not fit in ${pf.bitsPerPixel} bits`;
  }
  return null;
}

export const bytesPerPixel = (pf: PixelFormat): number => pf.bitsPerPixel >> 3;

/** The client wants exactly our frame bytes (B, G, R, X in memory). */
export function isServerLayout(pf: PixelFormat): boolean {
  if (pf.bitsPerPixel !== 32 || !pf.trueColour || pf.redMax !== 255 || pf.greenMax !== 255 || pf.blueMax !== 255) return false;
  return pf.bigEndian
    ? pf.redShift === 8 && pf.greenShift === 16 && pf.blueShift === 24
    : pf.redShift === 16 && pf.greenShift === 8 && pf.blueShift === 0;
}

function channelTable(max: number, shift: number): Uint32Array {
  const t = new Uint32Array(256);
  for (let v = 0; v < 256; v++) t[v] = (Math.round((v * max) / 255) * 2 ** shift) >>> 0;
  return t;
}

/** Converts BGRA8 pixels into a client's pixel values and bytes. */
export class PixelTranslator {
  readonly bpp: number;
  readonly native: boolean;
  private readonly nativeLE: boolean;
  private readonly rT: Uint32Array;
  private readonly gT: Uint32Array;
  private readonly bT: Uint32Array;
  /** ZRLE's compressed pixel: 3 bytes for 24-bit colour in a 32-bit pixel. */
  readonly cpixelBytes: number;
  /** Byte offset (0 or 1) of the 3 CPIXEL bytes within a 4-byte pixel, in wire order. */
  private readonly cpixelSkip: number;
  /**
   * The bits of a pixel that belong to no channel, all set. RFC 6143 leaves
   * padding bits undefined; clients that put pixels on a canvas read the
   * padding byte of a 32-bit pixel as alpha, and noVNC 1.3's Raw decoder
   * (core/decoders/raw.js) means to force it to 255 but writes
   * `data[i * 4 + 3]` without the rectangle's offset in its receive buffer,
   * so every pixel past the first `offset / 4` of a chunk keeps the alpha we
   * send: 0 made those pixels transparent on its backbuffer, and its
   * source-over flip to the visible canvas then left the old pixels there
   * (issue 17). Opaque padding makes that bug harmless.
   */
  readonly padding: number;

  constructor(readonly pf: PixelFormat) {
    this.bpp = bytesPerPixel(pf);
    this.native = isServerLayout(pf);
    this.nativeLE = this.native && !pf.bigEndian;
    this.rT = channelTable(pf.redMax, pf.redShift);
    this.gT = channelTable(pf.greenMax, pf.greenShift);
    this.bT = channelTable(pf.blueMax, pf.blueShift);
    const top = (max: number, shift: number): number => shift + Math.log2(max + 1);
    const highest = Math.max(top(pf.redMax, pf.redShift), top(pf.greenMax, pf.greenShift), top(pf.blueMax, pf.blueShift));
    const lowest = Math.min(pf.redShift, pf.greenShift, pf.blueShift);
    if (pf.bitsPerPixel === 32 && pf.depth <= 24 && highest <= 24) {
      this.cpixelBytes = 3;
      this.cpixelSkip = pf.bigEndian ? 1 : 0; // the low 3 bytes
    } else if (pf.bitsPerPixel === 32 && pf.depth <= 24 && lowest >= 8) {
      this.cpixelBytes = 3;
      this.cpixelSkip = pf.bigEndian ? 0 : 1; // the high 3 bytes
    } else {
      this.cpixelBytes = this.bpp;
      this.cpixelSkip = 0;
    }
    const bits = (max: number, shift: number): number => (max * 2 ** shift) >>> 0;
    const used = bits(pf.redMax, pf.redShift) | bits(pf.greenMax, pf.greenShift) | bits(pf.blueMax, pf.blueShift);
    this.padding = this.native ? 0 : ((2 ** pf.bitsPerPixel - 1) & ~used) >>> 0;
  }

  /** Pixel value of the BGRA pixel at `o` in `src`. */
  value(src: Uint8Array, o: number): number {
    if (this.nativeLE) return src[o]! | (src[o + 1]! << 8) | (src[o + 2]! << 16); // BGRX: the value is the bytes
    return (this.rT[src[o + 2]!]! | this.gT[src[o + 1]!]! | this.bT[src[o]!]! | this.padding) >>> 0;
  }

  /** Writes a pixel value as `bytes` bytes (bpp, or the CPIXEL size) at `o`. */
  writeValue(out: Buffer, o: number, v: number, cpixel = false): number {
    if (cpixel && this.cpixelBytes === 3) {
      // the 4 wire bytes, minus the one that carries no colour (per pixel: no allocation)
      if (this.pf.bigEndian) {
        const sh = 24 - this.cpixelSkip * 8;
        out[o] = (v >>> sh) & 0xff;
        out[o + 1] = (v >>> (sh - 8)) & 0xff;
        out[o + 2] = (v >>> (sh - 16)) & 0xff;
      } else {
        const sh = this.cpixelSkip * 8;
        out[o] = (v >>> sh) & 0xff;
        out[o + 1] = (v >>> (sh + 8)) & 0xff;
        out[o + 2] = (v >>> (sh + 16)) & 0xff;
      }
      return o + 3;
    }
    switch (this.bpp) {
      case 4:
        if (this.pf.bigEndian) out.writeUInt32BE(v, o);
        else out.writeUInt32LE(v, o);
        return o + 4;
      case 2:
        if (this.pf.bigEndian) out.writeUInt16BE(v & 0xffff, o);
        else out.writeUInt16LE(v & 0xffff, o);
        return o + 2;
      default:
        out[o] = v & 0xff;
        return o + 1;
    }
  }

  /**
   * The rectangle (x, y, w, h) of a BGRA frame `stride` bytes per row, in the
   * client's pixel format, rows packed. Zero-copy when the client takes our
   * layout and the rectangle spans whole rows.
   */
  rect(src: Buffer, stride: number, x: number, y: number, w: number, h: number): Buffer {
    if (this.native) {
      if (x === 0 && w * 4 === stride) return src.subarray(y * stride, (y + h) * stride);
      const out = Buffer.allocUnsafe(w * h * 4);
      for (let r = 0; r < h; r++) src.copy(out, r * w * 4, (y + r) * stride + x * 4, (y + r) * stride + (x + w) * 4);
      return out;
    }
    const out = Buffer.allocUnsafe(w * h * this.bpp);
    const { rT, gT, bT, padding } = this;
    let o = 0;
    if (this.bpp === 4 && !this.pf.bigEndian) {
      for (let r = 0; r < h; r++) {
        let s = (y + r) * stride + x * 4;
        for (let c = 0; c < w; c++, s += 4) {
          const v = rT[src[s + 2]!]! | gT[src[s + 1]!]! | bT[src[s]!]! | padding;
          out[o++] = v & 0xff;
          out[o++] = (v >>> 8) & 0xff;
          out[o++] = (v >>> 16) & 0xff;
          out[o++] = (v >>> 24) & 0xff;
        }
      }
      return out;
    }
    for (let r = 0; r < h; r++) {
      let s = (y + r) * stride + x * 4;
      for (let c = 0; c < w; c++, s += 4) o = this.writeValue(out, o, (rT[src[s + 2]!]! | gT[src[s + 1]!]! | bT[src[s]!]! | padding) >>> 0);
    }
    return out;
  }
}
