// The web viewer in-process: a real soft backend presents known frames
// through its command ring, Displays feeds the viewer, and a WebSocket client
// written here (independent of the server's framing code) checks the protocol
// byte for byte: full and dirty-rectangle updates, flow control, idle
// silence, screenshots, tokens, input, and clients that misbehave.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { WebViewer } from '#daemon/viewers/web/web-server.js';
import { Op } from '../support/soft-ring.js';
import { SoftGuest } from '../support/soft-guest.js';
import { decodePng } from '../support/png.js';
import { SpyInput } from '../support/spy-input.js';

const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(pred: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick(5);
  }
}

/** A BGRA test pattern, different for every (seed, x, y); alpha 0xff. */
function pattern(width: number, height: number, seed: number): Buffer {
  const b = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      b[o] = (x * 7 + seed) & 0xff;
      b[o + 1] = (y * 13 + seed * 3) & 0xff;
      b[o + 2] = (x * y + seed * 11) & 0xff;
      b[o + 3] = 0xff;
    }
  return b;
}

/** RGBA of a rectangle of a BGRA frame, as the viewer must send it. */
function rgbaOf(bgra: Buffer, width: number, r: { x: number; y: number; w: number; h: number }): Buffer {
  const out = Buffer.alloc(r.w * r.h * 4);
  for (let y = 0; y < r.h; y++)
    for (let x = 0; x < r.w; x++) {
      const s = ((r.y + y) * width + r.x + x) * 4;
      const d = (y * r.w + x) * 4;
      out[d] = bgra[s + 2]!;
      out[d + 1] = bgra[s + 1]!;
      out[d + 2] = bgra[s]!;
      out[d + 3] = 0xff;
    }
  return out;
}

// ---------------------------------------------------------------------------
// A WebSocket client of our own (RFC 6455, client side).

interface WsMessage {
  op: number;
  data: Buffer;
}

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
  enc: number;
  pixels: Buffer;
}

interface Update {
  port: number;
  update: number;
  fw: number;
  fh: number;
  rects: Rect[];
}

class TestWs {
  private buf = Buffer.alloc(0);
  private queue: WsMessage[] = [];
  private wake: (() => void) | null = null;
  closeCode: number | null = null;
  ended = false;
  readonly closed: Promise<void>;

  private constructor(
    readonly sock: Socket,
    rest: Buffer,
  ) {
    this.closed = new Promise((res) => sock.on('close', () => ((this.ended = true), this.wake?.(), res())));
    sock.on('data', (c: Buffer) => this.onData(c));
    sock.on('error', () => {});
    if (rest.length) this.onData(rest);
  }

  /** Opens a WebSocket; rejects with the HTTP status line when the server refuses. */
  static open(port: number, path = '/ws', headers: Record<string, string> = {}): Promise<TestWs> {
    return new Promise((resolve, reject) => {
      const sock = connect(port, '127.0.0.1');
      const key = randomBytes(16).toString('base64');
      sock.on('error', reject);
      sock.on('connect', () => {
        const h = {
          Host: `127.0.0.1:${port}`,
          Upgrade: 'websocket',
          Connection: 'Upgrade',
          'Sec-WebSocket-Key': key,
          'Sec-WebSocket-Version': '13',
          ...headers,
        };
        sock.write(
          `GET ${path} HTTP/1.1\r\n` +
            Object.entries(h)
              .map(([k, v]) => `${k}: ${v}\r\n`)
              .join('') +
            '\r\n',
        );
      });
      let head = Buffer.alloc(0);
      const onData = (c: Buffer): void => {
        head = Buffer.concat([head, c]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        sock.off('data', onData);
        const text = head.subarray(0, end).toString('latin1');
        const status = text.split('\r\n')[0]!;
        if (!status.startsWith('HTTP/1.1 101')) {
          sock.destroy();
          return reject(new Error(status));
        }
        const expect = createHash('sha1')
          .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
          .digest('base64');
        assert.match(text, new RegExp(`\\r\\nsec-websocket-accept: ${expect.replace(/[+/]/g, '\\$&')}`, 'i'));
        resolve(new TestWs(sock, head.subarray(end + 4)));
      };
      sock.on('data', onData);
    });
  }

  private onData(c: Buffer): void {
    this.buf = Buffer.concat([this.buf, c]);
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      assert.equal(b[1]! & 0x80, 0, 'server frames are not masked');
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      if (b.length < off + len) return;
      assert.equal(b[0]! & 0x80, 0x80, 'server frames are not fragmented');
      const msg = { op: b[0]! & 0x0f, data: Buffer.from(b.subarray(off, off + len)) };
      this.buf = b.subarray(off + len);
      if (msg.op === 8) this.closeCode = msg.data.length >= 2 ? msg.data.readUInt16BE(0) : 1005;
      this.queue.push(msg);
      this.wake?.();
    }
  }

