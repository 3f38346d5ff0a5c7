// TigerVNC's viewer (Debian's tigervnc-viewer) under Xvfb for the real-client
// tests: a private X server, the viewer on it, and its window captured with
// xwd (x11-apps) and parsed here (XWD ZPixmap, 24/32-bit TrueColor). The
// packages are installed with apt-get when missing (as root).
//
// TigerVNC always offers CopyRect; to run it without, rfbEncodingsFilter()
// is a TCP proxy that removes encodings from the SetEncodings messages it
// passes on (everything else goes through untouched).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { foreignEnv } from './chromium.js';

const TOOLS: [string, string][] = [
  ['vncviewer', 'tigervnc-viewer'],
  ['Xvfb', 'xvfb'],
  ['xwd', 'x11-apps'],
  ['xwininfo', 'x11-utils'],
];

const have = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore', env: foreignEnv() }).status === 0;

/** Returns why TigerVNC/Xvfb/xwd are unavailable, or null when they are there. */
export function ensureTigerVnc(): string | null {
  const missing = TOOLS.filter(([cmd]) => !have(cmd)).map(([, pkg]) => pkg);
  if (missing.length === 0) return null;
  if (process.getuid?.() !== 0) return `missing ${missing.join(', ')} and not root to apt-get install them`;
  const env = foreignEnv({ DEBIAN_FRONTEND: 'noninteractive' });
  spawnSync('apt-get', ['update'], { stdio: 'ignore', env, timeout: 5 * 60 * 1000 });
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
    encoding: 'utf8',
    env,
    timeout: 10 * 60 * 1000,
  });
  const still = TOOLS.filter(([cmd]) => !have(cmd)).map(([, pkg]) => pkg);
  return still.length === 0 ? null : `apt-get install ${still.join(' ')} failed (exit ${r.status})`;
}

export function tigerVncVersion(): string {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'tigervnc-viewer'], { encoding: 'utf8', env: foreignEnv() });
  return r.stdout.trim() || 'unknown';
}

/** A private X server (Xvfb picks a free display number). */
export class Xvfb {
  private constructor(
    readonly display: string,
    private readonly proc: ChildProcess,
  ) {}

  static async start(width = 1280, height = 1024): Promise<Xvfb> {
    const proc = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp', '-noreset'], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      env: foreignEnv(),
    });
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    const display = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`Xvfb did not start: ${err}`)), 15_000);
      (proc.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) {
          clearTimeout(timer);
          resolve(`:${out.trim()}`);
        }
      });
      proc.once('exit', (code) => reject(new Error(`Xvfb exited with ${code}: ${err}`)));
    });
    return new Xvfb(display, proc);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
  }
}

