// A small RFB 3.3/3.7/3.8 client for the VNC tests and the benchmark: the
// handshake (None and VNC Authentication), SetPixelFormat/SetEncodings,
// update requests, and decoding of Raw, zlib, ZRLE, Cursor, DesktopSize,
// DesktopName and ExtendedDesktopSize into a framebuffer of client-format pixels. Written
// independently of the server's encoders so the tests check one against
// the other. `decode: false` only parses and skips pixel data (benchmark).
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { constants, createInflate, type Inflate } from 'node:zlib';
import jpeg from 'jpeg-js';
import { ByteQueue } from '#daemon/viewers/vnc/byte-queue.js';
import { vncAuthResponse } from '#daemon/viewers/vnc/des.js';
import { decodePixelFormat, encodePixelFormat, type PixelFormat } from '#daemon/viewers/vnc/pixel-format.js';
import { Encoding, type Rect } from '#daemon/viewers/vnc/rfb.js';

export interface ClientRect extends Rect {
  encoding: number;
  /** Compressed/wire bytes of the rectangle's payload. */
  bytes: number;
}

export interface ClientUpdate {
  rects: ClientRect[];
}

export interface ClientCursor {
  hotX: number;
  hotY: number;
  width: number;
  height: number;
  /** Client-format pixels. */
  pixels: Buffer;
  mask: Buffer;
}

class Inflater {
  private readonly z: Inflate = createInflate();
  private chunks: Buffer[] = [];
  constructor() {
    this.z.on('data', (c: Buffer) => this.chunks.push(c));
  }
  inflate(data: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.z.once('error', reject);
      this.z.write(data);
      this.z.flush(constants.Z_SYNC_FLUSH, () => {
        this.z.off('error', reject);
        const out = Buffer.concat(this.chunks);
        this.chunks = [];
        resolve(out);
      });
    });
  }
  close(): void {
    this.z.destroy();
  }
}

export class RfbClient {
  width = 0;
  height = 0;
  name = '';
  serverFormat!: PixelFormat;
  pf!: PixelFormat;
  /** Client-format pixels, width * bpp bytes per row. */
  fb = Buffer.alloc(0);
  cursor: ClientCursor | null = null;
  /** ExtendedDesktopSize rectangles received: {reason, status, width, height}. */
  extDesktop: { reason: number; status: number; width: number; height: number }[] = [];
  closed = false;
  /** Updates ended by a LastRect rectangle. */
  lastRects = 0;
  /** QEMU Extended Key Event rectangles received (the server takes them). */
  extKeyAcks = 0;
  /** DesktopName rectangles received (each sets `name`). */
  names: string[] = [];
  private readonly q = new ByteQueue();
  private waiter: { n: number; resolve: () => void; reject: (e: Error) => void } | null = null;
  private ended: Error | null = null;
  private zlib: Inflater | null = null;
  private zrle: Inflater | null = null;
  private readonly tightZ: (Inflater | null)[] = [null, null, null, null];
  /** Tight rectangles received as JPEG (their pixels are approximate). */
  jpegRects = 0;

  private constructor(
    readonly socket: Socket | Duplex,
    readonly decode: boolean,
  ) {
    socket.on('data', (c: Buffer) => {
      this.q.push(c);
      this.wake();
    });
    const end = (e?: Error): void => {
      this.closed = true;
      this.ended ??= e ?? new Error('connection closed');
      this.wake();
    };
    socket.on('error', end);
    socket.on('close', () => end());
  }

