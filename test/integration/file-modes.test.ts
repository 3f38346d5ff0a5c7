// Who else can reach what the daemon creates (issue 12, defect 9). Under
// umask 000 the control socket must never be reachable by another user, not
// even for the moment between its creation and a chmod; the vfio-user socket
// likewise. `ctl save` and `ctl screenshot` hold the guest's screen: written
// 0600 whatever the umask, also over an existing file.
// Before the fix (main of 2026-12-07): another user (nobody) reached the
// control socket during start-up (the daemon listened first and chmodded in
// the listen callback), and saved states and screenshots were 0644 at umask 022.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodeRequest } from '#daemon/control/schema.js';
import { daemonMain, startDaemon } from '../support/daemon.js';

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

/**
 * Another user (nobody) trying, as fast as it can, to connect to `paths` and
 * get an answer to `hello` bytes (any byte back counts) until told to stop.
 * Prints one line per path it got an answer from.
 */
function intruder(paths: string[], hello: Buffer) {
  const code = `
    const net = require('node:net');
    const paths = ${JSON.stringify(paths)};
    const hello = Buffer.from('${hello.toString('hex')}', 'hex');
    const got = new Set();
    let stop = false;
    process.stdin.on('end', () => { stop = true; setTimeout(() => { for (const p of got) console.log('ANSWERED ' + p); process.exit(0); }, 300); });
    process.stdin.resume();
    for (const p of paths) (function attempt() {
      if (stop || got.has(p)) return;
      const s = net.connect(p);
      s.on('connect', () => s.write(hello));
      s.on('data', () => { got.add(p); s.destroy(); });
      s.on('error', () => setImmediate(attempt));
      s.on('close', () => setImmediate(attempt));
    })();`;
  const proc = spawn(process.execPath, ['-e', code], { uid: NOBODY, gid: NOBODY, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  return {
    async stop(): Promise<string[]> {
      proc.stdin!.end();
      await new Promise((r) => proc.on('exit', r));
      return out
        .split('\n')
        .filter((l) => l.startsWith('ANSWERED '))
        .map((l) => l.slice(9));
    },
  };
}

describe('modes of what the daemon and ctl create', { skip: asRoot ? false : 'needs root to act as another user' }, () => {
  it('under umask 000, another user never reaches the control or vfio-user socket during start-up', async () => {
    const status = encodeRequest({ id: 1, schemaVersion: 1, status: {} });
    const reached: string[] = [];
    const modes = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'agfx-modes-'));
      chmodSync(dir, 0o755); // others may look in: only the sockets' own modes keep them out
      const sock = join(dir, 'gfx.sock');
      const spy = intruder([`${sock}.ctl`, sock], status);
      await new Promise((r) => setTimeout(r, 200));
      const old = process.umask(0);
      let d;
      try {
        d = await startDaemon(['--log-level', 'info'], { dir });
      } finally {
        process.umask(old);
      }
      await new Promise((r) => setTimeout(r, 200));
      reached.push(...(await spy.stop()));
      modes.add((statSync(`${sock}.ctl`).mode & 0o777).toString(8));
      modes.add((statSync(sock).mode & 0o777).toString(8));
      await d.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(JSON.stringify({ starts: 5, reachedByNobody: reached, modes: [...modes] }));
    assert.deepEqual(reached, [], 'another user got an answer');
    assert.deepEqual([...modes], ['600']);
  });

  it('ctl save and ctl screenshot write 0600 at umask 022, also over an existing 0644 file', async () => {
    const d = await startDaemon(['--display', '64x48@60', '--log-level', 'info']);
    try {
      const control = `${d.socketPath}.ctl`;
      const out: Record<string, string> = {};
      for (const [what, args] of [
        ['save', ['save', join(d.dir, 'state.bin')]],
        ['screenshot', ['screenshot', '0', join(d.dir, 'shot.png')]],
      ] as const) {
        for (const existing of [false, true]) {
          const file = args[args.length - 1]!;
          rmSync(file, { force: true });
          if (existing) writeFileSync(file, 'old', { mode: 0o644 });
          const r = spawnSync(
            'sh',
            ['-c', `umask 022; exec "$0" "$@"`, process.execPath, daemonMain, 'ctl', '--control', control, ...args],
            { encoding: 'utf8' },
          );
          assert.equal(r.status, 0, r.stderr);
          out[`${what}${existing ? ' over 0644' : ''}`] = (statSync(file).mode & 0o777).toString(8);
        }
      }
      console.log(JSON.stringify(out));
      assert.deepEqual(Object.values(out), ['600', '600', '600', '600']);
    } finally {
      await d.stop();
    }
  });

  it('a token or password file others can read is named in a warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agfx-secret-'));
    const token = join(dir, 'web.token');
    writeFileSync(token, 'sekrit\n', { mode: 0o644 });
    chmodSync(token, 0o644);
    const d = await startDaemon(['--web', '127.0.0.1:0', '--web-token-file', token, '--log-level', 'info']);
    try {
      const w = await d.waitForLog((l) => l.msg === 'secret_file_exposed');
      assert.match(String(w.what), /web\.token is readable by other users \(mode 0644\)/);
    } finally {
      await d.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
