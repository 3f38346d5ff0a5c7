// DEVICE_SET_IRQS (8): eventfds for MSI/MSI-X as QEMU hands them over
// (chunked, argsz 20, fd-less de-assign, count-0 disable on every reset), and
// interrupts really arriving on them through the self-test register 0x100C.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Command, Errno, IrqSetFlag as F, MsgFlag, PciIrq, encodeSetIrqs, type Reply, type VfioUserClient } from 'vfio-user-ts';
import { native } from '#daemon/native.js';
import { assertErrorReply as assertError } from '../support/replies.js';
import { useDaemon } from '../support/daemon-fixture.js';
import { DEVICE_ID } from '../support/soft-ring.js';

const IRQ_TEST = 0x100c;
const EVENTFD_TRIGGER = F.DATA_EVENTFD | F.ACTION_TRIGGER; // 0x24
const NONE_TRIGGER = F.DATA_NONE | F.ACTION_TRIGGER; // 0x21

const irqsPayload = (r: { flags: number; index: number; start: number; count: number; argsz?: number; data?: Buffer }): Buffer =>
  encodeSetIrqs(r);

const assertOk = (r: Reply): void => {
  assert.equal(r.header.flags, MsgFlag.TYPE_REPLY, `error ${r.header.error}`);
  assert.equal(r.header.size, 16, 'SET_IRQS replies carry no payload');
  assert.equal(r.fds.length, 0);
};

/** Eventfds created by a test, closed after it. */
const mine: number[] = [];
const eventfd = (): number => {
  const fd = native.eventfdCreate();
  mine.push(fd);
  return fd;
};

