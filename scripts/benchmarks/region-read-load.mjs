// REGION_READ round trips while the daemon's viewers are busy: see
// region-read-load.sh. Each run starts a fresh daemon twice:
//   idle   : the C client's 4-byte BAR0 reads and nothing else;
//   loaded : the same reads while the client (as a guest) presents two
//            alternating 1920x1080 frames at 60 Hz (LOAD=full: whole frames;
//            LOAD=square, the default: a 256x256 damage-hinted square moving
//            across the display, as the demo draws), four VNC viewers (a child
//            process parsing RFB, no decoding) take every update they can in
//            ZRLE, and Chromium shows the browser viewer, and a PNG screenshot of the
//            display is fetched every 0.5 s.
// Reported per phase: the client's p50/p99 (medians over runs), the daemon's
// event-loop delay (from `ctl status`), viewer updates and screenshots.
import { execFile, fork, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ControlClient } from '#daemon/control/control-client.js';
import { RfbClient } from '../../dist-test/test/support/rfb-client.js';

const ZRLE = 16;

// ------------------------------------------------------------ viewer child
if (process.argv[2] === 'viewers') {
  const [, , , port, count] = process.argv;
  const updates = [];
  for (let i = 0; i < Number(count); i++) {
    const c = await RfbClient.connect(Number(port), { decode: false });
    c.setEncodings([ZRLE]);
    updates.push(0);
    (async () => {
      c.requestUpdate(false);
      for (;;) {
        const u = await c.nextUpdate(60_000).catch(() => null);
        if (!u) return;
        if (u.rects.length) updates[i]++;
        c.requestUpdate(true);
      }
    })();
  }
  process.send({ ready: true });
  process.on('message', (m) => {
    if (m === 'count') process.send({ updates: [...updates] });
    if (m === 'exit') process.exit(0);
  });
} else await main();

