// Disconnect and reconnect: a client leaving is normal (docs/design.md invariant 5).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { native } from '#daemon/native.js';
import { startDaemon, tick, type RunningDaemon } from '../support/daemon.js';

describe('disconnect and reconnect', () => {
  let d: RunningDaemon;
  before(async () => (d = await startDaemon(['--log-level', 'info'])));
  after(async () => d.stop());

  it('survives 100 connect-use-disconnect cycles with fds and mappings back where they started', async () => {
    // One warm-up cycle so lazily created process state is not counted as a leak.
    (await d.connectNegotiated()).close();
    await tick(50);
    const fdsBefore = d.fdCount();
    const mapsBefore = d.memfdMappings().length;
    assert.equal(mapsBefore, 0);
    for (let i = 0; i < 100; i++) {
      const c = await d.connectNegotiated();
      const ram = native.memfdCreate(`cycle-${i}`, 2 << 20);
      await c.dmaMap({ iova: 0x40000000n, size: 1n << 20n, fd: ram });
      await c.dmaMap({ iova: 0x50000000n, size: 1n << 20n, offset: 1n << 20n, fd: ram });
      native.closeFd(ram);
      const efd = native.eventfdCreate();
      await c.setIrqEventfds(2, 0, [efd]);
      await c.write32(0, 0x1008, i);
      await c.write32(0, 0x100c, 0);
      // A backend may raise it from its own thread just after the write
      // completes (PVG does): wait for it briefly.
      let irqs = native.eventfdRead(efd);
      for (let t = 0; irqs === 0 && t < 200; t++) irqs = (await tick(5), native.eventfdRead(efd));
      assert.equal(irqs, 1, `cycle ${i}: interrupt delivered`);
      if (i === 50) {
        assert.equal(d.memfdMappings().length, 2, 'both DMA regions are mapped while connected');
        assert.ok(d.fdCount() > fdsBefore, 'the daemon holds the client fds while connected');
      }
      c.close();
      native.closeFd(efd);
    }
    // Let the daemon see the last disconnect.
    const deadline = Date.now() + 5000;
    while ((d.fdCount() !== fdsBefore || d.memfdMappings().length !== 0) && Date.now() < deadline) await tick(20);
    assert.equal(d.fdCount(), fdsBefore, 'fd count back to the start');
    assert.equal(d.memfdMappings().length, mapsBefore, 'no guest memory left mapped');
    // Device state survived all of it.
    const c = await d.connectNegotiated();
    assert.equal(await c.read32(0, 0x1008), 99);
    c.close();
  });

  it('serves one client at a time: a second waits until the first leaves', async () => {
    const first = await d.connectNegotiated();
    const second = d.connect();
    let answered = false;
    const v = second.version().then((r) => ((answered = true), r));
    await tick(200);
    assert.equal(answered, false, 'the second client is not served while the first is connected');
    assert.equal(await first.read32(0, 0x1000), 0x58464741);
    first.close();
    assert.equal((await v).major, 0);
    assert.equal(await second.read32(0, 0x1000), 0x58464741);
    second.close();
  });
});
