// See scripts/soak.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ControlClient } from '#daemon/control/control-client.js';
import { RfbClient } from '../dist-test/test/support/rfb-client.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const MINUTES = arg('--minutes', 2);
const RESTART_S = arg('--restart-every', 45);
const root = resolve(new URL('..', import.meta.url).pathname);
const cache = process.env.APPLE_GFXD_CACHE ?? '/var/cache/apple-gfxd';
const work = mkdtempSync(join(tmpdir(), 'agfx-soak-'));
const sock = join(work, 'gfx.sock');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}]`, ...a);

const daemon = spawn(
  process.execPath,
  [
    join(root, 'dist/daemon/src/main.js'),
    '--socket-path',
    sock,
    '--display',
    '800x600@60,640x480@60',
    '--vnc',
    '127.0.0.1:0',
    '--web',
    '127.0.0.1:0',
    '--log-level',
    'info',
  ],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
let stderr = '';
const errors = [];
daemon.stderr.setEncoding('utf8').on('data', (c) => {
  stderr += c;
  for (const line of c.split('\n')) if (/"level":"(error|fatal)"/.test(line)) errors.push(line.slice(0, 300));
  if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19));
});
let daemonExit = null;
daemon.on('exit', (code, sig) => (daemonExit = { code, sig }));
for (let i = 0; i < 200 && !/apple_gfx_common_init/.test(stderr); i++) await sleep(50);
const vncPort = Number(/"msg":"vnc_listening"[^\n]*|"port":(\d+)[^\n]*"msg":"vnc_listening"/.exec(stderr)?.[0]?.match(/"port":(\d+)/)?.[1]);
const webUrl = /browser viewer at (\S+)/.exec(stderr)?.[1];
log(`daemon pid ${daemon.pid}; VNC port ${vncPort}; web ${webUrl}; ${MINUTES} min, VM restart every ${RESTART_S} s`);

const proc = (f) => readFileSync(`/proc/${daemon.pid}/${f}`, 'utf8');
const sample = () => ({
  t: Date.now(),
  rssMiB: Number(/VmRSS:\s+(\d+)/.exec(proc('status'))[1]) / 1024,
  fds: readdirSync(`/proc/${daemon.pid}/fd`).length,
  memfdMaps: proc('maps')
    .split('\n')
    .filter((l) => l.includes('/memfd:')).length,
});

// The VM, restarted again and again.
const deadline = Date.now() + MINUTES * 60_000;
let boots = 0;
let guestFailures = 0;
const vmLoop = (async () => {
  while (Date.now() < deadline - 10_000) {
    const seconds = Math.max(10, Math.min(RESTART_S, Math.floor((deadline - Date.now()) / 1000) - 8));
    boots++;
    const code = await new Promise((res) => {
      const g = spawn(
        'bash',
        [
          join(root, 'scripts/rig/run-guest.sh'),
          '--socket',
          sock,
          '--program',
          process.env.APPLE_GFXD_GUEST_PROGRAMS
            ? join(process.env.APPLE_GFXD_GUEST_PROGRAMS, 'aarch64', 'soft-driver')
            : join(cache, 'guest/bin/soft-driver'),
          '--test',
          join(root, 'test/guest/demo.sh'),
          '--append',
          `agfx.demo_seconds=${seconds}`,
          '--timeout',
          String(seconds + 90),
        ],
        { stdio: 'ignore' },
      );
      g.on('exit', res);
    });
    if (code !== 0) guestFailures++;
    log(`VM ${boots} ended (exit ${code})`);
  }
})();

// Viewers and control requests, all the time.
let viewerCycles = 0;
let viewerErrors = 0;
const viewerLoop = (async () => {
  while (Date.now() < deadline) {
    try {
      const c = await RfbClient.connect(vncPort);
      c.setEncodings([16, 6, 0, -239, -223]);
      c.requestUpdate(false);
      await c.nextUpdate(3000);
      c.close();
      if (webUrl) {
        const r = await fetch(new URL('/screenshot/0.png', webUrl));
        await r.arrayBuffer();
      }
      const ctl = await ControlClient.connect(`${sock}.ctl`);
      await ctl.call('status');
      ctl.close();
      viewerCycles++;
    } catch (e) {
      viewerErrors++;
      if (viewerErrors < 5) log(`viewer cycle failed: ${e.message}`);
    }
    await sleep(500);
  }
})();

const samples = [];
let lastFrames = 0;
while (Date.now() < deadline && !daemonExit) {
  await sleep(5000);
  const s = sample();
  try {
    const ctl = await ControlClient.connect(`${sock}.ctl`);
    const st = await ctl.call('status');
    ctl.close();
    s.frames = st.displays[0]?.framesPresented ?? 0;
    s.connected = st.clientConnected;
    const h = st.latency.find((x) => x.name === 'REGION_READ');
    if (h) {
      let acc = 0;
      const p99 = h.counts.findIndex((c) => (acc += c) >= h.total * 0.99);
      s.readP99us = p99 < h.boundsUs.length ? h.boundsUs[p99] : `>${h.boundsUs.at(-1)}`;
    }
  } catch (e) {
    s.statusError = e.message;
  }
  samples.push(s);
  if (samples.length % 6 === 1) log(JSON.stringify(s));
  lastFrames = s.frames ?? lastFrames;
}
await Promise.all([vmLoop, viewerLoop]);
await sleep(1500);
const end = daemonExit ? null : sample();
const exitedEarly = daemonExit;
daemon.kill('SIGTERM');
await new Promise((r) => (daemonExit ? r() : daemon.on('exit', r)));
rmSync(work, { recursive: true, force: true });

// Verdict.
const problems = [];
if (exitedEarly) problems.push(`daemon exited during the soak: ${JSON.stringify(exitedEarly)}`);
if (errors.length) problems.push(`${errors.length} error log lines, first: ${errors[0]}`);
if (guestFailures) problems.push(`${guestFailures} of ${boots} VM runs failed`);
if (viewerErrors > viewerCycles / 10) problems.push(`${viewerErrors} viewer cycles failed (${viewerCycles} ok)`);
const q = Math.max(1, Math.floor(samples.length / 4));
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rssEarly = med(samples.slice(0, q).map((s) => s.rssMiB));
const rssLate = med(samples.slice(-q).map((s) => s.rssMiB));
if (rssLate - rssEarly > 40) problems.push(`RSS grew from ${rssEarly.toFixed(1)} to ${rssLate.toFixed(1)} MiB`);
const base = samples[0];
if (end && end.fds > base.fds + 4) problems.push(`fds: ${base.fds} at start, ${end.fds} after the last VM left`);
if (end && end.memfdMaps !== 0) problems.push(`${end.memfdMaps} guest-memory mappings left after the last VM`);
if (!lastFrames) problems.push('no frame was presented');
const summary = {
  minutes: MINUTES,
  boots,
  viewerCycles,
  viewerErrors,
  framesPresented: lastFrames,
  rssMiB: { early: +rssEarly.toFixed(1), late: +rssLate.toFixed(1), max: +Math.max(...samples.map((s) => s.rssMiB)).toFixed(1) },
  fds: { start: base.fds, max: Math.max(...samples.map((s) => s.fds)), end: end?.fds },
  memfdMapsAtEnd: end?.memfdMaps,
  regionReadP99us: samples
    .map((s) => s.readP99us)
    .filter(Boolean)
    .at(-1),
};
log('summary', JSON.stringify(summary));
if (problems.length) {
  for (const p of problems) log(`FAIL ${p}`);
  process.exit(1);
}
log('PASS');
