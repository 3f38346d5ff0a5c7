// DeviceOps (daemon/src/device/device-ops.ts): the device's operations run
// one at a time, in the order asked for; a failed one does not stop the
// queue; idle() resolves once nothing is queued or running.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeviceOps } from '#daemon/device/device-ops.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('DeviceOps', () => {
  it('runs operations one at a time, in order, each alone', async () => {
    const ops = new DeviceOps();
    const log: string[] = [];
    let inside = 0;
    const op = (name: string, turns: number) => async () => {
      inside++;
      assert.equal(inside, 1, `${name} ran beside another`);
      log.push(`${name}:start`);
      for (let i = 0; i < turns; i++) await tick();
      log.push(`${name}:end`);
      inside--;
      return name;
    };
    assert.equal(ops.busy, false);
    const all = Promise.all([ops.run('a', op('a', 3)), ops.run('b', op('b', 1)), ops.run('c', op('c', 2))]);
    assert.equal(ops.busy, true);
    assert.deepEqual(await all, ['a', 'b', 'c']);
    assert.deepEqual(log, ['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
    assert.equal(ops.busy, false);
  });

  it('a failed operation rejects its caller only; the next one runs', async () => {
    const ops = new DeviceOps();
    const bad = ops.run('bad', () => {
      throw new Error('refused');
    });
    const good = ops.run('good', () => 42);
    await assert.rejects(bad, /refused/);
    assert.equal(await good, 42);
  });

  it('idle() resolves at once when idle, else after the last operation queued; running names the one under way', async () => {
    const ops = new DeviceOps();
    await ops.idle();
    let release = (): void => {};
    const first = ops.run('first', () => new Promise<void>((r) => (release = r)));
    const second = ops.run('second', () => undefined);
    let idle = false;
    void ops.idle().then(() => (idle = true));
    await tick();
    assert.equal(ops.running, 'first');
    assert.equal(idle, false);
    release();
    await first;
    await second;
    await tick();
    assert.equal(idle, true);
    assert.equal(ops.running, null);
  });

  it("an operation still running is reported ('slow') every interval, with its name and time; status() says what runs", async () => {
    const ops = new DeviceOps(30);
    const slow: [string, number][] = [];
    ops.on('slow', (name, seconds) => slow.push([name, seconds]));
    let release = (): void => {};
    const stuck = ops.run('reset', () => new Promise<void>((r) => (release = r)));
    void ops.run('save', () => undefined);
    await new Promise((r) => setTimeout(r, 100));
    const st = ops.status();
    assert.equal(st?.name, 'reset');
    assert.equal(st?.queued, 2);
    assert.ok(st!.runningSeconds >= 0.09, `running ${st!.runningSeconds} s`);
    assert.ok(slow.length >= 2, `reported ${slow.length} times`);
    assert.ok(slow.every(([n]) => n === 'reset'));
    assert.ok(slow[1]![1] > slow[0]![1], 'the time grows');
    release();
    await stuck;
    await ops.idle();
    const n = slow.length;
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(slow.length, n, 'nothing reported once it ended');
    assert.equal(ops.status(), null);
  });

  it('an operation that returns a promise-like value is not awaited beyond its own promise', async () => {
    // What the display handlers rely on: { switched } is handed back while the mode switch is still pending.
    const ops = new DeviceOps();
    let resolveSwitch = (): void => {};
    const switched = new Promise<void>((r) => (resolveSwitch = r));
    const out = await ops.run('display modes', () => ({ switched }));
    assert.equal(out.switched, switched);
    assert.equal(ops.busy, false, 'the operation ended before the switch');
    resolveSwitch();
  });
});
