// An interrupt fd the peer never drains must not stall the daemon
// (issue 12 defect 1; docs/design.md invariant 1): SET_IRQS with a *blocking*
// pipe whose buffer is full, then a guest write to the interrupt self-test
// register. The daemon keeps every interrupt fd non-blocking and treats a
// full one as "interrupt already pending": the REGION_WRITE is answered, the
// session goes on, and the next interrupt arrives once the peer has read.
// Before the fix the write() blocked the JS thread with the table lock held:
// no reply, and no other client, ever.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Command, IrqSetFlag as F, PciIrq, encodeSetIrqs, MsgFlag } from 'vfio-user-ts';
import { startDaemon, type RunningDaemon } from '../support/daemon.js';

const AGFX_ID = 0x58464741;
const IRQ_TEST = 0x100c;

/** Rejects when `p` takes longer than `ms`: a stalled daemon fails the test instead of hanging it. */
const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms`)), ms).unref())]);

/** Writes through a non-blocking fd until the pipe is full; returns the bytes written. */
function fill(fd: number): number {
  const chunk = Buffer.alloc(4096, 0x5a);
  let total = 0;
  for (;;) {
    try {
      total += writeSync(fd, chunk);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return total;
      throw e;
    }
  }
}

/** Reads through a non-blocking fd until the pipe is empty; returns the bytes read. */
function drain(fd: number): number {
  const buf = Buffer.alloc(65536);
  let total = 0;
  for (;;) {
    try {
      const n = readSync(fd, buf);
      if (n === 0) return total;
      total += n;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return total;
      throw e;
    }
  }
}

describe('interrupt fd that is full', () => {
  let d: RunningDaemon;
  before(async () => (d = await startDaemon()));
  // SIGKILL: a daemon stuck in write() would not get to its SIGTERM handler.
  after(async () => d.stop('SIGKILL'));

  it('a full blocking pipe is "already pending": the daemon answers and the next interrupt arrives after a read', async () => {
    const fifo = join(d.dir, 'irq.fifo');
    execFileSync('mkfifo', [fifo]);
    // Two opens of one pipe: ours fills and drains it without blocking; the
    // daemon gets a blocking one, as a careless VMM would hand over.
    const ours = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    const theirs = openSync(fifo, constants.O_RDWR);
    try {
      const filled = fill(ours);
      assert.ok(filled >= 4096, `the pipe took ${filled} bytes before it was full`);

      const c = await d.connectNegotiated();
      const set = encodeSetIrqs({ flags: F.DATA_EVENTFD | F.ACTION_TRIGGER, index: PciIrq.MSIX, start: 0, count: 1, argsz: 20 });
      const r = await c.requestRaw(Command.DEVICE_SET_IRQS, set, [theirs]);
      assert.equal(r.header.flags, MsgFlag.TYPE_REPLY, `SET_IRQS error ${r.header.error}`);

      await within(c.write32(0, IRQ_TEST, 0), 5000, 'REGION_WRITE of the interrupt self-test with the pipe full');
      assert.equal(await within(c.read32(0, 0x1000), 5000, 'REGION_READ after it'), AGFX_ID, 'the session goes on');

      assert.equal(drain(ours), filled, 'nothing was written into the full pipe: the interrupt was already pending');
      await c.write32(0, IRQ_TEST, 0);
      assert.equal(drain(ours), 1, 'with room again, the next interrupt is one byte');
      c.close();
      // The next client (one at a time) is served too.
      const next = await within(d.connectNegotiated(), 5000, 'the next client');
      assert.equal(await within(next.read32(0, 0x1000), 5000, 'its REGION_READ'), AGFX_ID);
      next.close();
    } finally {
      closeSync(ours);
      closeSync(theirs);
    }
  });
});
