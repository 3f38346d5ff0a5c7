// Debian's Chromium for browser tests, driven by playwright-core: installed
// with apt-get when missing (as root), never a downloaded browser build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** The flags this workplace's closed network needs (no background connections). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Returns why Chromium is unavailable, or null when it is there. */
export function ensureChromium(): string | null {
  if (existsSync(CHROMIUM)) return null;
  if (process.getuid?.() !== 0) return `${CHROMIUM} is missing and we are not root to apt-get install chromium`;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update'], { stdio: 'ignore', env, timeout: 5 * 60 * 1000 });
  const r = spawnSync('apt-get', ['install', '-y', 'chromium'], { encoding: 'utf8', env, timeout: 10 * 60 * 1000 });
  if (existsSync(CHROMIUM)) return null;
  return `apt-get install chromium failed (exit ${r.status}): ${(r.stderr || r.stdout || '').trim().split('\n').slice(-2).join(' ')}`;
}

/** Prints a loud banner so a skipped browser test is never mistaken for a pass. */
export function browserSkipBanner(what: string, reason: string): string {
  const line = '!'.repeat(78);
  process.stdout.write(`\n${line}\n!! ${what} SKIPPED: ${reason}\n${line}\n\n`);
  return `${what.toLowerCase()} skipped: ${reason}`;
}

/**
 * The environment for programs we did not build (Chromium, Xvfb, VNC
 * viewers): without the sanitizer runtime scripts/asan-test.sh preloads into
 * our Node processes, which does not belong in theirs.
 */
export function foreignEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && k !== 'LD_PRELOAD' && !k.startsWith('ASAN_') && !k.startsWith('UBSAN_')) env[k] = v;
  return { ...env, ...extra };
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, env: foreignEnv() });
}
