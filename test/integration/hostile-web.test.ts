// The web viewer against peers that send without reading (issue 12, defect
// 4): a ping flood, a flood of well-formed but wrong requests, a pipelined
// HTTP flood. Every byte queued for a viewer counts against one
// per-connection limit; past it the daemon stops reading and then closes.
// Figures checked: the daemon's peak RSS, whether it dropped the peer, and
// the round trip of a guest's REGION_READ (from a prober process of its own)
// during the flood and right after the drop. Each prints its figures as one
// JSON line. Before the fix (main of 2026-12-07): ping flood 62 -> 1343 MiB,
// never dropped, MMIO p99 704 ms; bad-request flood never dropped in 15 s,
// MMIO p50 401 ms; pipelined HTTP 62 -> 964 MiB, MMIO worst 7.6 s.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { startDaemon, type RunningDaemon } from '../support/daemon.js';
import { flood, openRawWs, rssMiB, underSanitizer, wsFrame } from '../support/hostile-peers.js';
import { startMmioProber } from '../support/mmio-prober.js';
import { connect } from 'node:net';

/** How long a flood lasts at most; the daemon must have dropped the peer well before. */
const FLOOD_MS = 15_000;
/** Peak RSS growth allowed over the idle daemon (the limit is 64 MiB a viewer, plus Node's own churn). */
const RSS_GROWTH_MIB = 120;

describe('web viewer under floods (never-reading peers)', () => {
  // A fresh daemon for each flood: its peak RSS (VmHWM) is that flood's.
  let d: RunningDaemon;
  let webPort: number;
  beforeEach(async () => {
    // At info: at debug the daemon logs every bad request, and the test would measure its log pipe.
    d = await startDaemon(['--web', '127.0.0.1:0', '--display', '640x480@60', '--log-level', 'info']);
    webPort = (await d.waitForLog((l) => l.msg === 'web_viewer_listening')).port as number;
  });
  afterEach(async () => {
    await d.stop();
  });

  async function measure(name: string, run: () => Promise<{ closedByPeer: boolean; ms: number; bytesSent: number }>) {
    const base = rssMiB(d.pid).rss;
    let prober = await startMmioProber(d.socketPath);
    await new Promise((r) => setTimeout(r, 1000));
    const idle = await prober.stop();
    prober = await startMmioProber(d.socketPath);
    const r = await run();
    // Right after the drop (or the end of the flood): the guest must still be served.
    await new Promise((r) => setTimeout(r, 1500));
    const mmio = await prober.stop();
    const mem = rssMiB(d.pid);
    const fig = { name, baseRssMiB: Math.round(base), peakRssMiB: Math.round(mem.hwm), ...r, idleMmio: idle, mmio };
    console.log(JSON.stringify(fig));
    assert.ok(d.alive(), 'daemon alive');
    return fig;
  }

  /** The flood held little memory, was dropped, and MMIO was served throughout (worst round trip under `worstUs`). */
  function assertBoundedAndDropped(f: Awaited<ReturnType<typeof measure>>, worstUs: number): void {
    if (!underSanitizer) assert.ok(f.peakRssMiB - f.baseRssMiB < RSS_GROWTH_MIB, `peak RSS ${f.peakRssMiB} MiB from ${f.baseRssMiB} MiB`);
    assert.ok(f.closedByPeer, 'the daemon dropped the flooder');
    assert.equal(f.mmio.missing, 0);
    assert.ok(f.mmio.p99Us < 20_000, `MMIO p99 ${f.mmio.p99Us} µs`);
    assert.ok(f.mmio.maxUs < worstUs, `MMIO worst ${f.mmio.maxUs} µs`);
  }

  it('a ping flood that never reads is bounded and dropped; MMIO stays served', async () => {
    const sock = await openRawWs(webPort);
    const ping = wsFrame(0x9, Buffer.alloc(125, 0x61));
    const f = await measure('ping flood', () => flood(sock, ping, { ms: FLOOD_MS }));
    sock.destroy();
    assertBoundedAndDropped(f, 500_000);
    await d.waitForLog((l) => l.msg === 'web_client_dropped');
  });

  it('a flood of wrong requests that never reads is bounded and dropped; MMIO stays served', async () => {
    const sock = await openRawWs(webPort);
    const bad = wsFrame(0x1, Buffer.from(JSON.stringify({ type: 'no-such-request', pad: 'x'.repeat(40) })));
    const f = await measure('bad-request flood', () => flood(sock, bad, { ms: FLOOD_MS }));
    sock.destroy();
    assertBoundedAndDropped(f, 500_000);
  });

  it('pipelined HTTP requests that are never read are bounded and dropped', async () => {
    const sock = connect(webPort, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.pause();
    const req = Buffer.from(
      `GET /displays HTTP/1.1\r\nHost: 127.0.0.1:${webPort}\r\n\r\nGET /screenshot/0.png HTTP/1.1\r\nHost: 127.0.0.1:${webPort}\r\n\r\n`,
    );
    const f = await measure('HTTP pipeline flood', () => flood(sock, req, { ms: FLOOD_MS }));
    sock.destroy();
    // Node's HTTP parser answers a whole 64 KiB read of pipelined requests
    // before the drop takes effect: a few hundred ms once (docs/security.md).
    assertBoundedAndDropped(f, 1_000_000);
  });
});
