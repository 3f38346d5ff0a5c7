// DEVICE_GET_REGION_INFO (5): the region table QEMU builds the PCI device
// from (BARs, ROM, config, VGA), for both device variants.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, Errno, MsgFlag, PciRegion, RegionFlag, encodeRegionInfoRequest } from 'vfio-user-ts';
import { useDaemon } from '../support/daemon-fixture.js';

const RW = RegionFlag.READ | RegionFlag.WRITE;

describe('DEVICE_GET_REGION_INFO', () => {
  const fx = useDaemon();
  const { connect } = fx;

  it('describes BAR0 as 16 KiB, readable and writable, never mmap-able, with no fd', async () => {
    const c = await connect();
    const r = await c.requestRaw(Command.DEVICE_GET_REGION_INFO, encodeRegionInfoRequest(PciRegion.BAR0));
    assert.equal(r.header.flags, MsgFlag.TYPE_REPLY);
    assert.equal(r.header.size, 16 + 32);
    assert.equal(r.fds.length, 0, 'no fd: the BAR is not mmap-able (docs/design.md P13)');
    const p = r.payload;
    assert.equal(p.readUInt32LE(0), 32, 'argsz: no capability chain');
    assert.equal(p.readUInt32LE(4), RW, 'flags R|W, no MMAP, no CAPS');
    assert.equal(p.readUInt32LE(8), 0, 'index');
    assert.equal(p.readUInt32LE(12), 0, 'cap_offset');
    assert.equal(p.readBigUInt64LE(16), 0x4000n, 'size');
    assert.equal(p.readBigUInt64LE(24), 0n, 'offset');
    c.close();
  });

  it('describes config space (7) as 256 bytes R|W', async () => {
    const c = await connect();
    const i = await c.regionInfo(PciRegion.CONFIG);
    assert.equal(i.index, 7);
    assert.equal(i.flags, RW);
    assert.equal(i.size, 256n, 'conventional PCI, so QEMU clears CAP_EXPRESS');
    assert.equal(i.argsz, 32);
    c.close();
  });

  for (const index of [1, 2, 3, 4, 5, 6, 8]) {
    it(`reports region ${index} as absent (size 0, flags 0) on the pci variant`, async () => {
      const c = await connect();
      const r = await c.requestRaw(Command.DEVICE_GET_REGION_INFO, encodeRegionInfoRequest(index));
      assert.equal(r.header.flags, MsgFlag.TYPE_REPLY);
      assert.equal(r.fds.length, 0);
      assert.equal(r.payload.readUInt32LE(4), 0, 'flags');
      assert.equal(r.payload.readUInt32LE(8), index, 'index echoed');
      assert.equal(r.payload.readBigUInt64LE(16), 0n, 'size');
      c.close();
    });
  }

  it('answers the whole QEMU realize sequence (0-5, then 7) on one connection', async () => {
    const c = await connect();
    const sizes = [];
    for (const index of [0, 1, 2, 3, 4, 5, 7]) sizes.push((await c.regionInfo(index)).size);
    assert.deepEqual(sizes, [0x4000n, 0n, 0n, 0n, 0n, 0n, 256n]);
    c.close();
  });

  it('answers a larger argsz with just the 32-byte struct', async () => {
    const c = await connect();
    const r = await c.requestRaw(Command.DEVICE_GET_REGION_INFO, encodeRegionInfoRequest(0, 4096));
    assert.equal(r.header.flags, MsgFlag.TYPE_REPLY);
    assert.equal(r.payload.length, 32);
    assert.equal(r.payload.readUInt32LE(0), 32, 'argsz = the size actually needed');
    assert.equal(r.payload.readBigUInt64LE(16), 0x4000n);
    assert.equal(r.fds.length, 0);
    c.close();
  });

  const bad: [string, Buffer][] = [
    ['index 9', encodeRegionInfoRequest(9)],
    ['index 100', encodeRegionInfoRequest(100)],
    ['index 0xffffffff', encodeRegionInfoRequest(0xffffffff)],
    ['argsz 0', encodeRegionInfoRequest(0, 0)],
    ['argsz 16', encodeRegionInfoRequest(0, 16)],
    ['argsz 31', encodeRegionInfoRequest(7, 31)],
    ['an empty payload', Buffer.alloc(0)],
    ['a 16-byte payload', encodeRegionInfoRequest(0).subarray(0, 16)],
    ['a 31-byte payload', encodeRegionInfoRequest(0).subarray(0, 31)],
  ];
  for (const [name, payload] of bad) {
    it(`refuses ${name} with EINVAL and keeps the session`, async () => {
      const c = await connect();
      const r = await c.requestRaw(Command.DEVICE_GET_REGION_INFO, payload);
      assert.equal(r.header.flags, MsgFlag.TYPE_REPLY | MsgFlag.ERROR);
      assert.equal(r.header.error, Errno.EINVAL);
      assert.equal(r.header.size, 16);
      assert.equal(r.fds.length, 0);
      assert.equal((await c.regionInfo(0)).size, 0x4000n, 'still serving');
      c.close();
    });
  }

  describe('--variant mmio', () => {
    const mmio = useDaemon(['--variant', 'mmio']);

    it('adds BAR2 of 64 KiB R|W without MMAP; BAR0 and config unchanged', async () => {
      const c = await mmio.connect();
      const bar2 = await c.requestRaw(Command.DEVICE_GET_REGION_INFO, encodeRegionInfoRequest(PciRegion.BAR2));
      assert.equal(bar2.fds.length, 0);
      assert.equal(bar2.payload.readUInt32LE(4), RW);
      assert.equal(bar2.payload.readUInt32LE(8), 2);
      assert.equal(bar2.payload.readBigUInt64LE(16), 0x10000n);
      assert.equal((await c.regionInfo(0)).size, 0x4000n);
      assert.equal((await c.regionInfo(7)).size, 256n);
      for (const index of [1, 3, 4, 5, 6, 8]) {
        const i = await c.regionInfo(index);
        assert.equal(i.size, 0n, `region ${index} absent`);
        assert.equal(i.flags, 0);
      }
      await assert.rejects(c.regionInfo(9), { errno: Errno.EINVAL });
      c.close();
    });
  });
});
