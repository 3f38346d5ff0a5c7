// Damage-tracked read-out (backend ABI update_frame) of the real soft
// backend, driven through its command ring: PRESENT with and without the
// guest's damage hint, COPY_RECT, and DisplaySource's buffers and per-viewer
// change folding on top. The reference for every check is a full read_frame
// or a model of the frame kept by the test.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import type { FrameUpdate } from '#daemon/native.js';
import { Op, Reg, St, damageArg, xy } from '../support/soft-ring.js';
import { SoftGuest, pattern } from '../support/soft-guest.js';

const W = 160;
const H = 96;

/** Applies what an update says changed to `image` (a viewer's copy), the way a VNC client would. */
function applyChanges(image: Buffer, u: FrameUpdate, current: Buffer): void {
  if (u.move) {
    const m = u.move;
    const rows: Buffer[] = [];
    for (let y = 0; y < m.h; y++)
      rows.push(Buffer.from(image.subarray(((m.srcY + y) * W + m.srcX) * 4, ((m.srcY + y) * W + m.srcX + m.w) * 4)));
    rows.forEach((r, y) => r.copy(image, ((m.y + y) * W + m.x) * 4));
  }
  for (const r of u.damage)
    for (let y = r.y; y < r.y + r.h; y++) current.copy(image, (y * W + r.x) * 4, (y * W + r.x) * 4, (y * W + r.x + r.w) * 4);
}

