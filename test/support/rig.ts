// The real-QEMU rig (scripts/rig): QEMU 11.1 with vfio-user-pci booting a
// guest whose /test.sh prints "AGFX-RESULT key=value" lines. Two guest
// architectures: aarch64 on arm64 `virt` and x86_64 on `q35` (SeaBIOS), both
// under TCG.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, type LogLine } from './daemon.js';

export type GuestArch = 'aarch64' | 'x86_64';
/** Every architecture the e2e suites run on, with the QEMU machine each boots. */
/** The guests the e2e suites boot; APPLE_GFXD_TEST_ARCHES (e.g. `x86_64`) narrows them (CI's pvg-double run). */
export const GUEST_ARCHES: readonly { arch: GuestArch; machine: string }[] = (
  [
    { arch: 'aarch64', machine: 'virt' },
    { arch: 'x86_64', machine: 'q35' },
  ] as const
).filter((g) => !process.env.APPLE_GFXD_TEST_ARCHES || process.env.APPLE_GFXD_TEST_ARCHES.split(',').includes(g.arch));

const rigCache = process.env.APPLE_GFXD_CACHE ?? '/var/cache/apple-gfxd';
/** Where scripts/rig keeps one architecture's kernel, initramfs and programs (lib.sh: rig_guest_dir). */
export const guestDir = (arch: GuestArch): string => join(rigCache, arch === 'aarch64' ? 'guest' : `guest-${arch}`);

export interface GuestRun {
  status: number | null;
  results: Map<string, string>;
  output: string;
  /** QEMU's own stderr, line by line (run-guest.sh marks it "QEMU-STDERR: "). */
  qemuStderr: string[];
  /** Wall time of the boot, ms. */
  wallMs: number;
}

type Availability = { ok: boolean; reason: string };
const setupResults = new Map<GuestArch, Availability>();

/** Runs a rig script; 77 means "this machine cannot" (its RIG UNAVAILABLE line is the reason). */
function rigScript(script: string, args: string[], done: () => boolean): Availability {
  const r = spawnSync('bash', [join(repoRoot, 'scripts/rig', script), ...args], { encoding: 'utf8', timeout: 20 * 60 * 1000 });
  const out = `${r.stdout}\n${r.stderr}`;
  if (r.status === 0 && done()) return { ok: true, reason: '' };
  if (r.status === 77) return { ok: false, reason: (out.match(/RIG UNAVAILABLE: .*/)?.[0] ?? 'rig unavailable').trim() };
  throw new Error(`scripts/rig/${script} ${args.join(' ')} failed (exit ${r.status}):\n${out.slice(-4000)}`);
}

/** Builds the rig for `arch` if needed (idempotent, cached). Returns why not when this machine cannot. */
export function ensureRig(arch: GuestArch = 'aarch64'): Availability {
  let r = setupResults.get(arch);
  if (!r) {
    r = rigScript('setup.sh', [arch], () => true);
    setupResults.set(arch, r);
  }
  return r;
}

/** The rig plus test/guest/*.c compiled for `arch` (installs the compiler if needed). */
export function ensureGuestPrograms(arch: GuestArch): Availability {
  const rig = ensureRig(arch);
  if (!rig.ok) return rig;
  return rigScript('build-guest-programs.sh', [arch], () => existsSync(guestProgram(arch, 'soft-driver')));
}

/** A guest program: in $APPLE_GFXD_GUEST_PROGRAMS/<arch>/ when set (build-guest-programs.sh), else the cache's. */
export const guestProgram = (arch: GuestArch, name: string): string =>
  process.env.APPLE_GFXD_GUEST_PROGRAMS ? join(process.env.APPLE_GFXD_GUEST_PROGRAMS, arch, name) : join(guestDir(arch), 'bin', name);

/** Announces a skipped e2e test so nobody mistakes it for a pass. */
export function loudSkip(reason: string): string {
  const line = '!'.repeat(78);
  process.stdout.write(`\n${line}\n!! REAL-QEMU END-TO-END TESTS SKIPPED: ${reason}\n${line}\n\n`);
  return `real-QEMU e2e skipped: ${reason}`;
}

/** QEMU's stderr lines in run-guest.sh's output (marked "QEMU-STDERR: "). */
export function qemuStderrOf(output: string): string[] {
  // Not anchored: the serial console may leave a line unterminated before it.
  return [...output.matchAll(/QEMU-STDERR: (.*)$/gm)].map((m) => m[1]!.replace(/\r$/, ''));
}

/**
 * Boots a guest and resolves when it powers off. Asynchronous on purpose: the
 * test process must keep draining the daemon's log pipe meanwhile, or a
 * daemon logging at debug level would block on a full pipe mid-boot.
 */
export function runGuest(opts: {
  arch?: GuestArch;
  sockets: string[];
  test: string;
  programs?: string[];
  append?: string;
  timeoutS?: number;
  /** Plain -m: QEMU shares guest RAM without an fd. */
  plainRam?: boolean;
  /** QEMU's QMP socket (-qmp unix:PATH,server=on). */
  qmp?: string;
  /** QEMU's -name. */
  name?: string;
}): Promise<GuestRun> {
  const timeoutS = opts.timeoutS ?? 150;
  const args = [join(repoRoot, 'scripts/rig/run-guest.sh'), '--arch', opts.arch ?? 'aarch64'];
  for (const s of opts.sockets) args.push('--socket', s);
  for (const p of opts.programs ?? []) args.push('--program', p);
  args.push('--test', join(repoRoot, opts.test), '--timeout', String(timeoutS));
  if (opts.append) args.push('--append', opts.append);
  if (opts.plainRam) args.push('--plain-ram');
  if (opts.qmp) args.push('--qmp', opts.qmp);
  if (opts.name) args.push('--name', opts.name);
  const start = Date.now();
  return new Promise((resolve) => {
    const child = spawn('bash', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
    const killer = setTimeout(() => child.kill('SIGTERM'), (timeoutS + 30) * 1000);
    child.on('close', (status) => {
      clearTimeout(killer);
      const results = new Map<string, string>();
      for (const m of output.matchAll(/^AGFX-RESULT (\S+?)=(.*)$/gm)) results.set(m[1]!, m[2]!.trim());
      resolve({ status, results, output, qemuStderr: qemuStderrOf(output), wallMs: Date.now() - start });
    });
  });
}

/**
 * Neither side complained: no vfio-user line on QEMU's stderr (error replies,
 * "Could not enable error recovery", ...) and no daemon log line at level
 * error or above during the boot.
 */
export function assertNoErrors(qemuStderr: string[], daemonLogs: LogLine[], context = ''): void {
  const vfio = qemuStderr.filter((l) => /vfio/i.test(l));
  assert.deepEqual(vfio, [], `QEMU's stderr has no vfio-user line${context}`);
  const errors = daemonLogs.filter((l) => l.level === 'error' || l.level === 'fatal');
  assert.deepEqual(errors, [], `the daemon logged no error${context}`);
}
