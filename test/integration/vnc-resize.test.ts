// Resize from the viewer (ExtendedDesktopSize SetDesktopSize, issue 17): the
// requested size becomes the display's preferred mode (first in its mode
// list, through Displays.setModes as `ctl display`), answered with RFB's
// status codes. From our RFB client (statuses, bounds), noVNC in Chromium
// (resizeSession to its element's size) and TigerVNC (-DesktopSize). No
// guest follows the list here (the framebuffer keeps its size); the guest's
// side is test/integration/soft-display-ports.test.ts and, with the real
// arm64 guest, test/e2e/soft-resize.test.ts.
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Browser } from 'playwright-core';
import { Encoding } from '#daemon/viewers/vnc/rfb.js';
import { AnimatedDisplay, sleep } from '../support/animated-display.js';
import { browserSkipBanner, ensureChromium, launchChromium } from '../support/chromium.js';
import { openNoVnc, serveNoVnc } from '../support/novnc.js';
import { RfbClient } from '../support/rfb-client.js';
import { ensureTigerVnc, findWindows, startVncViewer, Xvfb, type Viewer } from '../support/tigervnc.js';

const chromiumMissing = ensureChromium();
const tigerMissing = ensureTigerVnc();
if (chromiumMissing) browserSkipBanner('NOVNC RESIZE TEST', chromiumMissing);
if (tigerMissing) browserSkipBanner('TIGERVNC RESIZE TEST', tigerMissing);

const CLIENT = 1;
const OK = 0;
const NO_RESOURCES = 2;
const INVALID = 3;

describe('resize from the viewer: SetDesktopSize -> preferred mode', () => {
  let stage: AnimatedDisplay;
  let http: { server: Server; base: string } | null = null;
  let browser: Browser | null = null;
  let xvfb: Xvfb | null = null;
  let viewer: Viewer | null = null;
  const clients: RfbClient[] = [];
  const modes = (): string[] => stage.display.modes.map((m) => `${m.width}x${m.height}@${m.refreshHz}`);

  before(async () => {
    stage = new AnimatedDisplay(
      pino({ level: 'warn' }),
      [
        [640, 480],
        [512, 384],
      ],
      { modeEveryMs: 0, frameMs: 50 },
    );
    await stage.start();
  });
  after(async () => {
    for (const c of clients) c.close();
    await browser?.close();
    http?.server.close();
    await viewer?.stop();
    await xvfb?.stop();
    await stage?.stop();
  });

  it('our client: OK puts the size first in the mode list; bad layouts and floods get their status codes', async () => {
    const c = await RfbClient.connect(stage.tcpPort);
    clients.push(c);
    c.setEncodings([Encoding.RAW, Encoding.EXTENDED_DESKTOP_SIZE]);
    c.requestUpdate(false);
    await c.nextUpdate();
    const answer = async (): Promise<{ reason: number; status: number }> => {
      const n = c.extDesktop.length;
      for (let i = 0; i < 10 && c.extDesktop.length === n; i++) {
        c.requestUpdate(true);
        await c.nextUpdate(500);
      }
      return c.extDesktop.at(-1)!;
    };
    c.setDesktopSize(800, 600);
    assert.deepEqual(await answer(), { reason: CLIENT, status: OK, width: 640, height: 480 });
    assert.deepEqual(modes(), ['800x600@60', '640x480@60', '512x384@60'], 'requested size first, the rest kept');
    c.setDesktopSize(800, 600);
    assert.equal((await answer()).status, NO_RESOURCES, 'a second request within 250 ms');
    await sleep(300);
    // two screens: not a layout we can do
    const b = Buffer.alloc(8 + 32);
    b[0] = 251;
    b.writeUInt16BE(1024, 2);
    b.writeUInt16BE(768, 4);
    b[6] = 2;
    b.writeUInt16BE(512, 8 + 12);
    b.writeUInt16BE(768, 8 + 14);
    b.writeUInt16BE(512, 24 + 8);
    b.writeUInt16BE(512, 24 + 12);
    b.writeUInt16BE(768, 24 + 14);
    c.socket.write(b);
    assert.equal((await answer()).status, INVALID);
    c.setDesktopSize(0, 600);
    assert.equal((await answer()).status, INVALID);
  });

  it('noVNC (npm) with resizeSession asks for its element size: it becomes the preferred mode', async (t) => {
    if (chromiumMissing) return void t.skip(chromiumMissing);
    await sleep(300);
    http = await serveNoVnc();
    browser = await launchChromium();
    const page = await browser.newPage();
    await openNoVnc(page, http.base, 'npm', stage.wsUrl);
    await page.evaluate(() => {
      const el = document.getElementById('screen')!;
      el.style.width = '700px';
      el.style.height = '500px';
      (window as unknown as { rfb: { resizeSession: boolean } }).rfb.resizeSession = true;
    });
    const end = Date.now() + 8000;
    while (modes()[0] !== '700x500@60' && Date.now() < end) await sleep(50);
    assert.equal(modes()[0], '700x500@60');
    await page.close();
  });

  it('TigerVNC -DesktopSize asks on connect: it becomes the preferred mode', async (t) => {
    if (tigerMissing) return void t.skip(tigerMissing);
    await sleep(300);
    xvfb = await Xvfb.start(1024, 768);
    viewer = startVncViewer(xvfb.display, stage.tcpPort, ['DesktopSize=720x540']);
    const end = Date.now() + 10_000;
    while (modes()[0] !== '720x540@60' && Date.now() < end) await sleep(50);
    assert.equal(modes()[0], '720x540@60', `modes ${modes().join(',')}; viewer log:\n${viewer.log()}`);
    assert.ok(findWindows(xvfb.display, `${stage.display.name} - TigerVNC`).length === 1, 'still connected');
  });
});