export interface Viewer {
  proc: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/** Starts vncviewer on `display` against 127.0.0.1:port with TigerVNC parameters (e.g. PreferredEncoding=raw). */
export function startVncViewer(display: string, port: number, params: string[] = []): Viewer {
  const proc = spawn(
    'vncviewer',
    ['-Shared', '-RemoteResize=0', '-Log', '*:stderr:30', ...params.map((p) => `-${p}`), `127.0.0.1::${port}`],
    {
      env: foreignEnv({ DISPLAY: display }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  return {
    proc,
    log: () => log,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** The ids of the top-level windows titled `title`. */
export function findWindows(display: string, title: string): string[] {
  const r = spawnSync('xwininfo', ['-root', '-children'], { encoding: 'utf8', env: foreignEnv({ DISPLAY: display }) });
  const ids: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*(0x[0-9a-f]+) "(.*)":/.exec(line);
    if (m && m[2] === title) ids.push(m[1]!);
  }
  return ids;
}

/** Captures window `id` with xwd: its size and BGRA pixels (alpha 0xff). */
export function captureWindow(display: string, id: string): { width: number; height: number; bgra: Buffer } {
  const r = spawnSync('xwd', ['-id', id, '-silent'], { env: foreignEnv({ DISPLAY: display }), maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`xwd failed (${r.status}): ${r.stderr.toString()}`);
  return parseXwd(r.stdout);
}

/** An XWD file (ZPixmap, 32 bits per pixel, TrueColor masks) as BGRA. */
export function parseXwd(f: Buffer): { width: number; height: number; bgra: Buffer } {
  const h = (i: number): number => f.readUInt32BE(i * 4);
  const headerSize = h(0);
  const [format, , width, height] = [h(2), h(3), h(4), h(5)];
  const byteOrder = h(7);
  const bpp = h(11);
  const bytesPerLine = h(12);
  const [rMask, gMask, bMask] = [h(14), h(15), h(16)];
  const ncolors = h(19);
  if (format !== 2 || bpp !== 32) throw new Error(`XWD format ${format}, ${bpp} bpp: expected ZPixmap, 32 bpp`);
  const shift = (m: number): number => 31 - Math.clz32(m & -m);
  const [rs, gs, bs] = [shift(rMask), shift(gMask), shift(bMask)];
  const data = headerSize + ncolors * 12;
  const out = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = data + y * bytesPerLine + x * 4;
      const v = byteOrder === 0 ? f.readUInt32LE(o) : f.readUInt32BE(o);
      const d = (y * width + x) * 4;
      out[d] = (v & bMask) >>> bs;
      out[d + 1] = (v & gMask) >>> gs;
      out[d + 2] = (v & rMask) >>> rs;
      out[d + 3] = 0xff;
    }
  return { width, height, bgra: out };
}

/**
 * A TCP proxy to `port` that drops `without` from the client's SetEncodings
 * (RFB 3.8, security None: the client sends 12 + 1 + 1 handshake bytes, then
 * messages). A message type it does not know ends the filtering: from then on
 * bytes pass unchanged.
 */
export async function rfbEncodingsFilter(port: number, without: number[]): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    const done = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', done).on('error', done);
    upstream.on('close', done).on('error', done);
    upstream.pipe(client);
    let buf = Buffer.alloc(0);
    let handshake = 14;
    let passthrough = false;
    client.on('data', (chunk: Buffer) => {
      if (passthrough) return void upstream.write(chunk);
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (handshake > 0) {
          const n = Math.min(handshake, buf.length);
          if (n === 0) return;
          upstream.write(buf.subarray(0, n));
          buf = buf.subarray(n);
          handshake -= n;
          continue;
        }
        if (buf.length < 1) return;
        const need = messageLength(buf);
        if (need === undefined) {
          passthrough = true;
          upstream.write(buf);
          return;
        }
        if (need === null || buf.length < need) return;
        let msg = buf.subarray(0, need);
        buf = buf.subarray(need);
        if (msg[0] === 2) {
          const list: number[] = [];
          for (let i = 0; i < msg.readUInt16BE(2); i++) list.push(msg.readInt32BE(4 + 4 * i));
          const kept = list.filter((e) => !without.includes(e));
          const out = Buffer.alloc(4 + 4 * kept.length);
          out[0] = 2;
          out.writeUInt16BE(kept.length, 2);
          kept.forEach((e, i) => out.writeInt32BE(e, 4 + 4 * i));
          msg = out;
        }
        upstream.write(msg);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Length of the client message at the start of `b`: null = need more bytes, undefined = unknown type. */
function messageLength(b: Buffer): number | null | undefined {
  switch (b[0]) {
    case 0:
      return 20; // SetPixelFormat
    case 2:
      return b.length < 4 ? null : 4 + 4 * b.readUInt16BE(2); // SetEncodings
    case 3:
      return 10; // FramebufferUpdateRequest
    case 4:
      return 8; // KeyEvent
    case 5:
      return 6; // PointerEvent
    case 6:
      return b.length < 8 ? null : 8 + b.readUInt32BE(4); // ClientCutText
    case 150:
      return 10; // EnableContinuousUpdates
    case 251:
      return b.length < 8 ? null : 8 + 16 * b[6]!; // SetDesktopSize
    case 255:
      return b.length < 2 ? null : b[1] === 0 ? 12 : undefined; // QEMU Extended Key Event
    default:
      return undefined;
  }
}
