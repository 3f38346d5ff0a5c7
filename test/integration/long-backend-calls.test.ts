// Long backend calls (pvg-on-a-mac.md finding 15; docs/design.md, "Long
// backend calls"): a reset, a save, a restore, a migration step and a client
// leaving run the backend's call off the JS thread. The lib fixture makes the
// next such call take as long as register 0x101C says. While it runs the
// daemon keeps serving viewers, the control API and the client's MMIO; the
// client's own messages wait for it (message order), and so does every other
// operation on the device. These fail when the calls run on the JS thread:
// nothing is served until the call returns.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { ControlClient } from '#daemon/control/control-client.js';
import { native } from '#daemon/native.js';
import { Command, MigState } from 'vfio-user-ts';
import { startDaemon, tick, type RunningDaemon } from '../support/daemon.js';
import { buildLibBackend } from '../support/lib-backend.js';
import { RfbClient } from '../support/rfb-client.js';

const SCRATCH = 0x1008;
const LONG_CALL_MS = 0x101c; // lib fixture: the next long call takes this long
const DELAY = 1500;

/**
 * While `slow` runs, a new VNC viewer's handshake and a control `status` (on
 * a connection of its own: one connection answers in request order) are
 * served; returns when each finished.
 */
async function servedDuring(
  vncPort: number,
  ctlPath: string,
  slow: Promise<unknown>,
  operation: RegExp,
): Promise<{ servedAt: number; slowDone: number }> {
  const t0 = performance.now();
  let slowDone = 0;
  const tracked = slow.then(
    () => (slowDone = performance.now()),
    () => (slowDone = performance.now()),
  );
  await tick(150);
  const askedAt = performance.now();
  const viewer = await RfbClient.connect(vncPort);
  assert.deepEqual([viewer.width, viewer.height], [640, 480]);
  const ctl = await ControlClient.connect(ctlPath);
  const status = await ctl.call('status');
  assert.equal(status.displays.length, 1);
  assert.match(status.operation?.name ?? '(none)', operation, 'status names the operation under way');
  const servedAt = performance.now();
  ctl.close();
  viewer.close();
  await tracked;
  // The figures (docs/security.md, Bounds): when the viewer and `status` were served, when the slow call ended.
  console.log(
    JSON.stringify({
      viewerAndStatusMs: Math.round(servedAt - askedAt),
      servedAtMs: Math.round(servedAt - t0),
      callDoneMs: Math.round(slowDone - t0),
    }),
  );
  return { servedAt, slowDone };
}

