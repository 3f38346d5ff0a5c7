// Viewer input forwarded to a QMP peer that stops reading (issue 12, defect
// 8): a QMP server that completes QEMU's handshake and then never reads
// again, and a VNC viewer sending a million PointerEvents. Pointer motion is
// coalesced, other input waits in a bounded queue (over it: dropped with a
// warning), and a peer that takes nothing for a while is dropped and
// reconnected. Figures: the daemon's peak RSS, what it logged, whether it
// reconnected. Before the fix (main of 2026-12-07): RSS 78 -> 528 MB for 1M
// PointerEvents, silently.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDaemon, type RunningDaemon } from '../support/daemon.js';
import { flood, rssMiB, underSanitizer } from '../support/hostile-peers.js';
import { startMmioProber } from '../support/mmio-prober.js';
import { RfbClient } from '../support/rfb-client.js';

/** QEMU's QMP greeting and capabilities handshake; then, when told, it stops reading. */
function stallingQmp(path: string) {
  const conns: Socket[] = [];
  let lines = 0;
  const server = createServer((s) => {
    conns.push(s);
    s.write(JSON.stringify({ QMP: { version: { qemu: { major: 11, minor: 1, micro: 0 } }, capabilities: [] } }) + '\r\n');
    let buf = '';
    s.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const cmd = JSON.parse(buf.slice(0, nl)) as { execute: string };
        buf = buf.slice(nl + 1);
        lines++;
        s.write(JSON.stringify({ return: {} }) + '\r\n');
        if (cmd.execute === 'qmp_capabilities') s.pause(); // handshake done: never read again
      }
    });
    s.on('error', () => {});
  });
  return {
    conns,
    get lines() {
      return lines;
    },
    listen: () => new Promise<void>((r) => server.listen(path, () => r())),
    close: () => (conns.forEach((c) => c.destroy()), server.close()),
  };
}

describe('QMP input to a peer that stops reading', () => {
  let d: RunningDaemon;
  let qmp: ReturnType<typeof stallingQmp>;
  let vncPort: number;
  before(async () => {
    const dir = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'agfx-qmp-'));
    const path = join(dir, 'qmp.sock');
    qmp = stallingQmp(path);
    await qmp.listen();
    d = await startDaemon(['--qmp', path, '--vnc', '127.0.0.1:0', '--display', '640x480@60', '--log-level', 'info']);
    vncPort = (await d.waitForLog((l) => l.msg === 'vnc_listening')).port as number;
    await d.waitForLog((l) => l.msg === 'qmp_connected');
  });
  after(async () => {
    await d.stop();
    qmp.close();
  });

  it('a million PointerEvents: memory bounded, the stall logged, QMP reconnected', async () => {
    const base = rssMiB(d.pid).rss;
    const prober = await startMmioProber(d.socketPath);
    const c = await RfbClient.connect(vncPort, { decode: false });
    // Motion, and every 64th event a click (press and release are not coalesced).
    const unit = Buffer.alloc(6 * 64);
    for (let i = 0; i < 64; i++) {
      unit[i * 6] = 5;
      unit[i * 6 + 1] = i === 63 ? 1 : 0;
      unit.writeUInt16BE(10 + i, i * 6 + 2);
      unit.writeUInt16BE(20 + i, i * 6 + 4);
    }
    const f = await flood(c.socket as Socket, unit, { ms: 60_000, maxBytes: 6_000_000 });
    // Let the daemon take in what the kernel holds, then notice the stall.
    const stalled = await d
      .waitForLog((l) => l.msg === 'qmp_stalled', 20_000)
      .then(
        () => true,
        () => false,
      );
    await new Promise((r) => setTimeout(r, 1500));
    const mmio = await prober.stop();
    const mem = rssMiB(d.pid);
    const dropped = d.logs.filter((l) => l.msg === 'qmp_input_dropped');
    console.log(
      JSON.stringify({
        stalled,
        baseRssMiB: Math.round(base),
        peakRssMiB: Math.round(mem.hwm),
        pointerEvents: f.bytesSent / 6,
        floodMs: f.ms,
        qmpConnections: qmp.conns.length,
        dropWarnings: dropped.length,
        mmio,
      }),
    );
    c.close();
    if (!underSanitizer) assert.ok(mem.hwm - base < 60, `peak RSS ${mem.hwm} MiB from ${base} MiB`);
    assert.ok(stalled, 'the stalled peer is logged');
    assert.ok(dropped.length >= 1, 'dropped input is logged');
    assert.ok(d.alive());
    // Reconnected: a fresh QMP connection, and input flows again.
    await d.waitForLog((l) => l.msg === 'qmp_connected' && l.time !== d.logs.find((x) => x.msg === 'qmp_connected')!.time, 5000);
    assert.ok(qmp.conns.length >= 2, 'QMP reconnected');
  });
});
