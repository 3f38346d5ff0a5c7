// A small RFC 6455 client for tests of the daemon's WebSocket endpoints: the
// opening handshake (checked Sec-WebSocket-Accept), masked frames out, and
// the server's messages in, as a Duplex of binary payloads (so an RFB client
// can run over it) plus raw access for protocol tests.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';

export interface WsHandshake {
  /** The HTTP status line and headers (lower-case names) of the answer. */
  status: number;
  headers: Record<string, string>;
  /** The open connection when the status is 101. */
  ws: WsClient | null;
}

/** Sends an upgrade request for `path` with `headers` added (or replaced); resolves with the answer. */
export function openWebSocket(port: number, path = '/', headers: Record<string, string | null> = {}): Promise<WsHandshake> {
  return new Promise((resolve, reject) => {
    const sock = connect({ port, host: '127.0.0.1', noDelay: true });
    const key = randomBytes(16).toString('base64');
    sock.on('error', reject);
    sock.on('connect', () => {
      const h: Record<string, string | null> = {
        Host: `127.0.0.1:${port}`,
        Upgrade: 'websocket',
        Connection: 'Upgrade',
        'Sec-WebSocket-Key': key,
        'Sec-WebSocket-Version': '13',
        ...headers,
      };
      const lines = Object.entries(h)
        .filter((e): e is [string, string] => e[1] !== null)
        .map(([k, v]) => `${k}: ${v}\r\n`);
      sock.write(`GET ${path} HTTP/1.1\r\n${lines.join('')}\r\n`);
    });
    let head = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      head = Buffer.concat([head, c]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.off('data', onData);
      sock.off('error', reject);
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0]!)?.[1] ?? 0);
      const hdrs: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) hdrs[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      if (status !== 101) {
        sock.destroy();
        return resolve({ status, headers: hdrs, ws: null });
      }
      assert.equal(
        hdrs['sec-websocket-accept'],
        createHash('sha1')
          .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
          .digest('base64'),
      );
      resolve({ status, headers: hdrs, ws: new WsClient(sock, head.subarray(end + 4)) });
    };
    sock.on('data', onData);
  });
}

/** One client connection: binary payloads in and out as a byte stream. */
export class WsClient extends Duplex {
  private buf = Buffer.alloc(0);
  /** Opcodes and payloads of every message received, in order. */
  readonly messages: { op: number; data: Buffer }[] = [];
  closeCode: number | null = null;

  constructor(
    readonly sock: Socket,
    rest: Buffer,
  ) {
    super();
    sock.on('data', (c: Buffer) => this.onData(c));
    sock.on('error', (e) => this.destroy(e));
    sock.on('close', () => {
      this.push(null);
      this.destroy();
    });
    if (rest.length) this.onData(rest);
  }

  /** Sends one frame (masked unless told otherwise). */
  frame(op: number, payload: Buffer, mask = true): void {
    const len = payload.length;
    const h = Buffer.alloc(len < 126 ? 2 : len < 0x10000 ? 4 : 10);
    h[0] = 0x80 | op;
    if (len < 126) h[1] = len;
    else if (len < 0x10000) {
      h[1] = 126;
      h.writeUInt16BE(len, 2);
    } else {
      h[1] = 127;
      h.writeBigUInt64BE(BigInt(len), 2);
    }
    if (!mask) return void this.sock.write(Buffer.concat([h, payload]));
    h[1]! |= 0x80;
    const k = randomBytes(4);
    this.sock.write(Buffer.concat([h, k, Buffer.from(payload.map((v, i) => v ^ k[i & 3]!))]));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.frame(2, chunk);
    cb();
  }

  override _read(): void {}

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.sock.destroy();
    cb(err);
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
      const op = b[0]! & 0x0f;
      const data = Buffer.from(b.subarray(off, off + len));
      this.buf = b.subarray(off + len);
      this.messages.push({ op, data });
      if (op === 8) this.closeCode = data.length >= 2 ? data.readUInt16BE(0) : 1005;
      if (op === 2) this.push(data);
    }
  }
}
