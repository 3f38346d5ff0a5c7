// noVNC, the browser VNC client most consoles embed, against the daemon
// (issue 17): npm's @novnc/novnc (current, pinned) and Debian 12's `novnc`
// (1.3) in headless Chromium, straight to the daemon's RFB-over-WebSocket
// port, with the encodings each offers and with CopyRect on and off, all
// watching one display while the guest animates (the C demo's COPY_RECT
// scroll and two hinted presents per frame, a moving odd-sized cursor whose
// RFB mask is not a multiple of 4 bytes, mode changes). After the guest stops
// drawing, every canvas must equal the daemon's PNG screenshot pixel for pixel.
//
// Before issue 17's fixes the Debian 1.3 clients ended with 13-94 % of their
// pixels wrong (and with CopyRect off, lagging sessions were dropped).
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { Encoding } from '#daemon/viewers/vnc/rfb.js';
import { AnimatedDisplay } from '../support/animated-display.js';
import { browserSkipBanner, ensureChromium, launchChromium } from '../support/chromium.js';
import { ensureDebianNoVnc, noVncState, noVncVersion, openNoVnc, readNoVncCanvas, serveNoVnc, type NoVncTree } from '../support/novnc.js';

const ANIMATE_MS = Number(process.env.VNC_ANIMATE_MS ?? 8000);
/** Tight, TightPNG, Hextile, RRE: what noVNC 1.3 has left is Raw. */
const TIGHT_FAMILY = [7, -260, 5, 2];

const chromiumMissing = ensureChromium();
const debianMissing = chromiumMissing ?? ensureDebianNoVnc();
const skip = chromiumMissing ? browserSkipBanner('NOVNC REAL-CLIENT TESTS', chromiumMissing) : false;
if (!chromiumMissing && debianMissing) browserSkipBanner('DEBIAN NOVNC 1.3 TESTS', debianMissing);

interface Case {
  tree: NoVncTree;
  name: string;
  without: number[];
  /** What the server must pick from the list. */
  encoding: string;
  /** Debian's own vnc_lite.html instead of the harness page. */
  lite?: boolean;
}

const CASES: Case[] = [
  { tree: 'npm', name: 'its encodings', without: [], encoding: 'tight' },
  { tree: 'npm', name: 'without CopyRect', without: [Encoding.COPY_RECT], encoding: 'tight' },
  { tree: 'npm', name: 'ZRLE (no Tight)', without: [7, -260], encoding: 'zrle' },
  { tree: 'debian', name: 'vnc_lite.html, its encodings', without: [], encoding: 'tight', lite: true },
  { tree: 'debian', name: 'its encodings without CopyRect', without: [Encoding.COPY_RECT], encoding: 'tight' },
  { tree: 'debian', name: 'Raw and CopyRect', without: TIGHT_FAMILY, encoding: 'raw' },
  { tree: 'debian', name: 'Raw only', without: [...TIGHT_FAMILY, Encoding.COPY_RECT], encoding: 'raw' },
];

