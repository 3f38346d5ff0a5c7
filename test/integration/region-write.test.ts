// REGION_WRITE (10): BAR0 registers, posted (NO_REPLY) writes and their
// ordering, config space write masks as QEMU exercises them (BAR and ROM
// sizing, COMMAND), and every malformed variant.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, Errno, MsgFlag, PciIrq, encodeRegionAccess } from 'vfio-user-ts';
import { native } from '#daemon/native.js';
import { assertErrorReply as assertError } from '../support/replies.js';
import { useDaemon, cfg16, cfg32 } from '../support/daemon-fixture.js';
import { DEVICE_ID, SOFT_VERSION } from '../support/soft-ring.js';

const AGFX_VERSION = SOFT_VERSION;
const SCRATCH = 0x1008;
const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
const u16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};
const writePayload = (region: number, offset: bigint | number, data: Buffer, count = data.length): Buffer =>
  encodeRegionAccess(BigInt(offset), region, count, data);

describe('REGION_WRITE', () => {
  const fx = useDaemon();
  const { connect, connectRaw, logAfter } = fx;

  it('writes scratch and reads it back; the reply is the 16-byte header without data', async () => {
    const c = await connect();
    const r = await c.requestRaw(Command.REGION_WRITE, writePayload(0, SCRATCH, u32(0xdeadbeef)));
    assert.equal(r.header.flags, MsgFlag.TYPE_REPLY);
    assert.equal(r.header.command, Command.REGION_WRITE);
    assert.equal(r.header.size, 32, 'no data in a write reply');
    assert.equal(r.payload.readBigUInt64LE(0), BigInt(SCRATCH));
    assert.equal(r.payload.readUInt32LE(8), 0);
    assert.equal(r.payload.readUInt32LE(12), 4);
    assert.equal(await c.read32(0, SCRATCH), 0xdeadbeef);
    await c.write32(0, SCRATCH, 0);
    assert.equal(await c.read32(0, SCRATCH), 0);
    c.close();
  });

  it('splits an 8-byte write low dword first: scratch, then the interrupt self-test', async () => {
    const c = await connect();
    const efd = native.eventfdCreate();
    await c.setIrqEventfds(PciIrq.MSIX, 0, [efd]);
    const data = Buffer.alloc(8);
    data.writeUInt32LE(0xcafef00d, 0);
    data.writeUInt32LE(0, 4); // vector 0
    await c.regionWrite(0, SCRATCH, data);
    assert.equal(await c.read32(0, SCRATCH), 0xcafef00d);
    assert.equal(native.eventfdRead(efd), 1, 'the high dword reached 0x100C');
    native.closeFd(efd);
    c.close();
  });

  it('makes a posted write visible to the next read, with no reply', async () => {
    const c = await connect();
    c.postRegionWrite(0, SCRATCH, u32(0x600d600d));
    assert.equal(await c.read32(0, SCRATCH), 0x600d600d);
    for (let i = 1; i <= 100; i++) c.postRegionWrite(0, SCRATCH, u32(i));
    assert.equal(await c.read32(0, SCRATCH), 100, 'posted writes are applied in order before the read');
    assert.equal(c.unexpected.length, 0, 'no reply to any posted write');
    c.close();
  });

  const postedBad: [string, Buffer][] = [
    ['a 1-byte BAR0 write', writePayload(0, SCRATCH, Buffer.from([1]))],
    ['a misaligned BAR0 write', writePayload(0, SCRATCH + 2, u32(1))],
    ['a write past BAR0', writePayload(0, 0x4000, u32(1))],
    ['a write to an absent BAR', writePayload(1, 0, u32(1))],
    ['a write to region 9', writePayload(9, 0, u32(1))],
    ['a write whose data does not match count', writePayload(0, SCRATCH, u32(1), 8)],
    ['a write with a short payload', Buffer.alloc(8)],
  ];
  for (const [name, payload] of postedBad) {
    it(`never replies to a posted write even when it fails: ${name}`, async () => {
      const c = await connect();
      await c.write32(0, SCRATCH, 0x11111111);
      const mark = fx.d.logs.length;
      c.post(Command.REGION_WRITE, payload);
      assert.equal(await c.read32(0, SCRATCH), 0x11111111, 'nothing written');
      assert.equal(c.unexpected.length, 0, 'no error reply to the posted write (docs/design.md P5)');
      const failed = await logAfter(mark, (l) => l.msg === 'vfio_user_request_failed');
      assert.equal(failed.noReply, true);
      assert.equal(failed.errno, Errno.EINVAL);
      c.close();
    });
  }

  it('ignores writes to the read-only ID and version registers, logging a guest error', async () => {
    const c = await connect();
    const mark = fx.d.logs.length;
    await c.write32(0, 0x1000, 0x12345678); // accepted, as hardware would
    await c.write32(0, 0x1004, 0xffffffff);
    assert.equal(await c.read32(0, 0x1000), DEVICE_ID);
    assert.equal(await c.read32(0, 0x1004), AGFX_VERSION);
    const line = await logAfter(mark, (l) => l.msg === 'apple_gfx_guest_error');
    assert.match(String(line.what), /read-only/);
    c.close();
  });

  it('accepts a self-test write of a vector the device lacks, logging a guest error', async () => {
    const c = await connect();
    const mark = fx.d.logs.length;
    await c.write32(0, 0x100c, 5);
    const line = await logAfter(mark, (l) => l.msg === 'apple_gfx_guest_error');
    assert.match(String(line.what), /vector 5, which the device does not have/);
    c.close();
  });

  it('drops writes to the PBA and to unimplemented registers', async () => {
    const c = await connect();
    await c.write32(0, 0x800, 0xffffffff);
    assert.deepEqual(await c.regionRead(0, 0x800, 8), Buffer.alloc(8));
    await c.write32(0, 0x2000, 0xffffffff);
    assert.equal(await c.read32(0, 0x2000), 0);
    c.close();
  });

  describe('config space', () => {
    it('keeps the vendor and device IDs read-only', async () => {
      const c = await connect();
      await c.reset();
      await c.regionWrite(7, 0, u16(0xffff));
      assert.equal(await cfg16(c, 0), 0x106b);
      await c.regionWrite(7, 0, u32(0));
      assert.equal(await cfg32(c, 0), 0xeeee106b);
      await c.regionWrite(7, 0x0b, Buffer.from([0]));
      assert.equal((await c.configRead(0x0b, 1))[0], 0x03, 'class code read-only');
      c.close();
    });

    it('lets the command register take only IO/MEM/MASTER/PARITY/SERR/INTx-disable', async () => {
      const c = await connect();
      await c.reset();
      assert.equal(await cfg16(c, 0x04), 0);
      await c.regionWrite(7, 0x04, u16(0xffff));
      assert.equal(await cfg16(c, 0x04), 0x0547);
      // QEMU's functional test: "region7: wrote 0x103 to (0x4:2)".
      await c.regionWrite(7, 0x04, u16(0x0103));
      assert.equal(await cfg16(c, 0x04), 0x0103);
      await c.regionWrite(7, 0x05, Buffer.from([0xff])); // odd offset, 1 byte
      assert.equal(await cfg16(c, 0x04), 0x0503);
      await c.regionWrite(7, 0x04, u16(0));
      assert.equal(await cfg16(c, 0x04), 0);
      c.close();
    });

    it('keeps the status register (capability list bit) read-only', async () => {
      const c = await connect();
      await c.reset();
      const status = await cfg16(c, 0x06);
      await c.regionWrite(7, 0x06, u16(0xffff));
      await c.regionWrite(7, 0x06, u16(0));
      assert.equal(await cfg16(c, 0x06), status);
      assert.equal(status & 0x10, 0x10);
      c.close();
    });

    it('answers BAR sizing: 0xffffffff to BAR0 reads back 0xffffc000 (16 KiB), absent BARs read 0', async () => {
      const c = await connect();
      await c.reset();
      await c.write32(7, 0x10, 0xffffffff);
      assert.equal(await cfg32(c, 0x10), 0xffffc000);
      await c.write32(7, 0x10, 0xfebf4007); // low bits and sub-size bits are read-only
      assert.equal(await cfg32(c, 0x10), 0xfebf4000);
      for (let off = 0x14; off <= 0x24; off += 4) {
        await c.write32(7, off, 0xffffffff);
        assert.equal(await cfg32(c, off), 0, `BAR at 0x${off.toString(16)} is absent`);
      }
      // QEMU's post-reset: six zero writes to the BAR registers.
      for (let off = 0x10; off <= 0x24; off += 4) await c.write32(7, off, 0);
      assert.equal(await cfg32(c, 0x10), 0);
      c.close();
    });

    it("keeps the ROM BAR 0 through QEMU's probe (read, write 0xfffff800, read, restore)", async () => {
      const c = await connect();
      const orig = await cfg32(c, 0x30);
      assert.equal(orig, 0);
      await c.write32(7, 0x30, 0xfffff800);
      assert.equal(await cfg32(c, 0x30), 0, 'size 0 = no ROM (an echo would mean a 2 KiB ROM)');
      await c.write32(7, 0x30, orig);
      await c.write32(7, 0x30, 0xffffffff);
      assert.equal(await cfg32(c, 0x30), 0);
      c.close();
    });

    it('keeps interrupt pin and capability pointer read-only; interrupt line and cache line writable', async () => {
      const c = await connect();
      await c.reset();
      const capPtr = (await c.configRead(0x34, 1))[0];
      await c.regionWrite(7, 0x34, Buffer.from([0]));
      assert.equal((await c.configRead(0x34, 1))[0], capPtr);
      await c.regionWrite(7, 0x3c, u16(0xff0a)); // line 0x0a, pin 0xff
      assert.deepEqual([...(await c.configRead(0x3c, 2))], [0x0a, 0x00]);
      await c.regionWrite(7, 0x0c, Buffer.from([0x10]));
      assert.equal((await c.configRead(0x0c, 1))[0], 0x10);
      c.close();
    });

    it('lets MSI enable and address/data be written, but not the capability layout', async () => {
      const c = await connect();
      await c.reset();
      const msi = 0x40;
      assert.equal((await c.configRead(msi, 1))[0], 0x05);
      await c.regionWrite(7, msi, u16(0)); // id/next read-only
      assert.equal((await cfg16(c, msi)) & 0xff, 0x05);
      await c.regionWrite(7, msi + 2, u16(0xffff));
      assert.equal(await cfg16(c, msi + 2), 0x00f1, 'enable + MME writable; 64-bit bit and MMC fixed');
      await c.write32(7, msi + 4, 0xfee00003);
      assert.equal(await cfg32(c, msi + 4), 0xfee00000, 'address dword aligned');
      await c.write32(7, msi + 8, 0x12345678);
      assert.equal(await cfg32(c, msi + 8), 0x12345678);
      c.close();
    });

    it('lets MSI-X enable and function-mask be written, not table size, table or PBA location', async () => {
      const c = await connect();
      await c.reset();
      const cfg = await c.configRead(0, 256);
      let msix = cfg[0x34]!;
      while (cfg[msix] !== 0x11) msix = cfg[msix + 1]!;
      await c.regionWrite(7, msix + 2, u16(0xffff));
      assert.equal(await cfg16(c, msix + 2), 0xc000);
      await c.write32(7, msix + 4, 0xffffffff);
      await c.write32(7, msix + 8, 0xffffffff);
      assert.equal(await cfg32(c, msix + 4), 0);
      assert.equal(await cfg32(c, msix + 8), 0x800);
      await c.regionWrite(7, msix + 2, u16(0));
      assert.equal(await cfg16(c, msix + 2), 0);
      c.close();
    });
  });

  const refused: [string, Buffer][] = [
    ['a 1-byte BAR0 write', writePayload(0, SCRATCH, Buffer.from([0x55]))],
    ['a 2-byte BAR0 write', writePayload(0, SCRATCH, u16(0x5555))],
    ['a 3-byte BAR0 write', writePayload(0, SCRATCH, Buffer.alloc(3, 0x55))],
    ['a 12-byte BAR0 write', writePayload(0, SCRATCH, Buffer.alloc(12, 0x55))],
    ['a misaligned 4-byte BAR0 write', writePayload(0, SCRATCH + 1, u32(0x55555555))],
    ['a misaligned 8-byte BAR0 write', writePayload(0, SCRATCH - 2, Buffer.alloc(8, 0x55))],
  ];
  for (const [name, payload] of refused) {
    it(`refuses ${name} with EINVAL, logs a guest error and writes nothing`, async () => {
      const c = await connect();
      await c.write32(0, SCRATCH, 0x22222222);
      const mark = fx.d.logs.length;
      assertError(await c.requestRaw(Command.REGION_WRITE, payload), Errno.EINVAL);
      const line = await logAfter(mark, (l) => l.msg === 'apple_gfx_guest_error');
      assert.match(String(line.what), /write/);
      assert.equal(await c.read32(0, SCRATCH), 0x22222222, 'nothing written');
      c.close();
    });
  }

  const malformed: [string, Buffer][] = [
    ['data shorter than count', writePayload(0, SCRATCH, u32(0x33333333), 8)],
    ['data longer than count', writePayload(0, SCRATCH, Buffer.alloc(8, 0x33), 4)],
    ['count 0 with data', writePayload(0, SCRATCH, u32(0x33333333), 0)],
    ['count 0 without data', writePayload(0, SCRATCH, Buffer.alloc(0))],
    ['an empty payload', Buffer.alloc(0)],
    ['a 15-byte payload', writePayload(0, SCRATCH, Buffer.alloc(0)).subarray(0, 15)],
    ['a write past BAR0', writePayload(0, 0x4000, u32(0x33333333))],
    ['a write straddling the end of BAR0', writePayload(0, 0x3ffc, Buffer.alloc(8, 0x33))],
    ['a config write past the end', writePayload(7, 0xfe, u32(0x33333333))],
    ['a config write at 256', writePayload(7, 256, Buffer.from([0x33]))],
    ['a write at offset 2^64 - 4', writePayload(0, 0xfffffffffffffffcn, u32(0x33333333))],
    ['a write to BAR1 (absent)', writePayload(1, 0, u32(0x33333333))],
    ['a write to BAR2 (absent on pci)', writePayload(2, 0, u32(0x33333333))],
    ['a write to the ROM (absent)', writePayload(6, 0, u32(0x33333333))],
    ['a write to VGA (absent)', writePayload(8, 0, u32(0x33333333))],
    ['a write to region 9', writePayload(9, 0, u32(0x33333333))],
  ];
  for (const [name, payload] of malformed) {
    it(`refuses ${name} with EINVAL and keeps the session`, async () => {
      const c = await connect();
      await c.write32(0, SCRATCH, 0x44444444);
      assertError(await c.requestRaw(Command.REGION_WRITE, payload), Errno.EINVAL);
      assert.equal(await c.read32(0, SCRATCH), 0x44444444, 'nothing written; still serving');
      assert.equal(await cfg16(c, 0), 0x106b);
      c.close();
    });
  }

  it('refuses a write above the negotiated max_data_xfer_size', async () => {
    const c = connectRaw();
    await c.version('{"capabilities":{"max_data_xfer_size":64}}');
    assertError(await c.requestRaw(Command.REGION_WRITE, writePayload(7, 0, Buffer.alloc(128))), Errno.EINVAL);
    assert.equal(await cfg16(c, 0), 0x106b);
    c.close();
  });
});
