// zlib encoding (6): raw pixels through the client's persistent deflate stream.
import type { PixelTranslator } from '../pixel-format.js';
import { Encoding, rectHeader, u32, type Rect } from '../rfb.js';
import type { DeflateStream } from './deflate-stream.js';

export async function encodeZlib(tr: PixelTranslator, frame: Buffer, stride: number, r: Rect, z: DeflateStream): Promise<Buffer[]> {
  const data = await z.compress(tr.rect(frame, stride, r.x, r.y, r.w, r.h));
  return [rectHeader(r.x, r.y, r.w, r.h, Encoding.ZLIB), u32(data.length), data];
}
