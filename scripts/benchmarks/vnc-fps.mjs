// Figures for the VNC server: see vnc-fps.sh. The server side (soft backend,
// Displays, VncServer, the "guest" presenting frames at 60 Hz) runs in this
// process, whose CPU (process.cpuUsage: all threads, including the backend's
// worker and zlib's thread pool) is what is measured; the viewers run in a
// child process and only parse updates (pixel data is skipped, zlib data is
// not inflated).
//
// Baselines, same run, same presents:
//   read   : the backend presents and one latest() readout per frame (what
//            any viewer costs at least);
//   socket : read + writing the 8 MB frame to one loopback socket per viewer
//            (memcpy + socket write of the same bytes, no RFB).
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createServer, connect } from 'node:net';
import { pino } from 'pino';
import { NullInput } from '#daemon/input/input-sink.js';
import { VncServer } from '#daemon/viewers/vnc/index.js';
import { RfbClient } from '../../dist-test/test/support/rfb-client.js';
import { SoftGuest, pattern } from '../../dist-test/test/support/soft-guest.js';
import { Op, xy } from '../../dist-test/test/support/soft-ring.js';

const W = 1920;
const H = 1080;
const FPS = 60;
const SECONDS = Number(process.env.SECONDS_PER_RUN ?? 4);
/** Only the Tight-against-ZRLE rows (VNC_FPS_ONLY=tight): a shorter run. */
const ONLY_TIGHT = process.env.VNC_FPS_ONLY === 'tight';
const ENC = { raw: [0], zlib: [6], zrle: [16], 'copyrect+zrle': [1, 16], tight: [7], 'tight+jpeg': [7, -26], 'copyrect+tight': [1, 7] };

/**
 * A desktop-like BGRA frame: a flat background, windows with title bars and
 * lines of "text" (short dark runs on white), what Tight's fill, mono and
 * palette subencodings are for; `seed` moves the windows and changes the text.
 */
function uiFrame(w, h, seed) {
  const b = Buffer.alloc(w * h * 4);
  const fill = (x0, y0, ww, hh, bgr) => {
    for (let y = Math.max(0, y0); y < Math.min(h, y0 + hh); y++)
      for (let x = Math.max(0, x0); x < Math.min(w, x0 + ww); x++) {
        const o = (y * w + x) * 4;
        b[o] = bgr[0];
        b[o + 1] = bgr[1];
        b[o + 2] = bgr[2];
        b[o + 3] = 0xff;
      }
  };
  fill(0, 0, w, h, [120, 80, 40]);
  for (let i = 0; i < 4; i++) {
    const x0 = 60 + i * 420 + ((seed * 13) % 40),
      y0 = 80 + i * 160,
      ww = 700,
      hh = 560;
    fill(x0, y0, ww, hh, [250, 250, 250]);
    fill(x0, y0, ww, 28, i === 3 ? [200, 120, 50] : [190, 190, 190]);
    for (let line = 0; line < 30; line++)
      for (let word = 0; word < 12; word++) {
        const len = 10 + ((line * 7 + word * 13 + seed * 3 + i) % 40);
        fill(x0 + 12 + word * 55, y0 + 40 + line * 17, Math.min(len, 50), 11, [30, 30, 30]);
      }
  }
  return b;
}

// ------------------------------------------------------------------ viewers
if (process.argv[2] === 'viewers') {
  const [, , , port, count, mode, enc] = process.argv;
  const counts = [];
  const sockets = [];
  if (mode === 'sink') {
    // baseline: plain sockets, count bytes
    const srv = createServer((s) => {
      const i = counts.push(0) - 1;
      sockets.push(s);
      s.on('data', (d) => (counts[i] += d.length));
    });
    srv.listen(0, '127.0.0.1', () => process.send({ ready: srv.address().port }));
  } else {
    const clients = [];
    for (let i = 0; i < Number(count); i++) {
      const c = await RfbClient.connect(Number(port), { decode: false });
      c.setEncodings(ENC[enc]);
      clients.push(c);
      counts.push(0);
      (async () => {
        c.requestUpdate(false);
        for (;;) {
          const u = await c.nextUpdate(60_000).catch(() => null);
          if (!u) return;
          if (u.rects.length) counts[i]++;
          c.requestUpdate(true);
        }
      })();
    }
    process.send({ ready: true });
  }
  process.on('message', (m) => {
    if (m === 'count') process.send({ counts: [...counts] });
    if (m === 'exit') process.exit(0);
  });
} else await main();

