// DesktopName (pseudo-encoding -307, issue 17): viewers are told the
// desktop's name when it changes, and it changes when QEMU's QMP socket comes
// and goes: "<display> (<VM name>)" while QMP answers `query-name` (QEMU's
// -name), the display's own name otherwise. Driven by our RFB client, by noVNC
// (npm) in Chromium (its `desktopname` event) and by TigerVNC under Xvfb
// (its window title). The same clients offer QEMU LED state (-261), Fence
// (-312) and ContinuousUpdates (-313): they get none of them (no LED
// rectangle, no ServerFence, no EndOfContinuousUpdates; docs/viewers.md says
// why) and stay connected.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Browser } from 'playwright-core';
import { QmpInput } from '#daemon/input/qmp.js';
import { DesktopNames } from '#daemon/viewers/desktop-name.js';
import { Encoding } from '#daemon/viewers/vnc/rfb.js';
import { AnimatedDisplay, sleep } from '../support/animated-display.js';
import { browserSkipBanner, ensureChromium, launchChromium } from '../support/chromium.js';
import { FakeQmp } from '../support/fake-qmp.js';
import { noVncState, openNoVnc, serveNoVnc } from '../support/novnc.js';
import { RfbClient } from '../support/rfb-client.js';
import { ensureTigerVnc, findWindows, startVncViewer, Xvfb, type Viewer } from '../support/tigervnc.js';

const chromiumMissing = ensureChromium();
const tigerMissing = ensureTigerVnc();
if (chromiumMissing) browserSkipBanner('NOVNC DESKTOPNAME TEST', chromiumMissing);
if (tigerMissing) browserSkipBanner('TIGERVNC DESKTOPNAME TEST', tigerMissing);

const until = async (ok: () => boolean | Promise<boolean>, ms: number): Promise<boolean> => {
  const end = Date.now() + ms;
  while (!(await ok()) && Date.now() < end) await sleep(50);
  return ok();
};