  /** Sends one frame; masked unless told otherwise. */
  frame(op: number, payload: Buffer, opts: { mask?: boolean; fin?: boolean; rsv?: number; declaredLength?: number } = {}): void {
    const mask = opts.mask ?? true;
    const len = opts.declaredLength ?? payload.length;
    const parts: Buffer[] = [];
    const h = Buffer.alloc(len < 126 ? 2 : len < 0x10000 ? 4 : 10);
    h[0] = ((opts.fin ?? true) ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | op;
    if (len < 126) h[1] = len;
    else if (len < 0x10000) {
      h[1] = 126;
      h.writeUInt16BE(len, 2);
    } else {
      h[1] = 127;
      h.writeBigUInt64BE(BigInt(len), 2);
    }
    if (mask) h[1]! |= 0x80;
    parts.push(h);
    if (mask) {
      const k = randomBytes(4);
      parts.push(k, Buffer.from(payload.map((v, i) => v ^ k[i & 3]!)));
    } else parts.push(payload);
    this.sock.write(Buffer.concat(parts));
  }

  send(obj: object): void {
    this.frame(1, Buffer.from(JSON.stringify(obj)));
  }

  async next(timeoutMs = 3000): Promise<WsMessage> {
    const end = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.ended) throw new Error('connection closed');
      const left = end - Date.now();
      if (left <= 0) throw new Error('no message in time');
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => (clearTimeout(t), r());
      });
      this.wake = null;
    }
    return this.queue.shift()!;
  }

  /** The next JSON message of `type` (others of other types are skipped). */
  async json(type: string, timeoutMs = 3000): Promise<Record<string, any>> {
    for (;;) {
      const m = await this.next(timeoutMs);
      if (m.op !== 1) continue;
      const o = JSON.parse(m.data.toString('utf8'));
      if (o.type === type) return o;
    }
  }

  /** The next complete frame update (JSON messages in between are skipped). */
  async update(timeoutMs = 3000): Promise<Update> {
    const rects: Rect[] = [];
    for (;;) {
      const m = await this.next(timeoutMs);
      if (m.op !== 2) continue;
      const d = m.data;
      assert.equal(d[0], 1, 'rect message');
      const enc = d[1]!;
      const raw = d.subarray(24);
      const r = { x: d.readUInt16LE(16), y: d.readUInt16LE(18), w: d.readUInt16LE(20), h: d.readUInt16LE(22), enc, pixels: raw };
      if (enc === 2) {
        assert.equal(raw.length, 4, 'a copy carries its source');
        assert.equal(rects.length, 0, 'a copy comes first in its update');
      } else {
        r.pixels = enc === 1 ? inflateSync(raw) : enc === 0 ? raw : assert.fail(`encoding ${enc}`);
        assert.equal(r.pixels.length, r.w * r.h * 4, 'payload is w*h RGBA pixels');
      }
      rects.push(r);
      if (d[2]! & 1) return { port: d.readUInt16LE(4), update: d.readUInt32LE(8), fw: d.readUInt16LE(12), fh: d.readUInt16LE(14), rects };
    }
  }

  /** Asserts that nothing at all arrives for `ms`. */
  async silent(ms: number): Promise<void> {
    await tick(ms);
    assert.deepEqual(
      this.queue.map((m) => (m.op === 1 ? m.data.toString() : `binary ${m.data.length} bytes`)),
      [],
      'nothing was sent',
    );
  }

  drop(): void {
    this.sock.destroy();
  }
}

