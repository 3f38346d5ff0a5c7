// The soak's hostile phase (issue 12): peers that misbehave on purpose, run
// against the soak's daemon once the last VM has left, with RSS, fds and
// memfd mappings sampled before, during and after. See scripts/soak.
//  - IOSFC leavers: vfio-user clients that share guest RAM, make an IOSFC
//    mapping (BAR2 GPA/LENGTH, COMMAND=2) and hang up (defect 2);
//  - a vfio-user client that pipelines REGION_READs and never reads a reply
//    (defect 3; its bound is the native data plane's, issue 13: this measures
//    whatever the daemon does);
//  - a web viewer that sends pings and never reads (defect 4), and a VNC
//    viewer that asks for full updates and never reads;
//  - a QMP peer that completes the handshake and stops reading, fed by a VNC
//    viewer sending PointerEvents (defect 8).
import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { connectClient } from '#daemon/native-transport.js';
import { native } from '#daemon/native.js';
import { flood, openRawWs, wsFrame } from '../dist-test/test/support/hostile-peers.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** QEMU's QMP greeting and capabilities handshake, then it never reads again. */
export function stallingQmp(path) {
  const conns = [];
  const server = createServer((s) => {
    conns.push(s);
    s.on('error', () => {});
    s.write(JSON.stringify({ QMP: { version: { qemu: { major: 11, minor: 1, micro: 0 } }, capabilities: [] } }) + '\r\n');
    let buf = '';
    s.setEncoding('utf8').on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const cmd = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        s.write(JSON.stringify({ return: {} }) + '\r\n');
        if (cmd.execute === 'qmp_capabilities') s.pause();
      }
    });
  });
  return {
    listen: () => new Promise((r) => server.listen(path, r)),
    close: () => (conns.forEach((c) => c.destroy()), server.close()),
  };
}

export function sampler(pid) {
  const proc = (f) => readFileSync(`/proc/${pid}/${f}`, 'utf8');
  return () => ({
    rssMiB: Number(/VmRSS:\s+(\d+)/.exec(proc('status'))[1]) / 1024,
    fds: readdirSync(`/proc/${pid}/fd`).length,
    memfdMaps: proc('maps')
      .split('\n')
      .filter((l) => l.includes('/memfd:')).length,
  });
}

const IOSFC = { GPA_LO: 0x00, GPA_HI: 0x04, LENGTH: 0x08, COMMAND: 0x0c, STATUS: 0x14, MAPPED: 0x20 };
const RAM_GPA = 0x40000000n;

/** `cycles` clients, each sharing a 16 MiB memfd, IOSFC-mapping a page of it and hanging up. */
async function iosfcLeavers(sock, cycles) {
  let mapped = 0;
  for (let i = 0; i < cycles; i++) {
    const c = connectClient(sock);
    try {
      await c.version();
      const fd = native.memfdCreate(`soak-leaver-${i}`, 16 << 20);
      await c.dmaMap({ iova: RAM_GPA, size: 16n << 20n, fd });
      native.closeFd(fd);
      await c.write32(2, IOSFC.GPA_LO, Number(RAM_GPA & 0xffffffffn));
      await c.write32(2, IOSFC.GPA_HI, 0);
      await c.write32(2, IOSFC.LENGTH, 4096);
      await c.write32(2, IOSFC.COMMAND, 2);
      if ((await c.read32(2, IOSFC.STATUS)) === 0) mapped++;
    } finally {
      c.close();
    }
    await sleep(20); // the daemon sees the hang-up before the next client
  }
  return mapped;
}

