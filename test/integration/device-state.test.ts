// Device state save/restore across two daemons attached to the same guest
// memory: the second daemon carries on where the first stopped (same frame,
// tasks re-mapped onto guest memory, pending fences complete).
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ControlClient, ControlReplyError } from '#daemon/control/control-client.js';
import { native } from '#daemon/native.js';
import { MigState, type VfioUserClient } from 'vfio-user-ts';
import { startDaemon, tick } from '../support/daemon.js';
import { useDaemon, useGuestRam } from '../support/daemon-fixture.js';
import { Op, Reg, SoftRing, St, fnv1a32 } from '../support/soft-ring.js';
import { decodeDeviceState } from '#daemon/state/device-state.js';

/**
 * pvg (the PVG double): PVG's suspend wants the guest halted, so the pvg
 * backend saves only a stopped device (pvg-on-a-mac.md finding 6): stop it
 * as a VMM stopping its vCPUs does (vfio-user migration STOP) first. The
 * soft backend saves a running device.
 */
async function stopForSave(vmm: VfioUserClient): Promise<void> {
  if (process.env.APPLE_GFXD_TEST_BACKEND === 'pvg') await vmm.setMigrationState(MigState.STOP);
}
/** The same on the destination: a restore first keeps the current state (a save). Then it runs again. */
async function restoreStopped(vmm: VfioUserClient, restore: () => Promise<unknown>): Promise<unknown> {
  await stopForSave(vmm);
  const r = await restore();
  if (process.env.APPLE_GFXD_TEST_BACKEND === 'pvg') await vmm.setMigrationState(MigState.RUNNING);
  return r;
}

const RAM = 0x40000000n;
const RAM_SIZE = 8 << 20;
const BUF = RAM + 0x100000n;
const LIST = RAM + 0x10000n;

