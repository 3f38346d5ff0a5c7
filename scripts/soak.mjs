// See scripts/soak.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ControlClient } from '#daemon/control/control-client.js';
import { RfbClient } from '../dist-test/test/support/rfb-client.js';
import { hostilePhase, stallingQmp } from './soak-hostile.mjs';

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
// The hostile phase (scripts/soak-hostile.mjs) takes its seconds from the
// VM phase's, so --minutes is what the soak takes, as before.
const HOSTILE_S = 12;
const qmp = stallingQmp(join(work, 'qmp.sock'));
await qmp.listen();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}]`, ...a);

const daemon = spawn(
  process.execPath,
  [
    join(root, 'dist/daemon/src/main.js'),
    '--socket-path',
    sock,
    // mmio: the IOSFC region the hostile phase's leavers map through (the
    // guest's soft-driver uses BAR0 either way).
    '--variant',
    'mmio',
    '--qmp',
    join(work, 'qmp.sock'),
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
const hostileStart = deadline - HOSTILE_S * 1000;
let boots = 0;
let guestFailures = 0;
const vmLoop = (async () => {
  while (Date.now() < hostileStart - 10_000) {
    const seconds = Math.max(10, Math.min(RESTART_S, Math.floor((hostileStart - Date.now()) / 1000) - 8));
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
  while (Date.now() < hostileStart) {
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
while (Date.now() < hostileStart && !daemonExit) {
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
let hostile = null;
if (!daemonExit) {
  log('hostile phase: IOSFC leavers, a never-reading vfio-user client, never-reading viewers, a stalled QMP peer');
  hostile = await hostilePhase({ pid: daemon.pid, sock, vncPort, webUrl, seconds: HOSTILE_S });
  log('hostile', JSON.stringify(hostile));
}
const end = daemonExit ? null : sample();
const exitedEarly = daemonExit;
daemon.kill('SIGTERM');
await new Promise((r) => (daemonExit ? r() : daemon.on('exit', r)));
qmp.close();
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
// Across the hostile phase: fds and guest-memory mappings back where they
// were, RSS within HOSTILE_RSS_SLACK_MIB of where it was once every peer left.
const HOSTILE_RSS_SLACK_MIB = 48;
if (hostile) {
  if (hostile.fds.after > hostile.fds.before) problems.push(`hostile phase: fds ${hostile.fds.before} -> ${hostile.fds.after}`);
  if (hostile.memfdMaps.after !== hostile.memfdMaps.before)
    problems.push(`hostile phase: memfd mappings ${hostile.memfdMaps.before} -> ${hostile.memfdMaps.after}`);
  if (hostile.iosfcLeavers.memfdMapsAfter !== hostile.memfdMaps.before)
    problems.push(
      `hostile phase: ${hostile.iosfcLeavers.memfdMapsAfter} memfd mappings after ${hostile.iosfcLeavers.clients} IOSFC leavers`,
    );
  if (hostile.iosfcLeavers.mapped !== hostile.iosfcLeavers.clients)
    problems.push(`hostile phase: ${hostile.iosfcLeavers.mapped} of ${hostile.iosfcLeavers.clients} IOSFC maps succeeded`);
  // Without the data plane's bound the never-reading vfio-user client's
  // growth is reported, not held to the slack (soak-hostile.mjs).
  const unbounded = hostile.neverReadingVfio.bounded ? 0 : Math.max(0, hostile.neverReadingVfio.rssMiBGrowth);
  if (hostile.rssMiB.after - unbounded - hostile.rssMiB.before > HOSTILE_RSS_SLACK_MIB)
    problems.push(`hostile phase: RSS ${hostile.rssMiB.before} -> ${hostile.rssMiB.after} MiB (peak ${hostile.rssMiB.peak})`);
} else if (!exitedEarly) problems.push('the hostile phase did not run');
const summary = {
  minutes: MINUTES,
  boots,
  viewerCycles,
  viewerErrors,
  framesPresented: lastFrames,
  rssMiB: { early: +rssEarly.toFixed(1), late: +rssLate.toFixed(1), max: +Math.max(...samples.map((s) => s.rssMiB)).toFixed(1) },
  fds: { start: base.fds, max: Math.max(...samples.map((s) => s.fds)), end: end?.fds },
  memfdMapsAtEnd: end?.memfdMaps,
  hostile,
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
