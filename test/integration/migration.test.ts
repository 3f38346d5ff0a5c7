// vfio-user migration v2 (DEVICE_FEATURE, MIG_DATA_READ/WRITE), driven by our
// client as QEMU would: save from one daemon while a guest workload runs in
// the soft backend, restore into a second daemon attached to the same guest
// memory, and the device carries on.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ControlClient } from '#daemon/control/control-client.js';
import { native } from '#daemon/native.js';
import { Errno, Feature, FeatureFlag, MigState } from 'vfio-user-ts';
import { tick } from '../support/daemon.js';
import { useDaemon, useGuestRam, type DaemonFixture } from '../support/daemon-fixture.js';
import { Op, Reg, SoftRing, St, fnv1a32 } from '../support/soft-ring.js';

const RAM = 0x40000000n;
const RAM_SIZE = 8 << 20;
const BUF = RAM + 0x200000n;
const LIST = RAM + 0x10000n;

describe('vfio-user migration v2', () => {
  const a = useDaemon(['--display', '16x16@60']);
  const b = useDaemon(['--display', '16x16@60']);
  const guest = useGuestRam(RAM, RAM_SIZE, 'migration-ram');
  const vmm = async (d: DaemonFixture) => {
    const { vmm: c, efd } = await d.attachVmm(guest.region);
    return { c, efd };
  };
  afterEach(() => tick(50)); // let the daemons see the disconnects

  it('advertises STOP_COPY and answers probes; refuses what it does not support', async () => {
    const { c } = await vmm(a);
    const flags = await c.feature(Feature.MIGRATION | FeatureFlag.GET);
    assert.equal(flags.readBigUInt64LE(0), 1n, 'VFIO_MIGRATION_STOP_COPY');
    await c.feature(Feature.MIG_DEVICE_STATE | FeatureFlag.PROBE | FeatureFlag.SET);
    assert.equal(await c.migrationState(), MigState.RUNNING);
    await assert.rejects(c.feature(Feature.DMA_LOGGING_START | FeatureFlag.SET, Buffer.alloc(16)), { errno: Errno.ENOTSUP });
    await assert.rejects(c.feature(Feature.MIGRATION | FeatureFlag.SET), { errno: Errno.ENOTSUP });
    await assert.rejects(c.feature(Feature.MIGRATION | FeatureFlag.GET | FeatureFlag.SET), { errno: Errno.EINVAL });
    await assert.rejects(c.setMigrationState(MigState.PRE_COPY), { errno: Errno.EINVAL });
    await assert.rejects(c.migDataRead(64), { errno: Errno.EINVAL }, 'no data outside STOP_COPY');
    await assert.rejects(c.migDataWrite(Buffer.alloc(8)), { errno: Errno.EINVAL }, 'no data outside RESUMING');
    c.close();
  });

  // On the PVG double (--backend pvg) this is pvg-on-a-mac.md finding 6: a
  // backend that unpaused before -willSuspend ran the fence on the stopped
  // source at STOP_COPY and lost its interrupt.
  it('moves the device: STOP quiesces, STOP_COPY streams the state, RESUMING takes it, the destination carries on', async () => {
    const A = await vmm(a);
    const ringA = new SoftRing(A.c, guest.ram, RAM, 32);
    await ringA.configure();
    const pixels = Buffer.alloc(16 * 16 * 4).map((_, i) => (i * 5) & 0xff);
    guest.ram.write(BUF, Buffer.from(pixels));
    guest.ram.writeRangeList(LIST, [[BUF, 4096]]);
    assert.equal((await ringA.run(Op.TASK_CREATE, [3, 0x10000])).status, St.OK);
    assert.equal((await ringA.run(Op.TASK_MAP, [3, 0, LIST, 1, 1])).status, St.OK);
    assert.equal((await ringA.run(Op.PRESENT, [0, 3, 0, 64, 0])).status, St.OK);

    // Stop the device, then queue a fence: a stopped device must not run it.
    await A.c.setMigrationState(MigState.STOP);
    const head = await A.c.read32(0, Reg.RING_HEAD);
    ringA.push(Op.FENCE, [777, 0]);
    await ringA.kick(false);
    await tick(50);
    assert.equal(await A.c.read32(0, Reg.RING_HEAD), head, 'STOP: no command runs');
    assert.equal(native.eventfdRead(A.efd), 0, 'STOP: no interrupt');

    await A.c.setMigrationState(MigState.STOP_COPY);
    const size = (await A.c.feature(Feature.MIG_DATA_SIZE | FeatureFlag.GET)).readBigUInt64LE(0);
    assert.ok(size > 16n * 16n * 4n);
    const chunks: Buffer[] = [];
    for (;;) {
      const chunk = await A.c.migDataRead(4096);
      chunks.push(chunk);
      if (chunk.length < 4096) break;
    }
    const stream = Buffer.concat(chunks);
    assert.equal(BigInt(stream.length), size);
    await A.c.setMigrationState(MigState.STOP);
    A.c.close();

    // Destination: RUNNING -> RESUMING (through STOP), write, STOP, RUNNING.
    const B = await vmm(b);
    await B.c.setMigrationState(MigState.RESUMING);
    assert.equal(await B.c.migrationState(), MigState.RESUMING);
    for (let o = 0; o < stream.length; o += 3000) await B.c.migDataWrite(stream.subarray(o, o + 3000));
    await B.c.setMigrationState(MigState.STOP);
    await B.c.setMigrationState(MigState.RUNNING);
    // The fence queued while the source was stopped completes here.
    for (let i = 0; i < 200 && (await B.c.read32(0, Reg.FENCE_LO)) !== 777; i++) await tick(10);
    assert.equal(await B.c.read32(0, Reg.FENCE_LO), 777);
    let irq = 0;
    for (let i = 0; i < 400 && !irq; i++) {
      irq = native.eventfdRead(B.efd);
      if (!irq) await tick(5);
    }
    assert.equal(irq, 1, "the destination's VMM got the fence interrupt");
    // Same frame, task still mapped onto guest memory.
    const ctl = await ControlClient.connect(`${b.d.socketPath}.ctl`);
    const shot = await ctl.call('screenshot', { port: 0 });
    // pvg (the PVG double): the resumed PGDevice draws the current frame
    // again for the re-attached display, so the frame may count twice.
    if (process.env.APPLE_GFXD_TEST_BACKEND === 'pvg') assert.ok(shot.sequence >= 1, `sequence ${shot.sequence}`);
    else assert.equal(shot.sequence, 1);
    ctl.close();
    const ringB = new SoftRing(B.c, guest.ram, RAM, 32);
    (ringB as unknown as { tail: number }).tail = await B.c.read32(0, Reg.RING_TAIL);
    const sum = await ringB.run(Op.CHECKSUM, [3, 0, 1024]);
    assert.equal(sum.result, fnv1a32(pixels.subarray(0, 1024)));
    B.c.close();
  });

  it('goes to ERROR on a corrupt stream; only a device reset leaves it', async () => {
    const { c } = await vmm(b);
    await c.setMigrationState(MigState.RESUMING);
    await c.migDataWrite(Buffer.from('this is not a device state'));
    await assert.rejects(c.setMigrationState(MigState.STOP), { errno: Errno.EIO });
    assert.equal(await c.migrationState(), MigState.ERROR);
    await assert.rejects(c.setMigrationState(MigState.RUNNING), { errno: Errno.EINVAL });
    await c.reset();
    assert.equal(await c.migrationState(), MigState.RUNNING);
    assert.equal(await c.read32(0, Reg.ID), 0x58464741);
    c.close();
  });
});
