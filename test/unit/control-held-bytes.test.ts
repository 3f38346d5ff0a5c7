// The control socket's bound on request bytes held (control-server.ts,
// MAX_BUFFERED; docs/security.md): bytes still being received and bytes of
// requests received but not yet answered count together, across clients. A
// request waiting for a device operation (here: behind one that does not
// end) keeps counting, so a second big request from another client drops that
// client instead of piling up; once the first is answered, the same request
// goes through.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { ControlClient } from '#daemon/control/control-client.js';
import type { DaemonContext } from '#daemon/control/context.js';
import { ControlServer } from '#daemon/control/control-server.js';
import { DeviceOps } from '#daemon/device/device-ops.js';

const LIMIT = 512 << 10;
const NAME = 'x'.repeat(300 << 10); // a 300 KiB request

describe('control requests held, all clients together', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agfx-ctl-held-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a big request waiting for the device counts; another client over the bound is dropped; afterwards it goes through', async () => {
    const ops = new DeviceOps();
    const attached: string[] = [];
    const ctx = {
      device: { ops },
      displays: {
        attach: (_modes: unknown, port: number, name: string) => {
          attached.push(name);
          return {
            port,
            serial: 1,
            name,
            modes: [],
            width: 0,
            height: 0,
            presented: 0,
            readouts: 0,
            cursor: { visible: false, x: 0, y: 0 },
          };
        },
      },
    } as unknown as DaemonContext;
    const path = join(dir, 'ctl.sock');
    const server = new ControlServer(path, ctx, pino({ level: 'silent' }), LIMIT);
    await server.start();
    let release = (): void => {};
    const blocker = ops.run('a reset that takes long', () => new Promise<void>((r) => (release = r)));
    const a = await ControlClient.connect(path);
    const b = await ControlClient.connect(path);
    try {
      const modes = [{ width: 64, height: 64, refreshHz: 60 }];
      const first = a.call('displayAdd', { port: 0, modes, name: NAME });
      await new Promise((r) => setTimeout(r, 50));
      const second = b.call('displayAdd', { port: 1, modes, name: NAME });
      const outcome = await Promise.race([
        second.then(
          () => 'answered',
          (e: Error) => e.message,
        ),
        new Promise((r) => setTimeout(() => r('still held after 2 s'), 2000)),
      ]);
      assert.equal(outcome, 'control connection closed', 'the second big request drops its client');
      release();
      await blocker;
      assert.equal((await first).port, 0);
      const c = await ControlClient.connect(path);
      try {
        assert.equal((await c.call('displayAdd', { port: 1, modes, name: NAME })).port, 1, 'nothing held now: it goes through');
      } finally {
        c.close();
      }
      assert.equal(attached.length, 2);
    } finally {
      a.close();
      b.close();
      server.stop();
    }
  });
});
