// Keys from VNC viewers to QEMU (issue 17): with QEMU's Extended Key Event
// (pseudo-encoding -258, client message 255/0) a viewer sends the physical
// key's XT scancode next to the keysym, and the daemon hands QEMU the
// scancode (QMP input-send-event, key number), so the guest gets the key the
// user pressed whatever the viewer's keyboard layout; viewers without it keep
// the keysym mapping. Driven by our RFB client, by noVNC (npm and Debian 1.3)
// in Chromium typing as an AZERTY keyboard does, and by TigerVNC under Xvfb
// with keys from XTEST (xdotool). Also: LastRect, and ContinuousUpdates /
// Fence messages tolerated though never announced.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Browser } from 'playwright-core';
import { QmpInput } from '#daemon/input/qmp.js';
import { Encoding } from '#daemon/viewers/vnc/rfb.js';
import { AnimatedDisplay, sleep } from '../support/animated-display.js';
import { browserSkipBanner, ensureChromium, foreignEnv, launchChromium } from '../support/chromium.js';
import { FakeQmp, type QmpInputEvent } from '../support/fake-qmp.js';
import { ensureDebianNoVnc, openNoVnc, serveNoVnc, type NoVncTree } from '../support/novnc.js';
import { RfbClient } from '../support/rfb-client.js';
import { ensureTigerVnc, findWindows, startVncViewer, Xvfb, type Viewer } from '../support/tigervnc.js';

const chromiumMissing = ensureChromium();
const debianMissing = chromiumMissing ?? ensureDebianNoVnc();
const tigerMissing =
  ensureTigerVnc() ??
  (spawnSync('sh', ['-c', 'command -v xdotool'], { stdio: 'ignore', env: foreignEnv() }).status === 0
    ? null
    : 'xdotool missing (apt-get install xdotool)');
if (chromiumMissing) browserSkipBanner('NOVNC KEYBOARD TESTS', chromiumMissing);
if (tigerMissing) browserSkipBanner('TIGERVNC KEYBOARD TESTS', tigerMissing);

const key = (e: QmpInputEvent[]): { down: unknown; key: unknown } => ({ down: e[0]!.data.down, key: e[0]!.data.key });

