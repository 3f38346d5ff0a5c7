// The browser viewer's resize (issue 17), opt-in on the page: with "Fit guest
// to window" checked, the page's size becomes the shown display's preferred
// mode (the same path as VNC SetDesktopSize, preferSize); a guest that
// follows it (here the soft device driven in-process, as the demo does)
// switches, and the canvas then has the page's size 1:1. Real Chromium
// running the real page; --web-no-resize (allowResize: false) hides the box
// and refuses the message; requests are rate-limited per viewer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { WebViewer } from '#daemon/viewers/web/web-server.js';
import { NullInput } from '#daemon/input/input-sink.js';
import { browserSkipBanner, ensureChromium, launchChromium } from '../support/chromium.js';
import { SoftGuest, pattern } from '../support/soft-guest.js';

const chromiumMissing = ensureChromium();
const skip = chromiumMissing ? browserSkipBanner('WEB VIEWER RESIZE TEST', chromiumMissing) : false;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const until = async (ok: () => boolean | Promise<boolean>, ms: number): Promise<boolean> => {
  const end = Date.now() + ms;
  while (!(await ok()) && Date.now() < end) await sleep(50);
  return ok();
};

describe('web viewer: fit the guest to the window (opt-in)', { skip }, () => {
  const log = pino({ level: 'warn' });
  let guest: SoftGuest;
  let viewer: WebViewer;
  let fixed: WebViewer;
  let browser: Browser;
  let page: Page;
  const modes = (): string[] => guest.displays.get(0)!.modes.map((m) => `${m.width}x${m.height}@${m.refreshHz}`);
  /** The page's stage in device pixels, as viewer.js computes it. */
  const stageSize = (): Promise<{ width: number; height: number }> =>
    page.evaluate(() => {
      const s = document.getElementById('stage')!;
      const r = window.devicePixelRatio || 1;
      return { width: Math.floor((s.clientWidth - 16) * r), height: Math.floor((s.clientHeight - 16) * r) };
    });

  before(async () => {
    guest = new SoftGuest(log, 1000 * 800 * 4, 2);
    await guest.attachMode(0, 320, 200, 'main');
    await guest.show(0, pattern(320, 200, 1));
    viewer = new WebViewer({ port: 0, displays: guest.displays, input: new NullInput(), log });
    fixed = new WebViewer({ port: 0, displays: guest.displays, input: new NullInput(), log, allowResize: false });
    const url = (await viewer.start()).url;
    await fixed.start();
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 900, height: 700 } })).newPage();
    await page.goto(url);
    await page.waitForSelector('#fit-label:not([hidden])');
  });
  after(async () => {
    await browser?.close();
    await viewer?.stop();
    await fixed?.stop();
    guest?.destroy();
  });

  it('unchecked (the default): nothing is asked', async () => {
    await sleep(800);
    assert.equal(await page.isChecked('#fit'), false);
    assert.deepEqual(modes(), ['320x200@60']);
  });

  it('checked: the page size becomes the preferred mode; the guest follows; the canvas has that size', async () => {
    await page.check('#fit');
    const want = await stageSize();
    assert.ok(
      await until(() => modes()[0] === `${want.width}x${want.height}@60`, 5000),
      `modes ${modes().join(',')}, want ${want.width}x${want.height}`,
    );
    assert.deepEqual(modes().slice(1), ['320x200@60'], 'the other modes kept after it');
    // The guest follows its preferred mode (as the demo does from the display port registers).
    await guest.setMode(0, want.width, want.height);
    await guest.show(0, pattern(want.width, want.height, 2));
    const canvas = () =>
      page.evaluate(() => [
        (document.getElementById('canvas') as HTMLCanvasElement).width,
        (document.getElementById('canvas') as HTMLCanvasElement).height,
      ]);
    assert.ok(await until(async () => (await canvas())[0] === want.width, 5000), `canvas ${(await canvas()).join('x')}`);
    assert.deepEqual(await canvas(), [want.width, want.height]);
  });

  it('a window resize asks again with the new size', async () => {
    await page.setViewportSize({ width: 700, height: 520 });
    const want = await stageSize();
    assert.ok(
      await until(() => modes()[0] === `${want.width}x${want.height}@60`, 5000),
      `modes ${modes().join(',')}, want ${want.width}x${want.height}`,
    );
  });

  it('the choice is remembered by the page (localStorage)', async () => {
    await page.reload();
    await page.waitForSelector('#fit-label:not([hidden])');
    assert.equal(await page.isChecked('#fit'), true);
  });

  it('--web-no-resize: no box, and the message is refused; floods are refused by rate', async () => {
    const p2 = await page.context().newPage();
    await p2.goto(fixed.stats().url);
    await sleep(500);
    assert.equal(await p2.isHidden('#fit-label'), true);
    const before = modes()[0];
    const replies = await p2.evaluate(async () => {
      const ws = new WebSocket(`ws://${location.host}/ws`);
      const got: { type: string; ok?: boolean; message?: string }[] = [];
      await new Promise((r) => (ws.onopen = r));
      ws.onmessage = (e) => typeof e.data === 'string' && got.push(JSON.parse(e.data));
      ws.send(JSON.stringify({ type: 'subscribe', port: 0, encodings: ['raw'] }));
      ws.send(JSON.stringify({ type: 'resize', width: 640, height: 480 }));
      await new Promise((r) => setTimeout(r, 500));
      ws.close();
      return got.filter((m) => m.type === 'resized');
    });
    assert.equal(replies.length, 1);
    assert.equal(replies[0]!.ok, false);
    assert.match(replies[0]!.message!, /off/);
    assert.equal(modes()[0], before);
    await p2.close();
    // On the viewer that takes them: two at once, the second refused for its rate.
    const rated = await page.evaluate(async () => {
      const ws = new WebSocket(`ws://${location.host}/ws`);
      const got: { type: string; ok?: boolean; message?: string }[] = [];
      await new Promise((r) => (ws.onopen = r));
      ws.onmessage = (e) => typeof e.data === 'string' && got.push(JSON.parse(e.data));
      ws.send(JSON.stringify({ type: 'subscribe', port: 0, encodings: ['raw'] }));
      ws.send(JSON.stringify({ type: 'resize', width: 640, height: 480 }));
      ws.send(JSON.stringify({ type: 'resize', width: 600, height: 400 }));
      await new Promise((r) => setTimeout(r, 800));
      ws.close();
      return got.filter((m) => m.type === 'resized');
    });
    assert.equal(rated.length, 2, JSON.stringify(rated));
    assert.equal(rated.filter((m) => m.ok).length, 1, JSON.stringify(rated));
    assert.match(rated.find((m) => !m.ok)!.message!, /250 ms/);
    assert.equal(modes()[0], '640x480@60');
  });
});