async function main() {
  const log = pino({ level: 'warn' });
  const guest = new SoftGuest(log, W * H * 4, 2);
  const display = guest.attach([{ width: W, height: H, refreshHz: 60 }], 0);
  const full = [pattern(W, H, 1), pattern(W, H, 2)];
  const small = [pattern(W, H, 3), Buffer.from(pattern(W, H, 3))];
  for (let y = 500; y < 564; y++) for (let x = 900; x < 964; x++) small[1].writeUInt32LE((0xff00ff00 ^ (x * y)) >>> 0, (y * W + x) * 4);

  const load = (frames) => frames.forEach((f, i) => guest.store(i, f));

  // How the guest presents frame n: the whole frame (the device finds the
  // damage by comparing), or with its damage hint (only that area is read).
  const whole = (n) => guest.presentSlot(0, n & 1, W);
  const hinted = (n) => guest.presentSlot(0, n & 1, W, { x: 900, y: 500, w: 64, h: 64 });
  // A terminal scrolling: blit everything up 16 rows, present the new bottom strip.
  const scrolling = (n) => {
    guest.run([[Op.COPY_RECT, [0, xy(0, 16), xy(0, 0), xy(W, H - 16)]]]);
    guest.presentSlot(0, n & 1, W, { x: 0, y: H - 16, w: W, h: 16 });
  };
  let present = whole;

  /** Presents (alternately slot 0 and 1) at 60 Hz for SECONDS; returns presents, CPU and wall time. */
  async function drive(onFrame = () => {}) {
    // warm-up
    for (let i = 0; i < 10; i++) {
      present(i);
      await new Promise((r) => setTimeout(r, 1000 / FPS));
    }
    // How long the JS thread (which also answers vfio-user messages) is held up.
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let n = 0;
    while (performance.now() - t0 < SECONDS * 1000) {
      present(n);
      n++;
      onFrame();
      const next = t0 + (n * 1000) / FPS;
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
    }
    const cpu = process.cpuUsage(c0);
    loop.disable();
    return {
      presents: n,
      cpuMs: (cpu.user + cpu.system) / 1000,
      wallMs: performance.now() - t0,
      loopP99: loop.percentile(99) / 1e6,
      loopMax: loop.max / 1e6,
    };
  }

  async function viewers(args) {
    const child = fork(new URL(import.meta.url).pathname, ['viewers', ...args.map(String)], { stdio: 'inherit' });
    const [ready] = await once(child, 'message');
    const count = async () => {
      child.send('count');
      const [m] = await once(child, 'message');
      return m.counts;
    };
    return { child, ready: ready.ready, count, stop: () => child.send('exit') };
  }

  const rows = [];
  const report = (name, r, delivered, extra = '') => {
    const perFrame = r.cpuMs / r.presents;
    const core = (r.cpuMs / r.wallMs) * 100;
    const fps = delivered.map((d) => (d / r.wallMs) * 1000);
    rows.push({ name, perFrame, core });
    const fpsText = fps.length ? `viewer fps ${fps.map((f) => f.toFixed(1)).join('/')}` : '';
    const loop = `  loop delay p99 ${r.loopP99.toFixed(1)} ms max ${r.loopMax.toFixed(1)} ms`;
    console.log(
      `${name.padEnd(34)} presented ${((r.presents / r.wallMs) * 1000).toFixed(1)} fps  cpu ${perFrame.toFixed(2)} ms/frame = ${core.toFixed(1)}% of a core  ${fpsText}${extra}${loop}`,
    );
    return { perFrame, core };
  };

  console.log(`1920x1080 BGRA, guest presents at ${FPS} Hz for ${SECONDS} s per run; CPU of the server process (all threads)`);

  // baseline: read
  load(full);
  const baseRead = report('baseline read (full change)', await drive(() => display.latest()), []);

  // baseline: socket writes of the frame bytes
  async function socketBaseline(n) {
    const v = await viewers([0, n, 'sink', 'raw']);
    const socks = await Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise((r) => {
            const s = connect(v.ready, '127.0.0.1', () => r(s));
          }),
      ),
    );
    let busy = socks.map(() => false);
    let sent = socks.map(() => 0);
    const r = await drive(() => {
      const f = display.latest();
      socks.forEach((s, i) => {
        if (busy[i]) return; // like VNC: skip frames for a busy socket
        busy[i] = true;
        sent[i]++;
        s.write(f.data, () => (busy[i] = false));
      });
    });
    const out = report(`baseline socket x${n} (full change)`, r, sent);
    socks.forEach((s) => s.destroy());
    v.stop();
    return out;
  }
  const baseSock1 = await socketBaseline(1);
  const baseSock4 = await socketBaseline(4);

  load(small);
  const baseReadSmall = report('baseline read (64x64 change)', await drive(() => display.latest()), []);

  const vnc = new VncServer({ listen: { host: '127.0.0.1', port: 0 }, displays: guest.displays, input: new NullInput(), log });
  await vnc.start();
  const port = vnc.address(0).port;
  async function vncRun(name, frames, n, enc, how = whole) {
    load(frames);
    present = how;
    const v = await viewers([port, n, 'vnc', enc]);
    await new Promise((r) => setTimeout(r, 300));
    const before = await v.count();
    const sent = () => vnc.stats()[0].clients.reduce((n, c) => n + c.bytes, 0);
    const bytes0 = sent();
    const r = await drive();
    const afterCounts = await v.count();
    const bytes = sent() - bytes0;
    v.stop();
    await new Promise((r2) => setTimeout(r2, 200));
    const updates = afterCounts.reduce((n, c, i) => n + c - before[i], 0);
    const perUpdate = { kib: bytes / Math.max(1, updates) / 1024, cpuMs: r.cpuMs / Math.max(1, updates) };
    return {
      ...report(
        name,
        r,
        afterCounts.map((c, i) => c - before[i]),
        `  ${perUpdate.kib.toFixed(1)} KiB/update  cpu ${perUpdate.cpuMs.toFixed(2)} ms/update`,
      ),
      ...perUpdate,
    };
  }
  const ratio = (a, b) => (a.perFrame / b.perFrame).toFixed(2);
  const vs = (a, b) =>
    `${a.kib.toFixed(1)} vs ${b.kib.toFixed(1)} KiB/update (${(a.kib / b.kib).toFixed(2)}x), cpu ${a.cpuMs.toFixed(2)} vs ${b.cpuMs.toFixed(2)} ms/update (${(a.cpuMs / b.cpuMs).toFixed(2)}x)`;
  // Desktop-like frames (uiFrame): what a guest's screen mostly looks like.
  const ui = [uiFrame(W, H, 1), uiFrame(W, H, 2)];
  const tightUi = async () => {
    const tu = await vncRun('vnc tight x1 (desktop-like, windows move)', ui, 1, 'tight');
    const tju = await vncRun('vnc tight+jpeg q6 x1 (desktop-like, windows move)', ui, 1, 'tight+jpeg');
    const zu = await vncRun('vnc zrle x1 (desktop-like, windows move)', ui, 1, 'zrle');
    return () => {
      console.log(`tight vs zrle, desktop-like, windows move: ${vs(tu, zu)}`);
      console.log(`tight+jpeg (quality 6) vs zrle, desktop-like, windows move: ${vs(tju, zu)}`);
    };
  };
  if (ONLY_TIGHT) {
    const tf = await vncRun('vnc tight x1 (full change)', full, 1, 'tight');
    const zf = await vncRun('vnc zrle x1 (full change)', full, 1, 'zrle');
    const printUi = await tightUi();
    await vnc.stop();
    guest.destroy();
    console.log('');
    console.log(`tight vs zrle, full change (noise pattern): ${vs(tf, zf)}`);
    printUi();
    process.exit(0);
  }
  const f1 = await vncRun('vnc raw x1 (full change)', full, 1, 'raw');
  const f4 = await vncRun('vnc raw x4 (full change)', full, 4, 'raw');
  const s1 = await vncRun('vnc raw x1 (64x64 change)', small, 1, 'raw');
  const s4 = await vncRun('vnc raw x4 (64x64 change)', small, 4, 'raw');
  const z1 = await vncRun('vnc zrle x1 (64x64 change)', small, 1, 'zrle');
  const zl1 = await vncRun('vnc zlib x1 (64x64 change)', small, 1, 'zlib');

  // The same 64x64 change, presented with the guest's damage hint.
  load(small);
  present = hinted;
  const baseReadHint = report('baseline read (64x64, hinted)', await drive(() => display.latest()), []);
  const h1 = await vncRun('vnc raw x1 (64x64, hinted)', small, 1, 'raw', hinted);
  const h4 = await vncRun('vnc raw x4 (64x64, hinted)', small, 4, 'raw', hinted);
  const hz1 = await vncRun('vnc zrle x1 (64x64, hinted)', small, 1, 'zrle', hinted);

  // Scrolling: with CopyRect the viewer moves the pixels itself.
  const scrollFrames = [pattern(W, H, 4), pattern(W, H, 5)];
  load(scrollFrames);
  present = scrolling;
  const baseReadScroll = report('baseline read (scroll 16 rows)', await drive(() => display.latest()), []);
  const sc = await vncRun('vnc copyrect+zrle x1 (scroll)', scrollFrames, 1, 'copyrect+zrle', scrolling);
  const sz = await vncRun('vnc zrle x1 (scroll)', scrollFrames, 1, 'zrle', scrolling);

  // Tight against ZRLE, same frames, same run: bytes and CPU per update.
  // (CPU per update includes the 60 Hz presents and read-outs, as for every row.)
  const tf = await vncRun('vnc tight x1 (full change)', full, 1, 'tight');
  const tjf = await vncRun('vnc tight+jpeg q6 x1 (full change)', full, 1, 'tight+jpeg');
  const zf = await vncRun('vnc zrle x1 (full change)', full, 1, 'zrle');
  const ts1 = await vncRun('vnc tight x1 (64x64 change)', small, 1, 'tight');
  const zs1 = await vncRun('vnc zrle x1 (64x64 change, again)', small, 1, 'zrle');
  load(scrollFrames);
  const tsc = await vncRun('vnc copyrect+tight x1 (scroll)', scrollFrames, 1, 'copyrect+tight', scrolling);
  const zsc = await vncRun('vnc copyrect+zrle x1 (scroll, again)', scrollFrames, 1, 'copyrect+zrle', scrolling);
  const printUi = await tightUi();
  await vnc.stop();
  guest.destroy();

  console.log('');
  console.log(
    `full change, 1 viewer:  cpu/frame ${ratio(f1, baseSock1)}x socket baseline, ${ratio(f1, baseRead)}x read baseline; ${f1.core.toFixed(1)}% of a core (goal: 60 fps under 100%)`,
  );
  console.log(
    `full change, 4 viewers: cpu/frame ${ratio(f4, baseSock4)}x socket baseline, ${ratio(f4, baseRead)}x read baseline; ${f4.core.toFixed(1)}% of a core`,
  );
  for (const [n, r] of [
    ['raw x1', s1],
    ['raw x4', s4],
    ['zrle x1', z1],
    ['zlib x1', zl1],
  ])
    console.log(
      `64x64 change, ${n}: ${r.core.toFixed(1)}% of a core in all, ${(r.core - baseReadSmall.core).toFixed(1)}% above the read baseline (goal: VNC under 5%)`,
    );
  for (const [n, r] of [
    ['raw x1', h1],
    ['raw x4', h4],
    ['zrle x1', hz1],
  ])
    console.log(
      `64x64 change with the guest's hint, ${n}: ${r.core.toFixed(1)}% of a core in all (goal: under 5%), ${(r.core - baseReadHint.core).toFixed(1)}% above the read baseline`,
    );
  console.log(
    `scroll, copyrect+zrle x1: ${sc.core.toFixed(1)}% of a core, ${ratio(sc, sz)}x the CPU of zrle without CopyRect (${sz.core.toFixed(1)}%); read baseline ${baseReadScroll.core.toFixed(1)}%`,
  );
  console.log(`tight vs zrle, full change: ${vs(tf, zf)}`);
  console.log(`tight+jpeg (quality 6) vs zrle, full change: ${vs(tjf, zf)}`);
  console.log(`tight vs zrle, 64x64 change: ${vs(ts1, zs1)}`);
  console.log(`copyrect+tight vs copyrect+zrle, scroll: ${vs(tsc, zsc)}`);
  printUi();
  process.exit(0);
}