  /** Connects and returns before the handshake (for tests that misbehave). */
  static open(port: number, host = '127.0.0.1', decode = true): Promise<RfbClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host, noDelay: true }, () => {
        s.off('error', reject);
        resolve(new RfbClient(s, decode));
      });
      s.once('error', reject);
    });
  }

  /** Runs over an already open byte stream (e.g. a WebSocket: ws-client.ts), handshake included. */
  static async over(stream: Duplex, opts: { password?: string; version?: string; decode?: boolean } = {}): Promise<RfbClient> {
    const c = new RfbClient(stream, opts.decode ?? true);
    try {
      await c.handshake(opts.password, opts.version);
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  /** Connects and completes the handshake through ServerInit. */
  static async connect(
    port: number,
    opts: { host?: string; password?: string; version?: string; decode?: boolean } = {},
  ): Promise<RfbClient> {
    const c = await RfbClient.open(port, opts.host, opts.decode ?? true);
    try {
      await c.handshake(opts.password, opts.version);
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  private wake(): void {
    const w = this.waiter;
    if (w && (this.q.length >= w.n || this.ended)) {
      this.waiter = null;
      if (this.q.length >= w.n) w.resolve();
      else w.reject(this.ended!);
    }
  }

  private async need(n: number): Promise<void> {
    if (this.q.length >= n) return;
    if (this.ended) throw this.ended;
    await new Promise<void>((resolve, reject) => (this.waiter = { n, resolve, reject }));
  }

  async read(n: number): Promise<Buffer> {
    await this.need(n);
    return this.q.take(n);
  }

  /** Discards n bytes without gathering them. */
  async skip(n: number): Promise<void> {
    while (n > 0) {
      await this.need(1);
      n -= this.q.skip(n);
    }
  }

  /** Resolves true if the server closes the connection within `ms`. */
  waitClosed(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      this.socket.once('close', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  async handshake(password?: string, version = 'RFB 003.008\n'): Promise<void> {
    const server = (await this.read(12)).toString('latin1');
    if (!server.startsWith('RFB ')) throw new Error(`bad server version ${JSON.stringify(server)}`);
    this.socket.write(version);
    const minor = Number(version.slice(8, 11));
    let type: number;
    if (minor >= 7) {
      const n = (await this.read(1))[0]!;
      if (n === 0) throw new Error(await this.reason());
      const types = [...(await this.read(n))];
      type = password !== undefined && types.includes(2) ? 2 : types.includes(1) ? 1 : types[0]!;
      this.socket.write(Buffer.from([type]));
    } else {
      type = (await this.read(4)).readUInt32BE(0);
      if (type === 0) throw new Error(await this.reason());
    }
    if (type === 2) {
      const challenge = await this.read(16);
      this.socket.write(vncAuthResponse(password ?? '', challenge));
    }
    if (type === 2 || minor >= 8) {
      const result = (await this.read(4)).readUInt32BE(0);
      if (result !== 0) throw new Error(minor >= 8 ? `security failure: ${await this.reason()}` : 'security failure');
    }
    this.socket.write(Buffer.from([1])); // shared
    const init = await this.read(24);
    this.width = init.readUInt16BE(0);
    this.height = init.readUInt16BE(2);
    this.serverFormat = decodePixelFormat(init, 4);
    this.pf = this.serverFormat;
    this.name = (await this.read(init.readUInt32BE(20))).toString('utf8');
    this.resize(this.width, this.height);
  }

  private async reason(): Promise<string> {
    const len = (await this.read(4)).readUInt32BE(0);
    return (await this.read(len)).toString('utf8');
  }

  private get bpp(): number {
    return this.pf.bitsPerPixel >> 3;
  }

  private resize(w: number, h: number): void {
    this.width = w;
    this.height = h;
    this.fb = Buffer.alloc(w * h * this.bpp);
  }

  setPixelFormat(pf: PixelFormat): void {
    const b = Buffer.alloc(20);
    encodePixelFormat(pf).copy(b, 4);
    this.socket.write(b);
    this.pf = pf;
    this.resize(this.width, this.height);
  }

  setEncodings(list: number[]): void {
    const b = Buffer.alloc(4 + 4 * list.length);
    b[0] = 2;
    b.writeUInt16BE(list.length, 2);
    list.forEach((e, i) => b.writeInt32BE(e, 4 + 4 * i));
    this.socket.write(b);
  }

  requestUpdate(incremental: boolean, r: Rect = { x: 0, y: 0, w: this.width, h: this.height }): void {
    const b = Buffer.alloc(10);
    b[0] = 3;
    b[1] = incremental ? 1 : 0;
    b.writeUInt16BE(r.x, 2);
    b.writeUInt16BE(r.y, 4);
    b.writeUInt16BE(r.w, 6);
    b.writeUInt16BE(r.h, 8);
    this.socket.write(b);
  }

  key(keysym: number, down: boolean): void {
    const b = Buffer.alloc(8);
    b[0] = 4;
    b[1] = down ? 1 : 0;
    b.writeUInt32BE(keysym, 4);
    this.socket.write(b);
  }

  /** QEMU Extended Key Event (client message 255, subtype 0). */
  extKey(keysym: number, scancode: number, down: boolean): void {
    const b = Buffer.alloc(12);
    b[0] = 255;
    b[1] = 0;
    b.writeUInt16BE(down ? 1 : 0, 2);
    b.writeUInt32BE(keysym, 4);
    b.writeUInt32BE(scancode, 8);
    this.socket.write(b);
  }

  pointer(x: number, y: number, buttons: number): void {
    const b = Buffer.alloc(6);
    b[0] = 5;
    b[1] = buttons;
    b.writeUInt16BE(x, 2);
    b.writeUInt16BE(y, 4);
    this.socket.write(b);
  }

  setDesktopSize(w: number, h: number): void {
    const b = Buffer.alloc(8 + 16);
    b[0] = 251;
    b.writeUInt16BE(w, 2);
    b.writeUInt16BE(h, 4);
    b[6] = 1;
    b.writeUInt16BE(w, 8 + 8);
    b.writeUInt16BE(h, 8 + 10);
    this.socket.write(b);
  }

  /** The next server message that is a FramebufferUpdate, or null after `timeoutMs`. */
  async nextUpdate(timeoutMs = 2000): Promise<ClientUpdate | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
    try {
      const first = await Promise.race([this.need(1).then(() => true), timeout]);
      if (!first) return null;
    } finally {
      clearTimeout(timer);
    }
    return this.readUpdate();
  }

  private async readUpdate(): Promise<ClientUpdate> {
    const head = await this.read(4);
    if (head[0] !== 0) throw new Error(`unexpected server message ${head[0]}`);
    const n = head.readUInt16BE(2);
    const rects: ClientRect[] = [];
    // 0xffff: as many as come before a LastRect rectangle (if the client asked for LastRect).
    for (let i = 0; i < n; i++) {
      const h = await this.read(12);
      const r: ClientRect = {
        x: h.readUInt16BE(0),
        y: h.readUInt16BE(2),
        w: h.readUInt16BE(4),
        h: h.readUInt16BE(6),
        encoding: h.readInt32BE(8),
        bytes: 0,
      };
      if (r.encoding === Encoding.LAST_RECT && n === 0xffff) {
        this.lastRects++;
        break;
      }
      r.bytes = await this.rect(r);
      rects.push(r);
    }
    return { rects };
  }

  private async rect(r: ClientRect): Promise<number> {
    const bpp = this.bpp;
    switch (r.encoding) {
      case Encoding.RAW: {
        const len = r.w * r.h * bpp;
        if (!this.decode) return this.skip(len).then(() => len);
        this.blit(r, await this.read(len));
        return len;
      }
      case Encoding.ZLIB:
      case Encoding.ZRLE: {
        const len = (await this.read(4)).readUInt32BE(0);
        if (!this.decode) return this.skip(len).then(() => len + 4);
        const z = r.encoding === Encoding.ZLIB ? (this.zlib ??= new Inflater()) : (this.zrle ??= new Inflater());
        const data = await z.inflate(await this.read(len));
        if (r.encoding === Encoding.ZLIB) {
          if (data.length !== r.w * r.h * bpp) throw new Error(`zlib rect inflated to ${data.length} bytes`);
          this.blit(r, data);
        } else this.zrleRect(r, data);
        return len + 4;
      }
      case Encoding.TIGHT:
        return this.tightRect(r);
      case Encoding.COPY_RECT: {
        const src = await this.read(4);
        if (this.decode) this.copyWithin(src.readUInt16BE(0), src.readUInt16BE(2), r);
        return 4;
      }
      case Encoding.CURSOR: {
        const pixels = await this.read(r.w * r.h * bpp);
        const mask = await this.read(((r.w + 7) >> 3) * r.h);
        this.cursor = { hotX: r.x, hotY: r.y, width: r.w, height: r.h, pixels, mask };
        return pixels.length + mask.length;
      }
      case Encoding.DESKTOP_SIZE:
        this.resize(r.w, r.h);
        return 0;
      case Encoding.QEMU_EXTENDED_KEY_EVENT:
        this.extKeyAcks++;
        return 0;
      case Encoding.DESKTOP_NAME: {
        const len = (await this.read(4)).readUInt32BE(0);
        if (len > 1 << 16) throw new Error(`DesktopName of ${len} bytes`);
        this.name = (await this.read(len)).toString('utf8');
        this.names.push(this.name);
        return 4 + len;
      }
      case Encoding.EXTENDED_DESKTOP_SIZE: {
        const screens = (await this.read(4))[0]!;
        await this.read(16 * screens);
        this.extDesktop.push({ reason: r.x, status: r.y, width: r.w, height: r.h });
        if (r.x !== 1 || r.y === 0) this.resize(r.w, r.h);
        return 4 + 16 * screens;
      }
      default:
        throw new Error(`unsupported encoding ${r.encoding}`);
    }
  }

  /** CopyRect: the rectangle at (sx, sy) of the framebuffer, as it was, goes to r. */
  private copyWithin(sx: number, sy: number, r: Rect): void {
    if (sx + r.w > this.width || sy + r.h > this.height || r.x + r.w > this.width || r.y + r.h > this.height)
      throw new Error('CopyRect outside the framebuffer');
    const bpp = this.bpp;
    const rows: Buffer[] = [];
    for (let y = 0; y < r.h; y++)
      rows.push(Buffer.from(this.fb.subarray(((sy + y) * this.width + sx) * bpp, ((sy + y) * this.width + sx + r.w) * bpp)));
    rows.forEach((row, y) => row.copy(this.fb, ((r.y + y) * this.width + r.x) * bpp));
  }

  /** Tight's compact length (1-3 bytes). */
  private async compactLength(): Promise<{ len: number; bytes: number }> {
    let b = (await this.read(1))[0]!;
    let len = b & 0x7f;
    if (!(b & 0x80)) return { len, bytes: 1 };
    b = (await this.read(1))[0]!;
    len |= (b & 0x7f) << 7;
    if (!(b & 0x80)) return { len, bytes: 2 };
    b = (await this.read(1))[0]!;
    return { len: len | (b << 14), bytes: 3 };
  }

  /** TPIXEL -> the client's pixel bytes: 3 bytes R, G, B for 32-bit depth-24 8-bit formats, else a PIXEL. */
  private tpixel(): { size: number; toPixel(b: Buffer, o: number): Buffer } {
    const pf = this.pf;
    const bpp = this.bpp;
    if (pf.bitsPerPixel === 32 && pf.depth === 24 && pf.redMax === 255 && pf.greenMax === 255 && pf.blueMax === 255)
      return {
        size: 3,
        toPixel: (b, o) => {
          const v = ((b[o]! << pf.redShift) | (b[o + 1]! << pf.greenShift) | (b[o + 2]! << pf.blueShift)) >>> 0;
          const px = Buffer.alloc(4);
          if (pf.bigEndian) px.writeUInt32BE(v);
          else px.writeUInt32LE(v);
          return px;
        },
      };
    return { size: bpp, toPixel: (b, o) => Buffer.from(b.subarray(o, o + bpp)) };
  }

  /** Tight (7): fill, JPEG, or basic (copy / palette filter) through four zlib streams. */
  private async tightRect(r: ClientRect): Promise<number> {
    const ctl = (await this.read(1))[0]!;
    let bytes = 1;
    for (let i = 0; i < 4; i++) if (ctl & (1 << i)) throw new Error('Tight stream reset not expected');
    const kind = ctl >> 4;
    const tp = this.tpixel();
    const fill = (px: (i: number) => Buffer): void => {
      for (let y = 0; y < r.h; y++)
        for (let x = 0; x < r.w; x++) px(y * r.w + x).copy(this.fb, ((r.y + y) * this.width + r.x + x) * this.bpp);
    };
    if (kind === 0x8) {
      const px = tp.toPixel(await this.read(tp.size), 0);
      if (this.decode) fill(() => px);
      return bytes + tp.size;
    }
    if (kind === 0x9) {
      const { len, bytes: lb } = await this.compactLength();
      const data = await this.read(len);
      this.jpegRects++;
      if (!this.decode) return bytes + lb + len;
      const img = jpeg.decode(data, { useTArray: true, formatAsRGBA: true });
      if (img.width !== r.w || img.height !== r.h) throw new Error(`JPEG ${img.width}x${img.height} in a ${r.w}x${r.h} rectangle`);
      if (this.decode) fill((i) => tp.toPixel(Buffer.from([img.data[i * 4]!, img.data[i * 4 + 1]!, img.data[i * 4 + 2]!]), 0));
      return bytes + lb + len;
    }
    if (kind & 0x8) throw new Error(`Tight compression ${kind}`);
    const stream = kind & 3;
    let filter = 0;
    if (kind & 4) {
      filter = (await this.read(1))[0]!;
      bytes++;
    }
    let palette: Buffer[] = [];
    if (filter === 1) {
      const n = (await this.read(1))[0]! + 1;
      const raw = await this.read(n * tp.size);
      bytes += 1 + raw.length;
      palette = Array.from({ length: n }, (_, i) => tp.toPixel(raw, i * tp.size));
    } else if (filter !== 0) throw new Error(`Tight filter ${filter}`);
    const rowBytes = filter === 1 ? (palette.length === 2 ? (r.w + 7) >> 3 : r.w) : r.w * tp.size;
    const size = rowBytes * r.h;
    let data: Buffer;
    if (size < 12) {
      data = await this.read(size);
      bytes += size;
    } else {
      const { len, bytes: lb } = await this.compactLength();
      if (!this.decode) return bytes + lb + (await this.skip(len), len);
      data = await (this.tightZ[stream] ??= new Inflater()).inflate(await this.read(len));
      bytes += lb + len;
      if (data.length !== size) throw new Error(`Tight data inflated to ${data.length} bytes, expected ${size}`);
    }
    if (!this.decode) return bytes;
    if (filter === 0) fill((i) => tp.toPixel(data, i * tp.size));
    else if (palette.length === 2)
      fill((i) => palette[(data[Math.floor(i / r.w) * rowBytes + ((i % r.w) >> 3)]! >> (7 - ((i % r.w) & 7))) & 1]!);
    else
      fill((i) => {
        const px = palette[data[i]!];
        if (!px) throw new Error(`Tight palette index ${data[i]} of ${palette.length}`);
        return px;
      });
    return bytes;
  }

  private blit(r: Rect, data: Buffer, srcStride = r.w * this.bpp): void {
    const bpp = this.bpp;
    for (let y = 0; y < r.h; y++) data.copy(this.fb, ((r.y + y) * this.width + r.x) * bpp, y * srcStride, y * srcStride + r.w * bpp);
  }

  /** CPIXEL size and where its bytes go in a full pixel (RFC 6143 7.7.6). */
  private cpixel(): { size: number; at: number } {
    const pf = this.pf;
    const top = Math.max(
      ...[pf.redMax, pf.greenMax, pf.blueMax].map((m, i) => [pf.redShift, pf.greenShift, pf.blueShift][i]! + Math.log2(m + 1)),
    );
    const low = Math.min(pf.redShift, pf.greenShift, pf.blueShift);
    if (pf.trueColour && pf.bitsPerPixel === 32 && pf.depth <= 24) {
      if (top <= 24) return { size: 3, at: pf.bigEndian ? 1 : 0 };
      if (low >= 8) return { size: 3, at: pf.bigEndian ? 0 : 1 };
    }
    return { size: this.bpp, at: 0 };
  }

  private zrleRect(r: Rect, data: Buffer): void {
    const bpp = this.bpp;
    const cp = this.cpixel();
    let o = 0;
    const readPixel = (): Buffer => {
      const px = Buffer.alloc(bpp);
      data.copy(px, cp.at, o, o + cp.size);
      o += cp.size;
      return px;
    };
    for (let ty = 0; ty < r.h; ty += 64)
      for (let tx = 0; tx < r.w; tx += 64) {
        const tw = Math.min(64, r.w - tx);
        const th = Math.min(64, r.h - ty);
        const tile = Buffer.alloc(tw * th * bpp);
        const sub = data[o++]!;
        if (sub === 0) for (let i = 0; i < tw * th; i++) readPixel().copy(tile, i * bpp);
        else if (sub === 1) {
          const px = readPixel();
          for (let i = 0; i < tw * th; i++) px.copy(tile, i * bpp);
        } else if (sub >= 2 && sub <= 16) {
          const pal = Array.from({ length: sub }, readPixel);
          const bits = sub === 2 ? 1 : sub <= 4 ? 2 : 4;
          for (let y = 0; y < th; y++) {
            let bitPos = 0;
            for (let x = 0; x < tw; x++) {
              const byte = data[o + (bitPos >> 3)]!;
              const idx = (byte >> (8 - bits - (bitPos & 7))) & ((1 << bits) - 1);
              pal[idx]!.copy(tile, (y * tw + x) * bpp);
              bitPos += bits;
            }
            o += Math.ceil((tw * bits) / 8);
          }
        } else if (sub === 128 || sub >= 130) {
          const pal = sub >= 130 ? Array.from({ length: sub - 128 }, readPixel) : [];
          let i = 0;
          while (i < tw * th) {
            let px: Buffer;
            let len = 1;
            if (sub === 128) {
              px = readPixel();
              len = runLength();
            } else {
              const idx = data[o++]!;
              px = pal[idx & 0x7f]!;
              if (idx & 0x80) len = runLength();
            }
            for (let k = 0; k < len; k++) px.copy(tile, (i + k) * bpp);
            i += len;
          }
        } else throw new Error(`bad ZRLE subencoding ${sub}`);
        this.blit({ x: r.x + tx, y: r.y + ty, w: tw, h: th }, tile);
      }
    if (o !== data.length) throw new Error(`ZRLE rect: ${data.length - o} bytes left over`);
    function runLength(): number {
      let len = 1;
      let b: number;
      do {
        b = data[o++]!;
        len += b;
      } while (b === 255);
      return len;
    }
  }

  /** The pixel value at (x, y) with only its colour bits (padding bits cleared). */
  pixel(x: number, y: number): number {
    const bpp = this.bpp;
    const o = (y * this.width + x) * bpp;
    const v =
      bpp === 4
        ? this.pf.bigEndian
          ? this.fb.readUInt32BE(o)
          : this.fb.readUInt32LE(o)
        : bpp === 2
          ? this.pf.bigEndian
            ? this.fb.readUInt16BE(o)
            : this.fb.readUInt16LE(o)
          : this.fb[o]!;
    const pf = this.pf;
    const mask = (pf.redMax * 2 ** pf.redShift + pf.greenMax * 2 ** pf.greenShift + pf.blueMax * 2 ** pf.blueShift) >>> 0;
    return (v & mask) >>> 0;
  }

  close(): void {
    this.zlib?.close();
    this.zrle?.close();
    for (const z of this.tightZ) z?.close();
    this.socket.destroy();
  }
}
