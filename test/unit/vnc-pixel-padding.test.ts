// Padding bits of the pixels the VNC server sends (viewers/vnc/pixel-format.ts):
// set, so a client that reads a 32-bit pixel's padding byte as alpha (noVNC
// 1.3's Raw decoder, issue 17) gets opaque pixels; colour bits unchanged.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PixelTranslator, SERVER_PIXEL_FORMAT, type PixelFormat } from '#daemon/viewers/vnc/pixel-format.js';

const NOVNC: PixelFormat = {
  bitsPerPixel: 32,
  depth: 24,
  bigEndian: false,
  trueColour: true,
  redMax: 255,
  greenMax: 255,
  blueMax: 255,
  redShift: 0,
  greenShift: 8,
  blueShift: 16,
};
const RGB555: PixelFormat = {
  bitsPerPixel: 16,
  depth: 15,
  bigEndian: false,
  trueColour: true,
  redMax: 31,
  greenMax: 31,
  blueMax: 31,
  redShift: 10,
  greenShift: 5,
  blueShift: 0,
};
const RGB565: PixelFormat = { ...RGB555, depth: 16, greenMax: 63, redShift: 11 };
const bgra = Buffer.from([0x10, 0x20, 0x30, 0x00, 0xff, 0xfe, 0xfd, 0x00]); // two pixels, alpha 0

describe('VNC pixel padding', () => {
  it("noVNC's RGBX format: the padding byte is 0xff, colours exact", () => {
    const out = new PixelTranslator(NOVNC).rect(bgra, 8, 0, 0, 2, 1);
    assert.deepEqual([...out], [0x30, 0x20, 0x10, 0xff, 0xfd, 0xfe, 0xff, 0xff]);
  });
  it('16-bit formats: the spare bit of RGB555 is set, RGB565 has none', () => {
    assert.equal(new PixelTranslator(RGB555).padding, 0x8000);
    assert.equal(new PixelTranslator(RGB565).padding, 0);
    assert.equal(new PixelTranslator(RGB555).rect(bgra, 8, 0, 0, 1, 1).readUInt16LE(0) & 0x8000, 0x8000);
  });
  it('our own layout is sent as it is (zero-copy): no padding applied', () => {
    const t = new PixelTranslator(SERVER_PIXEL_FORMAT);
    assert.equal(t.padding, 0);
    assert.deepEqual([...t.rect(bgra, 8, 0, 0, 2, 1)], [...bgra]);
  });
});
