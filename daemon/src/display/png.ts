// PNG encoding of BGRA frames (screenshots): RGBA 8-bit, zlib from Node.
// A full-screen screenshot deflates megabytes: encodePngAsync does that on
// libuv's thread pool so the JS thread (vfio-user replies) is not held up;
// only the pixel conversion runs here, in the caller's turn.
import { promisify } from 'node:util';
import { crc32, deflate, deflateSync } from 'node:zlib';

const deflateAsync = promisify(deflate);

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const t = Buffer.from(type, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(t)));
  return Buffer.concat([len, t, data, crc]);
}

/** PNG scanlines (filter byte 0, then RGBA) of width x height BGRA8 pixels (rows of width*4 bytes). */
function scanlines(width: number, height: number, bgra: Buffer, opaque: boolean): Buffer {
  const row = width * 4;
  const raw = Buffer.allocUnsafe((row + 1) * height);
  for (let y = 0; y < height; y++) {
    const o = y * (row + 1);
    raw[o] = 0; // filter: none
    for (let x = 0; x < row; x += 4) {
      const s = y * row + x;
      raw[o + 1 + x] = bgra[s + 2]!;
      raw[o + 2 + x] = bgra[s + 1]!;
      raw[o + 3 + x] = bgra[s]!;
      raw[o + 4 + x] = opaque ? 0xff : bgra[s + 3]!;
    }
  }
  return raw;
}

function assemble(width: number, height: number, idat: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Encodes width x height BGRA8 pixels (rows of width*4 bytes) as PNG, here and now (small images: cursor glyphs). */
export function encodePng(width: number, height: number, bgra: Buffer, opaque = true): Buffer {
  return assemble(width, height, deflateSync(scanlines(width, height, bgra, opaque), { level: 6 }));
}

/** As encodePng, the compression on the thread pool. `bgra` is read before this returns. */
export async function encodePngAsync(width: number, height: number, bgra: Buffer, opaque = true): Promise<Buffer> {
  const raw = scanlines(width, height, bgra, opaque);
  return assemble(width, height, await deflateAsync(raw, { level: 6 }));
}
