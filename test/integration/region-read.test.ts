// REGION_READ (9): the self-test registers through BAR0, the PBA, config
// space as QEMU reads it at realize (whole 256 bytes, then 1/2/4-byte
// accesses and a capability walk), and every out-of-range variant.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, Errno, MsgFlag, encodeRegionAccess } from 'vfio-user-ts';
import { assertErrorReply as assertError } from '../support/replies.js';
import { useDaemon } from '../support/daemon-fixture.js';
import { DEVICE_ID, SOFT_VERSION } from '../support/soft-ring.js';

const AGFX_VERSION = SOFT_VERSION;
const readPayload = (region: number, offset: bigint | number, count: number): Buffer => encodeRegionAccess(BigInt(offset), region, count);

/** Walks the capability list; returns id -> offset. */
function walkCaps(cfg: Buffer): Map<number, number> {
  const caps = new Map<number, number>();
  let ptr = cfg[0x34]!;
  for (let hops = 0; ptr !== 0; hops++) {
    assert.ok(hops < 48, 'capability list loops');
    assert.ok(ptr >= 0x40 && ptr <= 0xfc, `capability pointer 0x${ptr.toString(16)} outside 0x40..0xfc`);
    assert.equal(ptr % 4, 0, 'capabilities are dword aligned');
    assert.ok(!caps.has(cfg[ptr]!), `capability 0x${cfg[ptr]!.toString(16)} listed twice`);
    caps.set(cfg[ptr]!, ptr);
    ptr = cfg[ptr + 1]!;
  }
  return caps;
}

