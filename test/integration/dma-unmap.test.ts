// DMA_UNMAP (3): exact-match unmaps, QEMU's FLAG_ALL, and every malformed
// variant. A refused unmap must leave the table as it was.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, DmaUnmapFlag, Errno, MsgFlag, encodeDmaUnmap, type VfioUserClient } from 'vfio-user-ts';
import { native } from '#daemon/native.js';
import { assertErrorReply as assertError } from '../support/replies.js';
import { useDaemon, memfd } from '../support/daemon-fixture.js';
import type { LogLine } from '../support/daemon.js';
import { DEVICE_ID } from '../support/soft-ring.js';

const unmapPayload = (flags: number, iova: bigint, size: bigint, argsz?: number): Buffer => encodeDmaUnmap({ flags, iova, size, argsz });

describe('DMA_UNMAP', () => {
  const fx = useDaemon();
  const { connect, settledFds, mappingsOf } = fx;
  /** Maps [iova, iova+size) from a fresh memfd; returns the memfd name. */
  const mapFresh = async (c: VfioUserClient, iova: bigint, size: bigint): Promise<string> => {
    const f = memfd(Number(size));
    await c.dmaMap({ iova, size, fd: f.fd });
    native.closeFd(f.fd);
    assert.equal(mappingsOf(f.name).length, 1);
    return f.name;
  };

  it('unmaps an exactly matching range and echoes the 24-byte request', async () => {
    const c = await connect();
    const before = await settledFds(c);
    const name = await mapFresh(c, 0x40000000n, 0x8000n);
    const r = await c.requestRaw(Command.DMA_UNMAP, unmapPayload(0, 0x40000000n, 0x8000n));
    assert.equal(r.header.flags, MsgFlag.TYPE_REPLY);
    assert.equal(r.header.command, Command.DMA_UNMAP);
    assert.equal(r.header.size, 16 + 24, 'reply is no larger than the request');
    assert.deepEqual(r.payload, unmapPayload(0, 0x40000000n, 0x8000n));
    assert.deepEqual(mappingsOf(name), []);
    assert.equal(await settledFds(c), before, 'the region fd is closed');
    // The range is free again.
    const again = await mapFresh(c, 0x40000000n, 0x8000n);
    await c.dmaUnmap(0x40000000n, 0x8000n);
    assert.deepEqual(mappingsOf(again), []);
    c.close();
  });

  const noMatch: [string, bigint, bigint][] = [
    ['an address nothing is mapped at', 0x50000000n, 0x8000n],
    ['the right address with a larger size', 0x40000000n, 0x10000n],
    ['the first half (partial unmap)', 0x40000000n, 0x4000n],
    ['the second half (partial unmap)', 0x40004000n, 0x4000n],
    ['a page in the middle (partial unmap)', 0x40002000n, 0x1000n],
    ['a range covering it and more', 0x3ffff000n, 0xa000n],
  ];
  for (const [name, iova, size] of noMatch) {
    it(`refuses ${name} with ENOENT and keeps the region`, async () => {
      const c = await connect();
      const region = await mapFresh(c, 0x40000000n, 0x8000n);
      assertError(await c.requestRaw(Command.DMA_UNMAP, unmapPayload(0, iova, size)), Errno.ENOENT);
      const maps = mappingsOf(region);
      assert.equal(maps.length, 1, 'the region is still mapped');
      const [lo, hi] = maps[0]!
        .split(/\s+/)[0]!
        .split('-')
        .map((h) => BigInt(`0x${h}`));
      assert.equal(hi! - lo!, 0x8000n, 'and still whole');
      await c.dmaUnmap(0x40000000n, 0x8000n);
      assert.deepEqual(mappingsOf(region), []);
      c.close();
    });
  }

  it('unmaps everything with FLAG_ALL and size 0, closing every fd', async () => {
    const c = await connect();
    const before = await settledFds(c);
    const names = [await mapFresh(c, 0n, 0xa0000n), await mapFresh(c, 0x100000n, 0x100000n), await mapFresh(c, 0x40000000n, 0x1000n)];
    assert.equal(await settledFds(c), before + 3);
    const r = await c.requestRaw(Command.DMA_UNMAP, unmapPayload(DmaUnmapFlag.ALL, 0n, 0n));
    assert.equal(r.header.flags, MsgFlag.TYPE_REPLY);
    assert.equal(r.payload.length, 24);
    assert.equal(r.payload.readUInt32LE(4), DmaUnmapFlag.ALL, 'flags echoed');
    for (const n of names) assert.deepEqual(mappingsOf(n), []);
    assert.equal(await settledFds(c), before);
    // FLAG_ALL on an empty table is fine too.
    await c.dmaUnmapAll();
    // And any single unmap now finds nothing.
    await assert.rejects(c.dmaUnmap(0n, 0xa0000n), { errno: Errno.ENOENT });
    c.close();
  });

  // Ranges QEMU mapped without an fd (q35: ROM, pflash, the VGA BAR) are
  // unmapped like any other; before they were refused at map time and their
  // unmaps failed with ENOENT, one error line each on QEMU's stderr.
  it('unmaps a range mapped without an fd, exact match only, and the range is free again', async () => {
    const c = await connect();
    await c.dmaMap({ iova: 0xe0000n, size: 0x20000n, fd: null });
    for (const [iova, size] of [
      [0xe0000n, 0x10000n],
      [0xf0000n, 0x10000n],
      [0xdf000n, 0x22000n],
    ] as const)
      assertError(await c.requestRaw(Command.DMA_UNMAP, unmapPayload(0, iova, size)), Errno.ENOENT);
    const mark = fx.d.logs.length;
    const r = await c.requestRaw(Command.DMA_UNMAP, unmapPayload(0, 0xe0000n, 0x20000n));
    assert.equal(r.header.flags, MsgFlag.TYPE_REPLY, `error ${r.header.error}`);
    assert.deepEqual(r.payload, unmapPayload(0, 0xe0000n, 0x20000n));
    const removed = await fx.d.waitForLog((l: LogLine) => fx.d.logs.indexOf(l) >= mark && l.msg === 'guest_memory_region_removed');
    assert.deepEqual([removed.iova, removed.size, removed.fd], ['0xe0000', '0x20000', false]);
    await assert.rejects(c.dmaUnmap(0xe0000n, 0x20000n), { errno: Errno.ENOENT }, 'gone: a second unmap finds nothing');
    // PAM toggling on q35: the same range comes back as shared RAM.
    const name = await mapFresh(c, 0xe0000n, 0x20000n);
    await c.dmaUnmap(0xe0000n, 0x20000n);
    assert.deepEqual(mappingsOf(name), []);
    c.close();
  });

  it('FLAG_ALL unmaps ranges with and without an fd alike', async () => {
    const c = await connect();
    const before = await settledFds(c);
    const name = await mapFresh(c, 0n, 0xa0000n);
    await c.dmaMap({ iova: 0xc0000n, size: 0x20000n, fd: null });
    await c.dmaMap({ iova: 0xfd000000n, size: 0x1000000n, fd: null });
    await c.dmaUnmapAll();
    assert.deepEqual(mappingsOf(name), []);
    assert.equal(await settledFds(c), before);
    for (const [iova, size] of [
      [0xc0000n, 0x20000n],
      [0xfd000000n, 0x1000000n],
    ] as const)
      await assert.rejects(c.dmaUnmap(iova, size), { errno: Errno.ENOENT });
    await c.dmaMap({ iova: 0xfd000000n, size: 0x1000000n, fd: null }); // free again
    await c.dmaUnmapAll();
    c.close();
  });

  const bad: [string, Buffer, number][] = [
    ['FLAG_ALL with a non-zero address', unmapPayload(DmaUnmapFlag.ALL, 0x40000000n, 0n), Errno.EINVAL],
    ['FLAG_ALL with a non-zero size', unmapPayload(DmaUnmapFlag.ALL, 0n, 0x8000n), Errno.EINVAL],
    ['size 0 without FLAG_ALL', unmapPayload(0, 0x40000000n, 0n), Errno.EINVAL],
    ['GET_DIRTY_BITMAP', unmapPayload(DmaUnmapFlag.GET_DIRTY_BITMAP, 0x40000000n, 0x8000n), Errno.ENOTSUP],
    ['unknown flag bit 2', unmapPayload(0x4, 0x40000000n, 0x8000n), Errno.EINVAL],
    ['unknown flag bit 31', unmapPayload(0x80000000, 0x40000000n, 0x8000n), Errno.EINVAL],
    ['argsz 0', unmapPayload(0, 0x40000000n, 0x8000n, 0), Errno.EINVAL],
    ['argsz 23', unmapPayload(0, 0x40000000n, 0x8000n, 23), Errno.EINVAL],
    ['an empty payload', Buffer.alloc(0), Errno.EINVAL],
    ['a 23-byte payload', unmapPayload(0, 0x40000000n, 0x8000n).subarray(0, 23), Errno.EINVAL],
    ['a 25-byte payload', Buffer.concat([unmapPayload(0, 0x40000000n, 0x8000n), Buffer.alloc(1)]), Errno.EINVAL],
    ['a 32-byte payload (a DMA_MAP body)', Buffer.concat([unmapPayload(0, 0x40000000n, 0x8000n), Buffer.alloc(8)]), Errno.EINVAL],
  ];
  for (const [name, payload, errno] of bad) {
    it(`refuses ${name} with ${errno === Errno.ENOTSUP ? 'ENOTSUP' : 'EINVAL'} and unmaps nothing`, async () => {
      const c = await connect();
      const region = await mapFresh(c, 0x40000000n, 0x8000n);
      assertError(await c.requestRaw(Command.DMA_UNMAP, payload), errno);
      assert.equal(mappingsOf(region).length, 1, 'the region survives');
      // The same session still unmaps properly.
      await c.dmaUnmap(0x40000000n, 0x8000n);
      assert.deepEqual(mappingsOf(region), []);
      c.close();
    });
  }

  it('accepts a larger argsz and still replies with the 24-byte entry', async () => {
    const c = await connect();
    await mapFresh(c, 0x40000000n, 0x1000n);
    const r = await c.requestRaw(Command.DMA_UNMAP, unmapPayload(0, 0x40000000n, 0x1000n, 4096));
    assert.equal(r.header.flags, MsgFlag.TYPE_REPLY);
    assert.equal(r.header.size, 40);
    assert.equal(r.payload.readBigUInt64LE(8), 0x40000000n);
    assert.equal(r.payload.readBigUInt64LE(16), 0x1000n);
    c.close();
  });

  it('closes fds attached to an unmap (EINVAL) and leaves the table alone', async () => {
    const c = await connect();
    const region = await mapFresh(c, 0x40000000n, 0x2000n);
    const f = memfd(0x2000, 'stray');
    const efd = native.eventfdCreate();
    const before = await settledFds(c);
    assertError(await c.requestRaw(Command.DMA_UNMAP, unmapPayload(0, 0x40000000n, 0x2000n), [f.fd, efd]), Errno.EINVAL);
    assert.equal(await settledFds(c), before, 'both stray fds closed');
    assert.equal(mappingsOf(region).length, 1, 'the unmap was not carried out');
    await c.dmaUnmap(0x40000000n, 0x2000n);
    assert.deepEqual(mappingsOf(region), []);
    native.closeFd(f.fd);
    native.closeFd(efd);
    c.close();
  });

  it('never answers an unmap sent with NO_REPLY, but carries it out', async () => {
    const c = await connect();
    const region = await mapFresh(c, 0x40000000n, 0x2000n);
    c.post(Command.DMA_UNMAP, unmapPayload(0, 0x40000000n, 0x2000n));
    c.post(Command.DMA_UNMAP, unmapPayload(0, 0x40000000n, 0x2000n)); // now ENOENT, still silent
    assert.equal(await c.read32(0, 0x1000), DEVICE_ID);
    assert.equal(c.unexpected.length, 0, 'no reply to either posted unmap');
    assert.deepEqual(mappingsOf(region), []);
    c.close();
  });
});
