// JPEG for Tight (tight.ts): a rectangle of a BGRA frame as baseline JFIF
// (ITU T.81): YCbCr 4:2:0, the Annex K quantisation tables scaled to a
// quality as IJG does, the Annex K Huffman tables, a floating-point AAN DCT.
// Written here because the pure-JavaScript encoders on npm rebuild their
// tables on every call (jpeg-js: ~80 ms before the first pixel, then ~2.6 µs
// a pixel); this one builds them once per quality and runs on typed arrays.
// It runs on the JS thread: Tight gives it one piece of at most 64 Ki pixels
// per turn of the event loop.
import type { Rect } from '../rfb.js';

/** JPEG quality for Tight quality levels 0..9 (the table TigerVNC and TurboVNC use). */
export const JPEG_QUALITY = [15, 29, 41, 42, 62, 77, 79, 86, 92, 100] as const;

/** Natural (row-major) index of the k-th coefficient in zig-zag order. */
const ZIGZAG = new Uint8Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57,
  50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]);

// Annex K.1, natural order.
const LUMA_Q = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22,
  37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_Q = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

// Annex K.3: code counts per length 1..16, then the symbols.
const DC_LUMA = { bits: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], vals: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] };
const DC_CHROMA = { bits: [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], vals: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] };
const AC_LUMA = {
  bits: [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
  vals: [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91,
    0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a,
    0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53,
    0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79,
    0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
    0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9,
    0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2,
    0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
  ],
};
const AC_CHROMA = {
  bits: [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
  vals: [
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14,
    0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17,
    0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a,
    0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78,
    0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3,
    0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
    0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2,
    0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
  ],
};

/** Code and length per symbol. */
interface Huffman {
  code: Uint16Array;
  len: Uint8Array;
}

function huffman(spec: { bits: number[]; vals: number[] }): Huffman {
  const h = { code: new Uint16Array(256), len: new Uint8Array(256) };
  let code = 0;
  let k = 0;
  for (let l = 1; l <= 16; l++) {
    for (let i = 0; i < spec.bits[l - 1]!; i++) {
      const v = spec.vals[k++]!;
      h.code[v] = code++;
      h.len[v] = l;
    }
    code <<= 1;
  }
  return h;
}

const HUFF = { dcY: huffman(DC_LUMA), acY: huffman(AC_LUMA), dcC: huffman(DC_CHROMA), acC: huffman(AC_CHROMA) };

/** AAN scale factors (IJG jfdctflt). */
const AASF = [1.0, 1.387039845, 1.306562965, 1.175875602, 1.0, 0.785694958, 0.5411961, 0.275899379];

interface Tables {
  /** Quantisation tables in zig-zag order, as written in DQT. */
  qY: Uint8Array;
  qC: Uint8Array;
  /** Multipliers turning AAN DCT output (natural order) into quantised values. */
  fY: Float64Array;
  fC: Float64Array;
}

const tablesByQuality = new Map<number, Tables>();

function tables(quality: number): Tables {
  let t = tablesByQuality.get(quality);
  if (t) return t;
  const q = Math.max(1, Math.min(100, quality));
  const scale = q < 50 ? 5000 / q : 200 - q * 2;
  const scaled = (base: number[]): Uint8Array =>
    Uint8Array.from(base, (v) => Math.max(1, Math.min(255, Math.floor((v * scale + 50) / 100))));
  const nY = scaled(LUMA_Q);
  const nC = scaled(CHROMA_Q);
  const zz = (n: Uint8Array): Uint8Array => Uint8Array.from(ZIGZAG, (i) => n[i]!);
  const f = (n: Uint8Array): Float64Array => Float64Array.from({ length: 64 }, (_, i) => 1 / (n[i]! * AASF[i >> 3]! * AASF[i & 7]! * 8));
  t = { qY: zz(nY), qC: zz(nC), fY: f(nY), fC: f(nC) };
  tablesByQuality.set(quality, t);
  return t;
}

/** Bytes out, with the entropy-coded data's 0xFF stuffing. */
class Writer {
  buf = Buffer.allocUnsafe(1 << 16);
  n = 0;
  private bits = 0;
  private count = 0;

  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + k));
    this.buf.copy(b, 0, 0, this.n);
    this.buf = b;
  }

  bytes(b: ArrayLike<number>): void {
    this.room(b.length);
    for (let i = 0; i < b.length; i++) this.buf[this.n++] = b[i]!;
  }

  u16(v: number): void {
    this.bytes([v >> 8, v & 0xff]);
  }

  put(code: number, len: number): void {
    this.bits = (this.bits << len) | code;
    this.count += len;
    this.room(4);
    while (this.count >= 8) {
      const b = (this.bits >>> (this.count - 8)) & 0xff;
      this.buf[this.n++] = b;
      if (b === 0xff) this.buf[this.n++] = 0;
      this.count -= 8;
    }
    this.bits &= (1 << this.count) - 1;
  }

  /** Pads the last byte with 1 bits. */
  flush(): void {
    if (this.count > 0) this.put((1 << (8 - this.count)) - 1, 8 - this.count);
  }
}