function vfioMessage(id, command, payload) {
  const h = Buffer.alloc(16);
  h.writeUInt16LE(id, 0);
  h.writeUInt16LE(command, 2);
  h.writeUInt32LE(16 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** VERSION, then REGION_READs pipelined and never read, for `ms` or `requests`. */
async function neverReadingVfioClient(sock, ms, requests) {
  const s = connect(sock);
  s.on('error', () => {});
  await new Promise((r) => s.once('connect', r));
  s.write(vfioMessage(0, 1, Buffer.alloc(4)));
  await new Promise((r) => s.once('data', r));
  s.pause();
  const rr = Buffer.alloc(16);
  rr.writeBigUInt64LE(0x1000n, 0);
  rr.writeUInt32LE(0, 8);
  rr.writeUInt32LE(4, 12);
  const f = await flood(s, vfioMessage(1, 9, rr), { ms, maxBytes: requests * 32 });
  return { requestsTaken: Math.round(f.bytesSent / 32), closedByDaemon: f.closedByPeer, close: () => s.destroy() };
}

/** Opens an RFB session (no security), sends ClientInit; returns the socket, paused. */
async function rawRfb(port) {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  let buf = Buffer.alloc(0);
  const need = async (n) => {
    while (buf.length < n) buf = Buffer.concat([buf, await new Promise((r) => s.once('data', r))]);
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    return out;
  };
  await need(12);
  s.write('RFB 003.008\n');
  const n = (await need(1))[0];
  await need(n);
  s.write(Buffer.from([1])); // None
  await need(4); // SecurityResult
  s.write(Buffer.from([1])); // shared
  const init = await need(24);
  await need(init.readUInt32BE(20)); // the name
  s.pause();
  return s;
}

// The never-reading vfio-user client's bound is the native data plane's
// (issue 13, test/integration/never-reading-client.test.ts): its RSS is held
// to the same slack as everything else.
export const VFIO_NEVER_READING_BOUNDED = true;

/**
 * The phase itself; returns its figures. `sock` is the vfio-user socket (no
 * client connected), `vncPort` and `webUrl` the viewers, `pid` the daemon.
 * Three parts, one after the other, RSS sampled after each: IOSFC leavers;
 * the never-reading viewers and the stalled QMP peer at once; the
 * never-reading vfio-user client.
 */
export async function hostilePhase({ pid, sock, vncPort, webUrl, seconds }) {
  const sample = sampler(pid);
  await sleep(500);
  const before = sample();
  let peakRss = before.rssMiB;
  const watch = setInterval(() => (peakRss = Math.max(peakRss, sample().rssMiB)), 100);
  const floodMs = Math.max(1000, ((seconds - 5) * 1000) / 2);
  const t0 = Date.now();
  const leavers = await iosfcLeavers(sock, 40);
  const afterLeavers = sample();

  const fullUpdate = Buffer.from([3, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]); // non-incremental, whole screen
  const pointer = Buffer.alloc(6 * 64);
  for (let i = 0; i < 64; i++) {
    pointer[i * 6] = 5;
    pointer[i * 6 + 1] = i === 63 ? 1 : 0;
    pointer.writeUInt16BE(10 + i, i * 6 + 2);
    pointer.writeUInt16BE(20 + i, i * 6 + 4);
  }
  const viewerFlood = async (open, unit, maxBytes) => {
    const s = await open();
    const r = await flood(s, unit, { ms: floodMs, maxBytes });
    s.destroy();
    return r;
  };
  const [wsPing, vncNoRead, qmpFeed] = await Promise.all([
    webUrl ? viewerFlood(() => openRawWs(Number(new URL(webUrl).port)), wsFrame(0x9, Buffer.alloc(125, 7))) : null,
    viewerFlood(() => rawRfb(vncPort), fullUpdate, 4 << 20),
    viewerFlood(() => rawRfb(vncPort), pointer, 3_000_000),
  ]);
  await sleep(300);
  const afterViewers = sample();

  const vfio = await neverReadingVfioClient(sock, floodMs, 50_000);
  const during = sample();
  vfio.close();
  // Let the daemon see every hang-up and free what they held.
  const deadline = Date.now() + 3000;
  let after = sample();
  while ((after.fds > before.fds || after.memfdMaps > before.memfdMaps) && Date.now() < deadline) {
    await sleep(100);
    after = sample();
  }
  clearInterval(watch);
  const r1 = (x) => +x.toFixed(1);
  return {
    ms: Date.now() - t0,
    iosfcLeavers: {
      clients: 40,
      mapped: leavers,
      fdsAfter: afterLeavers.fds,
      memfdMapsAfter: afterLeavers.memfdMaps,
      rssMiBAfter: r1(afterLeavers.rssMiB),
    },
    neverReadingWeb: wsPing && { bytesSent: wsPing.bytesSent, closedByDaemon: wsPing.closedByPeer },
    neverReadingVnc: { bytesSent: vncNoRead.bytesSent, closedByDaemon: vncNoRead.closedByPeer },
    stalledQmp: { pointerBytesSent: qmpFeed.bytesSent, viewerClosedByDaemon: qmpFeed.closedByPeer },
    viewersRssMiBAfter: r1(afterViewers.rssMiB),
    neverReadingVfio: {
      requestsTaken: vfio.requestsTaken,
      closedByDaemon: vfio.closedByDaemon,
      rssMiBGrowth: r1(after.rssMiB - afterViewers.rssMiB),
      bounded: VFIO_NEVER_READING_BOUNDED,
    },
    rssMiB: { before: r1(before.rssMiB), peak: r1(peakRss), after: r1(after.rssMiB) },
    fds: { before: before.fds, during: during.fds, after: after.fds },
    memfdMaps: { before: before.memfdMaps, after: after.memfdMaps },
  };
}
