// TigerVNC's viewer (Debian's tigervnc-viewer) under Xvfb against the
// daemon's VNC port (issue 17): with the encodings it offers (AutoSelect) and
// with Raw preferred, each with CopyRect on and off (TigerVNC always offers
// CopyRect; a proxy takes it out of its SetEncodings), all watching one
// display while the guest animates (the C demo's COPY_RECT scroll and two
// hinted presents per frame, a moving odd-sized cursor, mode changes). After
// the guest stops drawing, every viewer window (captured with xwd) must equal
// the daemon's PNG screenshot pixel for pixel.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Encoding } from '#daemon/viewers/vnc/rfb.js';
import { AnimatedDisplay, sleep } from '../support/animated-display.js';
import { browserSkipBanner } from '../support/chromium.js';
import { bgraToRgba } from '../support/pixels.js';
import {
  captureWindow,
  ensureTigerVnc,
  findWindows,
  rfbEncodingsFilter,
  startVncViewer,
  tigerVncVersion,
  Xvfb,
  type Viewer,
} from '../support/tigervnc.js';

const ANIMATE_MS = Number(process.env.VNC_ANIMATE_MS ?? 8000);
const missing = ensureTigerVnc();
const skip = missing ? browserSkipBanner('TIGERVNC REAL-CLIENT TESTS', missing) : false;

interface Case {
  name: string;
  params: string[];
  copyRect: boolean;
  encoding: string;
  /** Keeps its quality level: the JPEG'd tiles must be refreshed losslessly when the guest stops. */
  refreshed?: boolean;
}

const CASES: Case[] = [
  { name: 'its encodings', params: [], copyRect: true, encoding: 'tight' },
  { name: 'its encodings without CopyRect', params: [], copyRect: false, encoding: 'tight' },
  {
    name: 'Tight with JPEG throughout (QualityLevel=5)',
    params: ['AutoSelect=0', 'PreferredEncoding=Tight', 'QualityLevel=5'],
    copyRect: true,
    encoding: 'tight',
    refreshed: true,
  },
  { name: 'PreferredEncoding=ZRLE', params: ['AutoSelect=0', 'PreferredEncoding=ZRLE'], copyRect: true, encoding: 'zrle' },
  { name: 'PreferredEncoding=raw', params: ['AutoSelect=0', 'PreferredEncoding=raw'], copyRect: true, encoding: 'raw' },
  { name: 'PreferredEncoding=raw without CopyRect', params: ['AutoSelect=0', 'PreferredEncoding=raw'], copyRect: false, encoding: 'raw' },
];

describe("TigerVNC's viewer follows an animating guest pixel for pixel", { skip }, () => {
  let stage: AnimatedDisplay;
  let xvfb: Xvfb;
  const viewers: Viewer[] = [];
  const proxies: { close(): Promise<void> }[] = [];
  const clients: { c: Case; label: string; window: string; session: number }[] = [];

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
    // Side by side: xwd captures what is on screen, so no window may cover another.
    xvfb = await Xvfb.start(2100, 1100);
    const title = `${stage.display.name} - TigerVNC`;
    for (const [i, c] of CASES.entries()) {
      const label = `TigerVNC ${tigerVncVersion()} ${c.name}`;
      let window = '';
      const session = await stage.connect(label, async () => {
        let port = stage.tcpPort;
        if (!c.copyRect) {
          const p = await rfbEncodingsFilter(port, [Encoding.COPY_RECT]);
          proxies.push(p);
          port = p.port;
        }
        const known = new Set(findWindows(xvfb.display, title));
        const v = startVncViewer(xvfb.display, port, [`geometry=+${(i % 3) * 680}+${Math.floor(i / 3) * 520}`, ...c.params]);
        viewers.push(v);
        const end = Date.now() + 20_000;
        while (!window) {
          if (Date.now() > end) throw new Error(`${label}: no viewer window; its log:\n${v.log()}`);
          await sleep(100);
          window = findWindows(xvfb.display, title).find((w) => !known.has(w)) ?? '';
        }
      });
      clients.push({ c, label, window, session });
    }
    await stage.animate(ANIMATE_MS, true);
  });

  after(async () => {
    for (const v of viewers) await v.stop();
    for (const p of proxies) await p.close();
    await xvfb?.stop();
    await stage?.stop();
  });

  it('the guest animated with scrolls, hinted presents and mode changes meanwhile', () => {
    assert.ok(stage.anim.frames > 50, `${stage.anim.frames} frames`);
    assert.ok(stage.anim.modeChanges >= 2, `${stage.anim.modeChanges} mode changes`);
  });

  for (const c of CASES)
    it(`TigerVNC ${c.name}: the window equals the daemon's PNG screenshot`, async (t) => {
      const client = clients.find((x) => x.c === c)!;
      t.diagnostic(client.label);
      const s = stage.session(client.session);
      assert.ok(s, `${client.label}: its session is still open`);
      assert.equal(s.encoding, c.encoding, 'the pixel encoding picked from its list');
      if (c.copyRect) assert.ok(s.copyRects > 0, 'the scrolls went as CopyRects');
      else assert.equal(s.copyRects, 0, 'no CopyRect offered, none sent');
      await stage.assertShows(client.label, async () => {
        const w = captureWindow(xvfb.display, client.window);
        return { width: w.width, height: w.height, rgba: bgraToRgba(w.bgra) };
      });
      const after = stage.session(client.session)!;
      t.diagnostic(
        `updates ${after.updates}, bytes ${after.bytes}, CopyRects ${after.copyRects}, JPEG pieces ${after.jpegRects}, lossless refreshes ${after.losslessRefreshes}`,
      );
      // Tight at the client's quality level: photo-like pieces went as JPEG, and still the picture is exact.
      if (c.refreshed)
        assert.ok(after.jpegRects > 0 && after.losslessRefreshes > 0, 'JPEG at its quality level, then sent again losslessly');
    });
});
