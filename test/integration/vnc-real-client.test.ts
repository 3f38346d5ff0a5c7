// A real VNC client from Debian against our server: vncsnapshot (TightVNC's
// RFB 3.3 client) captures the display over Raw and zlib, with and without
// VNC Authentication, and writes a JPEG; djpeg (libjpeg-turbo-progs) decodes
// it and the pixels are compared with the presented pattern, within JPEG
// tolerance (the pattern is flat 16x16 blocks, sampled at block centres).
// Both tools are installed with apt-get when missing (as root); the test is
// skipped, loudly, only when they cannot be installed.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { NullInput } from '#daemon/input/input-sink.js';
import { vncAuthResponse } from '#daemon/viewers/vnc/des.js';
import { VncServer } from '#daemon/viewers/vnc/index.js';
import { SoftGuest } from '../support/soft-guest.js';

const W = 320;
const H = 240;
const BLOCK = 16;
const PASSWORD = 'agfx-vnc';

const have = (cmd: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** Installs vncsnapshot and djpeg if needed; returns why not when impossible. */
function ensureTools(): string | null {
  if (have('vncsnapshot') && have('djpeg')) return null;
  if (process.getuid?.() !== 0) return 'vncsnapshot/djpeg missing and not root (apt-get install vncsnapshot libjpeg-turbo-progs)';
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): void =>
    void execFileSync('apt-get', ['install', '-y', '-q', 'vncsnapshot', 'libjpeg-turbo-progs'], { env, stdio: 'ignore', timeout: 300_000 });
  try {
    install();
  } catch {
    try {
      execFileSync('apt-get', ['update', '-q'], { env, stdio: 'ignore', timeout: 300_000 });
      install();
    } catch (e) {
      return `apt-get install vncsnapshot libjpeg-turbo-progs failed: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  return have('vncsnapshot') && have('djpeg') ? null : 'vncsnapshot/djpeg still missing after apt-get install';
}

/** Flat 16x16 blocks of distinct colours. */
function blocks(): Buffer {
  const b = Buffer.alloc(W * H * 4);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const bx = Math.floor(x / BLOCK);
      const by = Math.floor(y / BLOCK);
      const o = (y * W + x) * 4;
      b[o] = (bx * 37 + by * 11) & 0xff;
      b[o + 1] = (by * 53 + 40) & 0xff;
      b[o + 2] = (bx * 13 + by * 97 + 128) & 0xff;
      b[o + 3] = 0xff;
    }
  return b;
}

function readPpm(file: Buffer): { width: number; height: number; rgb: Buffer } {
  const text = file.subarray(0, 64).toString('latin1');
  const m = /^P6\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(text);
  assert.ok(m, 'djpeg wrote a binary PPM');
  const width = Number(m[1]);
  const height = Number(m[2]);
  return { width, height, rgb: file.subarray(m[0].length, m[0].length + width * height * 3) };
}

function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

const missing = ensureTools();
if (missing) {
  const bar = '#'.repeat(78);
  process.stderr.write(`\n${bar}\n# SKIPPING the real VNC client test: ${missing}\n${bar}\n\n`);
}

describe('a real VNC client (Debian vncsnapshot) captures the display', { skip: missing ?? false }, () => {
  const log = pino({ level: 'error' });
  let guest: SoftGuest;
  let open: VncServer;
  let locked: VncServer;
  let dir: string;
  const frame = blocks();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agfx-vnc-'));
    guest = new SoftGuest(log, W * H * 4, 1);
    guest.attach([{ width: W, height: H, refreshHz: 60 }], 0);
    open = new VncServer({ listen: { host: '127.0.0.1', port: 0 }, displays: guest.displays, input: new NullInput(), log });
    locked = new VncServer({
      listen: { host: '127.0.0.1', port: 0 },
      displays: guest.displays,
      input: new NullInput(),
      log,
      password: PASSWORD,
    });
    await open.start();
    await locked.start();
    await guest.present(0, frame, W);
  });

  after(async () => {
    await open?.stop();
    await locked?.stop();
    guest?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cases: [string, string, boolean][] = [
    ['raw', 'raw', false],
    ['zlib', 'zlib', false],
    ['raw with VNC Authentication', 'raw', true],
  ];
  for (const [what, encodings, auth] of cases)
    it(`${what}: the capture matches the presented frame`, async () => {
      const server = auth ? locked : open;
      const jpg = join(dir, `${encodings}-${auth}.jpg`);
      const args = ['-quiet', '-nocursor', '-nojpeg', '-encodings', encodings, '-quality', '100'];
      if (auth) {
        // vncpasswd's file: the password DES-encrypted with VNC's fixed key
        const fixedKey = Buffer.from([23, 82, 107, 6, 35, 78, 88, 7]).toString('latin1');
        const pw = Buffer.alloc(8);
        pw.write(PASSWORD, 'latin1');
        const file = join(dir, 'passwd');
        writeFileSync(file, vncAuthResponse(fixedKey, pw).subarray(0, 8));
        args.push('-passwd', file);
      }
      const r = await run('vncsnapshot', [...args, `127.0.0.1::${server.address(0)!.port}`, jpg]);
      assert.equal(r.code, 0, `vncsnapshot failed: ${r.out}`);
      const ppm = await run('sh', ['-c', `djpeg -pnm '${jpg}' > '${jpg}.ppm'`]);
      assert.equal(ppm.code, 0, ppm.out);
      const img = readPpm(readFileSync(`${jpg}.ppm`));
      assert.deepEqual([img.width, img.height], [W, H]);
      let worst = 0;
      for (let by = 0; by < H / BLOCK; by++)
        for (let bx = 0; bx < W / BLOCK; bx++) {
          const x = bx * BLOCK + BLOCK / 2;
          const y = by * BLOCK + BLOCK / 2;
          const s = (y * W + x) * 4;
          const d = (y * W + x) * 3;
          const diff = Math.max(
            Math.abs(img.rgb[d]! - frame[s + 2]!),
            Math.abs(img.rgb[d + 1]! - frame[s + 1]!),
            Math.abs(img.rgb[d + 2]! - frame[s]!),
          );
          worst = Math.max(worst, diff);
        }
      assert.ok(worst <= 6, `block centres within JPEG tolerance (worst channel error ${worst})`);
    });

  it('a wrong password is refused', async () => {
    const file = join(dir, 'wrong');
    writeFileSync(file, Buffer.alloc(8, 0x41));
    const r = await run('vncsnapshot', ['-quiet', '-passwd', file, `127.0.0.1::${locked.address(0)!.port}`, join(dir, 'no.jpg')]);
    assert.notEqual(r.code, 0, `vncsnapshot must fail: ${r.out}`);
  });
});
