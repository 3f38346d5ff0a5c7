// Decodes 8-bit RGBA PNGs (what the daemon's screenshots are: display/png.ts),
// every filter type, for tests that compare a viewer with the daemon's PNG.
import { inflateSync } from 'node:zlib';

export function decodePng(png: Buffer): { width: number; height: number; rgba: Buffer } {
  let off = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('latin1', off + 4, off + 8);
    if (type === 'IHDR') {
      width = png.readUInt32BE(off + 8);
      height = png.readUInt32BE(off + 12);
      if (png[off + 16] !== 8 || png[off + 17] !== 6) throw new Error('only 8-bit RGBA PNGs');
    }
    if (type === 'IDAT') idat.push(png.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const row = width * 4;
  const out = Buffer.alloc(row * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (row + 1)]!;
    const src = y * (row + 1) + 1;
    for (let x = 0; x < row; x++) {
      const a = x >= 4 ? out[y * row + x - 4]! : 0;
      const b = y > 0 ? out[(y - 1) * row + x]! : 0;
      const c = x >= 4 && y > 0 ? out[(y - 1) * row + x - 4]! : 0;
      let p = raw[src + x]!;
      if (f === 1) p += a;
      else if (f === 2) p += b;
      else if (f === 3) p += (a + b) >> 1;
      else if (f === 4) {
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        p += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[y * row + x] = p & 0xff;
    }
  }
  return { width, height, rgba: out };
}