describe('frame damage (soft backend update_frame)', () => {
  let guest: SoftGuest;
  const log = pino({ level: 'silent' });
  const whole = (): Buffer => guest.backend.readFrame(0)!.data;
  let base = pattern(W, H, 5);

  before(async () => {
    guest = new SoftGuest(log, W * H * 4, 2);
    await guest.attachMode(0, W, H);
    await guest.present(0, base, W);
  });
  after(() => guest.destroy());

  it("a present with the guest's damage hint reads and reports just that rectangle", async () => {
    const start = guest.backend.updateFrame(0, null, 0)!;
    assert.equal(start.full, true, 'no version held: the whole frame');
    assert.ok(start.data.equals(whole()));
    const next = Buffer.from(base);
    next.fill(0x7f, 0, W * H * 4); // every pixel differs in guest RAM...
    guest.store(0, next);
    guest.presentSlot(0, 0, W, { x: 8, y: 4, w: 16, h: 8 }); // ...but only this rectangle is presented
    const held = Buffer.from(start.data);
    const u = guest.backend.updateFrame(0, held, start.version)!;
    assert.equal(u.data, held, 'brought forward in place');
    assert.equal(u.full, false);
    assert.equal(u.move, null);
    assert.deepEqual(u.damage, [{ x: 8, y: 4, w: 16, h: 8 }]);
    assert.ok(held.equals(whole()), 'the buffer equals a full read-out');
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const inside = x >= 8 && x < 24 && y >= 4 && y < 12;
        assert.equal(held.readUInt32LE((y * W + x) * 4), inside ? 0x7f7f7f7f : base.readUInt32LE((y * W + x) * 4), `pixel ${x},${y}`);
      }
    base = Buffer.from(held);
    const idle = guest.backend.updateFrame(0, held, u.version)!;
    assert.deepEqual([idle.version, idle.full, idle.move, idle.damage], [u.version, false, null, []], 'nothing changed since');
  });

  it('a present without a hint is compared: separate changes are separate rectangles', async () => {
    const held = whole();
    const since = guest.backend.updateFrame(0, Buffer.from(held), 0)!.version;
    const next = Buffer.from(base);
    next.writeUInt32LE(0xff0000ff, (3 * W + 5) * 4);
    for (let y = 70; y < 74; y++) for (let x = 100; x < 130; x++) next.writeUInt32LE(0xff00ff00, (y * W + x) * 4);
    await guest.present(0, next, W);
    const u = guest.backend.updateFrame(0, held, since)!;
    assert.deepEqual(
      [...u.damage].sort((a, b) => a.y - b.y),
      [
        { x: 5, y: 3, w: 1, h: 1 },
        { x: 100, y: 70, w: 30, h: 4 },
      ],
    );
    assert.ok(held.equals(next));
    // Re-presenting the same pixels is counted but is no new version.
    const seq = u.sequence;
    await guest.present(0, next, W);
    const again = guest.backend.updateFrame(0, held, u.version)!;
    assert.equal(again.version, u.version);
    assert.equal(again.sequence, seq + 1);
    base = next;
  });

  it('COPY_RECT moves pixels within the frame and is reported as a move, overlapping or not', async () => {
    for (const [src, dst] of [
      [
        { x: 0, y: 10 },
        { x: 0, y: 0 },
      ], // scroll up by 10 rows (overlapping)
      [
        { x: 0, y: 0 },
        { x: 0, y: 7 },
      ], // scroll down (overlapping the other way)
      [
        { x: 20, y: 20 },
        { x: 23, y: 20 },
      ], // sideways within the same rows
      [
        { x: 0, y: 0 },
        { x: 100, y: 50 },
      ], // apart
    ] as const) {
      const w = 50;
      const h = 40;
      const held = whole();
      const since = guest.backend.updateFrame(0, Buffer.from(held), 0)!.version;
      const model = Buffer.from(held);
      const rows: Buffer[] = [];
      for (let y = 0; y < h; y++) rows.push(Buffer.from(model.subarray(((src.y + y) * W + src.x) * 4, ((src.y + y) * W + src.x + w) * 4)));
      rows.forEach((r, y) => r.copy(model, ((dst.y + y) * W + dst.x) * 4));
      await guest.copyRect(0, src, dst, w, h);
      assert.ok(whole().equals(model), `blit ${JSON.stringify([src, dst])} matches the model`);
      const viewer = Buffer.from(held);
      const u = guest.backend.updateFrame(0, held, since)!;
      assert.deepEqual(u.move, { x: dst.x, y: dst.y, w, h, srcX: src.x, srcY: src.y });
      assert.deepEqual(u.damage, []);
      assert.ok(held.equals(model), 'the buffer got the moved pixels');
      applyChanges(viewer, u, held);
      assert.ok(viewer.equals(model), 'a viewer doing the move itself gets the frame');
    }
    base = whole();
  });

  it('refuses a hint or a blit outside the mode with BAD_ARGS, and keeps serving', async () => {
    const before = guest.backend.mmioRead(0, Reg.ERRORS);
    assert.throws(() => guest.run([[Op.PRESENT, [0, 1, 0, W * 4, 0, damageArg(W - 4, 0, 8, 8)]]]), /failed/);
    assert.throws(() => guest.run([[Op.PRESENT, [0, 1, 0, W * 4, 0, damageArg(0, 0, 0, 8)]]]), /failed/);
    assert.throws(() => guest.run([[Op.COPY_RECT, [0, xy(0, 0), xy(W - 10, 0), xy(20, 4)]]]), /failed/);
    assert.throws(() => guest.run([[Op.COPY_RECT, [0, xy(0, H), xy(0, 0), xy(1, 1)]]]), /failed/);
    assert.throws(() => guest.run([[Op.COPY_RECT, [0, 1n << 32n, xy(0, 0), xy(1, 1)]]]), /failed/);
    assert.throws(() => guest.run([[Op.COPY_RECT, [2, xy(0, 0), xy(0, 0), xy(1, 1)]]]), /failed/);
    assert.equal(guest.backend.mmioRead(0, Reg.ERRORS) - before, 6);
    assert.equal(guest.backend.mmioRead(0, Reg.LAST_ERROR), St.NO_DISPLAY);
    assert.ok(whole().equals(base), 'the frame is untouched');
    await guest.present(0, base, W); // and the ring goes on
  });

  it('a version older than the history, or from before a mode change, gets the whole frame', async () => {
    const held = whole();
    const since = guest.backend.updateFrame(0, Buffer.from(held), 0)!.version;
    for (let i = 0; i < 70; i++) {
      const f = Buffer.from(base);
      f.writeUInt32LE(0xff000000 + i, (i % H) * W * 4);
      guest.store(0, f);
      guest.presentSlot(0, 0, W, { x: 0, y: i % H, w: 1, h: 1 });
    }
    const u = guest.backend.updateFrame(0, held, since)!;
    assert.equal(u.full, true, '70 changes ago is beyond the 64 kept');
    assert.deepEqual(u.damage, [{ x: 0, y: 0, w: W, h: H }]);
    assert.ok(held.equals(whole()));
    const recent = guest.backend.updateFrame(0, Buffer.from(held), u.version - 3)!;
    assert.equal(recent.full, false, '3 changes ago is known');
    assert.equal(recent.damage.length, 3);
    base = whole();
  });

  it('property: any mix of presents and blits, any recent version held: the buffer catches up exactly', async () => {
    const rect = fc
      .record({ x: fc.nat(W - 1), y: fc.nat(H - 1) })
      .chain(({ x, y }) =>
        fc.record({ x: fc.constant(x), y: fc.constant(y), w: fc.integer({ min: 1, max: W - x }), h: fc.integer({ min: 1, max: H - y }) }),
      );
    const op = fc.oneof(
      fc.record({ kind: fc.constant('present' as const), area: rect, hint: fc.boolean(), seed: fc.nat(255) }),
      fc.record({ kind: fc.constant('blit' as const), area: rect, dx: fc.nat(W - 1), dy: fc.nat(H - 1) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), fc.nat(12), async (ops, lag) => {
        const versions: { version: number; image: Buffer }[] = [];
        const start = guest.backend.updateFrame(0, null, 0)!;
        versions.push({ version: start.version, image: Buffer.from(start.data) });
        for (const o of ops) {
          const cur = whole();
          if (o.kind === 'present') {
            const f = Buffer.from(cur);
            for (let y = o.area.y; y < o.area.y + o.area.h; y++)
              for (let x = o.area.x; x < o.area.x + o.area.w; x++)
                f.writeUInt32LE((0xff000000 | (o.seed * 65793 + x * 7 + y)) >>> 0, (y * W + x) * 4);
            guest.store(0, f);
            guest.presentSlot(0, 0, W, o.hint ? o.area : undefined);
          } else {
            const w = Math.min(o.area.w, W - o.dx);
            const h = Math.min(o.area.h, H - o.dy);
            guest.run([[Op.COPY_RECT, [0, xy(o.area.x, o.area.y), xy(o.dx, o.dy), xy(w, h)]]]);
          }
          const now = guest.backend.updateFrame(0, null, 0)!;
          versions.push({ version: now.version, image: Buffer.from(now.data) });
        }
        const held = versions[Math.max(0, versions.length - 1 - lag)]!;
        const buf = Buffer.from(held.image);
        const viewer = Buffer.from(held.image);
        const u = guest.backend.updateFrame(0, buf, held.version)!;
        const truth = whole();
        assert.ok(buf.equals(truth), 'the buffer equals a full read-out');
        applyChanges(viewer, u, truth);
        assert.ok(viewer.equals(truth), 'move then damage turns the held image into the frame');
      }),
      { numRuns: 60 },
    );
    base = whole();
  });
});
