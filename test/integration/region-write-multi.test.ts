// REGION_WRITE_MULTI (15): QEMU's batched posted writes (only used when the
// server advertised write_multiple). Entries apply in order; a batch with
// any bad entry is refused whole, with nothing applied.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Command, Errno, MsgFlag, PciIrq, encodeWriteMulti, type VfioUserClient, type WriteMultiEntry } from 'vfio-user-ts';
import { native } from '#daemon/native.js';
import { startDaemon, type RunningDaemon } from '../support/daemon.js';
import { assertErrorReply as assertError } from '../support/replies.js';

const SCRATCH = 0x1008;
const entry = (region: number, offset: number, data: Buffer, count = data.length): WriteMultiEntry => ({
  offset: BigInt(offset),
  region,
  count,
  data,
});
const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
const scratch = (v: number): WriteMultiEntry => entry(0, SCRATCH, u32(v));

describe('REGION_WRITE_MULTI', () => {
  let d: RunningDaemon;
  const open: VfioUserClient[] = [];
  before(async () => (d = await startDaemon(['--write-multiple'])));
  after(async () => d.stop());
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  const connect = async (): Promise<VfioUserClient> => {
    const c = d.connect();
    open.push(c);
    const v = await c.version();
    assert.equal(v.caps.writeMultiple, true, 'write_multiple negotiated');
    return c;
  };

  it('applies a batch in order (last scratch value wins) and replies with wr_cnt', async () => {
    const c = await connect();
    const r = await c.requestRaw(Command.REGION_WRITE_MULTI, encodeWriteMulti([scratch(1), scratch(2), scratch(3)]));
    assert.equal(r.header.flags, MsgFlag.TYPE_REPLY);
    assert.equal(r.header.command, Command.REGION_WRITE_MULTI);
    assert.equal(r.header.size, 16 + 8);
    assert.equal(r.payload.readBigUInt64LE(0), 3n, 'wr_cnt');
    assert.equal(await c.read32(0, SCRATCH), 3);
    c.close();
  });

  it('applies a posted (NO_REPLY) batch before the next read, without replying', async () => {
    const c = await connect();
    c.postWriteMulti([scratch(0x10), scratch(0x20), scratch(0x30)]);
    assert.equal(await c.read32(0, SCRATCH), 0x30);
    assert.equal(c.unexpected.length, 0);
    c.close();
  });

  it('takes the full 200 entries QEMU batches at most', async () => {
    const c = await connect();
    const entries = Array.from({ length: 200 }, (_, i) => scratch(1000 + i));
    const r = await c.requestRaw(Command.REGION_WRITE_MULTI, encodeWriteMulti(entries));
    assert.equal(r.payload.readBigUInt64LE(0), 200n);
    assert.equal(await c.read32(0, SCRATCH), 1199);
    c.close();
  });

  it('applies BAR0 8-byte entries and the interrupt self-test in one batch', async () => {
    const c = await connect();
    const efd = native.eventfdCreate();
    await c.setIrqEventfds(PciIrq.MSIX, 0, [efd]);
    const eight = Buffer.alloc(8);
    eight.writeUInt32LE(0xabcdef01, 0);
    eight.writeUInt32LE(0, 4); // 0x100C <- vector 0
    c.postWriteMulti([entry(0, SCRATCH, u32(5)), entry(0, SCRATCH, eight)]);
    assert.equal(await c.read32(0, SCRATCH), 0xabcdef01);
    assert.equal(native.eventfdRead(efd), 1);
    native.closeFd(efd);
    c.close();
  });

  it('applies a batch of config-space entries (the session serves config space)', async () => {
    const c = await connect();
    c.postWriteMulti([entry(7, 0x3c, Buffer.from([0x2a])), entry(7, 0x04, Buffer.from([0x02, 0x00]))]);
    assert.equal((await c.configRead(0x04, 2)).readUInt16LE(0), 0x0002);
    assert.equal((await c.configRead(0x3c, 1))[0], 0x2a);
    await c.regionWrite(7, 0x04, Buffer.from([0, 0]));
    c.close();
  });

  it('refuses a batch mixing config space and BAR0 (QEMU batches only posted BAR writes) and applies none of it', async () => {
    const c = await connect();
    await c.write32(0, SCRATCH, 0x34343434);
    const mark = d.logs.length;
    const mixed = encodeWriteMulti([entry(0, SCRATCH, u32(1)), entry(7, 0x3c, Buffer.from([0x55]))]);
    assertError(await c.requestRaw(Command.REGION_WRITE_MULTI, mixed), Errno.EINVAL);
    assert.equal(await c.read32(0, SCRATCH), 0x34343434, 'the BAR entry was not applied');
    assert.notEqual((await c.configRead(0x3c, 1))[0], 0x55, 'nor the config entry');
    // The data plane logs through JS after it has replied: wait for the line.
    const failed = await d.waitForLog((l) => d.logs.indexOf(l) >= mark && l.msg === 'vfio_user_request_failed');
    assert.match(String(failed.err), /region 7 together with device BARs/);
    c.close();
  });

  it('uses only count bytes of the 8-byte data field', async () => {
    const c = await connect();
    const efd = native.eventfdCreate();
    await c.setIrqEventfds(PciIrq.MSIX, 0, [efd]);
    const data = Buffer.alloc(8);
    data.writeUInt32LE(0x77777777, 0);
    data.writeUInt32LE(0, 4); // would raise vector 0 if the whole field were written
    c.postWriteMulti([entry(0, SCRATCH, data, 4)]);
    assert.equal(await c.read32(0, SCRATCH), 0x77777777);
    assert.equal(native.eventfdRead(efd), 0, 'the unused 4 bytes went nowhere');
    native.closeFd(efd);
    c.close();
  });

  /** Raw batch: wr_cnt, then entries as given (bad values allowed). */
  const rawBatch = (wrCnt: bigint, entries: WriteMultiEntry[], extra = 0): Buffer => {
    const p = encodeWriteMulti(entries);
    p.writeBigUInt64LE(wrCnt, 0);
    return Buffer.concat([p, Buffer.alloc(extra)]);
  };

  const malformed: [string, Buffer][] = [
    ['wr_cnt 0', rawBatch(0n, [])],
    ['wr_cnt 0 with an entry', rawBatch(0n, [scratch(0x99)])],
    [
      'wr_cnt 201',
      rawBatch(
        201n,
        Array.from({ length: 201 }, () => scratch(0x99)),
      ),
    ],
    ['wr_cnt 2^63', rawBatch(1n << 63n, [scratch(0x99)])],
    ['wr_cnt 2 with one entry', rawBatch(2n, [scratch(0x99)])],
    ['wr_cnt 1 with two entries', rawBatch(1n, [scratch(0x99), scratch(0x99)])],
    ['a trailing byte', rawBatch(1n, [scratch(0x99)], 1)],
    ['a 4-byte payload', Buffer.alloc(4)],
    ['an empty payload', Buffer.alloc(0)],
    ['an entry with count 9', rawBatch(2n, [scratch(0x99), entry(0, SCRATCH, Buffer.alloc(8, 0x99), 9)])],
    ['an entry with count 0', rawBatch(2n, [scratch(0x99), entry(0, SCRATCH, Buffer.alloc(0))])],
  ];
  /** A bad entry after a good one: nothing of the batch may be applied. */
  const badEntry: [string, WriteMultiEntry][] = [
    ['an entry past the end of BAR0', entry(0, 0x4000, u32(1))],
    ['an entry straddling the end of BAR0', entry(0, 0x3ffc, Buffer.alloc(8))],
    ['an entry past the end of config space', entry(7, 0xfe, u32(1))],
    ['an entry for an absent BAR', entry(1, 0, u32(1))],
    ['an entry for region 9', entry(9, 0, u32(1))],
    ['a 2-byte BAR0 entry (the device takes dwords only)', entry(0, SCRATCH, Buffer.from([1, 2]))],
    ['a misaligned BAR0 entry', entry(0, SCRATCH + 2, u32(1))],
  ];
  const cases: [string, () => Buffer][] = [
    ...malformed.map(([n, p]): [string, () => Buffer] => [n, () => p]),
    ...badEntry.map(([n, e]): [string, () => Buffer] => [n, () => encodeWriteMulti([scratch(0x99), e, scratch(0x98)])]),
  ];
  for (const [name, payload] of cases) {
    it(`refuses a batch with ${name} (EINVAL) and applies none of it`, async () => {
      const c = await connect();
      await c.write32(0, SCRATCH, 0x12121212);
      assertError(await c.requestRaw(Command.REGION_WRITE_MULTI, payload()), Errno.EINVAL);
      assert.equal(await c.read32(0, SCRATCH), 0x12121212, 'no entry applied; still serving');
      // The same refusal, posted: no reply and still nothing applied.
      c.post(Command.REGION_WRITE_MULTI, payload());
      assert.equal(await c.read32(0, SCRATCH), 0x12121212);
      assert.equal(c.unexpected.length, 0, 'no reply to the posted batch');
      c.close();
    });
  }

  it('refuses fds on a batch (EINVAL) and closes them', async () => {
    const c = await connect();
    await c.write32(0, SCRATCH, 0);
    const before = d.fdCount();
    const efd = native.eventfdCreate();
    assertError(await c.requestRaw(Command.REGION_WRITE_MULTI, encodeWriteMulti([scratch(5)]), [efd]), Errno.EINVAL);
    assert.equal(await c.read32(0, SCRATCH), 0);
    assert.equal(d.fdCount(), before);
    native.closeFd(efd);
    c.close();
  });
});
