// Peers that misbehave on purpose, for the resource-exhaustion tests: they
// send as fast as the daemon takes bytes and never read what comes back.
// Written with node:net and the RFCs, not with the daemon's own code.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

/** Resident and peak-resident memory of a process, in MiB. */
export function rssMiB(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** Opens a WebSocket (the upgrade's reply is read; after it the socket is paused: nothing more is read). */
export function openRawWs(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    sock.on('error', reject);
    sock.on('connect', () => {
      const key = randomBytes(16).toString('base64');
      sock.write(
        `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    let head = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      head = Buffer.concat([head, c]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.off('data', onData);
      sock.pause();
      if (!head.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) return reject(new Error(head.toString('latin1', 0, end)));
      sock.off('error', reject);
      sock.on('error', () => {});
      resolve(sock);
    };
    sock.on('data', onData);
  });
}

/** A masked client frame. */
export function wsFrame(op: number, payload: Buffer): Buffer {
  const len = payload.length;
  const h = Buffer.alloc(len < 126 ? 2 : len < 0x10000 ? 4 : 10);
  h[0] = 0x80 | op;
  if (len < 126) h[1] = 0x80 | len;
  else if (len < 0x10000) {
    h[1] = 0x80 | 126;
    h.writeUInt16BE(len, 2);
  } else {
    h[1] = 0x80 | 127;
    h.writeBigUInt64BE(BigInt(len), 2);
  }
  const k = randomBytes(4);
  const body = Buffer.from(payload.map((v, i) => v ^ k[i & 3]!));
  return Buffer.concat([h, k, body]);
}

export interface FloodResult {
  /** Bytes the daemon took from us (what the kernel accepted). */
  bytesSent: number;
  /** True when the daemon closed the connection during the flood. */
  closedByPeer: boolean;
  /** Milliseconds from the start to the close (or to the end of the flood). */
  ms: number;
  /** True when our writes stayed blocked (the daemon stopped reading) at the end. */
  blocked: boolean;
}

/**
 * Writes `unit` (repeated into 64 KiB blocks) to `sock` for `ms` or until
 * `maxBytes`, never reading. Returns when the time is up or the peer closed.
 */
export async function flood(sock: Socket, unit: Buffer, opts: { ms: number; maxBytes?: number }): Promise<FloodResult> {
  const reps = Math.max(1, Math.floor(65536 / unit.length));
  const block = Buffer.concat(new Array(reps).fill(unit));
  const t0 = Date.now();
  let closed = false;
  let closedAt = 0;
  sock.on('close', () => ((closed = true), (closedAt = Date.now())));
  sock.on('error', () => {});
  let queuedAt = 0; // bytes handed to write()
  while (!closed && Date.now() - t0 < opts.ms && queuedAt < (opts.maxBytes ?? Infinity)) {
    if (!sock.write(block)) {
      // Wait for drain, the close, or the end of the time.
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, opts.ms - (Date.now() - t0)));
        const done = (): void => (clearTimeout(t), sock.off('drain', done), sock.off('close', done), r());
        sock.once('drain', done);
        sock.once('close', done);
      });
    } else await new Promise((r) => setImmediate(r));
    queuedAt += block.length;
  }
  const bytesSent = sock.bytesWritten;
  return { bytesSent, closedByPeer: closed, ms: (closed ? closedAt : Date.now()) - t0, blocked: !closed && sock.writableLength > 0 };
}

/**
 * Whether the daemon runs under a sanitizer runtime (scripts/asan-test.sh
 * preloads it): its RSS then includes shadow memory and the allocator's
 * quarantine, so RSS bounds are not this test's to check there.
 */
export const underSanitizer = /lib(asan|tsan|ubsan)/.test(process.env.LD_PRELOAD ?? '');
