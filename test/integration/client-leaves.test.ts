// A client leaving releases everything its guest memory reached (issue 12
// defect 2; docs/design.md invariant 5): IOSFC mappings, tasks and the ring
// of the soft device go with the VMM (agfx_backend guest_memory_gone), so
// fds and memfd mappings stay flat over many cycles and the next client
// cannot read the old guest's RAM through a stale handle.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { native } from '#daemon/native.js';
import { startDaemon, tick, type RunningDaemon } from '../support/daemon.js';
import { GuestRam, IOSFC_BAD_PEEK, Iosfc, IosfcCmd, Op, Reg, SoftRing, St } from '../support/soft-ring.js';

const IO = Iosfc;
const RAM_GPA = 0x40000000n;
const RAM_SIZE = 64 << 20; // as in the reproduction
const CYCLES = 200;

// Waits until the daemon has handled `n` disconnects in all, then (briefly)
// for fds and mappings to come down to the given counts.
async function settle(d: RunningDaemon, n: number, fds: number, maps: number): Promise<void> {
  const deadline = Date.now() + 5000;
  const detached = (): number => d.logs.filter((l) => l.msg === 'apple_gfx_client_detached').length;
  while (detached() < n && Date.now() < deadline) await tick(5);
  const until = Date.now() + 200;
  while ((d.fdCount() > fds || d.memfdMappings().length > maps) && Date.now() < until) await tick(10);
}

describe('a client that leaves with IOSFC mappings (--variant mmio)', () => {
  let d: RunningDaemon;
  before(async () => (d = await startDaemon(['--variant', 'mmio', '--log-level', 'info'])));
  after(async () => d.stop());

  it(`${CYCLES} cycles of map 64 MiB, IOSFC-map it, hang up: fds and memfd mappings flat; the next client reads nothing old`, async () => {
    (await d.connectNegotiated()).close(); // warm-up: lazily created process state is not a leak
    await settle(d, 1, Infinity, Infinity);
    await tick(50);
    const fds0 = d.fdCount();
    const maps0 = d.memfdMappings().length;
    assert.equal(maps0, 0);
    let peakMaps = 0;
    const handles = new Set<number>();
    for (let i = 0; i < CYCLES; i++) {
      const c = await d.connectNegotiated();
      const fd = native.memfdCreate(`leaver-${i}`, RAM_SIZE);
      new GuestRam(fd, RAM_GPA, RAM_SIZE).write(RAM_GPA + 0x100n, Buffer.from(`secret of guest ${i}\0`));
      await c.dmaMap({ iova: RAM_GPA, size: BigInt(RAM_SIZE), fd });
      native.closeFd(fd);
      await c.write32(2, IO.GPA_LO, Number(RAM_GPA & 0xffffffffn));
      await c.write32(2, IO.GPA_HI, 0);
      await c.write32(2, IO.LENGTH, 4096);
      await c.write32(2, IO.COMMAND, IosfcCmd.MAP_RW);
      assert.equal(await c.read32(2, IO.STATUS), St.OK, `cycle ${i}: IOSFC map`);
      handles.add(await c.read32(2, IO.HANDLE));
      if (i === CYCLES / 2) peakMaps = d.memfdMappings().length;
      c.close();
      await settle(d, i + 2, fds0, maps0); // the daemon sees this disconnect before the next client
    }
    const until = Date.now() + 2000;
    while ((d.fdCount() > fds0 || d.memfdMappings().length > maps0) && Date.now() < until) await tick(20);
    const fds = d.fdCount();
    const maps = d.memfdMappings().length;
    // A new client that maps nothing: every old handle is gone, PEEK reads nothing.
    const c = await d.connectNegotiated();
    const mappedSeen = await c.read32(2, IO.MAPPED);
    const readable: number[] = [];
    for (const h of [1, 2, 100, CYCLES]) {
      await c.write32(2, IO.HANDLE, h);
      await c.write32(2, IO.PEEK_OFFSET, 0x100);
      const v = await c.read32(2, IO.PEEK_DATA);
      if (v !== IOSFC_BAD_PEEK) readable.push(h);
    }
    c.close();
    console.log(
      JSON.stringify({
        cycles: CYCLES,
        fdsBefore: fds0,
        fdsAfter: fds,
        memfdMapsBefore: maps0,
        memfdMapsAfter: maps,
        mappedSeen,
        readable,
      }),
    );
    assert.equal(peakMaps, 1, 'the one guest RAM region is mapped while its client is connected');
    assert.equal(maps, maps0, `memfd mappings after ${CYCLES} cycles: ${maps} (was ${maps0})`);
    assert.equal(fds, fds0, `fds after ${CYCLES} cycles: ${fds} (was ${fds0})`);
    assert.deepEqual([...handles], [1], 'every client got handle 1: no handle of an earlier client was left');
    assert.equal(mappedSeen, 0, 'no IOSFC mapping left from earlier clients');
    assert.deepEqual(readable, [], 'handles through which old guest RAM could be read');

    const gone = d.logs.filter((l) => l.msg === 'apple_gfx_client_detached');
    assert.ok(gone.length >= CYCLES);
    assert.equal(gone.at(-1)!.iosfcMappingsKept, 0, 'the host holds no IOSFC mapping after the backend let go');
  });

  it('the ring of the old guest is not run against the next guest; registers without addresses survive', async () => {
    const c = await d.connectNegotiated();
    const fd = native.memfdCreate('ring-guest', 1 << 20);
    const ram = new GuestRam(fd, RAM_GPA, 1 << 20);
    await c.dmaMap({ iova: RAM_GPA, size: 1n << 20n, fd });
    const ring = new SoftRing(c, ram, RAM_GPA, 16);
    await ring.configure();
    const task = await ring.run(Op.TASK_CREATE, [1, 1 << 20]);
    assert.equal(task.status, St.OK);
    await c.write32(0, Reg.SCRATCH, 0x5eed);
    const mark = d.logs.length;
    c.close();
    native.closeFd(fd);
    const detached = await d.waitForLog((l) => d.logs.indexOf(l) >= mark && l.msg === 'apple_gfx_client_detached');
    assert.equal(detached.tasksKept, 0, 'the task went with the guest memory');
    const next = await d.connectNegotiated();
    assert.equal(await next.read32(0, Reg.SCRATCH), 0x5eed, 'scratch survives (invariant 5)');
    assert.equal(await next.read32(0, Reg.RING_ENTRIES), 0, 'no ring: its base was a GPA of the old guest');
    assert.equal(await next.read32(0, Reg.RING_BASE_LO), 0);
    next.close();
  });
});