const block = new Float64Array(64);

/** Forward AAN DCT of `block` in place (IJG jfdctflt), rows then columns. */
function fdct(d: Float64Array): void {
  for (let pass = 0; pass < 2; pass++) {
    const step = pass === 0 ? 1 : 8;
    const stride = pass === 0 ? 8 : 1;
    for (let i = 0; i < 8; i++) {
      const o = i * stride;
      const p0 = o;
      const p1 = o + step;
      const p2 = o + 2 * step;
      const p3 = o + 3 * step;
      const p4 = o + 4 * step;
      const p5 = o + 5 * step;
      const p6 = o + 6 * step;
      const p7 = o + 7 * step;
      const t0 = d[p0]! + d[p7]!;
      const t7 = d[p0]! - d[p7]!;
      const t1 = d[p1]! + d[p6]!;
      const t6 = d[p1]! - d[p6]!;
      const t2 = d[p2]! + d[p5]!;
      const t5 = d[p2]! - d[p5]!;
      const t3 = d[p3]! + d[p4]!;
      const t4 = d[p3]! - d[p4]!;
      let t10 = t0 + t3;
      const t13 = t0 - t3;
      let t11 = t1 + t2;
      let t12 = t1 - t2;
      d[p0] = t10 + t11;
      d[p4] = t10 - t11;
      const z1 = (t12 + t13) * 0.707106781;
      d[p2] = t13 + z1;
      d[p6] = t13 - z1;
      t10 = t4 + t5;
      t11 = t5 + t6;
      t12 = t6 + t7;
      const z5 = (t10 - t12) * 0.382683433;
      const z2 = 0.5411961 * t10 + z5;
      const z4 = 1.306562965 * t12 + z5;
      const z3 = t11 * 0.707106781;
      const z11 = t7 + z3;
      const z13 = t7 - z3;
      d[p5] = z13 + z2;
      d[p3] = z13 - z2;
      d[p1] = z11 + z4;
      d[p7] = z11 - z4;
    }
  }
}

const coef = new Int32Array(64);

/** DCT, quantise, entropy-code one 8x8 block; returns its DC for the next prediction. */
function codeBlock(w: Writer, f: Float64Array, prevDc: number, dc: Huffman, ac: Huffman): number {
  fdct(block);
  for (let k = 0; k < 64; k++) {
    const i = ZIGZAG[k]!;
    coef[k] = Math.round(block[i]! * f[i]!);
  }
  const diff = coef[0]! - prevDc;
  emit(w, dc, 0, diff);
  let run = 0;
  for (let k = 1; k < 64; k++) {
    const v = coef[k]!;
    if (v === 0) {
      run++;
      continue;
    }
    while (run >= 16) {
      w.put(ac.code[0xf0]!, ac.len[0xf0]!);
      run -= 16;
    }
    emit(w, ac, run << 4, v);
    run = 0;
  }
  if (run > 0) w.put(ac.code[0]!, ac.len[0]!);
  return coef[0]!;
}

/** Huffman code of (run << 4 | size), then `v`'s size bits (negative: one's complement). */
function emit(w: Writer, h: Huffman, runBits: number, v: number): void {
  const a = v < 0 ? -v : v;
  const size = a === 0 ? 0 : 32 - Math.clz32(a);
  const sym = runBits | size;
  w.put(h.code[sym]!, h.len[sym]!);
  if (size > 0) w.put(v < 0 ? (v - 1) & ((1 << size) - 1) : v, size);
}

