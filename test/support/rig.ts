// The real-QEMU rig (scripts/rig): QEMU 11.1 with vfio-user-pci booting an
// arm64 guest whose /test.sh prints "AGFX-RESULT key=value" lines.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './daemon.js';

export interface GuestRun {
  status: number | null;
  results: Map<string, string>;
  output: string;
}

let setupResult: { ok: boolean; reason: string } | null = null;

/** Builds the rig if needed (idempotent, cached). Returns why not when this machine cannot. */
export function ensureRig(): { ok: boolean; reason: string } {
  if (setupResult) return setupResult;
  const r = spawnSync('bash', [join(repoRoot, 'scripts/rig/setup.sh')], { encoding: 'utf8', timeout: 20 * 60 * 1000 });
  const out = `${r.stdout}\n${r.stderr}`;
  if (r.status === 0) setupResult = { ok: true, reason: '' };
  else if (r.status === 77) setupResult = { ok: false, reason: (out.match(/RIG UNAVAILABLE: .*/)?.[0] ?? 'rig unavailable').trim() };
  else throw new Error(`scripts/rig/setup.sh failed (exit ${r.status}):\n${out.slice(-4000)}`);
  return setupResult;
}

/** Announces a skipped e2e test so nobody mistakes it for a pass. */
export function loudSkip(reason: string): string {
  const line = '!'.repeat(78);
  process.stdout.write(`\n${line}\n!! REAL-QEMU END-TO-END TESTS SKIPPED: ${reason}\n${line}\n\n`);
  return `real-QEMU e2e skipped: ${reason}`;
}

/**
 * Boots a guest and resolves when it powers off. Asynchronous on purpose: the
 * test process must keep draining the daemon's log pipe meanwhile, or a
 * daemon logging at debug level would block on a full pipe mid-boot.
 */
export function runGuest(opts: { sockets: string[]; test: string; append?: string; timeoutS?: number }): Promise<GuestRun> {
  const args = [join(repoRoot, 'scripts/rig/run-guest.sh')];
  for (const s of opts.sockets) args.push('--socket', s);
  args.push('--test', join(repoRoot, opts.test), '--timeout', String(opts.timeoutS ?? 150));
  if (opts.append) args.push('--append', opts.append);
  return new Promise((resolve) => {
    const child = spawn('bash', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.on('close', (status) => {
      const results = new Map<string, string>();
      for (const m of output.matchAll(/^AGFX-RESULT (\S+?)=(.*)$/gm)) results.set(m[1]!, m[2]!.trim());
      resolve({ status, results, output });
    });
  });
}