describe('long backend calls run off the JS thread', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agfx-long-'));
  let lib: string;
  let d: RunningDaemon;
  let vncPort = 0;
  let ctl: ControlClient;
  before(async () => {
    lib = buildLibBackend(dir, 'lib-gone', ['GONE']);
    d = await startDaemon(['--backend', `lib:${lib}`, '--display', '640x480@60', '--vnc', '127.0.0.1:0']);
    vncPort = (await d.waitForLog((l) => l.msg === 'vnc_listening' && l.display === 0)).port as number;
    ctl = await ControlClient.connect(`${d.socketPath}.ctl`);
  });
  after(async () => {
    ctl.close();
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves viewers, control and the client's MMIO during a 1.5 s DEVICE_RESET, and answers the client's next message after it", async () => {
    const c = await d.connectNegotiated();
    try {
      await c.write32(0, SCRATCH, 0x1234);
      await c.write32(0, LONG_CALL_MS, DELAY);
      const t0 = performance.now();
      const reset = c.reset();
      // Pipelined behind the reset: the client's next message is looked at
      // only once the reset's has completed (message order).
      const infoAfter = c.deviceInfo().then(() => performance.now());
      const { servedAt, slowDone } = await servedDuring(vncPort, `${d.socketPath}.ctl`, reset, /^reset$/);
      const infoAt = await infoAfter;
      assert.ok(slowDone - t0 >= DELAY - 100, `the reset did take long (${(slowDone - t0).toFixed(0)} ms)`);
      assert.ok(
        servedAt < slowDone,
        `viewer and control served during the reset (${(servedAt - t0).toFixed(0)} vs ${(slowDone - t0).toFixed(0)} ms)`,
      );
      assert.ok(infoAt >= slowDone, 'the message behind DEVICE_RESET is answered after its reply');
      assert.equal(await c.read32(0, SCRATCH), 0, 'the backend was reset');
    } finally {
      c.close();
    }
  });

  it("serves viewers and the client's MMIO during a 1.5 s `ctl reset`; the client's next session message waits for it", async () => {
    const c = await d.connectNegotiated();
    try {
      await c.write32(0, LONG_CALL_MS, DELAY);
      await c.write32(0, SCRATCH, 0x55);
      const t0 = performance.now();
      const reset = ctl.call('reset');
      await tick(150);
      // MMIO goes to the data plane: served during the control-API reset, as
      // it always could be beside one (agfx_backend.h threading contract).
      const mmioAt = await c.read32(0, 0x1000).then((v) => (assert.equal(v, 0x2142494c), performance.now()));
      // A session message (config space): it waits until the reset is over.
      const cfgAt = c.configRead(0, 4).then(() => performance.now());
      const { servedAt, slowDone } = await servedDuring(vncPort, `${d.socketPath}.ctl`, reset, /^reset$/);
      assert.ok(slowDone - t0 >= DELAY - 100, `the reset did take long (${(slowDone - t0).toFixed(0)} ms)`);
      assert.ok(mmioAt < slowDone, 'MMIO answered during the reset');
      assert.ok(servedAt < slowDone, 'viewer and control served during the reset');
      // (Its reply and the control reply both leave once the reset is over, in either order.)
      const cfgTook = (await cfgAt) - t0;
      assert.ok(cfgTook >= DELAY - 100, `the config read waited for the reset (${cfgTook.toFixed(0)} ms)`);
      assert.equal(await c.read32(0, SCRATCH), 0);
    } finally {
      c.close();
    }
  });

  it('serves viewers and control during a 1.5 s save and a 1.5 s restore, and restores what was saved', async () => {
    const c = await d.connectNegotiated();
    try {
      await c.write32(0, SCRATCH, 0xfeed);
      await c.write32(0, LONG_CALL_MS, DELAY);
      const save = ctl.call('save');
      const s1 = await servedDuring(vncPort, `${d.socketPath}.ctl`, save, /^save$/);
      assert.ok(s1.servedAt < s1.slowDone, 'served during the save');
      const state = (await save).state as Buffer;
      await c.write32(0, SCRATCH, 0x1111);
      // A restore makes two long calls (the state it may have to put back,
      // then the restore); the delay applies to the first.
      await c.write32(0, LONG_CALL_MS, DELAY);
      const restore = ctl.call('restore', { state });
      const s2 = await servedDuring(vncPort, `${d.socketPath}.ctl`, restore, /^restore$/);
      assert.ok(s2.servedAt < s2.slowDone, 'served during the restore');
      assert.equal(await c.read32(0, SCRATCH), 0xfeed, 'the saved state is back');
    } finally {
      c.close();
    }
  });

  it('a restore the backend refuses puts the state back and says why', async () => {
    const c = await d.connectNegotiated();
    try {
      await c.write32(0, SCRATCH, 0xdeadbeef);
      const state = (await ctl.call('save')).state as Buffer;
      await c.write32(0, SCRATCH, 0x77);
      await assert.rejects(ctl.call('restore', { state }), /test-lib refuses 0xdeadbeef/);
      assert.equal(await c.read32(0, SCRATCH), 0x77, 'put back');
    } finally {
      c.close();
    }
  });

  it('a restore onto a backend that cannot save its current state changes nothing and says why', async () => {
    const c = await d.connectNegotiated();
    try {
      await c.write32(0, SCRATCH, 0x42);
      const state = (await ctl.call('save')).state as Buffer;
      await c.write32(0, SCRATCH, 0x5a5e0bad); // the fixture's save_state fails now
      await assert.rejects(ctl.call('save'), /backend failed to save its state/);
      await assert.rejects(ctl.call('restore', { state }), /cannot restore: backend 'test-lib' could not save the state it has now/);
      assert.equal(await c.read32(0, SCRATCH), 0x5a5e0bad, 'untouched');
    } finally {
      c.close();
    }
  });

  it('runs a migration step (RUNNING -> STOP -> STOP_COPY) off the JS thread, the reply after it', async () => {
    const c = await d.connectNegotiated();
    try {
      await c.write32(0, LONG_CALL_MS, DELAY);
      const t0 = performance.now();
      const stop = c.setMigrationState(MigState.STOP);
      const { servedAt, slowDone } = await servedDuring(vncPort, `${d.socketPath}.ctl`, stop, /^migration to STOP$/);
      assert.ok(slowDone - t0 >= DELAY - 100, `set_running(false) did take long (${(slowDone - t0).toFixed(0)} ms)`);
      assert.ok(servedAt < slowDone, 'served during the migration step');
      assert.equal(await c.migrationState(), MigState.STOP);
      await c.setMigrationState(MigState.RUNNING);
    } finally {
      c.close();
    }
  });

  it('a client that leaves during its own long reset: the next client is accepted once the device has let go of it', async () => {
    const c = await d.connectNegotiated();
    await c.write32(0, LONG_CALL_MS, DELAY);
    const t0 = performance.now();
    void c.requestRaw(Command.DEVICE_RESET).catch(() => {});
    await tick(100);
    c.close();
    const detached = d.waitForLog((l) => l.msg === 'apple_gfx_client_detached', 10_000);
    const next = await d.connectNegotiated();
    try {
      const at = performance.now();
      await detached;
      assert.ok(at - t0 >= DELAY - 200, `the next client came after the reset and the release (${(at - t0).toFixed(0)} ms)`);
      assert.equal(await next.read32(0, 0x1000), 0x2142494c);
    } finally {
      next.close();
    }
  });

  it('the backend refuses every other call from JS while a long one runs (EBUSY), and serves them after', async () => {
    const b = new native.Backend('lib', lib, { variant: 0 }, () => {});
    try {
      b.mmioWrite(0, LONG_CALL_MS, 400);
      const reset = b.resetAsync();
      assert.equal(b.busy, 'reset');
      assert.throws(() => b.attachDisplay(0, 1, 'x', [{ width: 64, height: 64, refreshHz: 60 }]), { code: 'EBUSY' });
      assert.throws(() => b.mmioRead(0, 0x1000), { code: 'EBUSY' });
      assert.throws(() => b.saveStateAsync(), { code: 'EBUSY' });
      await reset;
      assert.equal(b.busy, null);
      assert.equal(b.mmioRead(0, 0x1000), 0x2142494c);
      b.mmioWrite(0, SCRATCH, 42);
      const saved = await b.saveStateAsync();
      assert.deepEqual(saved, Buffer.from([42, 0, 0, 0]));
      await assert.rejects(b.restoreStateAsync(Buffer.from([1, 2])), /not a test-lib state/);
      await b.restoreStateAsync(saved!);
      assert.equal(b.mmioRead(0, SCRATCH), 42);
      // destroy() during a long call: the call's thread holds the device until it returns.
      b.mmioWrite(0, LONG_CALL_MS, 200);
      const late = b.setRunningAsync(false);
      b.destroy();
      await late;
    } finally {
      b.destroy();
    }
  });
});