describe('DesktopName follows the VM name from QMP; LED state, Fence and ContinuousUpdates are not announced', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agfx-vncname-'));
  let qmp = new FakeQmp(join(dir, 'qmp.sock'));
  const names = new DesktopNames();
  let input: QmpInput;
  let stage: AnimatedDisplay;
  let http: { server: Server; base: string } | null = null;
  let browser: Browser | null = null;
  let xvfb: Xvfb | null = null;
  let viewer: Viewer | null = null;
  const clients: RfbClient[] = [];
  /** The daemon's log lines (debug: the encodings each client offered). */
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  const DISPLAY = 'apple-gfxd test';
  const NAMED = `${DISPLAY} (guest one)`;

  before(async () => {
    const log = pino({ level: 'debug' }, sink);
    // QMP is not there yet: QmpInput retries every second, as when QEMU starts after the daemon.
    input = new QmpInput(
      qmp.path,
      log,
      () => ({ width: 320, height: 240 }),
      (n) => names.setVmName(n),
    );
    input.start();
    stage = new AnimatedDisplay(log, [[320, 240]], { modeEveryMs: 0, frameMs: 100 }, { names }, input);
    await stage.start();
  });
  after(async () => {
    for (const c of clients) c.close();
    await browser?.close();
    http?.server.close();
    await viewer?.stop();
    await xvfb?.stop();
    await stage?.stop();
    input?.stop();
    qmp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts QEMU's side with `vmName` (or stops it: null) and waits for the name to follow. */
  const qemu = async (vmName: string | null): Promise<void> => {
    if (vmName === null) {
      qmp.close();
      assert.ok(await until(() => names.vmName === null, 3000), 'QMP gone: the VM name is forgotten');
      return;
    }
    qmp = new FakeQmp(qmp.path);
    qmp.vmName = vmName;
    rmSync(qmp.path, { force: true });
    await qmp.listen();
    assert.ok(await until(() => names.vmName === vmName, 5000), `QMP connected: names.vmName ${names.vmName}`);
  };

  it('our client: ServerInit has the current name, DesktopName each change; -261/-312/-313 offered, none sent', async () => {
    const c = await RfbClient.connect(stage.tcpPort);
    clients.push(c);
    assert.equal(c.name, DISPLAY);
    // The client throws on a rectangle it cannot parse (an LED state) and on
    // any message but FramebufferUpdate (ServerFence 248, EndOfContinuousUpdates 150).
    c.setEncodings([Encoding.RAW, Encoding.DESKTOP_NAME, Encoding.QEMU_LED_STATE, Encoding.FENCE, Encoding.CONTINUOUS_UPDATES]);
    const plain = await RfbClient.connect(stage.tcpPort);
    clients.push(plain);
    plain.setEncodings([Encoding.RAW]);
    let stop = false;
    const pump = async (cl: RfbClient): Promise<void> => {
      while (!stop && !cl.closed) {
        cl.requestUpdate(true);
        await cl.nextUpdate(300);
      }
    };
    const pumps = [pump(c), pump(plain)];
    await qemu('guest one');
    assert.ok(await until(() => c.names.length > 0, 3000), 'DesktopName received');
    assert.deepEqual(c.names, [NAMED]);
    await qemu(null);
    assert.ok(await until(() => c.names.length > 1, 3000), 'second DesktopName received');
    assert.deepEqual(c.names, [NAMED, DISPLAY]);
    stop = true;
    await Promise.all(pumps);
    assert.ok(!c.closed && !plain.closed, 'both still connected');
    assert.deepEqual(plain.names, [], 'not offered: not sent');
    // A new client is told the current name in ServerInit.
    await qemu('guest one');
    const late = await RfbClient.connect(stage.tcpPort);
    clients.push(late);
    assert.equal(late.name, NAMED);
    await qemu(null);
  });

  it('noVNC (npm): its desktopname event follows the VM name', async (t) => {
    if (chromiumMissing) return void t.skip(chromiumMissing);
    http = await serveNoVnc();
    browser = await launchChromium();
    const page = await browser.newPage();
    await openNoVnc(page, http.base, 'npm', stage.wsUrl);
    assert.equal((await noVncState(page)).name, DISPLAY);
    await qemu('guest one');
    assert.ok(await until(async () => (await noVncState(page)).name === NAMED, 5000), `noVNC name ${(await noVncState(page)).name}`);
    await qemu(null);
    assert.ok(await until(async () => (await noVncState(page)).name === DISPLAY, 5000), `noVNC name ${(await noVncState(page)).name}`);
    const st = await noVncState(page);
    assert.equal(st.state, 'connected', st.events.join(', '));
    assert.ok(st.encodings?.includes(Encoding.DESKTOP_NAME), 'noVNC offers DesktopName');
    for (const e of [Encoding.QEMU_LED_STATE, Encoding.FENCE, Encoding.CONTINUOUS_UPDATES])
      assert.ok(st.encodings?.includes(e), `noVNC offers ${e}`);
    // noVNC 1.7 syncs Caps/Num Lock to what an LED state says (pressing the
    // keys in the guest): never told one, it leaves them alone.
    assert.deepEqual(
      await page.evaluate(() => {
        const r = (window as unknown as { rfb: { _remoteCapsLock: unknown; _remoteNumLock: unknown } }).rfb;
        return [r._remoteCapsLock, r._remoteNumLock];
      }),
      [null, null],
      'no LED state sent',
    );
    await page.close();
  });

  it('TigerVNC: its window title follows the VM name; offering -312/-313 it stays connected', async (t) => {
    if (tigerMissing) return void t.skip(tigerMissing);
    xvfb = await Xvfb.start(800, 600);
    const first = lines.length;
    viewer = startVncViewer(xvfb.display, stage.tcpPort);
    const titled = (name: string) => () => findWindows(xvfb!.display, `${name} - TigerVNC`).length === 1;
    assert.ok(await until(titled(DISPLAY), 10_000), `window "${DISPLAY} - TigerVNC"; log:\n${viewer.log()}`);
    await qemu('guest one');
    assert.ok(await until(titled(NAMED), 5000), `window "${NAMED} - TigerVNC"; log:\n${viewer.log()}`);
    await qemu(null);
    assert.ok(await until(titled(DISPLAY), 5000), `window back to "${DISPLAY} - TigerVNC"`);
    const mine = lines.slice(first);
    const offered = mine.filter((l) => l.msg === 'vnc_client_encodings').map((l) => l.encodings as number[]);
    assert.ok(offered.length > 0);
    // (TigerVNC 1.12 does not offer QEMU LED state; noVNC does, above.)
    for (const e of [Encoding.DESKTOP_NAME, Encoding.FENCE, Encoding.CONTINUOUS_UPDATES])
      assert.ok(offered.at(-1)!.includes(e), `TigerVNC offers ${e}: ${offered.at(-1)!.join(',')}`);
    assert.deepEqual(
      mine.filter((l) => l.msg === 'vnc_client_dropped' || l.msg === 'vnc_client_closed'),
      [],
      'TigerVNC was neither dropped nor closed',
    );
  });
});
