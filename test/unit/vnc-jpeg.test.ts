// The baseline JPEG encoder for Tight (viewers/vnc/encodings/jpeg.ts), checked
// with an independent decoder (jpeg-js): any size (edges of partial MCUs),
// quality steering size and error, and the speed that lets it run on the JS
// thread (jpeg-js's own encoder takes ~300 ms for 256x256 here).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import jpeg from 'jpeg-js';
import { encodeJpegQuality } from '#daemon/viewers/vnc/encodings/jpeg.js';

const W = 320;
const H = 200;
const frame = Buffer.alloc(W * H * 4);
for (let y = 0; y < H; y++)
  for (let x = 0; x < W; x++) {
    const o = (y * W + x) * 4;
    frame[o] = (x * 255) / W;
    frame[o + 1] = (y * 255) / H;
    frame[o + 2] = ((x + y) * 2) & 0xff;
    frame[o + 3] = 0xff;
  }

function psnr(r: { x: number; y: number; w: number; h: number }, q: number): { psnr: number; bytes: number } {
  const j = encodeJpegQuality(frame, W * 4, r, q);
  const img = jpeg.decode(j, { useTArray: true, formatAsRGBA: true });
  assert.deepEqual([img.width, img.height], [r.w, r.h]);
  let se = 0;
  for (let y = 0; y < r.h; y++)
    for (let x = 0; x < r.w; x++) {
      const s = ((r.y + y) * W + r.x + x) * 4;
      const d = (y * r.w + x) * 4;
      se += (img.data[d]! - frame[s + 2]!) ** 2 + (img.data[d + 1]! - frame[s + 1]!) ** 2 + (img.data[d + 2]! - frame[s]!) ** 2;
    }
  return { psnr: 10 * Math.log10((255 * 255) / (se / (r.w * r.h * 3) || 1e-9)), bytes: j.length };
}

describe('Tight JPEG encoder', () => {
  it('decodes at any size, close to the source', () => {
    for (const [w, h] of [
      [1, 1],
      [7, 13],
      [16, 16],
      [17, 33],
      [256, 100],
    ] as const) {
      const r = psnr({ x: 3, y: 5, w, h }, 86);
      assert.ok(r.psnr > 30, `${w}x${h}: PSNR ${r.psnr.toFixed(1)} dB`);
    }
  });
  it('higher quality: more bytes, less error', () => {
    const low = psnr({ x: 0, y: 0, w: 256, h: 192 }, 15);
    const high = psnr({ x: 0, y: 0, w: 256, h: 192 }, 100);
    assert.ok(
      high.bytes > low.bytes && high.psnr > low.psnr + 5,
      `q15 ${low.bytes} B ${low.psnr.toFixed(1)} dB, q100 ${high.bytes} B ${high.psnr.toFixed(1)} dB`,
    );
  });
  it('a 64 Ki-pixel piece in well under 50 ms', () => {
    encodeJpegQuality(frame, W * 4, { x: 0, y: 0, w: 256, h: 200 }, 79);
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) encodeJpegQuality(frame, W * 4, { x: 0, y: 0, w: 320, h: 200 }, 79);
    const ms = (performance.now() - t0) / 5;
    assert.ok(ms < 50, `${ms.toFixed(1)} ms`);
  });
});
