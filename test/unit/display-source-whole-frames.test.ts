// DisplaySource over a backend that does not track damage (pvg: whole GPU
// read-backs, rows possibly padded): every read-out is compared with the last
// one in 64x64 tiles, frames reach the viewers with packed rows, and the change
// log folds per viewer. The backend here is a plain object playing pvg's part
// of the ABI; the soft backend's damage path is covered by the integration
// tests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DisplaySource } from '#daemon/display/display-source.js';
import type { FrameReadout, NativeBackend } from '#daemon/native.js';

const W = 200;
const H = 130;
const STRIDE = W * 4 + 32; // padded rows, as a GPU read-back may have

class WholeFrameBackend {
  readonly tracksDamage = false;
  pixels = Buffer.alloc(W * H * 4, 0x40);
  sequence = 0;
  readouts = 0;
  readFrame(): FrameReadout {
    this.readouts++;
    const data = Buffer.alloc(STRIDE * H, 0xee); // padding bytes that must not leak
    for (let y = 0; y < H; y++) this.pixels.copy(data, y * STRIDE, y * W * 4, (y + 1) * W * 4);
    return { width: W, height: H, stride: STRIDE, format: 0, sequence: this.sequence, data };
  }
  updateFrame(): never {
    throw new Error('not offered');
  }
  paint(x: number, y: number, w: number, h: number, v: number): void {
    for (let j = y; j < y + h; j++) for (let i = x; i < x + w; i++) this.pixels.writeUInt32LE(v >>> 0, (j * W + i) * 4);
    this.sequence++;
  }
}

describe('DisplaySource over a backend without damage tracking', () => {
  const backend = new WholeFrameBackend();
  const source = new DisplaySource(backend as unknown as NativeBackend, 0, 1, 'pvg-like', [{ width: W, height: H, refreshHz: 60 }]);
  source.onMode(W, H);

  it('reads whole frames, packs padded rows, and reads once per guest frame', () => {
    const f = source.latest()!;
    assert.deepEqual([f.width, f.height, f.data.length], [W, H, W * H * 4]);
    assert.ok(f.data.equals(backend.pixels), 'packed rows, no padding bytes');
    assert.equal(source.latest(), f, 'no new guest frame: the same read-out');
    assert.equal(backend.readouts, 1);
  });

  it('finds what changed by comparing read-outs, in 64x64 tiles, and folds it per viewer', () => {
    const v0 = source.latest()!.version;
    backend.paint(70, 10, 5, 5, 0xff112233); // tile (1, 0)
    source.onFrames(1);
    const f1 = source.latest()!;
    const f1Pixels = Buffer.from(f1.data);
    assert.deepEqual(source.changesSince(v0), { move: null, rects: [{ x: 64, y: 0, w: 64, h: 64 }] });
    backend.paint(195, 129, 5, 1, 0xff445566); // tile (3, 2): clipped to the frame
    source.onFrames(1);
    const f2 = source.latest()!;
    assert.ok(f2.data.equals(backend.pixels));
    assert.deepEqual(source.changesSince(f1.version), { move: null, rects: [{ x: 192, y: 128, w: 8, h: 2 }] });
    assert.deepEqual(source.changesSince(v0)!.rects, [
      { x: 64, y: 0, w: 64, h: 64 },
      { x: 192, y: 128, w: 8, h: 2 },
    ]);
    assert.deepEqual(source.changesSince(f2.version), { move: null, rects: [] }, 'up to date');
    assert.ok(f1.data.equals(f1Pixels) && !f1.data.equals(f2.data), 'an older frame is never written over');
  });

  it('a presented frame with no change costs a read-out but reports nothing', () => {
    const v = source.latest()!.version;
    backend.sequence++;
    source.onFrames(1);
    const f = source.latest()!;
    assert.notEqual(f.version, v);
    assert.deepEqual(source.changesSince(v), { move: null, rects: [] });
  });

  it('forgets on a mode change: older versions get everything', () => {
    const v = source.latest()!.version;
    source.onMode(W, H);
    assert.equal(source.changesSince(v), null);
    const f = source.latest()!;
    assert.ok(f.data.equals(backend.pixels));
    assert.equal(source.changesSince(v), null, 'still unknown after the first read-out of the new mode');
  });

  it('more read-outs than the log keeps: a viewer that old gets everything', () => {
    const old = source.latest()!.version;
    for (let i = 0; i < 70; i++) {
      backend.paint(0, 0, 1, 1, 0xff000000 + i);
      source.onFrames(1);
      source.latest();
    }
    assert.equal(source.changesSince(old), null);
  });
});
