// DEVICE_RESET (13): QEMU sends it right after realize and on every system
// reset. It restores register and config state; the client's memory and
// interrupt fds are the client's business (QEMU re-sends SET_IRQS itself).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, Errno, MsgFlag, PciIrq, type VfioUserClient } from 'vfio-user-ts';
import { native } from '#daemon/native.js';
import { cfg16, cfg32, memfd, useDaemon } from '../support/daemon-fixture.js';
import { DEVICE_ID } from '../support/soft-ring.js';

const SCRATCH = 0x1008;

describe('DEVICE_RESET', () => {
  const fx = useDaemon();
  const { connect, logAfter, mappingsOf } = fx;
  /** Puts state everywhere a reset should clear it. */
  const dirty = async (c: VfioUserClient): Promise<void> => {
    await c.write32(0, SCRATCH, 0x5eedf00d);
    await c.regionWrite(7, 0x04, Buffer.from([0x06, 0x00])); // MEM | MASTER
    await c.write32(7, 0x10, 0xfebf0000); // BAR0 assigned
    await c.regionWrite(7, 0x42, Buffer.from([0x01, 0x00])); // MSI enable
    await c.regionWrite(7, 0x3c, Buffer.from([0x2a])); // interrupt line
    assert.equal(await c.read32(0, SCRATCH), 0x5eedf00d);
    assert.equal(await cfg16(c, 0x04), 0x0006);
    assert.equal(await cfg32(c, 0x10), 0xfebf0000);
  };
  const assertPowerOn = async (c: VfioUserClient): Promise<void> => {
    assert.equal(await c.read32(0, SCRATCH), 0, 'scratch cleared');
    assert.equal(await cfg16(c, 0x04), 0, 'command register cleared');
    assert.equal(await cfg32(c, 0x10), 0, 'BAR0 register cleared');
    assert.equal(await cfg16(c, 0x42), 0x0080, 'MSI disabled, still 64-bit');
    assert.equal((await c.configRead(0x3c, 1))[0], 0, 'interrupt line cleared');
    assert.equal(await cfg32(c, 0x00), 0xeeee106b, 'IDs intact');
    assert.equal(await c.read32(0, 0x1000), DEVICE_ID);
  };

  it('clears scratch and config state with a header-only reply', async () => {
    const c = await connect();
    await dirty(c);
    const mark = fx.d.logs.length;
    const r = await c.requestRaw(Command.DEVICE_RESET);
    assert.equal(r.header.flags, MsgFlag.TYPE_REPLY);
    assert.equal(r.header.command, Command.DEVICE_RESET);
    assert.equal(r.header.size, 16);
    assert.equal(r.fds.length, 0);
    await logAfter(mark, (l) => l.msg === 'apple_gfx_reset');
    await assertPowerOn(c);
    c.close();
  });

  it('is idempotent: reset twice in a row, and reset of a fresh device', async () => {
    const c = await connect();
    await c.reset();
    await c.reset();
    await assertPowerOn(c);
    c.close();
  });

  it("survives QEMU's full reset sequence (disable IRQs, COMMAND, reset, zero the BARs)", async () => {
    const c = await connect();
    await dirty(c);
    await c.disableIrqs(PciIrq.MSI);
    const cmd = await cfg16(c, 0x04);
    await c.regionWrite(7, 0x04, Buffer.from([cmd & ~0x0407 & 0xff, (cmd & ~0x0407) >> 8]));
    await c.reset();
    for (let off = 0x10; off <= 0x24; off += 4) await c.write32(7, off, 0);
    await c.disableIrqs(PciIrq.INTX);
    await assertPowerOn(c);
    c.close();
  });

  const bad: [string, Buffer][] = [
    ['a 1-byte payload', Buffer.alloc(1)],
    ['a 16-byte payload', Buffer.alloc(16)],
  ];
  for (const [name, payload] of bad) {
    it(`refuses a reset with ${name} (EINVAL), resets nothing and keeps serving`, async () => {
      const c = await connect();
      await c.reset();
      await dirty(c);
      const r = await c.requestRaw(Command.DEVICE_RESET, payload);
      assert.equal(r.header.flags, MsgFlag.TYPE_REPLY | MsgFlag.ERROR);
      assert.equal(r.header.error, Errno.EINVAL);
      assert.equal(r.header.size, 16);
      assert.equal(await c.read32(0, SCRATCH), 0x5eedf00d, 'state untouched');
      assert.equal(await cfg16(c, 0x04), 0x0006);
      await c.reset();
      await assertPowerOn(c);
      c.close();
    });
  }

  it('refuses a reset carrying an fd (EINVAL) and closes the fd', async () => {
    const c = await connect();
    await c.write32(0, SCRATCH, 7);
    const before = fx.d.fdCount();
    const efd = native.eventfdCreate();
    const r = await c.requestRaw(Command.DEVICE_RESET, undefined, [efd]);
    assert.equal(r.header.error, Errno.EINVAL);
    assert.equal(await c.read32(0, SCRATCH), 7, 'not reset');
    assert.equal(fx.d.fdCount(), before);
    native.closeFd(efd);
    c.close();
  });

  it('carries out a reset sent with NO_REPLY without answering it', async () => {
    const c = await connect();
    await c.write32(0, SCRATCH, 9);
    c.post(Command.DEVICE_RESET);
    assert.equal(await c.read32(0, SCRATCH), 0, 'reset done before the next reply');
    assert.equal(c.unexpected.length, 0);
    c.close();
  });

  it('resets while interrupts are assigned: no fd leaks or is lost, and the vector still delivers', async () => {
    const c = await connect();
    assert.equal(await c.read32(0, 0x1000), DEVICE_ID);
    const before = fx.d.fdCount();
    const efd = native.eventfdCreate();
    await c.setIrqEventfds(PciIrq.MSIX, 0, [efd]);
    await c.write32(0, 0x100c, 0);
    assert.equal(native.eventfdRead(efd), 1);
    await c.reset();
    assert.equal(await c.read32(0, 0x1000), DEVICE_ID);
    assert.equal(fx.d.fdCount(), before + 1, 'the eventfd is still held, once');
    await c.write32(0, 0x100c, 0);
    assert.equal(native.eventfdRead(efd), 1, 'as with vfio-pci, reset leaves the eventfd wiring to the client');
    // QEMU's pre-reset disable then releases it.
    await c.disableIrqs(PciIrq.MSIX);
    assert.equal(await c.read32(0, 0x1000), DEVICE_ID);
    assert.equal(fx.d.fdCount(), before);
    native.closeFd(efd);
    c.close();
  });

  it('keeps DMA mappings across a reset (they belong to the client, not the device)', async () => {
    const c = await connect();
    const { fd, name } = memfd(0x4000, 'reset');
    await c.dmaMap({ iova: 0x40000000n, size: 0x4000n, fd });
    native.closeFd(fd);
    await c.reset();
    assert.equal(mappingsOf(name).length, 1);
    await c.dmaUnmap(0x40000000n, 0x4000n);
    assert.equal(mappingsOf(name).length, 0);
    c.close();
  });

  it('keeps device state across a reconnect when no reset is sent (spec: client disconnect)', async () => {
    const c = await connect();
    await c.write32(0, SCRATCH, 0x0badcafe);
    c.close();
    const c2 = await connect();
    assert.equal(await c2.read32(0, SCRATCH), 0x0badcafe);
    await c2.reset();
    assert.equal(await c2.read32(0, SCRATCH), 0);
    c2.close();
  });
});
