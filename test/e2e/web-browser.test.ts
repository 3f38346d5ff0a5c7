// The web viewer in a real browser: Debian's headless Chromium, driven by
// playwright-core, opens the page served in-process next to a real soft
// backend that presents known frames. The canvas must show those frames pixel
// for pixel, the picker must switch displays and follow hot-plug, clicks and
// keys must reach the input sink with display coordinates, and the Screenshot
// button must download the frame as PNG.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { WebViewer } from '#daemon/viewers/web/web-server.js';
import { repoRoot } from '../support/daemon.js';
import { browserSkipBanner, ensureChromium, launchChromium } from '../support/chromium.js';
import { SoftGuest } from '../support/soft-guest.js';
import { decodePng } from '../support/png.js';
import { SpyInput } from '../support/spy-input.js';

const ARTIFACTS = process.env.WEB_E2E_ARTIFACTS ?? join(repoRoot, 'dist', 'test-artifacts');

const skipReason = ensureChromium();
const skip = skipReason ? browserSkipBanner('WEB VIEWER BROWSER TESTS', skipReason) : false;

const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick(10);
  }
}

/** An arrow-ish cursor glyph, hot spot at its tip. */
function arrowGlyph(): { w: number; h: number; hx: number; hy: number; bgra: Buffer } {
  const w = 12;
  const h = 18;
  const g = Buffer.alloc(w * h * 4);
  for (let j = 0; j < h; j++)
    for (let i = 0; i < w; i++) {
      if (i > j || (j > 12 && i > 4)) continue;
      const edge = i === 0 || i === j || j === h - 1 || (j === 12 && i >= 4);
      g.writeUInt32LE(edge ? 0xff000000 : 0xffffffff, (j * w + i) * 4);
    }
  return { w, h, hx: 0, hy: 0, bgra: g };
}

/** A recognisable BGRA picture: gradients, a grid, and a colour block per display. */
function picture(width: number, height: number, hue: number): Buffer {
  const b = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      const grid = x % 32 === 0 || y % 32 === 0;
      b[o] = grid ? 0xff : (x * 255) / width; // blue
      b[o + 1] = grid ? 0xff : (y * 255) / height; // green
      b[o + 2] = grid ? 0xff : (hue + x + y) & 0xff; // red
      b[o + 3] = 0xff;
    }
  return b;
}

function rgbaOf(bgra: Buffer): Buffer {
  const out = Buffer.alloc(bgra.length);
  for (let i = 0; i < bgra.length; i += 4) {
    out[i] = bgra[i + 2]!;
    out[i + 1] = bgra[i + 1]!;
    out[i + 2] = bgra[i]!;
    out[i + 3] = 0xff;
  }
  return out;
}

/** The canvas pixels (RGBA) as the page shows them. */
async function canvasPixels(page: Page): Promise<{ width: number; height: number; rgba: Buffer }> {
  const r = await page.evaluate(() => {
    const c = document.getElementById('canvas') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let s = '';
    for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode(...d.subarray(i, i + 0x8000));
    return { width: c.width, height: c.height, b64: btoa(s) };
  });
  return { width: r.width, height: r.height, rgba: Buffer.from(r.b64, 'base64') };
}

const shownPort = (page: Page, port: number): Promise<unknown> =>
  page.waitForFunction((p) => document.getElementById('canvas')?.dataset.port === String(p), port, { timeout: 10000 });