describe('noVNC in Chromium follows an animating guest pixel for pixel', { skip }, () => {
  let stage: AnimatedDisplay;
  let http: { server: Server; base: string };
  let browser: Browser;
  const clients: { c: Case; label: string; page: Page; session: number }[] = [];

  before(async () => {
    stage = new AnimatedDisplay(
      pino({ level: 'warn' }),
      [
        [640, 480],
        [512, 384],
      ],
      { modeEveryMs: 2500, frameMs: 20, cursorSize: [13, 19] },
    );
    await stage.start();
    http = await serveNoVnc();
    browser = await launchChromium();
    for (const c of CASES) {
      if (c.tree === 'debian' && debianMissing) continue;
      const label = `noVNC ${noVncVersion(c.tree)} (${c.tree}) ${c.name}`;
      const page = await browser.newPage();
      const session = await stage.connect(label, async () => {
        if (c.lite) {
          const port = new URL(stage.wsUrl).port;
          await page.goto(`${http.base}/debian/vnc_lite.html?host=127.0.0.1&port=${port}&path=`);
          await page.waitForFunction(() => (document.getElementById('status')?.textContent ?? '').startsWith('Connected'), undefined, {
            timeout: 20_000,
          });
        } else {
          await openNoVnc(page, http.base, c.tree, stage.wsUrl, { without: c.without });
          const st = await noVncState(page);
          assert.equal(st.state, 'connected', `${label}: ${st.events.join(', ')}`);
        }
      });
      clients.push({ c, label, page, session });
    }
    await stage.animate(ANIMATE_MS, true);
  });

  after(async () => {
    for (const { page } of clients) await page.close().catch(() => {});
    await browser?.close();
    http?.server.close();
    await stage?.stop();
  });

  it('the guest animated with scrolls, hinted presents and mode changes meanwhile', () => {
    assert.ok(stage.anim.frames > 50, `${stage.anim.frames} frames`);
    assert.ok(stage.anim.modeChanges >= 2, `${stage.anim.modeChanges} mode changes`);
  });

  for (const c of CASES)
    it(`noVNC ${c.tree} ${c.name}: the canvas equals the daemon's PNG screenshot`, async (t) => {
      const client = clients.find((x) => x.c === c);
      if (!client) return void t.skip(debianMissing ?? 'not connected');
      t.diagnostic(client.label);
      const s = stage.session(client.session);
      assert.ok(s, `${client.label}: its session is still open`);
      assert.equal(s.encoding, c.encoding, 'the pixel encoding picked from its list');
      if (c.without.includes(Encoding.COPY_RECT)) assert.equal(s.copyRects, 0, 'no CopyRect offered, none sent');
      else assert.ok(s.copyRects > 0, 'the scrolls went as CopyRects');
      await stage.assertShows(client.label, () => readNoVncCanvas(client.page));
      const after = stage.session(client.session)!;
      t.diagnostic(
        `updates ${after.updates}, bytes ${after.bytes}, CopyRects ${after.copyRects}, JPEG pieces ${after.jpegRects}, lossless refreshes ${after.losslessRefreshes}`,
      );
      // Tight at the client's quality level: photo-like pieces went as JPEG, and still the picture is exact.
      if (c.encoding === 'tight')
        assert.ok(after.jpegRects > 0 && after.losslessRefreshes > 0, 'JPEG (noVNC asks for quality 6), then sent again losslessly');
    });
});

describe('noVNC with VNC Authentication over the WebSocket port', { skip }, () => {
  let stage: AnimatedDisplay;
  let http: { server: Server; base: string };
  let browser: Browser;

  before(async () => {
    stage = new AnimatedDisplay(pino({ level: 'warn' }), [[320, 240]], { modeEveryMs: 0, frameMs: 20 }, { password: 'novnc-pw' });
    await stage.start();
    http = await serveNoVnc();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    http?.server.close();
    await stage?.stop();
  });

  for (const tree of ['npm', 'debian'] as const)
    it(`noVNC ${tree}: the right password shows the display, a wrong one is refused`, async (t) => {
      if (tree === 'debian' && debianMissing) return void t.skip(debianMissing);
      const good = await browser.newPage();
      await openNoVnc(good, http.base, tree, stage.wsUrl, { password: 'novnc-pw' });
      assert.equal((await noVncState(good)).state, 'connected');
      await stage.animate(1500);
      await stage.assertShows(`noVNC ${tree} with a password`, () => readNoVncCanvas(good));
      const bad = await browser.newPage();
      await openNoVnc(bad, http.base, tree, stage.wsUrl, { password: 'wrong' });
      const st = await noVncState(bad);
      assert.equal(st.state, 'disconnected');
      assert.ok(
        st.events.some((e) => e.startsWith('securityfailure')),
        st.events.join(', '),
      );
      await good.close();
      await bad.close();
    });
});
