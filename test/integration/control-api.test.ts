// The control API against a live daemon with a guest workload (our client as
// the VMM, the soft device presenting frames), and `apple-gfxd ctl`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ControlClient, ControlReplyError } from '#daemon/control/control-client.js';
import type { Error_Code, RequestBody } from '#daemon/control/control-types.js';
import type { Init, RequestKind } from '#daemon/control/schema.js';
import type { VfioUserClient } from 'vfio-user-ts';
import { daemonMain, repoRoot, startDaemon, tick, type RunningDaemon } from '../support/daemon.js';
import { presentFrame } from '../support/soft-ring.js';
import { decodePng } from '../support/png.js';

const RAM = 0x40000000n;

describe('control API', () => {
  let d: RunningDaemon;
  let vmm: VfioUserClient;
  let ctl: ControlClient;
  let ctlPath: string;
  before(async () => {
    d = await startDaemon(['--display', '32x16@60']);
    ctlPath = `${d.socketPath}.ctl`;
    vmm = await d.connectNegotiated();
    // A 32x16 frame: pixel (x, y) = B x*8, G y*16, R 0x40.
    const px = Buffer.alloc(32 * 16 * 4);
    for (let y = 0; y < 16; y++) for (let x = 0; x < 32; x++) px.set([x * 8, y * 16, 0x40, 0xff], (y * 32 + x) * 4);
    await presentFrame(vmm, { ramGpa: RAM, name: 'ctl-ram', port: 0, width: 32, pixels: px });
    for (let i = 0; i < 5; i++) await vmm.read32(0, 0x1000);
    ctl = await ControlClient.connect(ctlPath);
  });
  after(async () => {
    ctl.close();
    vmm.close();
    await d.stop();
  });

  it('creates the control socket beside the vfio-user socket, mode 0600', () => {
    assert.ok(existsSync(ctlPath));
  });

  it('reports status: backend, client, negotiation, guest memory, tasks, vectors, displays, latency', async () => {
    const s = await ctl.call('status');
    assert.equal(s.version, (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version);
    assert.equal(s.backend, process.env.APPLE_GFXD_TEST_BACKEND ?? 'soft');
    assert.equal(s.variant, 'pci');
    assert.equal(s.clientConnected, true);
    assert.equal(s.negotiated?.maxDataXferSize, 1048576);
    assert.deepEqual(s.guestMemory, [{ gpa: 0x40000000, size: 4 << 20, writable: true }]);
    // pvg (the PVG double on Linux) holds a task of its own besides the guest's,
    // for the command status it writes back, as PVG maps guest memory for itself.
    const own = process.env.APPLE_GFXD_TEST_BACKEND === 'pvg' ? 1 : 0;
    assert.equal(s.tasks?.tasks, 1 + own);
    assert.ok((s.tasks?.aliases ?? 0) >= 1 && (s.tasks?.aliases ?? 0) <= 1 + own * 16);
    assert.equal(s.vectors.length, 1);
    assert.equal(s.displays.length, 1);
    assert.deepEqual([s.displays[0]?.width, s.displays[0]?.height, s.displays[0]?.framesPresented], [32, 16, 1]);
    const reads = s.latency.find((h) => h.name === 'REGION_READ');
    assert.ok(reads && reads.total >= 5, 'REGION_READ timings recorded');
    assert.equal(
      reads.counts.reduce((a, b) => a + b, 0),
      reads.total,
    );
  });

  it('screenshots a display as PNG with exactly the guest pixels', async () => {
    const r = await ctl.call('screenshot', { port: 0 });
    assert.deepEqual([r.width, r.height, r.sequence], [32, 16, 1]);
    const img = decodePng(r.png);
    assert.deepEqual([img.width, img.height], [32, 16]);
    for (const [x, y] of [
      [0, 0],
      [31, 0],
      [5, 9],
      [31, 15],
    ]) {
      const o = (y! * 32 + x!) * 4;
      assert.deepEqual([...img.rgba.subarray(o, o + 4)], [0x40, y! * 16, x! * 8, 0xff], `pixel ${x},${y}`);
    }
  });

  it('adds, re-modes and removes displays while the guest runs', async () => {
    const added = await ctl.call('displayAdd', { modes: [{ width: 64, height: 48, refreshHz: 30 }], name: 'second' });
    assert.equal(added.port, 1);
    assert.equal(added.name, 'second');
    await d.waitForLog((l) => l.msg === 'apple_gfx_mode_change' && l.port === 1 && l.width === 64);
    const same = await ctl.call('displayModes', {
      port: 1,
      modes: [
        { width: 20, height: 10, refreshHz: 60 },
        { width: 64, height: 48, refreshHz: 30 },
      ],
    });
    assert.deepEqual([same.width, same.height], [64, 48], 'the current mode is still in the list: kept');
    const re = await ctl.call('displayModes', {
      port: 1,
      modes: [
        { width: 20, height: 10, refreshHz: 60 },
        { width: 10, height: 5, refreshHz: 60 },
      ],
    });
    assert.deepEqual([re.width, re.height], [20, 10], 'the current mode left the list: switched to the new preferred one');
    assert.deepEqual(await ctl.call('displayRemove', { port: 1 }), {});
    assert.equal((await ctl.call('status')).displays.length, 1);
  });

  const errors: [string, RequestKind, Init<RequestBody[RequestKind]>, Error_Code][] = [
    ['an unknown display', 'screenshot', { port: 9 }, 'UNKNOWN_DISPLAY'],
    ['removing an unknown display', 'displayRemove', { port: 3 }, 'UNKNOWN_DISPLAY'],
    ['a mode of width 0', 'displayAdd', { modes: [{ width: 0, height: 10, refreshHz: 60 }] }, 'BAD_MODE'],
    ['a display without modes', 'displayAdd', { modes: [] }, 'BAD_MODE'],
    ['a 2000 Hz mode', 'displayModes', { port: 0, modes: [{ width: 32, height: 16, refreshHz: 2000 }] }, 'BAD_MODE'],
    ['a port in use', 'displayAdd', { modes: [{ width: 8, height: 8, refreshHz: 60 }], port: 0 }, 'BAD_REQUEST'],
    ['an unknown log level', 'logLevel', { level: 'loud' }, 'BAD_REQUEST'],
    ['restoring an empty state', 'restore', {}, 'BAD_REQUEST'],
    ['restoring bytes that are not a state', 'restore', { state: Buffer.from('not protobuf at all, really') }, 'BAD_REQUEST'],
  ];
  for (const [name, kind, body, code] of errors) {
    it(`answers ${name} with ${code} and changes nothing`, async () => {
      await assert.rejects(ctl.call(kind, body), (e: unknown) => e instanceof ControlReplyError && e.code === code);
      const s = await ctl.call('status');
      assert.deepEqual(
        s.displays.map((x) => [x.port, x.width]),
        [[0, 32]],
      );
    });
  }

  it('refuses another schema version with VERSION_MISMATCH', async () => {
    await assert.rejects(ctl.call('status', {}, 2), (e: unknown) => e instanceof ControlReplyError && e.code === 'VERSION_MISMATCH');
  });

  it('answers a request without a body (an unknown request) with BAD_REQUEST', async () => {
    const c = await ControlClient.connect(ctlPath);
    // id 7, schema_version 1, then field 99 (unknown to this schema): varint 1.
    const msg = Buffer.from([0x08, 0x07, 0x10, 0x01, 0x98, 0x06, 0x01]);
    const reply = new Promise<Buffer>((r) => (c as unknown as { sock: import('node:net').Socket }).sock.once('data', r));
    c.writeRaw(Buffer.concat([Buffer.from([msg.length]), msg]));
    assert.match((await reply).toString('latin1'), /request without a known body/);
    c.close();
  });

  it('closes a control client that sends garbage, and the device keeps serving', async () => {
    const c = await ControlClient.connect(ctlPath);
    const closed = new Promise((r) => (c as unknown as { sock: import('node:net').Socket }).sock.once('close', r));
    c.writeRaw(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])); // a length prefix longer than 5 bytes
    await closed;
    await d.waitForLog((l) => l.msg === 'control_client_dropped');
    assert.equal(await vmm.read32(0, 0x1000), 0x58464741);
    assert.equal((await ctl.call('status')).clientConnected, true);
  });

  it('changes the log level and selects debug events at run time', async () => {
    const r = await ctl.call('logLevel', { level: 'debug', traceEvents: ['vfio_user_get_info'], replaceEvents: true });
    assert.deepEqual(r, { level: 'debug', traceEvents: ['vfio_user_get_info'] });
    const mark = d.logs.length;
    await vmm.deviceInfo();
    await vmm.irqInfo(1);
    await tick(50);
    const names = d.logs.slice(mark).map((l) => l.msg);
    assert.ok(names.includes('vfio_user_get_info'));
    assert.ok(!names.includes('vfio_user_get_irq_info'), 'unselected debug events are dropped');
    await ctl.call('logLevel', { level: 'debug', replaceEvents: true });
  });

  it('resets the device', async () => {
    await vmm.write32(0, 0x1008, 1234);
    assert.deepEqual(await ctl.call('reset'), {});
    assert.equal(await vmm.read32(0, 0x1008), 0);
  });

  describe('apple-gfxd ctl', () => {
    const ctlRun = (...args: string[]) =>
      spawnSync(process.execPath, [daemonMain, 'ctl', '--control', ctlPath, ...args], { encoding: 'utf8' });

    it('prints status for people and as JSON', () => {
      const human = ctlRun('status');
      assert.equal(human.status, 0, human.stderr);
      assert.match(human.stdout, new RegExp(`backend ${process.env.APPLE_GFXD_TEST_BACKEND ?? 'soft'} {2}variant pci`));
      // The serial is derived from the socket path (finding 18): port 0 is the low byte 01.
      assert.match(human.stdout, /display 0 "apple-gfxd 0" serial 0x[0-9a-f]{1,6}01: 32x16/);
      const json = ctlRun('--json', 'status');
      assert.equal(JSON.parse(json.stdout).displays[0].width, 32);
    });

    it('writes a screenshot file and manages displays', () => {
      const file = join(d.dir, 'shot.png');
      const r = ctlRun('screenshot', '0', file);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(decodePng(readFileSync(file)).width, 32);
      assert.match(ctlRun('display', 'add', '40x30@60,20x10@60', '--name', 'cli').stdout, /display 1 "cli".*40x30/);
      assert.equal(ctlRun('display', 'remove', '1').status, 0);
    });

    it('exits 1 with the typed error for a bad request and 2 for bad usage', () => {
      const r = ctlRun('screenshot', '7', '/tmp/x.png');
      assert.equal(r.status, 1);
      assert.match(r.stderr, /UNKNOWN_DISPLAY: no display on port 7/);
      const bad = ctlRun('display', 'add', '40x30');
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /bad mode list/);
      const none = spawnSync(process.execPath, [daemonMain, 'ctl', '--control', join(d.dir, 'nope.ctl'), 'status'], { encoding: 'utf8' });
      assert.equal(none.status, 1);
      assert.match(none.stderr, /cannot reach the control socket/);
    });
  });
});
