// Starts the real apple-gfxd (the compiled program) on a fresh unix socket
// and gives tests what they need to look at it from outside: its log lines,
// its fd count and its memory mappings.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectClient } from '#daemon/native-transport.js';
import type { VfioUserClient } from 'vfio-user-ts';

/** dist-test/test/support -> repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const daemonMain = join(repoRoot, 'dist', 'daemon', 'src', 'main.js');

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

export interface RunningDaemon {
  proc: ChildProcess;
  pid: number;
  socketPath: string;
  dir: string;
  logs: LogLine[];
  stderrText(): string;
  connect(): VfioUserClient;
  /** Connects and negotiates VERSION as QEMU does. */
  connectNegotiated(): Promise<VfioUserClient>;
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  fdCount(): number;
  /** Lines of /proc/PID/maps that map a memfd. */
  memfdMappings(): string[];
  alive(): boolean;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Whether the backend under test reports guest errors to the daemon
 * (apple_gfx_guest_error). PVG has no such channel (it logs to os_log), so
 * under APPLE_GFXD_TEST_BACKEND=pvg the daemon cannot log the guest's mistakes.
 */
export const backendLogsGuestErrors = process.env.APPLE_GFXD_TEST_BACKEND !== 'pvg';

export async function startDaemon(
  args: string[] = [],
  opts: { socketName?: string; dir?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunningDaemon> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'agfx-test-'));
  const socketPath = join(dir, opts.socketName ?? 'gfx.sock');
  // APPLE_GFXD_TEST_BACKEND=pvg runs the suite against another backend (on
  // Linux: the pvg backend on the PVG double), unless the test picks one.
  const backend = process.env.APPLE_GFXD_TEST_BACKEND;
  const backendArgs = backend && !args.includes('--backend') ? ['--backend', backend] : [];
  const proc = spawn(process.execPath, [daemonMain, '--socket-path', socketPath, '--log-level', 'debug', ...backendArgs, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
  });
  const logs: LogLine[] = [];
  let stderr = '';
  let partial = '';
  const waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const text of lines) {
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as LogLine;
      logs.push(line);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.pred(line)) waiters.splice(i, 1)[0]!.resolve(line);
      }
    }
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res((exitCode = code))));

  const waitForLog = (pred: (l: LogLine) => boolean, timeoutMs = 5000): Promise<LogLine> => {
    const found = logs.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`log line not seen in ${timeoutMs} ms; stderr:\n${stderr.slice(-3000)}`)), timeoutMs);
      waiters.push({ pred, resolve: (l) => (clearTimeout(timer), res(l)) });
    });
  };
  await Promise.race([
    waitForLog((l) => l.msg === 'apple_gfx_common_init', 10000),
    exited.then((c) => {
      throw new Error(`daemon exited with ${c} before serving:\n${stderr}`);
    }),
  ]);

  const d: RunningDaemon = {
    proc,
    pid: proc.pid!,
    socketPath,
    dir,
    logs,
    stderrText: () => stderr,
    connect: () => connectClient(socketPath),
    async connectNegotiated() {
      const c = connectClient(socketPath);
      await c.version();
      return c;
    },
    waitForLog,
    fdCount: () => readdirSync(`/proc/${proc.pid}/fd`).length,
    memfdMappings: () =>
      readFileSync(`/proc/${proc.pid}/maps`, 'utf8')
        .split('\n')
        .filter((l) => l.includes('/memfd:')),
    alive: () => exitCode === undefined,
    async stop(signal = 'SIGTERM') {
      if (exitCode === undefined) proc.kill(signal);
      const code = await exited;
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
  return d;
}

/** Resolves after the event loop has had a chance to deliver pending I/O. */
export const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));
