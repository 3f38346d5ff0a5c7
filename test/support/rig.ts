// The real-QEMU rig (scripts/rig): QEMU 11.1 with vfio-user-pci booting an
// arm64 guest whose /test.sh prints "AGFX-RESULT key=value" lines.
import { spawnSync } from 'node:child_process';
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

export function runGuest(opts: { sockets: string[]; test: string; append?: string; timeoutS?: number }): GuestRun {
  const args = [join(repoRoot, 'scripts/rig/run-guest.sh')];
  for (const s of opts.sockets) args.push('--socket', s);
  args.push('--test', join(repoRoot, opts.test), '--timeout', String(opts.timeoutS ?? 150));
  if (opts.append) args.push('--append', opts.append);
  const r = spawnSync('bash', args, { encoding: 'utf8', timeout: ((opts.timeoutS ?? 150) + 30) * 1000 });
  const output = `${r.stdout}\n${r.stderr}`;
  const results = new Map<string, string>();
  for (const m of output.matchAll(/^AGFX-RESULT (\S+?)=(.*)$/gm)) results.set(m[1]!, m[2]!.trim());
  return { status: r.status, results, output };
}
