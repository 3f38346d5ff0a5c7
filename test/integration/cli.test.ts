// The program: flags, exit codes, signals, socket ownership, socket activation.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { native } from '#daemon/native.js';
import { connectClient } from '#daemon/native-transport.js';
import { daemonMain, repoRoot, startDaemon, tick } from '../support/daemon.js';
import { DEVICE_ID, Reg } from '../support/soft-ring.js';

const run = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, [daemonMain, ...args], { encoding: 'utf8', timeout: 10000, env });
const tmp = () => mkdtempSync(join(tmpdir(), 'agfx-cli-'));

describe('apple-gfxd command line', () => {
  it('--help lists the flags and exits 0', () => {
    const r = run(['--help']);
    assert.equal(r.status, 0);
    for (const flag of ['--socket-path', '--fd', '--variant', '--backend', '--log-level', '--print-capabilities'])
      assert.ok(r.stdout.includes(flag), `help mentions ${flag}`);
  });

  it("--version prints package.json's version and exits 0", () => {
    const r = run(['--version']);
    assert.equal(r.status, 0, r.stderr);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it("README's options are apple-gfxd --help, its synopsis docs/usage.md's", () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const block = (text: string, after: string): string => {
      const start = text.indexOf('```\n', text.indexOf(after)) + 4;
      return text.slice(start, text.indexOf('```', start));
    };
    assert.equal(block(readme, '<!-- options: apple-gfxd --help -->'), run(['--help']).stdout);
    const usage = readFileSync(join(repoRoot, 'docs/usage.md'), 'utf8');
    assert.equal(block(readme, '## Synopsis'), block(usage, '## Synopsis'));
  });

  const usageErrors: [string, string[], RegExp][] = [
    ['no socket at all', [], /one of --socket-path PATH or --fd N is required/],
    ['both --socket-path and --fd', ['--socket-path', '/tmp/x.sock', '--fd', '3'], /cannot be used with/],
    ['a bad --variant', ['--socket-path', '/tmp/x.sock', '--variant', 'vga'], /Allowed choices are pci, mmio/],
    ['a non-numeric --fd', ['--fd', 'three'], /--fd must be a whole number/],
    ['an unknown backend', ['--socket-path', '/tmp/x.sock', '--backend', 'metal'], /unknown backend 'metal'/],
    ['a bad --log-level', ['--socket-path', '/tmp/x.sock', '--log-level', 'loud'], /Allowed choices/],
    ['a bad --socket-mode', ['--socket-path', '/tmp/x.sock', '--socket-mode', '999'], /octal mode/],
    ['an unknown flag', ['--socket-path', '/tmp/x.sock', '--frobnicate'], /unknown option '--frobnicate'/],
  ];
  for (const [name, args, message] of usageErrors) {
    it(`exits 2 with a clear message for ${name}`, () => {
      const r = run(args);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }

  it('--print-capabilities prints a JSON description and exits 0', () => {
    const r = run(['--print-capabilities']);
    assert.equal(r.status, 0, r.stderr);
    const caps = JSON.parse(r.stdout);
    assert.equal(caps.type, 'gpu');
    assert.equal(caps.protocol.name, 'vfio-user');
    assert.deepEqual(caps.variants, ['pci', 'mmio']);
    const soft = caps.backends.find((b: { name: string }) => b.name === 'soft');
    assert.equal(soft.available, true);
    assert.ok(Array.isArray(caps.features) && caps.features.includes('msix'));
  });

  it(
    'refuses the pvg backend where the framework does not exist and no PVG double is built, exit 1',
    { skip: process.platform === 'darwin' },
    () => {
      const dir = tmp();
      // The PVG double, when built (npm run build:pvg-double), stands in on Linux: point away from it.
      const r = run(['--socket-path', join(dir, 's'), '--backend', 'pvg'], { ...process.env, APPLE_GFXD_PVG_DOUBLE: join(dir, 'none.so') });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /only on macOS/);
      rmSync(dir, { recursive: true });
    },
  );

  it('creates the socket 0600 by default, or with --socket-mode', async () => {
    const d = await startDaemon();
    assert.equal(statSync(d.socketPath).mode & 0o777, 0o600);
    await d.stop();
    const d2 = await startDaemon(['--socket-mode', '0660']);
    assert.equal(statSync(d2.socketPath).mode & 0o777, 0o660);
    await d2.stop();
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`on ${signal} closes the client, removes the socket and exits 0`, async () => {
      const d = await startDaemon();
      const c = await d.connectNegotiated();
      const closed = c.waitClosed();
      assert.equal(await d.stop(signal), 0);
      await closed;
      assert.equal(existsSync(d.socketPath), false);
    });
  }

  it('refuses a socket path that another live daemon serves, and leaves it alone', async () => {
    const d = await startDaemon();
    const r = run(['--socket-path', d.socketPath]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /another process is serving/);
    const c = await d.connectNegotiated();
    assert.equal(await c.read32(0, 0x1000), 0x58464741, 'the first daemon still serves');
    c.close();
    await d.stop();
  });

  it('replaces a stale socket left by a dead process', async () => {
    const dir = tmp();
    const path = join(dir, 'stale.sock');
    native.closeFd(native.listenUnix(path, 0o600)); // bound, then nobody listens
    assert.ok(existsSync(path));
    const proc = spawn(process.execPath, [daemonMain, '--socket-path', path], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (b) => (err += b));
    for (let i = 0; i < 100 && !err.includes('apple_gfx_common_init'); i++) await tick(50);
    const c = connectClient(path);
    assert.equal((await c.version()).major, 0);
    c.close();
    proc.kill('SIGTERM');
    await new Promise((r) => proc.on('exit', r));
    rmSync(dir, { recursive: true });
  });

  it('refuses a path that exists and is not a socket', () => {
    const dir = tmp();
    const path = join(dir, 'file');
    writeFileSync(path, 'x');
    const r = run(['--socket-path', path]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not a socket/);
    assert.ok(existsSync(path), 'the file is untouched');
    rmSync(dir, { recursive: true });
  });

  /** Hands the daemon a listening socket as fd 3, checks that it serves on it, then stops it (exit 0). */
  async function servesInherited(name: string, start: (fd: number) => ChildProcess): Promise<void> {
    const dir = tmp();
    const path = join(dir, name);
    const lfd = native.listenUnix(path, 0o600);
    const proc = start(lfd);
    native.closeFd(lfd);
    let err = '';
    proc.stderr!.on('data', (b) => (err += b));
    for (let i = 0; i < 100 && !err.includes('apple_gfx_common_init'); i++) await tick(50);
    const c = connectClient(path);
    await c.version();
    assert.equal(await c.read32(0, Reg.ID), DEVICE_ID);
    c.close();
    proc.kill('SIGTERM');
    assert.equal(await new Promise((r) => proc.on('exit', r)), 0);
    rmSync(dir, { recursive: true });
  }

  it('serves an inherited listening socket with --fd (socket activation)', () =>
    servesInherited('activated.sock', (lfd) =>
      spawn(process.execPath, [daemonMain, '--fd', '3'], { stdio: ['ignore', 'ignore', 'pipe', lfd] }),
    ));

  it('serves a socket handed over by systemd socket activation (LISTEN_FDS/LISTEN_PID, fd 3)', () =>
    servesInherited('systemd.sock', (lfd) =>
      spawn('sh', ['-c', `LISTEN_PID=$$ LISTEN_FDS=1 exec "${process.execPath}" "${daemonMain}"`], {
        stdio: ['ignore', 'ignore', 'pipe', lfd],
      }),
    ));

  it('--write-option-rom says plainly that it needs macOS here, exit 1', { skip: process.platform === 'darwin' }, () => {
    const r = run(['--write-option-rom', '/tmp/never-written.rom']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /needs macOS/);
    assert.equal(existsSync('/tmp/never-written.rom'), false);
  });

  it('refuses LISTEN_FDS meant for another process, exit 2', () => {
    const r = spawnSync(process.execPath, [daemonMain], { encoding: 'utf8', env: { ...process.env, LISTEN_FDS: '1', LISTEN_PID: '1' } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /LISTEN_FDS is set for pid 1, not this process/);
  });

  it('refuses --fd that is not a listening unix socket, exit 1', () => {
    const r = spawnSync(process.execPath, [daemonMain, '--fd', '0'], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /fd 0 is not a/);
  });
});
