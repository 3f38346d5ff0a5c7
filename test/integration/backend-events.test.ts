// docs/design.md invariant 1, proven: the soft backend's worker thread keeps
// running commands, raising interrupts and posting events while the JS thread
// is blocked for 500 ms; nothing is lost when JS resumes.
import assert from 'node:assert/strict';
import { writeSync } from 'node:fs';
import { describe, it } from 'node:test';
import { native, type BackendEvent } from '#daemon/native.js';
import { Op, Reg } from '../support/soft-ring.js';

const RAM_GPA = 0x40000000n;
const RAM_SIZE = 16 << 20;

describe('backend threads never wait for the JS thread', () => {
  it('completes 300 commands and 100 interrupts while JS is blocked for 500 ms, then delivers every event', async () => {
    const ram = native.memfdCreate('events-ram', RAM_SIZE);
    native.gmMap(RAM_GPA, BigInt(RAM_SIZE), ram, 0n, true); // the table owns `ram` now
    const efd = native.eventfdCreate();
    native.irqSet(2, 0, [efd]); // MSI-X vector 0; the table owns `efd`, we only read it
    const events: BackendEvent[] = [];
    const backend = new native.Backend('soft', '', { variant: 0, displayPorts: 4 }, (evs) => events.push(...evs));
    try {
      assert.ok(backend.attachDisplay(0, 1, 'test', [{ width: 16, height: 16, refreshHz: 60 }]));
      // A 16x16 frame in guest RAM, a task mapping it, then 100 x (PRESENT, CURSOR_MOVE, FENCE).
      const frameOff = 1 << 20;
      writeSync(ram, Buffer.alloc(16 * 16 * 4, 0x5a), 0, 16 * 16 * 4, frameOff);
      const ranges = Buffer.alloc(16);
      ranges.writeBigUInt64LE(RAM_GPA + BigInt(frameOff), 0);
      ranges.writeBigUInt64LE(4096n, 8);
      writeSync(ram, ranges, 0, 16, 0x10000);
      const cmds: [number, bigint[]][] = [
        [Op.TASK_CREATE, [1n, 0x10000n]],
        [Op.TASK_MAP, [1n, 0n, RAM_GPA + 0x10000n, 1n, 1n]],
      ];
      for (let i = 0; i < 100; i++) {
        cmds.push([Op.PRESENT, [0n, 1n, 0n, 64n, 0n]]);
        cmds.push([Op.CURSOR_MOVE, [0n, BigInt(i), BigInt(i)]]);
        cmds.push([Op.FENCE, [BigInt(i + 1), 0n]]);
      }
      const entries = 512;
      cmds.forEach(([op, args], i) => {
        const e = Buffer.alloc(64);
        e.writeUInt32LE(op, 0);
        e.writeUInt32LE(0xffffffff, 8);
        args.forEach((a, k) => e.writeBigUInt64LE(a, 16 + k * 8));
        writeSync(ram, e, 0, 64, i * 64);
      });
      backend.mmioWrite(0, Reg.RING_BASE_LO, Number(RAM_GPA));
      backend.mmioWrite(0, Reg.RING_BASE_HI, 0);
      backend.mmioWrite(0, Reg.RING_ENTRIES, entries);
      backend.mmioWrite(0, Reg.RING_TAIL, cmds.length);
      events.length = 0;

      backend.mmioWrite(0, Reg.DOORBELL, 0); // asynchronous: the worker thread runs the ring
      const blockedUntil = Date.now() + 500;
      const sab = new Int32Array(new SharedArrayBuffer(4));
      Atomics.wait(sab, 0, 0, 500); // the JS thread is blocked; no callback can run
      assert.ok(Date.now() >= blockedUntil - 5);

      // Right after unblocking, before any event was delivered to JS:
      assert.equal(events.length, 0, 'no event reached JS while it was blocked');
      assert.equal(backend.mmioRead(0, Reg.RING_HEAD), cmds.length, 'the worker drained the ring meanwhile');
      assert.equal(backend.mmioRead(0, Reg.COMPLETED), cmds.length);
      assert.equal(native.eventfdRead(efd), 100, 'every fence interrupt was signalled natively');
      assert.equal(backend.mmioRead(0, Reg.FENCE_LO), 100);

      // Let the threadsafe function deliver what was queued.
      for (let i = 0; i < 50 && events.filter((e) => e.type === 'cursor_moved').length === 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      const frames = events.filter((e) => e.type === 'new_frame').reduce((n, e) => n + (e as { count: number }).count, 0);
      assert.equal(frames, 100, 'all 100 presented frames are accounted for (coalesced into counts)');
      const moves = events.filter((e) => e.type === 'cursor_moved');
      assert.ok(moves.length >= 1);
      const last = moves[moves.length - 1] as { x: number; y: number };
      assert.deepEqual([last.x, last.y], [99, 99], 'the last cursor position is kept');
      const f = backend.readFrame(0)!;
      assert.equal(f.sequence, 100);
      assert.ok(f.data.every((b) => b === 0x5a));
    } finally {
      backend.destroy();
      native.irqCloseAll();
      native.gmUnmapAll();
    }
  });
});