describe('web viewer in headless Chromium', { skip }, () => {
  const log = pino({ level: 'info' }, { write: () => {} });
  const input = new SpyInput();
  let guest: SoftGuest;
  let viewer: WebViewer;
  let url: string;
  let browser: Browser;
  let page: Page;
  const A = { w: 320, h: 200 };
  const B = { w: 256, h: 160 };
  let picA: Buffer;
  let picB: Buffer;
  const pageErrors: string[] = [];

  before(async () => {
    guest = new SoftGuest(log, 320 * 200 * 4, 4);
    await guest.attachMode(0, A.w, A.h, 'main');
    await guest.attachMode(1, B.w, B.h, 'side');
    picA = picture(A.w, A.h, 0);
    picB = picture(B.w, B.h, 128);
    await guest.show(0, picA);
    await guest.show(1, picB);
    await guest.cursor(0, arrowGlyph(), 100, 60);
    viewer = new WebViewer({ port: 0, displays: guest.displays, input, log, token: 'e2e-token' });
    url = (await viewer.start()).url;
    browser = await launchChromium();
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 900, height: 600 } });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(url);
  });

  after(async () => {
    await browser?.close();
    await viewer?.stop();
    guest?.destroy();
  });

  it('shows the first display pixel for pixel, with the guest cursor drawn over it', async () => {
    await shownPort(page, 0);
    const px = await canvasPixels(page);
    assert.deepEqual([px.width, px.height], [A.w, A.h]);
    assert.ok(px.rgba.equals(rgbaOf(picA)), 'canvas pixels equal the presented frame');
    await page.waitForSelector('#cursor:not([hidden])');
    const status = await page.textContent('#status');
    assert.equal(status, 'connected');
    // The canvas keeps the display's aspect ratio when scaled to fit.
    const box = (await page.locator('#canvas').boundingBox())!;
    assert.ok(Math.abs(box.width / box.height - A.w / A.h) < 0.02, `aspect ${box.width}x${box.height}`);
    assert.ok(box.width > A.w, 'scaled up to fit the window');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'web-viewer.png') });
  });

  it('follows changes: only the new pixels arrive, and they are drawn', async () => {
    const next = Buffer.from(picA);
    for (let y = 50; y < 90; y++) for (let x = 140; x < 200; x++) next.writeUInt32LE(0xff20c040, (y * A.w + x) * 4);
    const before = viewer.stats().frameBytes;
    await guest.show(0, next);
    await page.waitForFunction(() => {
      const c = document.getElementById('canvas') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(150, 60, 1, 1).data;
      return d[0] === 0x20 && d[1] === 0xc0 && d[2] === 0x40;
    });
    assert.ok((await canvasPixels(page)).rgba.equals(rgbaOf(next)));
    assert.ok(viewer.stats().frameBytes - before < 60 * 40 * 4 + 1024, 'just the dirty rectangle was sent');
    picA = next;
  });

  it('a guest scroll is drawn by the browser copying its own canvas, then the new strip', async () => {
    const rows = 10;
    await guest.copyRect(0, { x: 0, y: rows }, { x: 0, y: 0 }, A.w, A.h - rows);
    const next = Buffer.alloc(A.w * A.h * 4);
    picA.copy(next, 0, rows * A.w * 4);
    for (let y = A.h - rows; y < A.h; y++)
      for (let x = 0; x < A.w; x++) next.writeUInt32LE((0xff000000 | (x << 16) | (y << 8) | 0x33) >>> 0, (y * A.w + x) * 4);
    const before = viewer.stats().frameBytes;
    guest.store(0, next);
    guest.presentSlot(0, 0, A.w, { x: 0, y: A.h - rows, w: A.w, h: rows });
    const want = rgbaOf(next);
    for (const end = Date.now() + 5000; !(await canvasPixels(page)).rgba.equals(want); await tick(50))
      if (Date.now() > end) assert.fail('the canvas never showed the scrolled frame');
    const sent = viewer.stats().frameBytes - before;
    assert.ok(sent < A.w * rows * 4 * 2 + 1024, `the scroll cost ${sent} bytes: a copy and the strip, not the screen`);
    assert.deepEqual(pageErrors, []);
    picA = next;
  });

  it('switches displays with the picker and follows hot-plug', async () => {
    const options = await page.locator('#display option').allTextContents();
    assert.deepEqual(options, [`0: main (${A.w}\u00d7${A.h})`, `1: side (${B.w}\u00d7${B.h})`]);
    await page.selectOption('#display', '1');
    await shownPort(page, 1);
    const px = await canvasPixels(page);
    assert.deepEqual([px.width, px.height], [B.w, B.h]);
    assert.ok(px.rgba.equals(rgbaOf(picB)), 'the other display, pixel for pixel');

    await guest.attachMode(2, 64, 64, 'hotplugged');
    await page.waitForFunction(() => document.querySelectorAll('#display option').length === 3);
    guest.displays.detach(2);
    await page.waitForFunction(() => document.querySelectorAll('#display option').length === 2);
    assert.equal(await page.inputValue('#display'), '1', 'still showing the display picked');
  });

  it('a click reaches the input sink in display pixels, a key press as a DOM code', async () => {
    input.pointers.length = 0;
    input.keys.length = 0;
    const box = (await page.locator('#canvas').boundingBox())!;
    const [dx, dy] = [200, 40];
    await page.mouse.click(box.x + ((dx + 0.5) * box.width) / B.w, box.y + ((dy + 0.5) * box.height) / B.h);
    await until(() => input.pointers.some((p) => p.buttons === 1) && input.pointers.at(-1)!.buttons === 0, 'click');
    const down = input.pointers.find((p) => p.buttons === 1)!;
    assert.deepEqual(down, { port: 1, x: dx, y: dy, buttons: 1 });
    assert.deepEqual(input.pointers.at(-1), { port: 1, x: dx, y: dy, buttons: 0 });

    await page.keyboard.press('a');
    await page.keyboard.press('Enter');
    await until(() => input.keys.length >= 4, 'keys').catch((e) => {
      throw new Error(`${(e as Error).message}: got ${JSON.stringify(input.keys)} ${JSON.stringify(viewer.stats())}`);
    });
    assert.deepEqual(input.keys, [
      { code: 'KeyA', down: true },
      { code: 'KeyA', down: false },
      { code: 'Enter', down: true },
      { code: 'Enter', down: false },
    ]);
  });

  it('the Screenshot button downloads a PNG of the shown display', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#screenshot')]);
    assert.match(download.suggestedFilename(), /^apple-gfxd-display1-.*\.png$/);
    const file = await download.path();
    const png = decodePng(readFileSync(file));
    assert.deepEqual([png.width, png.height], [B.w, B.h]);
    assert.ok(png.rgba.equals(rgbaOf(picB)), 'the PNG holds the frame');
  });

  it('kept one connection and no bad message throughout', () => {
    const st = viewer.stats();
    assert.equal(st.connections, 1, 'the page never had to reconnect');
    assert.equal(st.badMessages, 0, 'the page sent nothing the server refused');
    assert.deepEqual(pageErrors, []);
  });

  it('without the token the page is refused', async () => {
    const res = await page.request.get(url.replace(/\?.*$/, ''));
    assert.equal(res.status(), 401);
  });
});