const yPlane = new Float64Array(16 * 16);
const cbPlane = new Float64Array(16 * 16);
const crPlane = new Float64Array(16 * 16);

/** The rectangle `r` of a BGRA frame (`stride` bytes per row) as a JPEG file at `quality` (1..100). */
export function encodeJpegQuality(frame: Buffer, stride: number, r: Rect, quality: number): Buffer {
  const t = tables(quality);
  const w = new Writer();
  w.bytes([0xff, 0xd8]); // SOI
  w.bytes([0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]); // APP0 JFIF 1.1
  w.bytes([0xff, 0xdb, 0, 132, 0]);
  w.bytes(t.qY);
  w.bytes([1]);
  w.bytes(t.qC);
  // SOF0: 8-bit, 3 components: Y 2x2 (table 0), Cb and Cr 1x1 (table 1)
  w.bytes([0xff, 0xc0, 0, 17, 8]);
  w.u16(r.h);
  w.u16(r.w);
  w.bytes([3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  // DHT: DC 0, AC 0 (0x10), DC 1, AC 1 (0x11)
  for (const [cls, spec] of [
    [0x00, DC_LUMA],
    [0x10, AC_LUMA],
    [0x01, DC_CHROMA],
    [0x11, AC_CHROMA],
  ] as const) {
    w.bytes([0xff, 0xc4]);
    w.u16(2 + 1 + 16 + spec.vals.length);
    w.bytes([cls]);
    w.bytes(spec.bits);
    w.bytes(spec.vals);
  }
  w.bytes([0xff, 0xda, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]); // SOS
  let dcY = 0;
  let dcCb = 0;
  let dcCr = 0;
  for (let my = 0; my < r.h; my += 16)
    for (let mx = 0; mx < r.w; mx += 16) {
      // the MCU's 16x16 pixels (edges repeated), as centred Y, Cb, Cr
      for (let y = 0; y < 16; y++) {
        const sy = r.y + Math.min(my + y, r.h - 1);
        for (let x = 0; x < 16; x++) {
          const s = sy * stride + (r.x + Math.min(mx + x, r.w - 1)) * 4;
          const B = frame[s]!;
          const G = frame[s + 1]!;
          const R = frame[s + 2]!;
          const i = y * 16 + x;
          yPlane[i] = 0.299 * R + 0.587 * G + 0.114 * B - 128;
          cbPlane[i] = -0.168736 * R - 0.331264 * G + 0.5 * B;
          crPlane[i] = 0.5 * R - 0.418688 * G - 0.081312 * B;
        }
      }
      for (let b = 0; b < 4; b++) {
        const ox = (b & 1) * 8;
        const oy = (b >> 1) * 8;
        for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) block[y * 8 + x] = yPlane[(oy + y) * 16 + ox + x]!;
        dcY = codeBlock(w, t.fY, dcY, HUFF.dcY, HUFF.acY);
      }
      for (const [plane, which] of [
        [cbPlane, 0],
        [crPlane, 1],
      ] as const) {
        for (let y = 0; y < 8; y++)
          for (let x = 0; x < 8; x++) {
            const i = y * 32 + x * 2;
            block[y * 8 + x] = (plane[i]! + plane[i + 1]! + plane[i + 16]! + plane[i + 17]!) / 4;
          }
        if (which === 0) dcCb = codeBlock(w, t.fC, dcCb, HUFF.dcC, HUFF.acC);
        else dcCr = codeBlock(w, t.fC, dcCr, HUFF.dcC, HUFF.acC);
      }
    }
  w.flush();
  w.bytes([0xff, 0xd9]); // EOI
  return Buffer.from(w.buf.subarray(0, w.n));
}

/** As encodeJpegQuality at Tight quality level `level` (0..9). */
export function encodeJpeg(frame: Buffer, stride: number, r: Rect, level: number): Buffer {
  return encodeJpegQuality(frame, stride, r, JPEG_QUALITY[Math.max(0, Math.min(9, level))]!);
}