async function waitFor(pred: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await pred()) return;
    await tick(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('device state save/restore', () => {
  const a = useDaemon(['--display', '16x8@60,8x8@60', '--display', '4x4@60']);
  const b = useDaemon(['--display', '32x32@60']);
  const guest = useGuestRam(RAM, RAM_SIZE, 'migrating-ram');
  afterEach(() => tick(50)); // let the daemons see the disconnects

  it('moves a running soft device from one daemon to another', async () => {
    // Daemon A: a guest workload.
    const A = await a.attachVmm(guest.region);
    const ringA = new SoftRing(A.vmm, guest.ram, RAM, 16);
    await ringA.configure();
    const pattern = Buffer.alloc(8192).map((_, i) => (i * 31 + 7) & 0xff);
    guest.ram.write(BUF, Buffer.from(pattern));
    guest.ram.writeRangeList(LIST, [[BUF, 8192]]);
    assert.equal((await ringA.run(Op.TASK_CREATE, [7, 0x20000])).status, St.OK);
    assert.equal((await ringA.run(Op.TASK_MAP, [7, 0x4000, LIST, 1, 1])).status, St.OK);
    assert.equal((await ringA.run(Op.SET_MODE, [0, 8, 8])).status, St.OK);
    assert.equal((await ringA.run(Op.PRESENT, [0, 7, 0x4000, 32, 0])).status, St.OK);
    assert.equal((await ringA.run(Op.CURSOR_SHOW, [0, 1])).status, St.OK);
    assert.equal((await ringA.run(Op.CURSOR_MOVE, [0, 3, 4])).status, St.OK);
    await A.vmm.write32(0, Reg.SCRATCH, 0xfeed);
    const ctlA = await ControlClient.connect(`${a.d.socketPath}.ctl`);
    const shotA = await ctlA.call('screenshot', { port: 0 });
    // Quiesce like a VMM stopping its vCPUs: no more doorbells; save.
    await stopForSave(A.vmm);
    const saved = (await ctlA.call('save')).state as Buffer;
    assert.ok(saved.length > 8 * 8 * 4, 'the state carries the frame');
    // One protobuf message: the daemon's part field by field, the backend's as its own blob.
    const st = decodeDeviceState(saved);
    assert.equal(st.variant, 'pci');
    assert.deepEqual(st.guestMemory, [{ gpa: String(RAM), size: String(RAM_SIZE) }]);
    assert.deepEqual(
      st.displays.map((d) => [d.port, d.width, d.height, d.modes.length]),
      [
        [0, 8, 8, 2],
        [1, 4, 4, 1],
      ],
      'displays with their mode lists and the mode in use',
    );
    assert.equal(st.backend?.name, process.env.APPLE_GFXD_TEST_BACKEND ?? 'soft');
    const blob = st.backend!.data;
    assert.ok(blob.length > 8 * 8 * 4, "the backend's blob carries the frame");
    const gpa = Buffer.alloc(8);
    gpa.writeBigUInt64LE(BUF);
    assert.ok(blob.includes(gpa), 'the task refers to guest memory by guest-physical address');
    ctlA.close();
    A.vmm.close();

    // The guest queued two more fences before it was stopped (tail moved, no doorbell
    // rung on the new daemon yet): they are in guest RAM, the state points at them.
    // Daemon B: the same guest memory, then restore.
    const B = await b.attachVmm(guest.region);
    const ctlB = await ControlClient.connect(`${b.d.socketPath}.ctl`);
    assert.deepEqual(await restoreStopped(B.vmm, () => ctlB.call('restore', { state: saved })), {});
    const status = await ctlB.call('status');
    assert.deepEqual(
      status.displays.map((d: { port: number; width: number; height: number }) => [d.port, d.width, d.height]),
      [
        [0, 8, 8],
        [1, 4, 4],
      ],
      'displays as saved',
    );
    const shotB = await ctlB.call('screenshot', { port: 0 });
    assert.ok(shotB.png.equals(shotA.png), 'the same frame');
    assert.equal(await B.vmm.read32(0, Reg.SCRATCH), 0xfeed, 'registers');
    assert.equal((await B.vmm.read32(0, Reg.STATUS)) & 1, 1, 'the ring is configured');
    const status2 = await ctlB.call('status');
    assert.equal(status2.tasks?.tasks, 1);
    assert.equal(status2.displays[0]?.cursor?.visible, true);
    assert.deepEqual([status2.displays[0]?.cursor?.x, status2.displays[0]?.cursor?.y], [3, 4]);

    // The task was re-mapped onto guest memory: CHECKSUM through it on B.
    const ringB = new SoftRing(B.vmm, guest.ram, RAM, 16);
    (ringB as unknown as { tail: number }).tail = await B.vmm.read32(0, Reg.RING_TAIL);
    const sum = await ringB.run(Op.CHECKSUM, [7, 0x4000, 8192]);
    assert.equal(sum.status, St.OK);
    assert.equal(sum.result, fnv1a32(pattern));

    // Pending work: fences queued in the ring complete on B and interrupt B's VMM.
    native.eventfdRead(B.efd);
    ringB.push(Op.FENCE, [41, 0]);
    ringB.push(Op.FENCE, [42, 0]);
    await B.vmm.write32(0, Reg.RING_TAIL, (await B.vmm.read32(0, Reg.RING_TAIL)) + 2);
    await B.vmm.write32(0, Reg.DOORBELL, 0);
    await waitFor(async () => (await B.vmm.read32(0, Reg.FENCE_LO)) === 42, 'fence 42');
    let irqs = 0;
    for (let i = 0; i < 50 && irqs < 2; i++) {
      irqs += native.eventfdRead(B.efd);
      if (irqs < 2) await tick(5);
    }
    assert.equal(irqs, 2);
    ctlB.close();
    B.vmm.close();
  });

  it('runs commands that were pending at save time once restored', async () => {
    const A = await a.attachVmm(guest.region);
    const ringA = new SoftRing(A.vmm, guest.ram, RAM, 16);
    await ringA.configure();
    // Queue a fence but stop the "vCPU" before the doorbell: tail published only.
    ringA.push(Op.FENCE, [99, 0]);
    const ctlA = await ControlClient.connect(`${a.d.socketPath}.ctl`);
    // Publish the tail through a posted write (QEMU's BAR writes are posted) and save at once.
    A.vmm.postRegionWrite(0, Reg.RING_TAIL, Buffer.from([1, 0, 0, 0]));
    await A.vmm.read32(0, Reg.ID); // ordering: the posted write is applied
    await stopForSave(A.vmm);
    const saved = (await ctlA.call('save')).state as Buffer;
    ctlA.close();
    A.vmm.close();
    const B = await b.attachVmm(guest.region);
    const ctlB = await ControlClient.connect(`${b.d.socketPath}.ctl`);
    await restoreStopped(B.vmm, () => ctlB.call('restore', { state: saved }));
    await waitFor(async () => (await B.vmm.read32(0, Reg.FENCE_LO)) === 99, 'the pending fence');
    ctlB.close();
    B.vmm.close();
  });

  it('refuses a state from another variant, another version, or without its guest memory', async () => {
    const m = await startDaemon(['--variant', 'mmio']);
    try {
      const A = await a.attachVmm(guest.region);
      const ctlA = await ControlClient.connect(`${a.d.socketPath}.ctl`);
      await stopForSave(A.vmm);
      const saved = (await ctlA.call('save')).state as Buffer;
      ctlA.close();
      A.vmm.close();
      const ctlM = await ControlClient.connect(`${m.socketPath}.ctl`);
      await assert.rejects(
        ctlM.call('restore', { state: saved }),
        (e: unknown) => e instanceof ControlReplyError && e.code === 'WRONG_VARIANT',
      );
      ctlM.close();
      // Daemon B with no guest memory shared yet.
      const ctlB = await ControlClient.connect(`${b.d.socketPath}.ctl`);
      await assert.rejects(
        ctlB.call('restore', { state: saved }),
        (e: unknown) => e instanceof ControlReplyError && /not shared with this daemon/.test(e.message),
      );
      // A corrupted backend blob: refused, device left working.
      const B = await b.attachVmm(guest.region);
      const bad = Buffer.from(saved);
      bad[bad.length - 3]! ^= 0xff;
      bad.writeUInt32LE(0xdeadbeef, bad.length - 40);
      await ctlB.call('restore', { state: bad }).catch(() => {});
      assert.equal(await B.vmm.read32(0, Reg.ID), 0x58464741, 'the device still serves');
      B.vmm.close();
      ctlB.close();
    } finally {
      await m.stop();
    }
  });
});
