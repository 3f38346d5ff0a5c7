// Real VNC clients on the real thing (issue 17): apple-gfxd (the program)
// serves a real QEMU 11.1 arm64 guest running the demo (test/guest/
// soft-driver.c: a COPY_RECT scroll and two hinted presents per frame, a
// circling cursor, a mode change every 10 s); noVNC from npm and Debian's
// noVNC 1.3 in headless Chromium on the daemon's --vnc-websocket port, and
// TigerVNC's viewer under Xvfb on its --vnc port, watch it. When the guest
// stops drawing (it idles with its last frame on screen), every client's
// picture must equal `apple-gfxd ctl screenshot` pixel for pixel.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { Encoding } from '#daemon/viewers/vnc/rfb.js';
import { ensureChromium, launchChromium } from '../support/chromium.js';
import { daemonMain, repoRoot, startDaemon, type RunningDaemon } from '../support/daemon.js';
import { ensureDebianNoVnc, noVncState, openNoVnc, readNoVncCanvas, serveNoVnc, type NoVncTree } from '../support/novnc.js';
import { assertShows, bgraToRgba, type Picture } from '../support/pixels.js';
import { decodePng } from '../support/png-decode.js';
import { ensureRig, loudSkip } from '../support/rig.js';
import { captureWindow, ensureTigerVnc, findWindows, startVncViewer, Xvfb, type Viewer } from '../support/tigervnc.js';

const rigCache = process.env.APPLE_GFXD_CACHE ?? '/var/cache/apple-gfxd';
const driverBin = join(rigCache, 'guest', 'bin', 'soft-driver');
const DEMO_SECONDS = 24; // mode changes at 10 s and 20 s

function guestPrograms(): { ok: boolean; reason: string } {
  const r = spawnSync('bash', [join(repoRoot, 'scripts/rig/build-guest-programs.sh')], { encoding: 'utf8', timeout: 15 * 60 * 1000 });
  if (r.status === 0 && existsSync(driverBin)) return { ok: true, reason: '' };
  if (r.status === 77)
    return { ok: false, reason: (`${r.stdout}\n${r.stderr}`.match(/RIG UNAVAILABLE: .*/)?.[0] ?? 'cannot build guest programs').trim() };
  throw new Error(`scripts/rig/build-guest-programs.sh failed (exit ${r.status}):\n${r.stderr.slice(-3000)}`);
}

const rig = ensureRig();
const progs = rig.ok ? guestPrograms() : rig;
const missing = !progs.ok ? progs.reason : (ensureChromium() ?? ensureDebianNoVnc() ?? ensureTigerVnc());
const skip = missing ? loudSkip(missing) : false;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('VNC clients watching the real QEMU guest demo', { skip }, () => {
  let d: RunningDaemon;
  let guest: ReturnType<typeof spawn>;
  let output = '';
  let http: { server: Server; base: string };
  let browser: Browser;
  let xvfb: Xvfb;
  let viewer: Viewer;
  let window = '';
  const pages: { name: string; page: Page }[] = [];
  let reference: Picture;

  before(async () => {
    d = await startDaemon(['--display', '800x600@60,640x480@60', '--vnc', '127.0.0.1:0', '--vnc-websocket', '127.0.0.1:0']);
    const vncPort = Number((await d.waitForLog((l) => l.msg === 'vnc_listening' && l.display === 0)).port);
    const wsPort = Number((await d.waitForLog((l) => l.msg === 'vnc_websocket_listening' && l.display === 0)).port);
    guest = spawn(
      'bash',
      [
        join(repoRoot, 'scripts/rig/run-guest.sh'),
        '--socket',
        d.socketPath,
        '--program',
        driverBin,
        '--test',
        join(repoRoot, 'test/guest/demo-idle.sh'),
        '--append',
        `agfx.demo_seconds=${DEMO_SECONDS} agfx.idle_seconds=90`,
        '--timeout',
        '240',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    guest.stdout!.setEncoding('utf8').on('data', (s: string) => (output += s));
    guest.stderr!.setEncoding('utf8').on('data', (s: string) => (output += s));
    await until(
      () => output.includes('AGFX-DEMO starting') || output.includes('demo: start') || /AGFX-DEMO \d+ frames/.test(output),
      'the demo to start',
      180_000,
    );

    // Clients join while the guest animates.
    http = await serveNoVnc();
    browser = await launchChromium();
    const url = `ws://127.0.0.1:${wsPort}/`;
    const cases: [string, NoVncTree, number[]][] = [
      ['noVNC npm (its encodings)', 'npm', []],
      ['noVNC Debian 1.3 (its encodings)', 'debian', []],
      ['noVNC Debian 1.3 without CopyRect', 'debian', [Encoding.COPY_RECT]],
    ];
    for (const [name, tree, without] of cases) {
      const page = await browser.newPage();
      await openNoVnc(page, http.base, tree, url, { without });
      assert.equal((await noVncState(page)).state, 'connected', name);
      pages.push({ name, page });
    }
    xvfb = await Xvfb.start();
    viewer = startVncViewer(xvfb.display, vncPort);
    const end = Date.now() + 20_000;
    while (!window && Date.now() < end) {
      await sleep(200);
      window = findWindows(xvfb.display, 'apple-gfxd 0 - TigerVNC')[0] ?? '';
    }
    assert.ok(window, `TigerVNC window; its log:\n${viewer.log()}`);

    await until(() => output.includes('AGFX-DEMO stopped'), 'the demo to stop', (DEMO_SECONDS + 60) * 1000);
    const file = join(d.dir, 'shot.png');
    const r = spawnSync(process.execPath, [daemonMain, 'ctl', '--control', `${d.socketPath}.ctl`, 'screenshot', '0', file], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `ctl screenshot: ${r.stderr}`);
    reference = decodePng(readFileSync(file));
  });

  after(async () => {
    for (const { page } of pages) await page.close().catch(() => {});
    await browser?.close();
    http?.server.close();
    await viewer?.stop();
    await xvfb?.stop();
    if (guest && guest.exitCode === null) {
      const gone = new Promise((r) => guest.once('close', r));
      guest.kill('SIGTERM');
      await gone;
    }
    await d?.stop();
  });

  it('the guest demo ran: frames, mode changes', () => {
    const frames = Number(/AGFX-RESULT demo_frames=(\d+)/.exec(output)?.[1] ?? 0);
    assert.ok(frames > 20, `demo frames: ${frames}\n${output.slice(-2000)}`);
    assert.ok((output.match(/AGFX-DEMO mode /g) ?? []).length >= 2, 'two mode changes');
    assert.deepEqual([reference.width, reference.height], [800, 600]);
  });

  for (const i of [0, 1, 2])
    it(`noVNC client ${i + 1} equals the daemon's screenshot`, async (t) => {
      const { name, page } = pages[i]!;
      t.diagnostic(name);
      await assertShows(name, reference, () => readNoVncCanvas(page));
    });

  it("TigerVNC's window equals the daemon's screenshot", async () => {
    await assertShows('TigerVNC', reference, async () => {
      const w = captureWindow(xvfb.display, window);
      return { width: w.width, height: w.height, rgba: bgraToRgba(w.bgra) };
    });
  });
});

async function until(pred: () => boolean, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}
