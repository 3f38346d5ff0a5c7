// A hostile VMM shrinks the shared guest-RAM file after DMA_MAP. Touching the
// mapping past the new end would raise SIGBUS; the daemon's copies fail
// cleanly instead and it keeps serving.
import assert from 'node:assert/strict';
import { ftruncateSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { native } from '#daemon/native.js';
import { startDaemon, tick, type RunningDaemon } from '../support/daemon.js';
import { GuestRam, Op, Reg, SoftRing, St } from '../support/soft-ring.js';

const RAM = 0x40000000n;
const SIZE = 4 << 20;

describe('guest RAM shrunk under the daemon', () => {
  let d: RunningDaemon;
  before(async () => (d = await startDaemon(['--variant', 'mmio'])));
  after(async () => d.stop());

  it('fails ring, task and IOSFC accesses cleanly, never crashes', async () => {
    const c = await d.connectNegotiated();
    const fd = native.memfdCreate('shrinking-ram', SIZE);
    await c.dmaMap({ iova: RAM, size: BigInt(SIZE), fd });
    const ram = new GuestRam(fd, RAM, SIZE);
    const ring = new SoftRing(c, ram, RAM, 16);
    await ring.configure();
    ram.writeRangeList(RAM + 0x10000n, [[RAM + 0x200000n, 0x1000]]);
    assert.equal((await ring.run(Op.TASK_CREATE, [1, 0x10000])).status, St.OK);
    assert.equal((await ring.run(Op.TASK_MAP, [1, 0, RAM + 0x10000n, 1, 1])).status, St.OK);
    // An IOSFC mapping of the same page.
    await c.write32(2, 0x00, Number((RAM + 0x200000n) & 0xffffffffn));
    await c.write32(2, 0x08, 0x1000);
    await c.write32(2, 0x0c, 1);
    assert.equal(await c.read32(2, 0x14), St.OK);

    ring.push(Op.CHECKSUM, [1, 0, 0x1000]); // queued in guest RAM first
    ftruncateSync(fd, 0); // then the VMM takes the memory away behind our back
    await ring.kick(true);
    assert.equal((await c.read32(0, Reg.STATUS)) & 4, 4, 'the ring (in vanished memory) halts');
    assert.equal(await c.read32(2, 0x1c), 0xffffffff, 'IOSFC peek fails instead of faulting');
    await tick(20);
    assert.ok(d.alive(), 'no SIGBUS');
    assert.equal(await c.read32(0, Reg.ID), 0x58464741, 'still serving');
    // Through the backend's event queue to the JS thread: may come after the
    // data plane's replies above.
    await d.waitForLog((l) => l.msg === 'apple_gfx_guest_error' && /not in writable shared guest RAM|took away/.test(String(l.what)));
    c.close();
    native.closeFd(fd);
  });
});
