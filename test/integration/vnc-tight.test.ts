// Tight (viewers/vnc/encodings/tight.ts) against our RFB client's independent
// Tight decoder: fill, mono and indexed palettes, full colour, big
// rectangles cut into pieces, JPEG at the client's quality level with the
// lossless refresh once the display is idle, and the zlib level from
// CompressLevel. Real decoders (noVNC, TigerVNC): vnc-novnc / vnc-tigervnc.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { NullInput } from '#daemon/input/input-sink.js';
import { VncServer } from '#daemon/viewers/vnc/index.js';
import { Encoding } from '#daemon/viewers/vnc/rfb.js';
import { compactLength, tightPieces } from '#daemon/viewers/vnc/encodings/tight.js';
import { RfbClient } from '../support/rfb-client.js';
import { SoftGuest } from '../support/soft-guest.js';

const W = 640;
const H = 480;

/** Bands: solid, two colours, ten colours, and a photo-like gradient with noise. */
function bands(): Buffer {
  const b = Buffer.alloc(W * H * 4);
  let r = 7;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const o = (y * W + x) * 4;
      r = (Math.imul(r, 1103515245) + 12345) >>> 0;
      let v: number;
      if (y < 120) v = 0x204080;
      else if (y < 240) v = (x >> 3) & 1 ? 0xffffff : 0x000000;
      else if (y < 360)
        v = [0xff0000, 0x00ff00, 0x0000ff, 0xffff00, 0x00ffff, 0xff00ff, 0x808080, 0x400000, 0x004000, 0x000040][(x >> 4) % 10]!;
      else v = (((x * 255) / W) << 16) | (((y * 255) / H) << 8) | ((x + y + ((r >>> 24) & 15)) & 0xff);
      b.writeUInt32LE((0xff000000 | v) >>> 0, o);
    }
  return b;
}

describe('Tight encoding', () => {
  const log = pino({ level: 'silent' });
  let guest: SoftGuest;
  let vnc: VncServer;
  const frame = bands();
  const clients: RfbClient[] = [];
  const exact = (c: RfbClient): number => {
    let bad = 0;
    for (let i = 0; i < W * H; i++) if (c.pixel(i % W, Math.floor(i / W)) !== (frame.readUInt32LE(i * 4) & 0xffffff)) bad++;
    return bad;
  };

  before(async () => {
    guest = new SoftGuest(log, W * H * 4, 1);
    await guest.attachMode(0, W, H);
    vnc = new VncServer({ listen: { host: '127.0.0.1', port: 0 }, displays: guest.displays, input: new NullInput(), log });
    await vnc.start();
    await guest.present(0, frame, W);
  });
  after(async () => {
    for (const c of clients) c.close();
    await vnc.stop();
    guest.destroy();
  });

  it('compact lengths and pieces follow the limits every decoder has', () => {
    assert.deepEqual([...compactLength(0x7f)], [0x7f]);
    assert.deepEqual([...compactLength(0x80)], [0x80, 0x01]);
    assert.deepEqual([...compactLength(0x3fff)], [0xff, 0x7f]);
    assert.deepEqual([...compactLength(0x4000)], [0x80, 0x80, 0x01]);
    assert.throws(() => compactLength(1 << 22));
    const ps = tightPieces({ x: 0, y: 0, w: 5000, h: 100 });
    assert.ok(ps.every((p) => p.w <= 2048 && p.w * p.h <= 65536));
    assert.equal(
      ps.reduce((n, p) => n + p.w * p.h, 0),
      5000 * 100,
    );
  });

  it('lossless (no quality level): fill, palettes and full colour decode to the exact frame', async () => {
    const c = await RfbClient.connect(vnc.address(0)!.port);
    clients.push(c);
    c.setEncodings([Encoding.TIGHT]);
    c.requestUpdate(false);
    const u = await c.nextUpdate(5000);
    assert.ok(u && u.rects.length >= 5, `cut into pieces: ${u?.rects.length}`);
    assert.equal(c.jpegRects, 0);
    assert.equal(exact(c), 0);
    const s = vnc.stats()[0]!.clients.at(-1)!;
    assert.ok(s.bytes < W * H, `${s.bytes} bytes for a ${W * H * 4}-byte frame`);
  });

  it('with QualityLevel the photo goes as JPEG, then, the display idle, again losslessly', async () => {
    const c = await RfbClient.connect(vnc.address(0)!.port);
    clients.push(c);
    c.setEncodings([Encoding.TIGHT, Encoding.QUALITY_LEVEL_0 + 6, Encoding.COMPRESS_LEVEL_0 + 9]);
    const sent = Date.now();
    c.requestUpdate(false);
    assert.ok(await c.nextUpdate(5000));
    assert.ok(c.jpegRects > 0, 'the photo band went as JPEG');
    const lossy = exact(c);
    assert.ok(lossy > 0, 'JPEG is lossy');
    c.requestUpdate(true);
    const refresh = await c.nextUpdate(3000);
    assert.ok(refresh, 'a lossless refresh without any change');
    assert.ok(Date.now() - sent >= 240, `once the display was idle 250 ms (${Date.now() - sent} ms after the first request)`);
    assert.equal(exact(c), 0, 'exact after the refresh');
    const s = vnc.stats()[0]!.clients.at(-1)!;
    assert.equal(s.losslessRefreshes, 1);
    c.requestUpdate(true);
    assert.equal(await c.nextUpdate(600), null, 'then nothing more while idle');
  });
});
