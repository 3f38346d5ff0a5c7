// Measures what a guest would feel: the round trip of a 4-byte REGION_READ
// (BAR0, offset 0x1000, as QEMU's vCPU sends it) against a running daemon,
// one at a time, every millisecond, from a child process of its own (so the
// test's own flooding does not skew the figures). The client is written here
// with node:net and the wire layout, not with our protocol library.
//
//   const p = await startMmioProber(socketPath);  ... flood ...  const r = await p.stop();
//   r.p50Us, r.p99Us, r.maxUs, r.count
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface MmioFigures {
  count: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  /** Replies that never came before stop() (the daemon hung or dropped us). */
  missing: number;
  /** When the worst round trip started, in ms since the prober started reading. */
  maxAtMs: number;
}

export interface MmioProber {
  stop(): Promise<MmioFigures>;
}

const HEADER = 16;

function message(id: number, command: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(HEADER);
  h.writeUInt16LE(id, 0);
  h.writeUInt16LE(command, 2);
  h.writeUInt32LE(HEADER + payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** The child: connects, negotiates VERSION 0.0, then reads BAR0 every `intervalMs` until stdin closes. */
async function child(socketPath: string, intervalMs: number): Promise<void> {
  const sock = connect(socketPath);
  let buf = Buffer.alloc(0);
  let waiting: ((size: number) => void) | null = null;
  sock.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    while (buf.length >= HEADER && buf.length >= buf.readUInt32LE(4)) {
      const size = buf.readUInt32LE(4);
      buf = buf.subarray(size);
      const w = waiting;
      waiting = null;
      w?.(size);
    }
  });
  const lat: number[] = [];
  let worst = -1;
  let worstAt = 0;
  let stopping = false;
  let pending = false;
  const done = (): void => {
    lat.sort((a, b) => a - b);
    const at = (q: number): number => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * q))]! : -1);
    process.stdout.write(
      JSON.stringify({
        count: lat.length,
        p50Us: at(0.5),
        p99Us: at(0.99),
        maxUs: worst,
        maxAtMs: Math.round(worstAt),
        missing: pending ? 1 : 0,
      }) + '\n',
    );
    process.exit(0);
  };
  process.stdin.on('end', () => {
    stopping = true;
    if (!pending) done();
    else setTimeout(done, 50); // one reply late: count it as missing
  });
  process.stdin.resume();
  const roundTrip = (id: number, cmd: number, payload: Buffer): Promise<number> =>
    new Promise((res) => {
      pending = true;
      waiting = () => ((pending = false), res(0));
      sock.write(message(id, cmd, payload));
    });
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const ver = Buffer.alloc(4); // major 0, minor 0, no JSON
  await roundTrip(0, 1, ver);
  process.stdout.write('ready\n');
  const started = process.hrtime.bigint(); // when the first probe goes out
  const rr = Buffer.alloc(16);
  rr.writeBigUInt64LE(0x1000n, 0);
  rr.writeUInt32LE(0, 8);
  rr.writeUInt32LE(4, 12);
  for (let id = 1; !stopping; id = (id % 0xffff) + 1) {
    const t0 = process.hrtime.bigint();
    await roundTrip(id, 9, rr);
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    lat.push(us);
    if (us > worst) {
      worst = us;
      worstAt = Number(t0 - started) / 1e6;
    }
    if (stopping) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  done();
}

/** Starts the prober against a daemon's vfio-user socket (it must be free: the daemon serves one client). */
export async function startMmioProber(socketPath: string, intervalMs = 1): Promise<MmioProber> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), socketPath, String(intervalMs)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  const t0 = Date.now();
  while (!out.includes('ready\n')) {
    if (proc.exitCode !== null || Date.now() - t0 > 10_000) throw new Error(`MMIO prober did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    async stop() {
      proc.stdin!.end();
      await exited;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) throw new Error(`MMIO prober gave no figures: ${out}`);
      return JSON.parse(line) as MmioFigures;
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  void child(process.argv[2]!, Number(process.argv[3] ?? 1));
}
