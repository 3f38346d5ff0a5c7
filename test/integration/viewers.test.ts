// The viewers wired into the real daemon: --vnc serves the guest's display to
// an RFB client, and a viewer's keyboard and pointer reach QEMU over --qmp.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ControlClient } from '#daemon/control/control-client.js';
import { Encoding } from '#daemon/viewers/vnc/rfb.js';
import { RfbClient } from '../support/rfb-client.js';
import type { VfioUserClient } from 'vfio-user-ts';
import { startDaemon, tick, type RunningDaemon } from '../support/daemon.js';
import { presentFrame } from '../support/soft-ring.js';

const RAM = 0x40000000n;

describe('viewers in the daemon (--vnc, --qmp)', () => {
  let d: RunningDaemon;
  let vmm: VfioUserClient;
  let qmpCommands: { execute: string; arguments?: { events: { type: string; data: Record<string, unknown> }[] } }[];
  let qmpSockets: Socket[];
  let qmpServer: ReturnType<typeof createServer>;
  const pixels = Buffer.alloc(24 * 12 * 4);
  for (let i = 0; i < 24 * 12; i++) pixels.set([i & 0xff, (i * 3) & 0xff, (i * 7) & 0xff, 0xff], i * 4);

  before(async () => {
    // A QMP server standing in for QEMU: greeting, capabilities, input-send-event.
    qmpCommands = [];
    qmpSockets = [];
    const dir = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'agfx-qmp-'));
    const qmpPath = join(dir, 'qmp.sock');
    qmpServer = createServer((s) => {
      qmpSockets.push(s);
      s.write('{"QMP": {"version": {}, "capabilities": []}}\r\n');
      let buf = '';
      s.setEncoding('utf8').on('data', (c: string) => {
        buf += c;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          qmpCommands.push(JSON.parse(buf.slice(0, nl)));
          buf = buf.slice(nl + 1);
          s.write('{"return": {}}\r\n');
        }
      });
    });
    await new Promise<void>((r) => qmpServer.listen(qmpPath, r));
    const pw = join(dir, 'vnc.pw');
    writeFileSync(pw, 'sekrit\n');
    d = await startDaemon([
      '--display',
      '24x12@60',
      '--vnc',
      '127.0.0.1:0',
      '--vnc-password-file',
      pw,
      '--qmp',
      qmpPath,
      '--web',
      '127.0.0.1:0',
    ]);
    vmm = await d.connectNegotiated();
    await presentFrame(vmm, { ramGpa: RAM, name: 'viewer-ram', port: 0, width: 24, pixels });
    await d.waitForLog((l) => l.msg === 'qmp_connected');
  });
  after(async () => {
    vmm.close();
    await d.stop();
    qmpSockets.forEach((s) => s.destroy());
    qmpServer.close();
  });

  it("serves the guest's frame over VNC, with the configured password", async () => {
    const listening = await d.waitForLog((l) => l.msg === 'vnc_listening' && l.display === 0);
    await assert.rejects(RfbClient.connect(listening.port as number, { password: 'wrong' }));
    const c = await RfbClient.connect(listening.port as number, { password: 'sekrit' });
    assert.deepEqual([c.width, c.height], [24, 12]);
    c.setEncodings([Encoding.RAW]);
    c.requestUpdate(false);
    const u = await c.nextUpdate(3000);
    assert.ok(u, 'an update arrived');
    // The server's own format is BGRX little-endian: the guest's bytes, alpha aside.
    for (let i = 0; i < 24 * 12; i++)
      assert.deepEqual([...c.fb.subarray(i * 4, i * 4 + 3)], [...pixels.subarray(i * 4, i * 4 + 3)], `pixel ${i}`);

    // The viewer shows up in the control API.
    const ctl = await ControlClient.connect(`${d.socketPath}.ctl`);
    const s = await ctl.call('status');
    assert.equal(s.viewers.length, 1);
    assert.equal(s.viewers[0]?.kind, 'vnc');
    assert.ok(s.viewers[0]!.framesSent >= 1);
    ctl.close();

    // Keyboard and pointer go to QEMU as input-send-event.
    c.key(0x61, true);
    c.pointer(12, 6, 1);
    for (let i = 0; i < 100 && qmpCommands.filter((q) => q.execute === 'input-send-event').length < 2; i++) await tick(10);
    const events = qmpCommands.filter((q) => q.execute === 'input-send-event').map((q) => q.arguments!.events);
    assert.deepEqual(events[0], [{ type: 'key', data: { down: true, key: { type: 'qcode', data: 'a' } } }]);
    assert.equal(events[1]![0]!.type, 'abs');
    assert.deepEqual(events[1]!.at(-1), { type: 'btn', data: { down: true, button: 'left' } });
    c.close();
  });

  it('serves the browser viewer: the page and a PNG screenshot of the frame', async () => {
    const url = /browser viewer at (\S+)/.exec(d.stderrText())?.[1];
    assert.ok(url, 'the daemon printed the viewer URL');
    const page = await fetch(url!);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<canvas|<html/i);
    const shot = await fetch(new URL('/screenshot/0.png', url!));
    assert.equal(shot.status, 200);
    const png = Buffer.from(await shot.arrayBuffer());
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [24, 12]);
    assert.equal((await fetch(new URL('/screenshot/5.png', url!))).status, 404);
  });

  it('refuses a password file without --vnc', async () => {
    const { spawnSync } = await import('node:child_process');
    const { daemonMain } = await import('../support/daemon.js');
    const r = spawnSync(process.execPath, [daemonMain, '--socket-path', '/tmp/x.sock', '--vnc-password-file', '/etc/hostname'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--vnc-password-file needs --vnc/);
  });
});
