// CopyRect (RFB encoding 1) and damage-driven updates from the VNC server
// over the real soft backend: a guest blit (COPY_RECT) reaches a client that
// asked for CopyRect as a CopyRect the client performs itself, clients that
// did not ask get pixels, and a client that lags behind several frames still
// ends with the exact frame. DisplaySource's pinned buffers are checked too.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { DisplaySource } from '#daemon/display/display-source.js';
import { NullInput } from '#daemon/input/input-sink.js';
import { VncServer } from '#daemon/viewers/vnc/index.js';
import { Encoding } from '#daemon/viewers/vnc/rfb.js';
import { RfbClient } from '../support/rfb-client.js';
import { SoftGuest, pattern } from '../support/soft-guest.js';

const W = 256;
const H = 192;

/** The client's framebuffer (server pixel format: BGRX little-endian) equals the BGRA frame, alpha aside. */
function assertShows(c: RfbClient, bgra: Buffer, what: string): void {
  let bad = 0;
  for (let i = 0; i < W * H; i++) if (c.pixel(i % W, Math.floor(i / W)) !== (bgra.readUInt32LE(i * 4) & 0xffffff)) bad++;
  assert.equal(bad, 0, `${what}: ${bad} pixels differ`);
}

describe('VNC CopyRect and damage-driven updates', () => {
  const log = pino({ level: 'silent' });
  let guest: SoftGuest;
  let display: DisplaySource;
  let vnc: VncServer;
  const clients: RfbClient[] = [];
  let frame = pattern(W, H, 3);

  /** What a guest blit does to `frame`. */
  const blit = (src: { x: number; y: number }, dst: { x: number; y: number }, w: number, h: number): void => {
    const rows: Buffer[] = [];
    for (let y = 0; y < h; y++) rows.push(Buffer.from(frame.subarray(((src.y + y) * W + src.x) * 4, ((src.y + y) * W + src.x + w) * 4)));
    frame = Buffer.from(frame);
    rows.forEach((r, y) => r.copy(frame, ((dst.y + y) * W + dst.x) * 4));
  };
  /** Scrolls the whole screen up by `rows` and draws a new strip at the bottom (what a terminal does). */
  const scroll = async (rows: number, seed: number): Promise<void> => {
    await guest.copyRect(0, { x: 0, y: rows }, { x: 0, y: 0 }, W, H - rows);
    blit({ x: 0, y: rows }, { x: 0, y: 0 }, W, H - rows);
    const strip = pattern(W, rows, seed);
    strip.copy(frame, (H - rows) * W * 4);
    guest.store(0, frame);
    guest.presentSlot(0, 0, W, { x: 0, y: H - rows, w: W, h: rows });
  };
  const connect = async (encodings: number[]): Promise<RfbClient> => {
    const c = await RfbClient.connect(vnc.address(0)!.port);
    clients.push(c);
    c.setEncodings(encodings);
    c.requestUpdate(false);
    assert.ok(await c.nextUpdate());
    assertShows(c, frame, 'first update');
    return c;
  };

  before(async () => {
    guest = new SoftGuest(log, W * H * 4, 2);
    display = await guest.attachMode(0, W, H);
    vnc = new VncServer({ listen: { host: '127.0.0.1', port: 0 }, displays: guest.displays, input: new NullInput(), log });
    await vnc.start();
    await guest.present(0, frame, W);
  });
  after(async () => {
    for (const c of clients) c.close();
    await vnc.stop();
    guest.destroy();
  });

  it('a scroll reaches a CopyRect client as one CopyRect plus the new strip', async () => {
    const c = await connect([Encoding.COPY_RECT, Encoding.RAW]);
    c.requestUpdate(true);
    await scroll(16, 40);
    let u = await c.nextUpdate();
    // The blit and the present may come as one update or two.
    const rects = [...u!.rects];
    if (!rects.some((r) => r.y + r.h === H && r.encoding === Encoding.RAW)) {
      c.requestUpdate(true);
      u = await c.nextUpdate();
      rects.push(...u!.rects);
    }
    assert.deepEqual(
      rects.filter((r) => r.encoding === Encoding.COPY_RECT).map(({ x, y, w, h }) => ({ x, y, w, h })),
      [{ x: 0, y: 0, w: W, h: H - 16 }],
      'the move went as a CopyRect',
    );
    const pixelBytes = rects.filter((r) => r.encoding === Encoding.RAW).reduce((n, r) => n + r.bytes, 0);
    assert.ok(pixelBytes <= W * 64 * 4, `only the new strip's tiles as pixels (${pixelBytes} bytes)`);
    assertShows(c, frame, 'after the scroll');
    const stats = vnc.stats()[0]!.clients.find((s) => s.copyRects > 0);
    assert.ok(stats, 'the session counts its CopyRects');
  });

  it('a client without CopyRect gets the moved area as pixels', async () => {
    const c = await connect([Encoding.RAW]);
    c.requestUpdate(true);
    await scroll(8, 41);
    for (let i = 0; i < 3; i++) {
      const u = await c.nextUpdate(500);
      if (!u) break;
      assert.ok(u.rects.every((r) => r.encoding === Encoding.RAW));
      c.requestUpdate(true);
    }
    assertShows(c, frame, 'after the scroll');
  });

  it('a client that lags several blits and presents behind still ends with the exact frame', async () => {
    const c = await connect([Encoding.COPY_RECT, Encoding.ZRLE]);
    await scroll(4, 42); // not asked for: the client lags
    await guest.copyRect(0, { x: 10, y: 10 }, { x: 30, y: 20 }, 100, 60); // a second move folds into damage
    blit({ x: 10, y: 10 }, { x: 30, y: 20 }, 100, 60);
    await scroll(12, 43);
    c.requestUpdate(true);
    for (let i = 0; i < 3; i++) {
      const u = await c.nextUpdate(500);
      if (!u) break;
      c.requestUpdate(true);
    }
    assertShows(c, frame, 'after catching up');
  });

  it('a client 40 read-outs behind (another viewer reads every frame) gets one bounded, exact update (issue 17)', async () => {
    // Each read-out's move used to copy every damaged rectangle it carried,
    // doubling the fold per read-out: 2^n rectangles, a RangeError from
    // push(...rects) after ~18 (the session was closed), cubic merging before that.
    for (const encodings of [[Encoding.RAW], [Encoding.COPY_RECT, Encoding.RAW]]) {
      const c = await connect(encodings);
      for (let i = 0; i < 40; i++) {
        const presented = once(display, 'frame');
        await scroll(4, 50 + i);
        await presented;
        for (let y = (i * 7) % (H - 20); y < ((i * 7) % (H - 20)) + 20; y++)
          for (let x = (i * 13) % (W - 24); x < ((i * 13) % (W - 24)) + 24; x++)
            frame.writeUInt32LE((0xff000000 | (i * 0x10305)) >>> 0, (y * W + x) * 4);
        guest.store(0, frame);
        const painted = once(display, 'frame');
        guest.presentSlot(0, 0, W, { x: (i * 13) % (W - 24), y: (i * 7) % (H - 20), w: 24, h: 20 });
        await painted;
        display.latest(); // the other viewer
      }
      const started = process.hrtime.bigint();
      c.requestUpdate(true);
      const u = await c.nextUpdate(2000);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      assert.ok(
        u,
        `an update (the session is ${vnc.stats()[0]!.clients.find((s) => s.updates > 0 && s.phase !== 'normal')?.phase ?? 'open'})`,
      );
      assert.ok(u.rects.length <= 20, `${u.rects.length} rectangles`);
      assert.ok(ms < 1000, `composed in ${ms.toFixed(0)} ms`);
      assertShows(c, frame, `after catching up 40 read-outs with ${encodings.join(',')}`);
      c.close();
    }
  });

  it('a pinned frame stays intact while later frames are read into another buffer', async () => {
    // A spare buffer older than the backend's 64-deep change history (a viewer
    // pinned a frame long ago): switching to it must still report the move.
    const old = display.latest()!;
    const unpinOld = display.pin(old);
    await scroll(2, 60);
    display.latest();
    unpinOld();
    for (let i = 0; i < 70; i++) {
      frame.writeUInt32LE(0xff000000 + i, 0);
      guest.store(0, frame);
      const presented = once(display, 'frame');
      guest.presentSlot(0, 0, W, { x: 0, y: 0, w: 1, h: 1 });
      await presented;
      display.latest();
    }
    const f1 = display.latest()!;
    const before = Buffer.from(f1.data);
    const release = display.pin(f1);
    await scroll(20, 44);
    const f2 = display.latest()!;
    assert.notEqual(f2.data, f1.data, 'a new buffer while the old one is pinned');
    assert.ok(f1.data.equals(before), 'the pinned frame did not change');
    assert.ok(f2.data.equals(frame), 'the new frame is exact');
    const since = display.changesSince(f1.version)!;
    assert.ok(since.move, 'the scroll since f1 is a move');
    release();
    await scroll(2, 45);
    const f3 = display.latest()!;
    assert.ok(f3.data.equals(frame), 'brought forward exactly after the pin is gone');
    // A hinted 16x8 present costs the next read-out 16x8 pixels, not a frame.
    const bytes = display.readoutBytes;
    for (let y = 40; y < 48; y++) for (let x = 100; x < 116; x++) frame.writeUInt32LE(0xff336699, (y * W + x) * 4);
    guest.store(0, frame);
    const presented = once(display, 'frame');
    guest.presentSlot(0, 0, W, { x: 100, y: 40, w: 16, h: 8 });
    await presented;
    const f4 = display.latest()!;
    assert.equal(f4.data, f3.data, 'the same buffer, brought forward in place');
    assert.equal(display.readoutBytes - bytes, 16 * 8 * 4);
    assert.ok(f4.data.equals(frame));
  });
});
