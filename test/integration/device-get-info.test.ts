// DEVICE_GET_INFO (4): what QEMU checks before anything else (PCI flag,
// >= 8 regions, >= 3 IRQ indices), and the malformed variants.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, DeviceFlag, Errno, MsgFlag } from 'vfio-user-ts';
import { native } from '#daemon/native.js';
import { useDaemon } from '../support/daemon-fixture.js';

const infoPayload = (argsz: number, len = 16): Buffer => {
  const p = Buffer.alloc(len);
  if (len >= 4) p.writeUInt32LE(argsz, 0);
  return p;
};

describe('DEVICE_GET_INFO', () => {
  const fx = useDaemon();
  const { connect } = fx;

  it('reports a resettable PCI device with 9 regions and 5 IRQ indices', async () => {
    const c = await connect();
    const r = await c.requestRaw(Command.DEVICE_GET_INFO, infoPayload(16));
    assert.equal(r.header.flags, MsgFlag.TYPE_REPLY);
    assert.equal(r.header.command, Command.DEVICE_GET_INFO);
    assert.equal(r.header.size, 32, 'reply is the 16-byte struct');
    assert.equal(r.fds.length, 0);
    assert.equal(r.payload.readUInt32LE(0), 16, 'argsz');
    assert.equal(r.payload.readUInt32LE(4), DeviceFlag.PCI | DeviceFlag.RESET);
    assert.equal(r.payload.readUInt32LE(8), 9, 'num_regions');
    assert.equal(r.payload.readUInt32LE(12), 5, 'num_irqs');
    c.close();
  });

  it('answers a larger argsz with the same 16 bytes', async () => {
    const c = await connect();
    const r = await c.requestRaw(Command.DEVICE_GET_INFO, infoPayload(4096));
    assert.equal(r.header.flags, MsgFlag.TYPE_REPLY);
    assert.equal(r.payload.length, 16);
    assert.equal(r.payload.readUInt32LE(0), 16, 'argsz is the size actually needed');
    assert.equal(r.payload.readUInt32LE(8), 9);
    c.close();
  });

  it('gives the same answer every time (QEMU asks once per realize)', async () => {
    const c = await connect();
    const first = await c.deviceInfo();
    for (let i = 0; i < 5; i++) assert.deepEqual(await c.deviceInfo(), first);
    c.close();
  });

  const bad: [string, Buffer][] = [
    ['argsz 0', infoPayload(0)],
    ['argsz 15', infoPayload(15)],
    ['an empty payload', Buffer.alloc(0)],
    ['a 3-byte payload', infoPayload(16, 16).subarray(0, 3)],
    ['a 4-byte payload (argsz only)', infoPayload(16, 4)],
    ['a 12-byte payload', infoPayload(16, 12)],
  ];
  for (const [name, payload] of bad) {
    it(`refuses ${name} with EINVAL and keeps the session`, async () => {
      const c = await connect();
      const r = await c.requestRaw(Command.DEVICE_GET_INFO, payload);
      assert.equal(r.header.flags, MsgFlag.TYPE_REPLY | MsgFlag.ERROR);
      assert.equal(r.header.error, Errno.EINVAL);
      assert.equal(r.header.size, 16, 'error replies are header-only');
      assert.equal((await c.deviceInfo()).numRegions, 9, 'still serving');
      c.close();
    });
  }

  it('refuses fds on the request with EINVAL and closes them', async () => {
    const c = await connect();
    await c.deviceInfo();
    const before = fx.d.fdCount();
    const efd = native.eventfdCreate();
    const r = await c.requestRaw(Command.DEVICE_GET_INFO, infoPayload(16), [efd]);
    assert.equal(r.header.error, Errno.EINVAL);
    await c.deviceInfo();
    assert.equal(fx.d.fdCount(), before);
    native.closeFd(efd);
    c.close();
  });
});