async function main() {
  const [work, client] = [process.env.WORK, process.env.RTT_CLIENT];
  const RUNS = Number(process.env.RUNS ?? 5);
  const COUNT = Number(process.env.COUNT ?? 100000);
  const WARMUP = Number(process.env.WARMUP ?? 2000);
  const VIEWERS = Number(process.env.VIEWERS ?? 4);
  // Placement: unpinned (default), cross (daemon cpu0, client cpu1) or same (both cpu0).
  const PIN = process.env.PIN ?? '';
  const LOAD = process.env.LOAD ?? 'square';
  const presentArgs = LOAD === 'full' ? ['present', '1920', '1080'] : ['present', '1920', '1080', '256'];
  const pinDaemon = PIN ? ['taskset', '-c', '0'] : [];
  const pinClient = PIN === 'cross' ? ['taskset', '-c', '1'] : PIN === 'same' ? ['taskset', '-c', '0'] : [];

  const { CHROMIUM, CHROMIUM_ARGS } = await import('../../dist-test/test/support/chromium.js');
  const haveBrowser = existsSync(CHROMIUM) && !process.env.NO_BROWSER;
  let browser = null;
  if (haveBrowser) {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  } else console.log(`!! no ${CHROMIUM}: the loaded phase runs without the browser`);

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function startDaemon(tag, main = 'dist/daemon/src/main.js') {
    const sock = join(work, `${tag}.sock`);
    const args = [
      ...pinDaemon,
      process.execPath,
      main,
      '--socket-path',
      sock,
      '--display',
      '1920x1080@60',
      '--vnc',
      '127.0.0.1:0',
      '--web',
      '127.0.0.1:0',
      '--log-level',
      'info',
    ];
    const proc = spawn(args[0], args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let vncPort = 0;
    let webUrl = '';
    proc.stderr.setEncoding('utf8').on('data', (d) => {
      err += d;
      for (const line of d.split('\n')) {
        const m = /browser viewer at (\S+)/.exec(line);
        if (m) webUrl = m[1];
        if (line.startsWith('{') && line.includes('vnc_listening')) vncPort = JSON.parse(line).port;
      }
    });
    for (let i = 0; i < 200 && !(vncPort && webUrl && existsSync(sock)); i++) await sleep(50);
    if (!vncPort || !webUrl) throw new Error(`daemon did not start:\n${err}`);
    return {
      sock,
      vncPort,
      webUrl,
      status: async () => {
        const ctl = await ControlClient.connect(`${sock}.ctl`);
        try {
          return await ctl.call('status');
        } finally {
          ctl.close();
        }
      },
      stop: async () => {
        proc.kill();
        await once(proc, 'exit');
      },
      errors: () => err.split('\n').filter((l) => l.includes('"level":"error"')),
    };
  }

  async function rtt(sock, present) {
    const args = [...pinClient, client, sock, String(WARMUP), String(COUNT), ...(present ? presentArgs : [])];
    // Loaded: 3 s of presents first, so the viewers' and the browser's first
    // whole-frame updates are done before anything is timed.
    const env = { ...process.env, PRESENT_WARMUP_MS: present ? '3000' : '0' };
    // Asynchronous: this process fetches screenshots and drives Chromium meanwhile.
    const { stdout } = await promisify(execFile)(args[0], args.slice(1), { encoding: 'utf8', timeout: 600_000, env });
    const out = stdout.trim().split(/\s+/).map(Number);
    return { p50: out[0], p99: out[1], mean: out[2], presents: out[3] ?? 0 };
  }

  async function counts(child) {
    child.send('count');
    const [m] = await once(child, 'message');
    return m.updates.reduce((a, b) => a + b, 0);
  }

  async function phase(loaded, main) {
    const d = await startDaemon(loaded ? 'loaded' : 'idle', main);
    let viewers = null;
    let page = null;
    let shots = 0;
    let stopShots = false;
    let shotLoop = null;
    try {
      if (loaded) {
        const child = fork(new URL(import.meta.url).pathname, ['viewers', String(d.vncPort), String(VIEWERS)], { stdio: 'inherit' });
        await once(child, 'message');
        viewers = child;
        if (browser) {
          // Chromium shows the live browser viewer; the display's PNG
          // screenshot is fetched over HTTP every 0.5 s (the daemon encodes
          // one per request).
          page = await browser.newPage();
          await page.goto(d.webUrl);
        }
        const shotUrl = new URL('screenshot/0.png', d.webUrl).href;
        shotLoop = (async () => {
          while (!stopShots) {
            const t = Date.now();
            const ok = await fetch(shotUrl)
              .then(async (r) => r.ok && (await r.arrayBuffer()).byteLength > 0)
              .catch(() => false);
            if (ok) shots++;
            if (process.env.DEBUG_SHOTS) console.log(`screenshot ${ok} in ${Date.now() - t} ms`);
            await sleep(Math.max(0, 500 - (Date.now() - t)));
          }
        })();
        await sleep(500);
      }
      const t0 = Date.now();
      const before = viewers ? await counts(viewers) : 0;
      const shots0 = shots;
      const r = await rtt(d.sock, loaded);
      const seconds = (Date.now() - t0) / 1000;
      const s = await d.status();
      const updates = viewers ? (await counts(viewers)) - before : 0;
      const h = s.latency.find((x) => x.name === 'REGION_READ');
      // The daemon's own handling time of a read (from taking the message to
      // the reply's sendmsg), as a share of reads over 100 us.
      const slowHandling = h ? h.counts.slice(h.boundsUs.findIndex((b) => b >= 100) + 1).reduce((a, b) => a + b, 0) / h.total : 0;
      return {
        ...r,
        seconds,
        slowHandling,
        loopP99: s.eventLoopDelay?.p99Ms ?? NaN,
        loopMax: s.eventLoopDelay?.maxMs ?? NaN,
        updates,
        shots: shots - shots0,
        errors: d.errors().length,
      };
    } finally {
      stopShots = true;
      await shotLoop;
      await page?.close();
      viewers?.send('exit');
      await d.stop();
    }
  }

  const median = (xs) => {
    const a = [...xs].sort((x, y) => x - y);
    return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
  };
  // BEFORE=path/to/another/tree's dist/daemon/src/main.js: that daemon too,
  // in the same interleaving (e.g. a build without the data plane).
  const BEFORE = process.env.BEFORE;
  const idle = [];
  const loaded = [];
  const idleB = [];
  const loadedB = [];
  console.log(
    `region-read-load: ${RUNS} runs x ${COUNT} round trips (after ${WARMUP}), placement ${PIN || 'unpinned'}, presents ${LOAD === 'full' ? 'whole frames' : 'a hinted 256x256 square'}, ${VIEWERS} ZRLE viewers${browser ? ' + Chromium showing the browser viewer' : ''}, a screenshot every 0.5 s`,
  );
  const line = (tag, a, b) =>
    `  ${tag}: idle p50 ${a.p50} p99 ${a.p99} us (loop p99 ${a.loopP99.toFixed(1)} ms) | loaded p50 ${b.p50} p99 ${b.p99} us over ${b.seconds.toFixed(1)} s, ` +
    `${b.presents} presents, ${(b.updates / b.seconds).toFixed(1)} viewer updates/s, ${b.shots} screenshots, loop p99 ${b.loopP99.toFixed(1)} ms max ${b.loopMax.toFixed(1)} ms, handled in > 100 us: idle ${(a.slowHandling * 100).toFixed(2)}% loaded ${(b.slowHandling * 100).toFixed(2)}%${b.errors ? `, ${b.errors} error log lines` : ''}`;
  for (let i = 1; i <= RUNS; i++) {
    idle.push(await phase(false));
    loaded.push(await phase(true));
    console.log(line(`run ${i}/${RUNS}`, idle.at(-1), loaded.at(-1)));
    if (BEFORE) {
      idleB.push(await phase(false, BEFORE));
      loadedB.push(await phase(true, BEFORE));
      console.log(line(`run ${i}/${RUNS} BEFORE`, idleB.at(-1), loadedB.at(-1)));
    }
  }
  const m = (xs, k) => median(xs.map((x) => x[k]));
  const summary = (tag, idle, loaded) => {
    const [ip50, ip99, lp50, lp99] = [m(idle, 'p50'), m(idle, 'p99'), m(loaded, 'p50'), m(loaded, 'p99')];
    console.log(
      `${tag}idle   p50 ${ip50.toFixed(2)} us  p99 ${ip99.toFixed(2)} us  event loop p99 ${m(idle, 'loopP99').toFixed(1)} ms\n` +
        `${tag}loaded p50 ${lp50.toFixed(2)} us  p99 ${lp99.toFixed(2)} us  event loop p99 ${m(loaded, 'loopP99').toFixed(1)} ms max ${m(loaded, 'loopMax').toFixed(1)} ms; ` +
        `${median(loaded.map((x) => x.updates / x.seconds)).toFixed(1)} viewer updates/s, ${median(loaded.map((x) => x.presents / x.seconds)).toFixed(1)} presents/s\n` +
        `${tag}ratio loaded/idle: p50 ${(lp50 / ip50).toFixed(2)}x  p99 ${(lp99 / ip99).toFixed(2)}x (goal p99 <= 1.5x)`,
    );
  };
  summary('', idle, loaded);
  if (BEFORE) summary(`BEFORE (${BEFORE}) `, idleB, loadedB);
  await browser?.close();
}
