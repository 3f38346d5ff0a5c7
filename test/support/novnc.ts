// noVNC in headless Chromium for the real-client tests: two noVNC trees
// (npm's current @novnc/novnc, pinned in package.json, and Debian's `novnc`
// package, 1.3 on Debian 12) served over HTTP next to a small harness page
// that loads one tree's core/rfb.js, connects it to a WebSocket URL, and hands
// the canvas's pixels back. Debian's tree is installed with apt-get when
// missing (as root), like Chromium.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize } from 'node:path';
import type { Page } from 'playwright-core';
import { foreignEnv } from './chromium.js';

export const NOVNC_DEBIAN = '/usr/share/novnc';
/** The package's root: its one export is core/rfb.js. */
export const NOVNC_NPM = dirname(dirname(createRequire(import.meta.url).resolve('@novnc/novnc')));
export type NoVncTree = 'npm' | 'debian';
const ROOTS: Record<NoVncTree, string> = { npm: NOVNC_NPM, debian: NOVNC_DEBIAN };

/** The tree's version, from its package.json (npm) or dpkg (Debian). */
export function noVncVersion(tree: NoVncTree): string {
  if (tree === 'npm') return (JSON.parse(readFileSync(join(NOVNC_NPM, 'package.json'), 'utf8')) as { version: string }).version;
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'novnc'], { encoding: 'utf8', env: foreignEnv() });
  return r.stdout.trim() || 'unknown';
}

/** Returns why Debian's noVNC is unavailable, or null when it is there. */
export function ensureDebianNoVnc(): string | null {
  if (existsSync(join(NOVNC_DEBIAN, 'core', 'rfb.js'))) return null;
  if (process.getuid?.() !== 0) return `${NOVNC_DEBIAN} is missing and we are not root to apt-get install novnc`;
  const env = foreignEnv({ DEBIAN_FRONTEND: 'noninteractive' });
  spawnSync('apt-get', ['update'], { stdio: 'ignore', env, timeout: 5 * 60 * 1000 });
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'novnc'], { encoding: 'utf8', env, timeout: 10 * 60 * 1000 });
  if (existsSync(join(NOVNC_DEBIAN, 'core', 'rfb.js'))) return null;
  return `apt-get install novnc failed (exit ${r.status}): ${(r.stderr || r.stdout || '').trim().split('\n').slice(-2).join(' ')}`;
}

const HARNESS = `<!doctype html>
<html><head><meta charset="utf-8"><title>noVNC harness</title>
<style>html,body{margin:0;padding:0;background:#000}#screen{width:2000px;height:2000px}</style></head>
<body><div id="screen"></div>
<script type="module">
window.vnc = { state: 'new', events: [] };
window.startVnc = async (tree, url, opts) => {
  const { default: RFB } = await import('/' + tree + '/core/rfb.js');
  const orig = RFB.messages.clientEncodings;
  // The encodings this noVNC offers, minus any the test takes away.
  RFB.messages.clientEncodings = function (sock, encs) {
    const kept = encs.filter((e) => !opts.without.includes(e));
    window.vnc.encodings = kept;
    return orig.call(this, sock, kept);
  };
  const rfb = new RFB(document.getElementById('screen'), url, opts.password ? { credentials: { password: opts.password } } : {});
  window.rfb = rfb;
  window.vnc.state = 'connecting';
  rfb.addEventListener('connect', () => { window.vnc.state = 'connected'; window.vnc.events.push('connect'); });
  rfb.addEventListener('disconnect', (e) => { window.vnc.state = 'disconnected'; window.vnc.events.push('disconnect clean=' + e.detail.clean); });
  rfb.addEventListener('securityfailure', (e) => window.vnc.events.push('securityfailure ' + e.detail.status + ' ' + (e.detail.reason || '')));
  rfb.addEventListener('desktopname', (e) => { window.vnc.name = e.detail.name; });
};
</script></body></html>`;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.html': 'text/html',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Serves /harness.html and the two noVNC trees (/npm/..., /debian/...) on 127.0.0.1. */
export async function serveNoVnc(): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/harness.html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(HARNESS);
      return;
    }
    const m = /^\/(npm|debian)(\/.*)$/.exec(path);
    const root = m ? ROOTS[m[1] as NoVncTree] : null;
    const file = root ? normalize(join(root, m![2]!)) : null;
    if (!file || !file.startsWith(root! + '/') || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export interface NoVncOptions {
  /** Encodings taken out of the list this noVNC offers (e.g. [1]: no CopyRect). */
  without?: number[];
  password?: string;
}

/** Opens the harness in `page` and connects `tree`'s noVNC to `wsUrl`; resolves once connected. */
export async function openNoVnc(page: Page, base: string, tree: NoVncTree, wsUrl: string, opts: NoVncOptions = {}): Promise<void> {
  await page.goto(`${base}/harness.html`);
  await page.waitForFunction(() => typeof (window as unknown as { startVnc?: unknown }).startVnc === 'function');
  await page.evaluate(([t, u, o]) => (window as unknown as { startVnc: (...a: unknown[]) => Promise<void> }).startVnc(t, u, o), [
    tree,
    wsUrl,
    { without: opts.without ?? [], password: opts.password ?? null },
  ] as const);
  await page.waitForFunction(() => (window as unknown as { vnc: { state: string } }).vnc.state !== 'connecting', undefined, {
    timeout: 15_000,
  });
}

export interface NoVncState {
  state: string;
  events: string[];
  encodings?: number[];
  name?: string;
}

export const noVncState = (page: Page): Promise<NoVncState> => page.evaluate(() => (window as unknown as { vnc: NoVncState }).vnc);

/** The noVNC canvas (in #screen, on the harness and on Debian's vnc_lite.html): width, height and RGBA pixels. */
export async function readNoVncCanvas(page: Page): Promise<{ width: number; height: number; rgba: Buffer }> {
  const r = await page.evaluate(() => {
    const c = document.querySelector('#screen canvas') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let s = '';
    for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode.apply(null, Array.from(d.subarray(i, i + 0x8000)));
    return { width: c.width, height: c.height, rgba: btoa(s) };
  });
  return { width: r.width, height: r.height, rgba: Buffer.from(r.rgba, 'base64') };
}
