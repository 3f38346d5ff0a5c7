// DEVICE_GET_IRQ_INFO (7): MSI and MSI-X take eventfds (1 vector, 2 with
// --variant mmio); ERR takes one (QEMU warns at every boot without it);
// INTx and REQ have none.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, Errno, IrqInfoFlag, MsgFlag, PciIrq } from 'vfio-user-ts';
import { useDaemon } from '../support/daemon-fixture.js';

const irqPayload = (index: number, argsz = 16, len = 16): Buffer => {
  const p = Buffer.alloc(Math.max(len, 12));
  p.writeUInt32LE(argsz, 0);
  p.writeUInt32LE(index, 8);
  return p.subarray(0, len);
};

describe('DEVICE_GET_IRQ_INFO', () => {
  const fx = useDaemon();
  const { connect } = fx;

  const expected: [string, number, number, number][] = [
    ['INTx', PciIrq.INTX, 0, 0],
    ['MSI', PciIrq.MSI, IrqInfoFlag.EVENTFD, 1],
    ['MSI-X', PciIrq.MSIX, IrqInfoFlag.EVENTFD, 1],
    ['ERR', PciIrq.ERR, IrqInfoFlag.EVENTFD, 1],
    ['REQ', PciIrq.REQ, 0, 0],
  ];
  for (const [name, index, flags, count] of expected) {
    it(`reports ${name} (${index}) with flags ${flags} and ${count} vector(s)`, async () => {
      const c = await connect();
      const r = await c.requestRaw(Command.DEVICE_GET_IRQ_INFO, irqPayload(index));
      assert.equal(r.header.flags, MsgFlag.TYPE_REPLY);
      assert.equal(r.header.size, 32);
      assert.equal(r.fds.length, 0);
      assert.equal(r.payload.readUInt32LE(0), 16, 'argsz');
      assert.equal(r.payload.readUInt32LE(4), flags, 'flags');
      assert.equal(r.payload.readUInt32LE(8), index, 'index echoed');
      assert.equal(r.payload.readUInt32LE(12), count, 'count');
      c.close();
    });
  }

  it('does not set NORESIZE on MSI-X (QEMU then enables with one fd-less vector first)', async () => {
    const c = await connect();
    assert.equal((await c.irqInfo(PciIrq.MSIX)).flags & IrqInfoFlag.NORESIZE, 0);
    c.close();
  });

  it('answers a larger argsz with the 16-byte struct', async () => {
    const c = await connect();
    const r = await c.requestRaw(Command.DEVICE_GET_IRQ_INFO, irqPayload(PciIrq.MSIX, 1024));
    assert.equal(r.header.flags, MsgFlag.TYPE_REPLY);
    assert.equal(r.payload.length, 16);
    assert.equal(r.payload.readUInt32LE(12), 1);
    c.close();
  });

  const bad: [string, Buffer][] = [
    ['index 5', irqPayload(5)],
    ['index 0xffffffff', irqPayload(0xffffffff)],
    ['argsz 0', irqPayload(PciIrq.MSI, 0)],
    ['argsz 15', irqPayload(PciIrq.MSI, 15)],
    ['an empty payload', Buffer.alloc(0)],
    ['a 12-byte payload', irqPayload(PciIrq.MSI, 16, 12)],
    ['a 15-byte payload', irqPayload(PciIrq.MSI, 16, 15)],
  ];
  for (const [name, payload] of bad) {
    it(`refuses ${name} with EINVAL and keeps the session`, async () => {
      const c = await connect();
      const r = await c.requestRaw(Command.DEVICE_GET_IRQ_INFO, payload);
      assert.equal(r.header.flags, MsgFlag.TYPE_REPLY | MsgFlag.ERROR);
      assert.equal(r.header.error, Errno.EINVAL);
      assert.equal(r.header.size, 16);
      assert.equal((await c.irqInfo(PciIrq.MSI)).count, 1, 'still serving');
      c.close();
    });
  }

  describe('--variant mmio', () => {
    const mmio = useDaemon(['--variant', 'mmio']);

    it('reports 2 vectors (gfx, IOSFC) for MSI and MSI-X and none elsewhere', async () => {
      const c = await mmio.connect();
      assert.deepEqual(await c.irqInfo(PciIrq.MSI), { flags: IrqInfoFlag.EVENTFD, index: 1, count: 2 });
      assert.deepEqual(await c.irqInfo(PciIrq.MSIX), { flags: IrqInfoFlag.EVENTFD, index: 2, count: 2 });
      for (const index of [PciIrq.INTX, PciIrq.REQ]) assert.equal((await c.irqInfo(index)).count, 0);
      assert.equal((await c.irqInfo(PciIrq.ERR)).count, 1, 'one ERR eventfd, whatever the variant');
      await assert.rejects(c.irqInfo(5), { errno: Errno.EINVAL });
      c.close();
    });
  });
});
