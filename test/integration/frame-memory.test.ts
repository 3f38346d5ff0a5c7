// Frame memory is bounded per display and per daemon (issue 12, defect 6),
// refused with a clear error before any backend allocates it. The daemon
// runs under a 6 GiB address-space limit, as in the report.
// Before the fix (main of 2026-12-07): `display add 65535x65535@60` (the docs
// allowed it) made the soft device allocate a 17 GiB frame; the daemon died
// with std::bad_alloc and left its sockets behind.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { underSanitizer } from '../support/hostile-peers.js';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ControlClient, ControlReplyError } from '#daemon/control/control-client.js';
import { daemonMain, startDaemon } from '../support/daemon.js';

const LIMIT = String(6 * 2 ** 30);
const havePrlimit = spawnSync('prlimit', ['--version']).status === 0;

/** The daemon under `prlimit --as=6GiB`; resolves once its control socket answers. */
async function limitedDaemon(args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'agfx-frames-'));
  const sock = join(dir, 'gfx.sock');
  const proc = spawn('prlimit', [`--as=${LIMIT}`, process.execPath, daemonMain, '--socket-path', sock, '--log-level', 'info', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  let exit: number | null | undefined;
  const exited = new Promise<void>((r) => proc.on('exit', (c) => ((exit = c), r())));
  for (let i = 0; i < 200 && exit === undefined && !stderr.includes('apple_gfx_common_init'); i++)
    await new Promise((r) => setTimeout(r, 50));
  return {
    sock,
    ctl: `${sock}.ctl`,
    get exit() {
      return exit;
    },
    get stderr() {
      return stderr;
    },
    async stop() {
      if (exit === undefined) proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe(
  'frame memory bounds',
  {
    skip: !havePrlimit
      ? 'no prlimit'
      : underSanitizer
        ? 'an address-space limit cannot hold a sanitizer runtime (its shadow memory is reserved up front)'
        : false,
  },
  () => {
    it('display add of 65535x65535 is BAD_MODE and the daemon lives; the daemon-wide budget holds', async () => {
      const d = await limitedDaemon(['--display', '1920x1080@60']);
      try {
        assert.equal(d.exit, undefined, d.stderr);
        const c = await ControlClient.connect(d.ctl);
        const refused = async (modes: object[]): Promise<string> => {
          try {
            await c.call('displayAdd', { modes });
            return 'OK';
          } catch (e) {
            assert.ok(e instanceof ControlReplyError, String(e));
            return `${e.code}: ${e.message}`;
          }
        };
        const huge = await refused([{ width: 65535, height: 65535, refreshHz: 60 }]);
        const big = { width: 8192, height: 8192, refreshHz: 60 }; // 256 MiB: the most one display may have
        const first = await refused([big]);
        const second = await refused([big]); // 1920x1080 + 2 x 256 MiB > 512 MiB
        console.log(JSON.stringify({ huge, first, second }));
        assert.match(huge, /^BAD_MODE: mode 0: 65535x65535 needs 16384 MiB of frame memory; at most 256 MiB a display/);
        assert.equal(first, 'OK');
        assert.match(second, /^BAD_MODE: the displays would need \d+ MiB of frame memory together; at most 512 MiB/);
        const s = await c.call('status');
        assert.equal(s.displays.length, 2);
        c.close();
        assert.equal(d.exit, undefined, `daemon died: ${d.stderr.slice(-2000)}`);
      } finally {
        await d.stop();
      }
    });

    it('--display 65535x65535 is refused at start-up with a clear message (exit 2), no socket left', async () => {
      const d = await limitedDaemon(['--display', '65535x65535@60']);
      await new Promise((r) => setTimeout(r, 200));
      try {
        assert.equal(d.exit, 2, d.stderr);
        assert.match(d.stderr, /65535x65535@60': 65535x65535 needs 16384 MiB of frame memory; at most 256 MiB a display/);
        assert.equal(existsSync(d.sock), false, 'no socket left behind');
      } finally {
        await d.stop();
      }
    });

    it('a frame the host cannot allocate is refused, not the end of the daemon', async () => {
      // Address space for one more 256 MiB frame, not two: the second display
      // add is within every documented bound, but the allocation fails.
      const d = await startDaemon(['--display', '640x480@60', '--log-level', 'info']);
      try {
        const vm = Number(/VmSize:\s+(\d+)/.exec(readFileSync(`/proc/${d.pid}/status`, 'utf8'))![1]) * 1024;
        const limit = vm + 400 * 2 ** 20;
        assert.equal(spawnSync('prlimit', ['--pid', String(d.pid), `--as=${limit}:${limit}`]).status, 0);
        const c = await ControlClient.connect(`${d.socketPath}.ctl`);
        const outcome = async (modes: object[]): Promise<string> =>
          c.call('displayAdd', { modes }).then(
            () => 'OK',
            (e: unknown) => (e instanceof ControlReplyError ? `${e.code}: ${e.message}` : String(e)),
          );
        const first = await outcome([{ width: 8192, height: 8192, refreshHz: 60 }]);
        const second = await outcome([{ width: 8192, height: 7000, refreshHz: 60 }]);
        await new Promise((r) => setTimeout(r, 300));
        console.log(JSON.stringify({ first, second, alive: d.alive() }));
        assert.ok(d.alive(), `the daemon died: ${d.stderrText().slice(-500)}`);
        assert.equal(first, 'OK');
        assert.match(second, /out of memory|cannot allocate|refused/i);
        // Still serving: status answers, and the failed display is not half there.
        const s = await c.call('status');
        assert.deepEqual(
          s.displays.map((x: { port: number }) => x.port),
          [0, 1],
        );
        c.close();
      } finally {
        await d.stop();
      }
    });
  },
);