describe('REGION_READ', () => {
  const fx = useDaemon();
  const { connect, connectRaw, logAfter } = fx;

  it('reads the ID register through BAR0 with a 32 + count byte reply', async () => {
    const c = await connect();
    const r = await c.requestRaw(Command.REGION_READ, readPayload(0, 0x1000, 4));
    assert.equal(r.header.flags, MsgFlag.TYPE_REPLY);
    assert.equal(r.header.command, Command.REGION_READ);
    assert.equal(r.header.size, 32 + 4);
    assert.equal(r.payload.readBigUInt64LE(0), 0x1000n, 'offset echoed');
    assert.equal(r.payload.readUInt32LE(8), 0, 'region echoed');
    assert.equal(r.payload.readUInt32LE(12), 4, 'count echoed');
    assert.equal(r.payload.readUInt32LE(16), DEVICE_ID);
    assert.equal(r.payload.subarray(16).toString('latin1'), 'AGFX', 'little-endian "AGFX"');
    assert.equal(r.fds.length, 0);
    c.close();
  });

  it('reads version, scratch and the vector count', async () => {
    const c = await connect();
    assert.equal(await c.read32(0, 0x1004), AGFX_VERSION);
    await c.write32(0, 0x1008, 0x13572468);
    assert.equal(await c.read32(0, 0x1008), 0x13572468);
    assert.equal(await c.read32(0, 0x100c), 1, 'the interrupt self-test register reads the vector count');
    c.close();
  });

  it('splits an 8-byte read into two dwords, low address first', async () => {
    const c = await connect();
    const b = await c.regionRead(0, 0x1000, 8);
    assert.equal(b.length, 8);
    assert.equal(b.readUInt32LE(0), DEVICE_ID);
    assert.equal(b.readUInt32LE(4), AGFX_VERSION);
    await c.write32(0, 0x1008, 0xa5a5a5a5);
    const s = await c.regionRead(0, 0x1008, 8);
    assert.equal(s.readBigUInt64LE(0), (1n << 32n) | 0xa5a5a5a5n, 'scratch low, vector count high');
    c.close();
  });

  it('reads unimplemented BAR0 registers as 0', async () => {
    const c = await connect();
    assert.equal(await c.read32(0, 0x1100), 0);
    assert.equal(await c.read32(0, 0x2000), 0);
    assert.equal(await c.read32(0, 0x3ffc), 0, 'last dword of the BAR');
    c.close();
  });

  const invalidSizes: [string, number, number][] = [
    ['a 1-byte read', 0x1000, 1],
    ['a 2-byte read', 0x1000, 2],
    ['a 3-byte read', 0x1000, 3],
    ['a 16-byte read', 0x1000, 16],
    ['a misaligned 4-byte read', 0x1002, 4],
    ['a misaligned 4-byte read at +1', 0x1001, 4],
    ['a misaligned 8-byte read', 0x1006, 8],
  ];
  for (const [name, offset, count] of invalidSizes) {
    it(`refuses ${name} on BAR0 with EINVAL and logs apple_gfx_guest_error`, async () => {
      const c = await connect();
      const mark = fx.d.logs.length;
      assertError(await c.requestRaw(Command.REGION_READ, readPayload(0, offset, count)), Errno.EINVAL);
      const line = await logAfter(mark, (l) => l.msg === 'apple_gfx_guest_error');
      assert.equal(line.offset, offset);
      assert.equal(line.count, count);
      assert.equal(line.region, 0);
      assert.match(String(line.what), /read/);
      assert.equal(await c.read32(0, 0x1000), DEVICE_ID, 'still serving');
      c.close();
    });
  }

  it('reads the MSI-X PBA (BAR0 0x800) as zeros', async () => {
    const c = await connect();
    assert.deepEqual(await c.regionRead(0, 0x800, 8), Buffer.alloc(8));
    assert.deepEqual(await c.regionRead(0, 0x800, 4), Buffer.alloc(4));
    assert.deepEqual(await c.regionRead(0, 0x804, 4), Buffer.alloc(4));
    c.close();
  });

  it('reads config space in 1-, 2- and 4-byte accesses', async () => {
    const c = await connect();
    assert.equal((await c.configRead(0x00, 2)).readUInt16LE(0), 0x106b, 'vendor');
    assert.equal((await c.configRead(0x02, 2)).readUInt16LE(0), 0xeeee, 'device');
    assert.equal((await c.configRead(0x00, 4)).readUInt32LE(0), 0xeeee106b);
    assert.equal((await c.configRead(0x01, 1))[0], 0x10, 'odd byte');
    assert.equal((await c.configRead(0x0b, 1))[0], 0x03, 'base class: display');
    assert.equal((await c.configRead(0x08, 4)).readUInt32LE(0), 0x03800000, 'class 038000, revision 0');
    assert.equal((await c.configRead(0x3d, 1))[0], 0, 'interrupt pin 0: no INTx');
    c.close();
  });

  it('reads the whole 256-byte config space in one go, as QEMU does at realize', async () => {
    const c = await connect();
    const r = await c.requestRaw(Command.REGION_READ, readPayload(7, 0, 256));
    assert.equal(r.header.size, 32 + 256, 'full length, or QEMU fails realize');
    const cfg = r.payload.subarray(16);
    assert.equal(cfg.readUInt16LE(0x00), 0x106b);
    assert.equal(cfg.readUInt16LE(0x02), 0xeeee);
    assert.deepEqual([cfg[0x09], cfg[0x0a], cfg[0x0b]], [0x00, 0x80, 0x03], 'class code 0x038000 (non-zero)');
    assert.equal(cfg[0x0e], 0, 'header type 0, single function');
    assert.equal(cfg.readUInt16LE(0x06) & 0x10, 0x10, 'status: capability list');
    assert.equal(cfg.readUInt32LE(0x10) & 0xf, 0, 'BAR0: 32-bit memory, not prefetchable');
    for (let bar = 1; bar < 6; bar++) assert.equal(cfg.readUInt32LE(0x10 + 4 * bar), 0, `BAR${bar} absent`);
    assert.equal(cfg.readUInt32LE(0x30), 0, 'no ROM');
    assert.equal(cfg.readUInt16LE(0x2c), 0x1af4, 'subsystem vendor');
    assert.equal(cfg.readUInt16LE(0x2e), 0x1100, 'subsystem id');
    assert.equal(cfg[0x3d], 0, 'interrupt pin');
    assert.notEqual(cfg[0x34], 0, 'capability pointer');

    const caps = walkCaps(cfg);
    assert.deepEqual(
      [...caps.keys()].sort((a, b) => a - b),
      [0x05, 0x11],
    );
    const msi = caps.get(0x05)!;
    const msiCtl = cfg.readUInt16LE(msi + 2);
    assert.equal(msiCtl & 0x0080, 0x0080, 'MSI: 64-bit address');
    assert.equal(msiCtl & 0x0100, 0, 'MSI: no per-vector masking');
    assert.equal((msiCtl >> 1) & 7, 0, 'MSI: 1 vector capable');
    assert.equal(msiCtl & 1, 0, 'MSI: disabled at power-on');
    const msix = caps.get(0x11)!;
    const msixCtl = cfg.readUInt16LE(msix + 2);
    assert.equal(msixCtl & 0x7ff, 0, 'MSI-X: table size N-1 = 0');
    assert.equal(msixCtl & 0xc000, 0, 'MSI-X: disabled, not masked');
    const table = cfg.readUInt32LE(msix + 4);
    assert.equal(table & 7, 0, 'table BIR 0');
    assert.equal(table & ~7, 0, 'table offset 0');
    const pba = cfg.readUInt32LE(msix + 8);
    assert.equal(pba & 7, 0, 'PBA BIR 0');
    assert.equal(pba & ~7, 0x800, 'PBA offset 0x800');
    // QEMU's follow-up reads of single fields agree with the bulk read.
    assert.equal((await c.configRead(msix + 2, 2)).readUInt16LE(0), msixCtl);
    assert.equal((await c.configRead(msix + 8, 4)).readUInt32LE(0), pba);
    assert.equal((await c.configRead(msi + 2, 2)).readUInt16LE(0), msiCtl);
    c.close();
  });

  const refused: [string, Buffer][] = [
    ['a config read past the end (252 + 8)', readPayload(7, 252, 8)],
    ['a config read starting at 256', readPayload(7, 256, 1)],
    ['a config read of 257 bytes', readPayload(7, 0, 257)],
    ['a BAR0 read past the end (0x3ffc + 8)', readPayload(0, 0x3ffc, 8)],
    ['a BAR0 read at 0x4000', readPayload(0, 0x4000, 4)],
    ['a BAR0 read at offset 2^64 - 4', readPayload(0, 0xfffffffffffffffcn, 4)],
    ['BAR1 (absent)', readPayload(1, 0, 4)],
    ['BAR2 (absent on pci)', readPayload(2, 0, 4)],
    ['BAR5 (absent)', readPayload(5, 0, 4)],
    ['the ROM (absent)', readPayload(6, 0, 4)],
    ['VGA (absent)', readPayload(8, 0, 4)],
    ['region 9', readPayload(9, 0, 4)],
    ['region 0xffffffff', readPayload(0xffffffff, 0, 4)],
    ['count 0', readPayload(7, 0, 0)],
    ['count above max_data_xfer_size', readPayload(7, 0, (1 << 20) + 1)],
    ['an empty payload', Buffer.alloc(0)],
    ['a 15-byte payload', readPayload(7, 0, 4).subarray(0, 15)],
    ['a read carrying data bytes', Buffer.concat([readPayload(7, 0, 4), Buffer.alloc(4)])],
    ['a read carrying one stray byte', Buffer.concat([readPayload(0, 0x1000, 4), Buffer.alloc(1)])],
  ];
  for (const [name, payload] of refused) {
    it(`refuses ${name} with EINVAL and keeps the session`, async () => {
      const c = await connect();
      assertError(await c.requestRaw(Command.REGION_READ, payload), Errno.EINVAL);
      assert.equal(await c.read32(0, 0x1000), DEVICE_ID, 'still serving');
      c.close();
    });
  }

  it('enforces a smaller negotiated max_data_xfer_size before the device sees the read', async () => {
    const c = connectRaw();
    await c.version('{"capabilities":{"max_data_xfer_size":128}}');
    const mark = fx.d.logs.length;
    assertError(await c.requestRaw(Command.REGION_READ, readPayload(7, 0, 256)), Errno.EINVAL);
    const failed = await logAfter(mark, (l) => l.msg === 'vfio_user_request_failed');
    assert.match(String(failed.err), /max_data_xfer_size/);
    assert.equal(fx.d.logs.slice(mark).filter((l) => l.msg === 'apple_gfx_guest_error').length, 0, 'the device never saw it');
    assert.equal((await c.configRead(0, 128)).readUInt16LE(0), 0x106b, 'exactly the limit is fine');
    c.close();
  });

  it('never answers a read sent with NO_REPLY', async () => {
    const c = await connect();
    c.post(Command.REGION_READ, readPayload(0, 0x1000, 4));
    c.post(Command.REGION_READ, readPayload(0, 0x1000, 1)); // refused, still silent
    assert.equal(await c.read32(0, 0x1004), AGFX_VERSION);
    assert.equal(c.unexpected.length, 0);
    c.close();
  });

  describe('--variant mmio', () => {
    const mmio = useDaemon(['--variant', 'mmio']);

    it('serves BAR2 dwords, refuses 2-byte BAR2 reads, and shows BAR2 and 2 vectors in config', async () => {
      const c = await mmio.connect();
      assert.equal(await c.read32(2, 0), 0);
      assert.equal(await c.read32(2, 0xfffc), 0);
      await assert.rejects(c.regionRead(2, 0, 2), { errno: Errno.EINVAL });
      await assert.rejects(c.regionRead(2, 0x10000, 4), { errno: Errno.EINVAL });
      assert.equal(await c.read32(0, 0x100c), 2, 'two vectors');
      const cfg = await c.configRead(0, 256);
      assert.equal(cfg.readUInt32LE(0x18) & 0xf, 0, 'BAR2: 32-bit memory');
      const caps = walkCaps(cfg);
      assert.equal((cfg.readUInt16LE(caps.get(0x05)! + 2) >> 1) & 7, 1, 'MSI: 2 vectors capable');
      assert.equal(cfg.readUInt16LE(caps.get(0x11)! + 2) & 0x7ff, 1, 'MSI-X: table size 2');
      c.close();
    });
  });
});
