// A vfio-user client that pipelines requests and never reads a reply (issue
// 12, defect 3). QEMU reads its replies (each vCPU waits for its own); a peer
// that does not is broken: the daemon stops reading it while its replies are
// backed up, so what it holds stays bounded, and it logs why the connection
// ended. Figures: the daemon's peak RSS while 100,000 pipelined REGION_READs
// are offered, how many it took, and the reason it logs.
// Before the fix (main of 2026-12-07): RSS 65 -> 152 MB for 100k (1M: 256
// MB, 241 MB after close), the close logged as "poll error: bad file
// descriptor".
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { startDaemon } from '../support/daemon.js';
import { flood, rssMiB } from '../support/hostile-peers.js';

function message(id: number, command: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16LE(id, 0);
  h.writeUInt16LE(command, 2);
  h.writeUInt32LE(16 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

describe('a vfio-user client that never reads', () => {
  it('100k pipelined REGION_READs: bounded memory, reading stopped, the real reason logged', async () => {
    const d = await startDaemon(['--log-level', 'info']);
    try {
      const base = rssMiB(d.pid).rss;
      const sock = connect(d.socketPath);
      sock.on('error', () => {}); // the daemon closes it: that is the point
      await new Promise<void>((r) => sock.once('connect', () => r()));
      sock.write(message(0, 1, Buffer.alloc(4))); // VERSION 0.0
      await new Promise<void>((r) => sock.once('data', () => r()));
      sock.pause(); // never reads again
      const rr = Buffer.alloc(16);
      rr.writeBigUInt64LE(0x1000n, 0);
      rr.writeUInt32LE(0, 8);
      rr.writeUInt32LE(4, 12);
      // 100,000 requests of 32 bytes, as fast as the daemon takes them; 20 s at most.
      const f = await flood(sock, message(1, 9, rr), { ms: 20_000, maxBytes: 100_000 * 32 });
      const during = rssMiB(d.pid);
      const closed = await d
        .waitForLog((l) => l.msg === 'vfio_user_client_closed', 20_000)
        .then(
          (l) => l,
          () => null,
        );
      sock.destroy();
      const gone = closed ?? (await d.waitForLog((l) => l.msg === 'vfio_user_client_closed', 5000));
      await new Promise((r) => setTimeout(r, 500));
      const after = rssMiB(d.pid);
      console.log(
        JSON.stringify({
          requestsTaken: Math.round(f.bytesSent / 32),
          floodMs: f.ms,
          baseRssMiB: Math.round(base),
          peakRssMiB: Math.round(during.hwm),
          afterCloseRssMiB: Math.round(after.rss),
          closedByDaemon: closed !== null,
          reason: gone.reason,
        }),
      );
      assert.ok(during.hwm - base < 30, `peak RSS ${during.hwm} MiB from ${base} MiB`);
      assert.ok(closed !== null, 'the daemon closed the client that read nothing');
      assert.match(String(gone.reason), /read no reply/);
      assert.doesNotMatch(String(gone.reason), /bad file descriptor/);
      // The next client is served.
      const c = await d.connectNegotiated();
      assert.equal((await c.regionRead(0, 0x1000, 4)).readUInt32LE(0), 0x58464741);
      c.close();
    } finally {
      await d.stop();
    }
  });

  it('a client that hangs up with replies unread: the reason is what happened, not a poll error', async () => {
    const d = await startDaemon(['--log-level', 'info']);
    try {
      const sock = connect(d.socketPath);
      sock.on('error', () => {});
      await new Promise<void>((r) => sock.once('connect', () => r()));
      sock.write(message(0, 1, Buffer.alloc(4)));
      await new Promise<void>((r) => sock.once('data', () => r()));
      sock.pause();
      const rr = Buffer.alloc(16);
      rr.writeBigUInt64LE(0x1000n, 0);
      rr.writeUInt32LE(4, 12);
      await flood(sock, message(1, 9, rr), { ms: 1500 });
      sock.destroy();
      const l = await d.waitForLog((x) => x.msg === 'vfio_user_client_closed', 5000);
      console.log(JSON.stringify({ reason: l.reason }));
      assert.match(String(l.reason), /reset by peer \(\d+ replies unread\)/);
    } finally {
      await d.stop();
    }
  });
});