describe('VNC keys: QEMU Extended Key Event to QMP, LastRect, unannounced extensions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agfx-vnckeys-'));
  const qmp = new FakeQmp(join(dir, 'qmp.sock'));
  let input: QmpInput;
  let stage: AnimatedDisplay;
  let http: { server: Server; base: string } | null = null;
  let browser: Browser | null = null;
  let xvfb: Xvfb | null = null;
  const viewers: Viewer[] = [];
  const clients: RfbClient[] = [];
  const keysSince = async (n: number, want: number, ms = 5000): Promise<{ down: unknown; key: unknown }[]> => {
    const end = Date.now() + ms;
    const keys = (): { down: unknown; key: unknown }[] =>
      qmp
        .events()
        .slice(n)
        .filter((e) => e[0]!.type === 'key')
        .map(key);
    while (keys().length < want && Date.now() < end) await sleep(20);
    await sleep(100); // and nothing more
    return keys();
  };

  before(async () => {
    await qmp.listen();
    const log = pino({ level: 'warn' });
    input = new QmpInput(qmp.path, log, () => ({ width: 320, height: 240 }));
    input.start();
    for (let i = 0; i < 200 && !input.connected; i++) await sleep(10);
    stage = new AnimatedDisplay(log, [[320, 240]], { modeEveryMs: 0, frameMs: 50 }, {}, input);
    await stage.start();
  });
  after(async () => {
    for (const c of clients) c.close();
    await browser?.close();
    http?.server.close();
    for (const v of viewers) await v.stop();
    await xvfb?.stop();
    await stage?.stop();
    input?.stop();
    qmp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('our client: the server acknowledges -258; scancodes go as key numbers, no scancode falls back to the keysym', async () => {
    const c = await RfbClient.connect(stage.tcpPort);
    clients.push(c);
    c.setEncodings([Encoding.RAW, Encoding.QEMU_EXTENDED_KEY_EVENT]);
    c.requestUpdate(false);
    assert.ok(await c.nextUpdate());
    assert.equal(c.extKeyAcks, 1, 'one -258 rectangle after SetEncodings listed it');
    const n = qmp.events().length;
    c.extKey(0x61, 0x10, true); // 'a' on the Q key: an AZERTY keyboard
    c.extKey(0x61, 0x10, false);
    c.extKey(0xff52, 0xc8, true); // Up (0xE0 0x48)
    c.extKey(0x62, 0, true); // no scancode
    c.key(0x63, true); // plain KeyEvent
    assert.deepEqual(await keysSince(n, 5), [
      { down: true, key: { type: 'number', data: 0x10 } },
      { down: false, key: { type: 'number', data: 0x10 } },
      { down: true, key: { type: 'number', data: 0xc8 } },
      { down: true, key: { type: 'qcode', data: 'b' } },
      { down: true, key: { type: 'qcode', data: 'c' } },
    ]);
  });

  it('our client: with LastRect the update count is open (0xffff) and a LastRect ends it', async () => {
    const c = await RfbClient.connect(stage.tcpPort);
    clients.push(c);
    c.setEncodings([Encoding.RAW, Encoding.LAST_RECT]);
    c.requestUpdate(false);
    const u = await c.nextUpdate();
    assert.ok(u && u.rects.some((r) => r.encoding === Encoding.RAW));
    assert.equal(c.lastRects, 1);
  });

  it('EnableContinuousUpdates and ClientFence are read and ignored; updates go on as requested', async () => {
    const c = await RfbClient.connect(stage.tcpPort);
    clients.push(c);
    c.setEncodings([Encoding.RAW, -313, -312]);
    const cu = Buffer.alloc(10);
    cu[0] = 150;
    cu[1] = 1;
    cu.writeUInt16BE(320, 6);
    cu.writeUInt16BE(240, 8);
    const fence = Buffer.alloc(9 + 4);
    fence[0] = 248;
    fence.writeUInt32BE(0x80000003, 4);
    fence[8] = 4;
    c.socket.write(Buffer.concat([cu, fence]));
    c.requestUpdate(false);
    const u = await c.nextUpdate();
    assert.ok(u, 'still served');
    assert.ok(!c.closed);
    // Nothing but FramebufferUpdates came back (no EndOfContinuousUpdates, no ServerFence).
    const bad = Buffer.alloc(13);
    bad[0] = 248;
    bad[8] = 65; // more than the 64 bytes a fence may carry
    c.socket.write(bad);
    await new Promise((r) => c.socket.once('close', r));
  });

  for (const tree of ['npm', 'debian'] as NoVncTree[])
    it(`noVNC ${tree}: a key typed on an AZERTY keyboard reaches QEMU as the key pressed`, async (t) => {
      if (tree === 'npm' ? chromiumMissing : debianMissing) return void t.skip((tree === 'npm' ? chromiumMissing : debianMissing)!);
      http ??= await serveNoVnc();
      browser ??= await launchChromium();
      const page = await browser.newPage();
      await openNoVnc(page, http.base, tree, stage.wsUrl);
      await page.evaluate(() => (window as unknown as { rfb: { focus(): void } }).rfb.focus());
      await sleep(300); // noVNC turns to extended key events once it has the -258 rectangle
      const cdp = await page.context().newCDPSession(page);
      const n = qmp.events().length;
      // The Q key on an AZERTY layout types 'a'; Up is an extended (0xE0) key.
      for (const type of ['keyDown', 'keyUp'] as const)
        await cdp.send('Input.dispatchKeyEvent', {
          type,
          code: 'KeyQ',
          key: 'a',
          text: type === 'keyDown' ? 'a' : undefined,
          windowsVirtualKeyCode: 65,
        });
      for (const type of ['keyDown', 'keyUp'] as const)
        await cdp.send('Input.dispatchKeyEvent', { type, code: 'ArrowUp', key: 'ArrowUp', windowsVirtualKeyCode: 38 });
      assert.deepEqual(await keysSince(n, 4), [
        { down: true, key: { type: 'number', data: 0x10 } },
        { down: false, key: { type: 'number', data: 0x10 } },
        { down: true, key: { type: 'number', data: 0xc8 } },
        { down: false, key: { type: 'number', data: 0xc8 } },
      ]);
      await page.close();
    });

  it('TigerVNC: keys pressed under Xvfb reach QEMU as key numbers', async (t) => {
    if (tigerMissing) return void t.skip(tigerMissing);
    xvfb = await Xvfb.start(800, 600);
    const title = `${stage.display.name} - TigerVNC`;
    const v = startVncViewer(xvfb.display, stage.tcpPort);
    viewers.push(v);
    let win = '';
    for (let i = 0; i < 100 && !win; i++) {
      await sleep(100);
      win = findWindows(xvfb.display, title)[0] ?? '';
    }
    assert.ok(win, `viewer window; log:\n${v.log()}`);
    const env = foreignEnv({ DISPLAY: xvfb.display });
    spawnSync('xdotool', ['windowfocus', '--sync', win], { env });
    spawnSync('xdotool', ['mousemove', '--window', win, '50', '50'], { env });
    await sleep(500);
    const n = qmp.events().length;
    spawnSync('xdotool', ['key', 'q', 'Up'], { env });
    assert.deepEqual(await keysSince(n, 4), [
      { down: true, key: { type: 'number', data: 0x10 } },
      { down: false, key: { type: 'number', data: 0x10 } },
      { down: true, key: { type: 'number', data: 0xc8 } },
      { down: false, key: { type: 'number', data: 0xc8 } },
    ]);
  });
});