describe('DEVICE_SET_IRQS', () => {
  const fx = useDaemon();
  const { connect, settledFds } = fx;
  afterEach(() => {
    for (const fd of mine.splice(0)) native.closeFd(fd);
  });
  /** The device raises `vector` (guest write to the interrupt self-test register). */
  const raise = (c: VfioUserClient, vector: number): Promise<void> => c.write32(0, IRQ_TEST, vector);

  it('delivers a raised vector to the eventfd assigned to MSI-X vector 0', async () => {
    const c = await connect();
    const efd = eventfd();
    assertOk(
      await c.requestRaw(
        Command.DEVICE_SET_IRQS,
        irqsPayload({ flags: EVENTFD_TRIGGER, index: PciIrq.MSIX, start: 0, count: 1, argsz: 20 }),
        [efd],
      ),
    );
    assert.equal(native.eventfdRead(efd), 0, 'nothing before the device raises');
    await raise(c, 0);
    assert.equal(native.eventfdRead(efd), 1);
    await raise(c, 0);
    await raise(c, 0);
    assert.equal(native.eventfdRead(efd), 2, 'each raise is one eventfd increment');
    assert.equal(native.eventfdRead(efd), 0);
    c.close();
  });

  it('delivers through the MSI index the same way', async () => {
    const c = await connect();
    const efd = eventfd();
    await c.setIrqEventfds(PciIrq.MSI, 0, [efd]);
    await raise(c, 0);
    assert.equal(native.eventfdRead(efd), 1);
    c.close();
  });

  it("holds QEMU's ERR eventfd (wired at realize) and never signals it, even on a loopback trigger", async () => {
    const c = await connect();
    const before = await settledFds(c);
    const msix = eventfd();
    const err = eventfd();
    await c.setIrqEventfds(PciIrq.MSIX, 0, [msix]);
    assertOk(
      await c.requestRaw(
        Command.DEVICE_SET_IRQS,
        irqsPayload({ flags: EVENTFD_TRIGGER, index: PciIrq.ERR, start: 0, count: 1, argsz: 20 }),
        [err],
      ),
    );
    assert.equal(await settledFds(c), before + 2, 'the daemon holds both');
    await raise(c, 0);
    assertOk(
      await c.requestRaw(
        Command.DEVICE_SET_IRQS,
        irqsPayload({ flags: F.DATA_NONE | F.ACTION_TRIGGER, index: PciIrq.ERR, start: 0, count: 1 }),
      ),
    );
    assert.equal(native.eventfdRead(msix), 1, 'the device vector fired once: the ERR trigger raised nothing');
    assert.equal(native.eventfdRead(err), 0, 'ERR never signalled');
    assertOk(
      await c.requestRaw(
        Command.DEVICE_SET_IRQS,
        irqsPayload({ flags: EVENTFD_TRIGGER, index: PciIrq.ERR, start: 0, count: 1, argsz: 20 }),
      ),
    );
    assert.equal(await settledFds(c), before + 1, 'de-assigned: the ERR copy is closed');
    c.close();
  });

  it('de-assigns with EVENTFD and no fds: raising no longer signals and the fd is closed', async () => {
    const c = await connect();
    const before = await settledFds(c);
    const efd = eventfd();
    await c.setIrqEventfds(PciIrq.MSIX, 0, [efd]);
    assert.equal(await settledFds(c), before + 1, 'the daemon holds the eventfd');
    assertOk(
      await c.requestRaw(
        Command.DEVICE_SET_IRQS,
        irqsPayload({ flags: EVENTFD_TRIGGER, index: PciIrq.MSIX, start: 0, count: 1, argsz: 20 }),
      ),
    );
    await raise(c, 0);
    assert.equal(native.eventfdRead(efd), 0, 'not signalled after de-assign');
    assert.equal(await settledFds(c), before, 'the daemon closed its copy');
    c.close();
  });

  it('disables an index with NONE|TRIGGER start 0 count 0', async () => {
    const c = await connect();
    const before = await settledFds(c);
    const efd = eventfd();
    await c.setIrqEventfds(PciIrq.MSIX, 0, [efd]);
    assertOk(await c.requestRaw(Command.DEVICE_SET_IRQS, irqsPayload({ flags: NONE_TRIGGER, index: PciIrq.MSIX, start: 0, count: 0 })));
    await raise(c, 0);
    assert.equal(native.eventfdRead(efd), 0);
    assert.equal(await settledFds(c), before);
    c.close();
  });

  for (const index of [PciIrq.INTX, PciIrq.MSI, PciIrq.MSIX, PciIrq.ERR, PciIrq.REQ]) {
    it(`accepts the count-0 disable of index ${index} even with nothing assigned (QEMU sends it on every reset)`, async () => {
      const c = await connect();
      assertOk(await c.requestRaw(Command.DEVICE_SET_IRQS, irqsPayload({ flags: NONE_TRIGGER, index, start: 0, count: 0 })));
      assertOk(await c.requestRaw(Command.DEVICE_SET_IRQS, irqsPayload({ flags: NONE_TRIGGER, index, start: 0, count: 0 })));
      assert.equal(await c.read32(0, 0x1000), DEVICE_ID);
      c.close();
    });
  }

  it("accepts QEMU's MSI-X enable sequence: one fd-less vector, then the fds", async () => {
    const c = await connect();
    const efd = eventfd();
    await c.disableIrqs(PciIrq.INTX);
    await c.setIrqEventfds(PciIrq.MSIX, 0, [], 1); // "enable with no vector"
    await raise(c, 0);
    assert.equal(native.eventfdRead(efd), 0);
    await c.setIrqEventfds(PciIrq.MSIX, 0, [efd]);
    await raise(c, 0);
    assert.equal(native.eventfdRead(efd), 1);
    c.close();
  });

  it('closes the old fd when a vector gets a new one, and signals only the new one', async () => {
    const c = await connect();
    const a = eventfd();
    const b = eventfd();
    await c.setIrqEventfds(PciIrq.MSIX, 0, [a]);
    const withA = await settledFds(c);
    await c.setIrqEventfds(PciIrq.MSIX, 0, [b]);
    assert.equal(await settledFds(c), withA, 'the replaced fd was closed');
    for (let i = 0; i < 5; i++) await c.setIrqEventfds(PciIrq.MSIX, 0, [i % 2 ? a : b]);
    assert.equal(await settledFds(c), withA, 'no fd leaked over repeated replacement');
    await c.setIrqEventfds(PciIrq.MSIX, 0, [b]);
    await raise(c, 0);
    assert.equal(native.eventfdRead(b), 1);
    assert.equal(native.eventfdRead(a), 0);
    c.close();
  });

  it('accepts NONE|UNMASK and NONE|MASK (no-ops: QEMU masks MSI-X by swapping fds)', async () => {
    const c = await connect();
    const efd = eventfd();
    await c.setIrqEventfds(PciIrq.MSIX, 0, [efd]);
    for (const action of [F.ACTION_UNMASK, F.ACTION_MASK, F.ACTION_UNMASK]) {
      assertOk(
        await c.requestRaw(Command.DEVICE_SET_IRQS, irqsPayload({ flags: F.DATA_NONE | action, index: PciIrq.MSIX, start: 0, count: 1 })),
      );
    }
    assertOk(
      await c.requestRaw(
        Command.DEVICE_SET_IRQS,
        irqsPayload({ flags: F.DATA_NONE | F.ACTION_UNMASK, index: PciIrq.MSI, start: 0, count: 1 }),
      ),
    );
    await raise(c, 0);
    assert.equal(native.eventfdRead(efd), 1, 'the fd still receives');
    c.close();
  });

  it('fires the vector from the client side with NONE|TRIGGER count 1', async () => {
    const c = await connect();
    const efd = eventfd();
    await c.setIrqEventfds(PciIrq.MSIX, 0, [efd]);
    assertOk(await c.requestRaw(Command.DEVICE_SET_IRQS, irqsPayload({ flags: NONE_TRIGGER, index: PciIrq.MSIX, start: 0, count: 1 })));
    assert.equal(native.eventfdRead(efd), 1);
    c.close();
  });

  it('fires only the vectors whose DATA_BOOL byte is set', async () => {
    const c = await connect();
    const efd = eventfd();
    await c.setIrqEventfds(PciIrq.MSIX, 0, [efd]);
    const bool = (v: number): Buffer =>
      irqsPayload({ flags: F.DATA_BOOL | F.ACTION_TRIGGER, index: PciIrq.MSIX, start: 0, count: 1, data: Buffer.from([v]) });
    assertOk(await c.requestRaw(Command.DEVICE_SET_IRQS, bool(0)));
    assert.equal(native.eventfdRead(efd), 0, 'false: not fired');
    assertOk(await c.requestRaw(Command.DEVICE_SET_IRQS, bool(1)));
    assert.equal(native.eventfdRead(efd), 1, 'true: fired');
    assertOk(await c.requestRaw(Command.DEVICE_SET_IRQS, bool(0xff)));
    assert.equal(native.eventfdRead(efd), 1, 'any non-zero byte is true');
    c.close();
  });

  const badFlags: [string, number][] = [
    ['two data types (NONE|BOOL)', F.DATA_NONE | F.DATA_BOOL | F.ACTION_TRIGGER],
    ['two data types (BOOL|EVENTFD)', F.DATA_BOOL | F.DATA_EVENTFD | F.ACTION_TRIGGER],
    ['two actions (MASK|TRIGGER)', F.DATA_NONE | F.ACTION_MASK | F.ACTION_TRIGGER],
    ['two actions (MASK|UNMASK)', F.DATA_NONE | F.ACTION_MASK | F.ACTION_UNMASK],
    ['no data type', F.ACTION_TRIGGER],
    ['no action', F.DATA_NONE],
    ['no flags at all', 0],
    ['unknown bit 6', NONE_TRIGGER | 0x40],
    ['unknown bit 31', (NONE_TRIGGER | 0x80000000) >>> 0],
  ];
  for (const [name, flags] of badFlags) {
    it(`refuses ${name} with EINVAL and keeps the session`, async () => {
      const c = await connect();
      const efd = eventfd();
      await c.setIrqEventfds(PciIrq.MSIX, 0, [efd]);
      const r = await c.requestRaw(Command.DEVICE_SET_IRQS, irqsPayload({ flags, index: PciIrq.MSIX, start: 0, count: 0 }));
      assertError(r, Errno.EINVAL);
      await raise(c, 0);
      assert.equal(native.eventfdRead(efd), 1, 'the refused request changed nothing');
      c.close();
    });
  }

  it('refuses flags with unknown bits even when they carry fds, closing them', async () => {
    const c = await connect();
    const before = await settledFds(c);
    const efd = eventfd();
    assertError(
      await c.requestRaw(
        Command.DEVICE_SET_IRQS,
        irqsPayload({ flags: EVENTFD_TRIGGER | 0x100, index: PciIrq.MSIX, start: 0, count: 1, argsz: 20 }),
        [efd],
      ),
      Errno.EINVAL,
    );
    assert.equal(await settledFds(c), before);
    await raise(c, 0);
    assert.equal(native.eventfdRead(efd), 0, 'not assigned');
    c.close();
  });

  const badRequests: [string, { flags: number; index: number; start: number; count: number; argsz?: number; data?: Buffer }, number][] = [
    ['index 5', { flags: NONE_TRIGGER, index: 5, start: 0, count: 0 }, 0],
    ['index 0xffffffff', { flags: EVENTFD_TRIGGER, index: 0xffffffff, start: 0, count: 1 }, 1],
    ['MSI-X vectors [0, 2) on a 1-vector device', { flags: EVENTFD_TRIGGER, index: PciIrq.MSIX, start: 0, count: 2 }, 2],
    ['MSI-X vector 1 on a 1-vector device', { flags: EVENTFD_TRIGGER, index: PciIrq.MSIX, start: 1, count: 1 }, 1],
    ['start + count overflowing 32 bits', { flags: EVENTFD_TRIGGER, index: PciIrq.MSIX, start: 0xffffffff, count: 1 }, 1],
    ['an INTx eventfd (INTx has 0 vectors)', { flags: EVENTFD_TRIGGER, index: PciIrq.INTX, start: 0, count: 1 }, 1],
    ['ERR vector 1 (ERR has 1 vector)', { flags: EVENTFD_TRIGGER, index: PciIrq.ERR, start: 1, count: 1 }, 1],
    ['a REQ eventfd (REQ has 0 vectors)', { flags: EVENTFD_TRIGGER, index: PciIrq.REQ, start: 0, count: 1 }, 1],
    ['NONE|TRIGGER of a vector beyond the count', { flags: NONE_TRIGGER, index: PciIrq.MSIX, start: 1, count: 1 }, 0],
    ['2 fds for count 1', { flags: EVENTFD_TRIGGER, index: PciIrq.MSIX, start: 0, count: 1 }, 2],
    ['fds with DATA_NONE (a disable carrying an fd)', { flags: NONE_TRIGGER, index: PciIrq.MSIX, start: 0, count: 0 }, 1],
    ['fds with DATA_NONE and count 1', { flags: NONE_TRIGGER, index: PciIrq.MSIX, start: 0, count: 1 }, 1],
    ['fds with DATA_BOOL', { flags: F.DATA_BOOL | F.ACTION_TRIGGER, index: PciIrq.MSIX, start: 0, count: 1, data: Buffer.from([1]) }, 1],
    ['EVENTFD|TRIGGER with count 0', { flags: EVENTFD_TRIGGER, index: PciIrq.MSIX, start: 0, count: 0 }, 0],
    ['EVENTFD|TRIGGER with count 0 and an fd', { flags: EVENTFD_TRIGGER, index: PciIrq.MSIX, start: 0, count: 0 }, 1],
    ['NONE|UNMASK with count 0', { flags: F.DATA_NONE | F.ACTION_UNMASK, index: PciIrq.MSIX, start: 0, count: 0 }, 0],
    ['BOOL|TRIGGER with count 0', { flags: F.DATA_BOOL | F.ACTION_TRIGGER, index: PciIrq.MSIX, start: 0, count: 0 }, 0],
    ['a count-0 disable with start 1', { flags: NONE_TRIGGER, index: PciIrq.MSIX, start: 1, count: 0 }, 0],
    ['DATA_BOOL without its data bytes', { flags: F.DATA_BOOL | F.ACTION_TRIGGER, index: PciIrq.MSIX, start: 0, count: 1 }, 0],
    [
      'DATA_BOOL with too many data bytes',
      { flags: F.DATA_BOOL | F.ACTION_TRIGGER, index: PciIrq.MSIX, start: 0, count: 1, data: Buffer.from([1, 1]) },
      0,
    ],
    ['argsz 0', { flags: NONE_TRIGGER, index: PciIrq.MSIX, start: 0, count: 0, argsz: 0 }, 0],
    ['argsz 19', { flags: EVENTFD_TRIGGER, index: PciIrq.MSIX, start: 0, count: 1, argsz: 19 }, 1],
  ];
  for (const [name, req, nfds] of badRequests) {
    it(`refuses ${name} with EINVAL, closes the fds and keeps the session`, async () => {
      const c = await connect();
      const keep = eventfd();
      await c.setIrqEventfds(PciIrq.MSIX, 0, [keep]);
      const before = await settledFds(c);
      const fds = Array.from({ length: nfds }, () => eventfd());
      assertError(await c.requestRaw(Command.DEVICE_SET_IRQS, irqsPayload(req), fds), Errno.EINVAL);
      assert.equal(await settledFds(c), before, 'every fd of the refused request was closed');
      await raise(c, 0);
      assert.equal(native.eventfdRead(keep), 1, 'the existing assignment is untouched');
      for (const fd of fds) assert.equal(native.eventfdRead(fd), 0);
      c.close();
    });
  }

  const shortPayloads: [string, Buffer][] = [
    ['an empty payload', Buffer.alloc(0)],
    ['a 16-byte payload', irqsPayload({ flags: NONE_TRIGGER, index: PciIrq.MSIX, start: 0, count: 0 }).subarray(0, 16)],
    ['a 19-byte payload', irqsPayload({ flags: NONE_TRIGGER, index: PciIrq.MSIX, start: 0, count: 0 }).subarray(0, 19)],
    [
      'trailing bytes without DATA_BOOL',
      Buffer.concat([irqsPayload({ flags: NONE_TRIGGER, index: PciIrq.MSIX, start: 0, count: 0 }), Buffer.alloc(4)]),
    ],
  ];
  for (const [name, payload] of shortPayloads) {
    it(`refuses ${name} with EINVAL`, async () => {
      const c = await connect();
      assertError(await c.requestRaw(Command.DEVICE_SET_IRQS, payload), Errno.EINVAL);
      assert.equal(await c.read32(0, 0x1000), DEVICE_ID, 'still serving');
      c.close();
    });
  }

  it('refuses a memfd instead of an eventfd with EINVAL, closes it and keeps the old fd', async () => {
    const c = await connect();
    const keep = eventfd();
    await c.setIrqEventfds(PciIrq.MSIX, 0, [keep]);
    const before = await settledFds(c);
    const mfd = native.memfdCreate(`agfx-it-irq-${process.pid}`, 4096);
    mine.push(mfd);
    assertError(
      await c.requestRaw(
        Command.DEVICE_SET_IRQS,
        irqsPayload({ flags: EVENTFD_TRIGGER, index: PciIrq.MSIX, start: 0, count: 1, argsz: 20 }),
        [mfd],
      ),
      Errno.EINVAL,
    );
    assert.equal(await settledFds(c), before);
    await raise(c, 0);
    assert.equal(native.eventfdRead(keep), 1);
    c.close();
  });

  it('refuses an eventfd for the MASK/UNMASK action (no resample support) and closes it', async () => {
    const c = await connect();
    const before = await settledFds(c);
    const efd = eventfd();
    assertError(
      await c.requestRaw(
        Command.DEVICE_SET_IRQS,
        irqsPayload({ flags: F.DATA_EVENTFD | F.ACTION_UNMASK, index: PciIrq.MSIX, start: 0, count: 1, argsz: 20 }),
        [efd],
      ),
      Errno.ENOTSUP,
    );
    assert.equal(await settledFds(c), before);
    c.close();
  });

  it('accepts EVENTFD|MASK or UNMASK without fds as a de-assign of (absent) notifiers, and the vector still delivers', async () => {
    const c = await connect();
    const efd = eventfd();
    assertOk(
      await c.requestRaw(
        Command.DEVICE_SET_IRQS,
        irqsPayload({ flags: EVENTFD_TRIGGER, index: PciIrq.MSIX, start: 0, count: 1, argsz: 20 }),
        [efd],
      ),
    );
    for (const action of [F.ACTION_MASK, F.ACTION_UNMASK])
      assertOk(
        await c.requestRaw(
          Command.DEVICE_SET_IRQS,
          irqsPayload({ flags: F.DATA_EVENTFD | action, index: PciIrq.MSIX, start: 0, count: 1 }),
        ),
      );
    await raise(c, 0);
    assert.equal(native.eventfdRead(efd), 1, 'the trigger eventfd was left alone');
    c.close();
  });

  it("takes QEMU's argsz 20 with fds attached (argsz does not count fds), and larger argsz too", async () => {
    const c = await connect();
    const a = eventfd();
    const p = irqsPayload({ flags: EVENTFD_TRIGGER, index: PciIrq.MSIX, start: 0, count: 1, argsz: 20 });
    assert.equal(p.readUInt32LE(0), 20);
    assert.equal(p.length, 20);
    assertOk(await c.requestRaw(Command.DEVICE_SET_IRQS, p, [a]));
    await raise(c, 0);
    assert.equal(native.eventfdRead(a), 1);
    const b = eventfd();
    assertOk(
      await c.requestRaw(
        Command.DEVICE_SET_IRQS,
        irqsPayload({ flags: EVENTFD_TRIGGER, index: PciIrq.MSIX, start: 0, count: 1, argsz: 28 }),
        [b],
      ),
    );
    await raise(c, 0);
    assert.equal(native.eventfdRead(b), 1);
    c.close();
  });

  it('closes every interrupt fd when the client leaves', async () => {
    const c = await connect();
    const before = await settledFds(c);
    await c.setIrqEventfds(PciIrq.MSIX, 0, [eventfd()]);
    await c.setIrqEventfds(PciIrq.MSI, 0, [eventfd()]);
    assert.equal(await settledFds(c), before + 2);
    const mark = fx.d.logs.length;
    c.close();
    await fx.d.waitForLog((l) => fx.d.logs.indexOf(l) >= mark && l.msg === 'apple_gfx_client_detached');
    const c2 = await connect();
    assert.equal(await settledFds(c2), before, 'both eventfds closed');
    c2.close();
  });

  describe('--variant mmio (2 vectors)', () => {
    const mmio = useDaemon(['--variant', 'mmio']);

    it('assigns vectors in chunks (start/count) as QEMU splits them by max_msg_fds', async () => {
      const c = await mmio.connect();
      const [a, b] = [eventfd(), eventfd()];
      // QEMU: enable with no vector, then one chunk per max_msg_fds fds.
      await c.setIrqEventfds(PciIrq.MSIX, 0, [], 1);
      await c.setIrqEventfds(PciIrq.MSIX, 0, [a]);
      await c.setIrqEventfds(PciIrq.MSIX, 1, [b]);
      await raise(c, 0);
      assert.deepEqual([native.eventfdRead(a), native.eventfdRead(b)], [1, 0]);
      await raise(c, 1);
      assert.deepEqual([native.eventfdRead(a), native.eventfdRead(b)], [0, 1]);
      // A "-1" hole arrives as a chunk without fds: only that vector goes.
      await c.setIrqEventfds(PciIrq.MSIX, 0, [], 1);
      await raise(c, 0);
      await raise(c, 1);
      assert.deepEqual([native.eventfdRead(a), native.eventfdRead(b)], [0, 1]);
      c.close();
    });

    it('assigns both vectors in one message and de-assigns a range starting at 1 only', async () => {
      const c = await mmio.connect();
      const before = await mmio.settledFds(c);
      const [a, b] = [eventfd(), eventfd()];
      assertOk(
        await c.requestRaw(
          Command.DEVICE_SET_IRQS,
          irqsPayload({ flags: EVENTFD_TRIGGER, index: PciIrq.MSIX, start: 0, count: 2, argsz: 20 }),
          [a, b],
        ),
      );
      assert.equal(await mmio.settledFds(c), before + 2);
      // start 1, count 1: vector 1 only (libvfio-user's irqs_disable got this wrong).
      await c.setIrqEventfds(PciIrq.MSIX, 1, [], 1);
      assert.equal(await mmio.settledFds(c), before + 1);
      await raise(c, 0);
      await raise(c, 1);
      assert.deepEqual([native.eventfdRead(a), native.eventfdRead(b)], [1, 0]);
      c.close();
    });

    it('fires a chosen vector with DATA_BOOL', async () => {
      const c = await mmio.connect();
      const [a, b] = [eventfd(), eventfd()];
      await c.setIrqEventfds(PciIrq.MSIX, 0, [a, b]);
      await c.setIrqs({ flags: F.DATA_BOOL | F.ACTION_TRIGGER, index: PciIrq.MSIX, start: 0, count: 2, data: Buffer.from([0, 1]) });
      assert.deepEqual([native.eventfdRead(a), native.eventfdRead(b)], [0, 1]);
      c.close();
    });

    it('refuses count 2 with 1 fd, and vectors [1, 3)', async () => {
      const c = await mmio.connect();
      const before = await mmio.settledFds(c);
      const a = eventfd();
      assertError(
        await c.requestRaw(Command.DEVICE_SET_IRQS, irqsPayload({ flags: EVENTFD_TRIGGER, index: PciIrq.MSIX, start: 0, count: 2 }), [a]),
        Errno.EINVAL,
      );
      assertError(
        await c.requestRaw(Command.DEVICE_SET_IRQS, irqsPayload({ flags: EVENTFD_TRIGGER, index: PciIrq.MSIX, start: 1, count: 2 }), [
          a,
          a,
        ]),
        Errno.EINVAL,
      );
      assert.equal(await mmio.settledFds(c), before);
      c.close();
    });
  });
});