// ---------------------------------------------------------------------------

function httpGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface LogLine {
  msg: string;
  [k: string]: unknown;
}

describe('web viewer (in-process, soft backend)', () => {
  const logs: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  let guest: SoftGuest;
  let viewer: WebViewer;
  let port: number;
  const input = new SpyInput();
  const W = 64;
  const H = 48;
  let frame0: Buffer;

  before(async () => {
    guest = new SoftGuest(log, 640 * 480 * 4, 4);
    await guest.attachMode(0, W, H);
    await guest.attachMode(1, 80, 40, 'second');
    frame0 = pattern(W, H, 1);
    await guest.show(0, frame0);
    await guest.show(1, pattern(80, 40, 9));
    viewer = new WebViewer({ host: '127.0.0.1', port: 0, displays: guest.displays, input, log });
    const { url } = await viewer.start();
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    port = Number(new URL(url).port);
  });

  after(async () => {
    await viewer?.stop();
    guest?.destroy();
  });

  it('serves the page and its script', async () => {
    const page = await httpGet(port, '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.body.toString(), /<canvas id="canvas"/);
    assert.match(page.body.toString(), /viewer\.js/);
    const js = await httpGet(port, '/viewer.js');
    assert.equal(js.status, 200);
    assert.match(js.body.toString(), /DecompressionStream/);
    assert.equal((await httpGet(port, '/nope')).status, 404);
  });

  it('hello lists every display with its modes and size', async () => {
    const ws = await TestWs.open(port);
    const hello = await ws.json('hello');
    assert.equal(hello.version, 1);
    assert.deepEqual(hello.displays, [
      { port: 0, name: 'apple-gfxd 0', serial: 0x41470001, modes: [{ width: W, height: H, refreshHz: 60 }], width: W, height: H },
      { port: 1, name: 'second', serial: 0x41470002, modes: [{ width: 80, height: 40, refreshHz: 60 }], width: 80, height: 40 },
    ]);
    ws.drop();
  });

  it('subscribing sends the whole frame, pixel for pixel (raw and deflate)', async () => {
    for (const encodings of [undefined, ['deflate', 'raw']]) {
      const ws = await TestWs.open(port);
      await ws.json('hello');
      ws.send({ type: 'subscribe', port: 0, encodings });
      const u = await ws.update();
      assert.equal(u.port, 0);
      assert.deepEqual([u.fw, u.fh], [W, H]);
      assert.equal(u.rects.length, 1);
      const r = u.rects[0]!;
      assert.deepEqual([r.x, r.y, r.w, r.h], [0, 0, W, H]);
      assert.equal(r.enc, encodings ? 1 : 0, encodings ? 'deflate when offered' : 'raw unless deflate is offered');
      assert.ok(r.pixels.equals(rgbaOf(frame0, W, { x: 0, y: 0, w: W, h: H })), 'pixels equal the presented frame');
      ws.drop();
    }
  });

  it('a small change sends only its dirty rectangle; an idle display sends nothing', async () => {
    const ws = await TestWs.open(port);
    await ws.json('hello');
    ws.send({ type: 'subscribe', port: 0, encodings: ['deflate'] });
    const first = await ws.update();
    ws.send({ type: 'ack', update: first.update });
    await ws.silent(150);

    // Re-presenting identical pixels is a guest frame, but nothing changed on screen.
    await guest.show(0, frame0);
    await ws.silent(200);

    const changed = Buffer.from(frame0);
    for (let y = 7; y < 9; y++) for (let x = 10; x < 13; x++) changed.writeUInt32LE(0xff00ff00 + x + y * 256, (y * W + x) * 4);
    changed.writeUInt32LE(0xff123456, (40 * W + 50) * 4); // and one pixel far away
    await guest.show(0, changed);
    const u = await ws.update();
    assert.equal(u.update, first.update + 1);
    const rects = u.rects.map(({ x, y, w, h }) => ({ x, y, w, h })).sort((a, b) => a.y - b.y);
    assert.deepEqual(rects, [
      { x: 10, y: 7, w: 3, h: 2 },
      { x: 50, y: 40, w: 1, h: 1 },
    ]);
    for (const r of u.rects) assert.ok(r.pixels.equals(rgbaOf(changed, W, r)), `pixels of ${r.w}x${r.h}@${r.x},${r.y}`);
    ws.send({ type: 'ack', update: u.update });
    await ws.silent(150);
    frame0 = changed;
    ws.drop();
  });

  it('sends the next update only after an ack, and then only the newest frame', async () => {
    const ws = await TestWs.open(port);
    await ws.json('hello');
    ws.send({ type: 'subscribe', port: 1 });
    const first = await ws.update();
    const skippedBefore = viewer.stats().framesSkipped;
    const frames = [2, 3, 4].map((s) => pattern(80, 40, 20 + s));
    for (const f of frames) await guest.show(1, f);
    await ws.silent(200); // no ack yet: nothing
    ws.send({ type: 'ack', update: first.update + 7 }); // not the outstanding one: ignored
    await ws.silent(100);
    ws.send({ type: 'ack', update: first.update });
    const u = await ws.update();
    assert.equal(u.rects.length, 1);
    const r = u.rects[0]!;
    assert.deepEqual([r.x, r.y, r.w, r.h], [0, 0, 80, 40]);
    assert.ok(r.pixels.equals(rgbaOf(frames[2]!, 80, r)), 'the newest frame, not a stale one');
    assert.ok(viewer.stats().framesSkipped >= skippedBefore + 2, 'the two stale frames were skipped');
    ws.send({ type: 'ack', update: u.update });
    await ws.silent(150);
    ws.drop();
  });

  it('a guest blit reaches a client that lists "copy" as a copy of its own canvas, others as pixels', async () => {
    const copier = await TestWs.open(port);
    await copier.json('hello');
    copier.send({ type: 'subscribe', port: 0, encodings: ['copy', 'raw'] });
    const plain = await TestWs.open(port);
    await plain.json('hello');
    plain.send({ type: 'subscribe', port: 0, encodings: ['raw'] });
    // What each client shows, RGBA, from its first (whole) update on.
    const canvases = [copier, plain].map(() => Buffer.alloc(W * H * 4));
    const draw = (canvas: Buffer, u: Awaited<ReturnType<TestWs['update']>>): void => {
      for (const r of u.rects) {
        if (r.enc === 2) {
          const sx = r.pixels.readUInt16LE(0);
          const sy = r.pixels.readUInt16LE(2);
          const rows = Array.from({ length: r.h }, (_, j) =>
            Buffer.from(canvas.subarray(((sy + j) * W + sx) * 4, ((sy + j) * W + sx + r.w) * 4)),
          );
          rows.forEach((row, j) => row.copy(canvas, ((r.y + j) * W + r.x) * 4));
        } else for (let j = 0; j < r.h; j++) r.pixels.copy(canvas, ((r.y + j) * W + r.x) * 4, j * r.w * 4, (j + 1) * r.w * 4);
      }
    };
    const firsts = [await copier.update(), await plain.update()];
    firsts.forEach((u, i) => draw(canvases[i]!, u));
    copier.send({ type: 'ack', update: firsts[0]!.update });
    plain.send({ type: 'ack', update: firsts[1]!.update });
    // Scroll up 8 rows, then a new bottom strip presented with its damage hint.
    await guest.copyRect(0, { x: 0, y: 8 }, { x: 0, y: 0 }, W, H - 8);
    const next = Buffer.alloc(W * H * 4);
    frame0.copy(next, 0, 8 * W * 4);
    for (let i = (H - 8) * W; i < W * H; i++) next.writeUInt32LE((0xff000000 | ((i * 2654435761) >>> 8)) >>> 0, i * 4);
    guest.store(0, next);
    guest.presentSlot(0, 0, W, { x: 0, y: H - 8, w: W, h: 8 });
    for (const [i, ws] of [copier, plain].entries()) {
      for (let n = 0; n < 3 && !canvases[i]!.equals(rgbaOf(next, W, { x: 0, y: 0, w: W, h: H })); n++) {
        const u = await ws.update();
        if (ws === copier && n === 0) assert.equal(u.rects[0]!.enc, 2, 'the copier gets a copy first');
        if (ws === plain)
          assert.ok(
            u.rects.every((r) => r.enc !== 2),
            'no copy for a client that did not ask',
          );
        draw(canvases[i]!, u);
        ws.send({ type: 'ack', update: u.update });
      }
      assert.ok(canvases[i]!.equals(rgbaOf(next, W, { x: 0, y: 0, w: W, h: H })), `client ${i} shows the scrolled frame`);
    }
    frame0 = next;
    copier.drop();
    plain.drop();
  });
  it('a screenshot is a PNG of the current frame; an unknown port is a 404', async () => {
    const res = await httpGet(port, '/screenshot/0.png');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'image/png');
    assert.match(String(res.headers['content-disposition']), /attachment; filename="apple-gfxd-display0-.*\.png"/);
    const png = decodePng(res.body);
    assert.deepEqual([png.width, png.height], [W, H]);
    assert.ok(png.rgba.equals(rgbaOf(frame0, W, { x: 0, y: 0, w: W, h: H })), 'PNG pixels equal the frame');
    assert.ok(logs.some((l) => l.msg === 'web_screenshot' && l.port === 0 && l.width === W));

    const missing = await httpGet(port, '/screenshot/3.png');
    assert.equal(missing.status, 404);
    assert.match(String(missing.headers['content-type']), /application\/json/);
    assert.deepEqual(JSON.parse(missing.body.toString()), { error: 'no display on port 3' });
  });

  it('forwards the cursor: glyph as PNG, visibility, position', async () => {
    const ws = await TestWs.open(port);
    await ws.json('hello');
    ws.send({ type: 'subscribe', port: 0 });
    const initial = await ws.json('cursor');
    assert.equal(initial.visible, false);
    assert.equal(initial.x, 0xffff);
    const glyph = { w: 4, h: 3, hx: 1, hy: 2, bgra: Buffer.alloc(4 * 3 * 4, 0x80) };
    await guest.cursor(0, glyph, 20, 30);
    let c = await ws.json('cursor');
    while (!(c.visible && c.x === 20)) c = await ws.json('cursor');
    assert.equal(c.y, 30);
    assert.equal(c.glyph.width, 4);
    assert.equal(c.glyph.hotY, 2);
    assert.match(c.glyph.png, /^data:image\/png;base64,/);
    const png = decodePng(Buffer.from(c.glyph.png.split(',')[1], 'base64'));
    assert.deepEqual([png.width, png.height], [4, 3]);
    guest.run([[Op.CURSOR_MOVE, [0n, 0xffffn, 0xffffn]]]);
    c = await ws.json('cursor');
    assert.deepEqual([c.x, c.y, c.glyph], [0xffff, 0xffff, undefined], 'off-display sentinel; the glyph is not resent');
    ws.drop();
  });

  it('keyboard and pointer messages reach the input sink', async () => {
    const ws = await TestWs.open(port);
    await ws.json('hello');
    input.keys.length = input.pointers.length = 0;
    ws.send({ type: 'pointer', x: 5, y: 5, buttons: 1 }); // not subscribed: dropped
    ws.send({ type: 'subscribe', port: 1 });
    await ws.update();
    ws.send({ type: 'key', code: 'KeyA', down: true });
    ws.send({ type: 'key', code: 'KeyA', down: false });
    ws.send({ type: 'key', code: 'ShiftLeft', down: true });
    ws.send({ type: 'pointer', x: 12, y: 34, buttons: 1 });
    ws.send({ type: 'pointer', x: 500, y: -3, buttons: 4 });
    ws.send({ type: 'pointer', x: 12, y: 34, buttons: 0, wheel: -1 });
    ws.send({ type: 'pointer', x: 12, y: 34, buttons: 0, wheel: 2 });
    ws.send({ type: 'key', code: 'not a code!', down: true });
    const err = await ws.json('error');
    assert.match(err.message, /key needs/);
    assert.deepEqual(input.keys, [
      { code: 'KeyA', down: true },
      { code: 'KeyA', down: false },
      { code: 'ShiftLeft', down: true },
    ]);
    assert.deepEqual(input.pointers, [
      { port: 1, x: 12, y: 34, buttons: 1 },
      { port: 1, x: 79, y: 0, buttons: 4 }, // clamped to the display
      { port: 1, x: 12, y: 34, buttons: 0 },
      { port: 1, x: 12, y: 34, buttons: 8 },
      { port: 1, x: 12, y: 34, buttons: 0 },
      { port: 1, x: 12, y: 34, buttons: 0 },
      { port: 1, x: 12, y: 34, buttons: 16 },
      { port: 1, x: 12, y: 34, buttons: 0 },
      { port: 1, x: 12, y: 34, buttons: 16 },
      { port: 1, x: 12, y: 34, buttons: 0 },
    ]);
    ws.drop();
    await until(() => input.keys.length === 4, 'held keys released when the client leaves');
    assert.deepEqual(input.keys[3], { code: 'ShiftLeft', down: false });
  });

  it('announces hot-plugged displays and mode changes; a subscriber of a removed display is told', async () => {
    const ws = await TestWs.open(port);
    await ws.json('hello');
    const src = guest.displays.attach(
      [
        { width: 32, height: 32, refreshHz: 60 },
        { width: 16, height: 8, refreshHz: 60 },
      ],
      2,
      'hotplug',
    );
    const att = await ws.json('attached');
    assert.equal(att.display.port, 2);
    assert.equal(att.display.name, 'hotplug');
    assert.equal(att.display.modes.length, 2);
    await until(() => src.width === 32, 'first mode');
    ws.send({ type: 'subscribe', port: 2 });
    await ws.json('subscribed');
    const first = await ws.update();
    assert.deepEqual([first.fw, first.fh], [32, 32]);
    ws.send({ type: 'ack', update: first.update });
    guest.run([[Op.SET_MODE, [2n, 16n, 8n]]]);
    const mode = await ws.json('mode');
    assert.deepEqual([mode.port, mode.width, mode.height], [2, 16, 8]);
    const resized = await ws.update();
    assert.deepEqual([resized.fw, resized.fh, resized.rects.length], [16, 8, 1], 'a new size: the whole frame');
    assert.deepEqual(
      resized.rects.map(({ x, y, w, h }) => [x, y, w, h]),
      [[0, 0, 16, 8]],
    );
    assert.ok(resized.rects[0]!.pixels.equals(Buffer.alloc(16 * 8 * 4, Buffer.from([0, 0, 0, 0xff]))), 'cleared to black');
    guest.displays.detach(2);
    const unsub = await ws.json('unsubscribed');
    assert.equal(unsub.port, 2);
    const det = await ws.json('detached');
    assert.equal(det.port, 2);
    ws.send({ type: 'subscribe', port: 2 });
    assert.match((await ws.json('error')).message, /no display on port 2/);
    ws.drop();
  });

  it('a token guards the page, screenshots and the WebSocket', async () => {
    const v = new WebViewer({ port: 0, displays: guest.displays, input, log, token: 's3cret-token' });
    const p = Number(new URL((await v.start()).url).port);
    try {
      assert.equal((await httpGet(p, '/')).status, 401);
      assert.equal((await httpGet(p, '/?token=s3cret-tokem')).status, 401);
      assert.equal((await httpGet(p, '/?token=short')).status, 401);
      assert.equal((await httpGet(p, '/screenshot/0.png')).status, 401);
      assert.equal((await httpGet(p, '/?token=s3cret-token')).status, 200);
      assert.equal((await httpGet(p, '/screenshot/0.png?token=s3cret-token')).status, 200);
      assert.equal((await httpGet(p, '/viewer.js')).status, 200, 'the script holds no secret');
      await assert.rejects(TestWs.open(p, '/ws'), /401/);
      await assert.rejects(TestWs.open(p, '/ws?token=wrong'), /401/);
      const ws = await TestWs.open(p, '/ws?token=s3cret-token');
      assert.equal((await ws.json('hello')).displays.length, 2);
      ws.drop();
    } finally {
      await v.stop();
    }
  });

  it('refuses other Host names and cross-origin WebSockets', async () => {
    assert.equal((await httpGet(port, '/', { Host: 'rebind.example:80' })).status, 403);
    assert.equal((await httpGet(port, '/', { Host: `localhost:${port}` })).status, 200);
    await assert.rejects(TestWs.open(port, '/ws', { Origin: 'http://other.example' }), /403/);
    const ok = await TestWs.open(port, '/ws', { Origin: `http://127.0.0.1:${port}` });
    await ok.json('hello');
    ok.drop();
  });

  it('garbage, oversized and unmasked frames close only that client', async () => {
    const healthy = await TestWs.open(port);
    await healthy.json('hello');
    healthy.send({ type: 'subscribe', port: 0 });
    let last = await healthy.update();

    const cases: [string, (ws: TestWs) => void, number | null][] = [
      ['unmasked frame', (ws) => ws.frame(1, Buffer.from('{"type":"refresh"}'), { mask: false }), 1002],
      ['reserved bits', (ws) => ws.frame(1, Buffer.from('{}'), { rsv: 4 }), 1002],
      ['unknown opcode', (ws) => ws.frame(5, Buffer.from('x')), 1002],
      ['oversized message', (ws) => ws.frame(2, Buffer.alloc(16), { declaredLength: 1 << 30 }), 1009],
      [
        'fragments adding up past the cap',
        (ws) => {
          ws.frame(1, Buffer.alloc(40000, 0x20), { fin: false });
          ws.frame(0, Buffer.alloc(40000, 0x20), { fin: false });
        },
        1009,
      ],
      ['continuation without a start', (ws) => ws.frame(0, Buffer.from('x')), 1002],
      ['text that is not UTF-8', (ws) => ws.frame(1, Buffer.from([0xc3, 0x28])), 1007],
      ['text that is not JSON', (ws) => ws.frame(1, Buffer.from('hello?')), 1003],
      ['a binary message', (ws) => ws.frame(2, Buffer.from([1, 2, 3])), 1003],
      ['a fragmented ping', (ws) => ws.frame(9, Buffer.from('p'), { fin: false }), 1002],
      ['random bytes', (ws) => ws.sock.write(randomBytes(70000)), null],
    ];
    for (const [name, act, code] of cases) {
      const ws = await TestWs.open(port);
      await ws.json('hello');
      act(ws);
      const t0 = Date.now();
      await Promise.race([ws.closed, tick(3000).then(() => assert.fail(`${name}: connection still open`))]);
      if (code !== null) assert.equal(ws.closeCode, code, name);
      assert.ok(Date.now() - t0 < 1500, `${name}: closed at once, not after the close timeout`);
    }
    // A well-formed ping gets a pong, and a known-bad request gets an error, not a close.
    const ws = await TestWs.open(port);
    await ws.json('hello');
    ws.frame(9, Buffer.from('ping!'));
    const pong = await ws.next();
    assert.deepEqual([pong.op, pong.data.toString()], [10, 'ping!']);
    ws.send({ type: 'subscribe' });
    assert.match((await ws.json('error')).message, /subscribe needs a port/);
    ws.drop();

    // The healthy client never noticed.
    healthy.send({ type: 'ack', update: last.update });
    const next = pattern(W, H, 77);
    await guest.show(0, next);
    last = await healthy.update();
    assert.ok(last.rects.every((r) => r.pixels.equals(rgbaOf(next, W, r))));
    frame0 = next;
    healthy.drop();
  });

  it('survives 50 connects and disconnects, abrupt or not', async () => {
    for (let i = 0; i < 50; i++) {
      if (i % 5 === 4) {
        // half a handshake, then gone
        const s = connect(port, '127.0.0.1');
        await new Promise((r) => s.on('connect', r));
        s.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: web');
        s.destroy();
        continue;
      }
      const ws = await TestWs.open(port);
      if (i % 2) {
        await ws.json('hello');
        ws.send({ type: 'subscribe', port: i % 4 === 1 ? 0 : 1 });
      }
      if (i % 3 === 0) ws.frame(8, Buffer.from([0x03, 0xe8]));
      else ws.drop();
    }
    await until(() => viewer.stats().clients === 0, 'every client gone');
    const ws = await TestWs.open(port);
    await ws.json('hello');
    ws.send({ type: 'subscribe', port: 0 });
    const u = await ws.update();
    assert.ok(u.rects[0]!.pixels.equals(rgbaOf(frame0, W, u.rects[0]!)));
    ws.drop();
    assert.ok(logs.filter((l) => l.msg === 'web_client_connected').length >= 40);
    assert.ok(logs.filter((l) => l.msg === 'web_client_closed').length >= 40);
  });

  it('a client that never reads holds at most one update; others keep getting frames', async () => {
    await guest.attachMode(3, 640, 480, 'big');
    const slow = await TestWs.open(port);
    slow.sock.pause(); // never reads again
    slow.send({ type: 'subscribe', port: 3 });
    const fast = await TestWs.open(port);
    await fast.json('hello');
    fast.send({ type: 'subscribe', port: 3 });
    let u = await fast.update();
    const bytesBefore = viewer.stats().frameBytes;
    for (let i = 0; i < 20; i++) {
      const f = randomBytes(640 * 480 * 4); // incompressible, every pixel changes
      await guest.show(3, f);
      fast.send({ type: 'ack', update: u.update });
      u = await fast.update();
      assert.ok(
        u.rects.every((r) => r.pixels.equals(rgbaOf(f, 640, r))),
        `frame ${i}`,
      );
    }
    const full = 640 * 480 * 4 + 24;
    const sent = viewer.stats().frameBytes - bytesBefore;
    // 20 updates to the fast client; the slow one got its first update and nothing since.
    assert.ok(sent <= 21 * full, `sent ${sent} bytes, at most ${21 * full} expected`);
    assert.equal(viewer.stats().clients, 2);
    slow.drop();
    fast.drop();
    guest.displays.detach(3);
  });

  it('stops cleanly: clients are closed with 1001', async () => {
    const v = new WebViewer({ port: 0, displays: guest.displays, input, log });
    const p = Number(new URL((await v.start()).url).port);
    const ws = await TestWs.open(p);
    await ws.json('hello');
    await v.stop();
    await Promise.race([ws.closed, tick(3000).then(() => assert.fail('still open after stop'))]);
    assert.equal(ws.closeCode, 1001);
    assert.equal(v.stats().clients, 0);
  });
});
