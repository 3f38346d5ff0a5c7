// A small RFC 6455 WebSocket server endpoint for the web viewer: the opening
// handshake (Sec-WebSocket-Accept = base64(sha1(key + GUID))), masked client
// frames, text/binary messages (with fragmentation), ping/pong, the closing
// handshake, and a cap on message size. No extensions, no subprotocols.
//
// Anything a client sends that breaks the protocol closes that connection
// with the RFC's status code (1002 protocol error, 1007 bad UTF-8, 1009 too
// big); nothing a client sends can throw out of this module.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const OP_CONT = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL = 1002;
export const CLOSE_UNSUPPORTED = 1003;
export const CLOSE_BAD_DATA = 1007;
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;

/** How long we wait for the peer's close frame after sending ours. */
const CLOSE_TIMEOUT_MS = 2000;

export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/**
 * Checks an upgrade request. Returns null when it is a valid WebSocket
 * version 13 opening handshake, else the HTTP status and reason to refuse it.
 */
export function checkUpgrade(req: IncomingMessage): { status: number; reason: string; headers?: Record<string, string> } | null {
  if (req.method !== 'GET') return { status: 405, reason: 'WebSocket upgrade must be a GET' };
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return { status: 400, reason: 'Upgrade: websocket expected' };
  const conn = (req.headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim());
  if (!conn.includes('upgrade')) return { status: 400, reason: 'Connection: Upgrade expected' };
  if (req.headers['sec-websocket-version'] !== '13')
    return { status: 426, reason: 'WebSocket version 13 required', headers: { 'Sec-WebSocket-Version': '13' } };
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !/^[A-Za-z0-9+/]{22}==$/.test(key.trim())) return { status: 400, reason: 'bad Sec-WebSocket-Key' };
  return null;
}

/** Writes an HTTP error response on a raw upgrade socket and closes it. */
export function refuseUpgrade(socket: Duplex, status: number, reason: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: reason }) + '\n';
  const lines = [
    `HTTP/1.1 ${status} ${reason.replace(/[\r\n]/g, ' ')}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(lines.join('\r\n') + '\r\n\r\n' + body);
  socket.on('error', () => socket.destroy());
}

export interface WsOptions {
  /** Largest message (after reassembling fragments) accepted from the client. */
  maxPayload: number;
}

export interface WsEvents {
  text: [text: string];
  binary: [data: Buffer];
  /** Once, when the connection is gone; `code` is what we or the peer sent. */
  close: [code: number, reason: string];
}

/** One server-side WebSocket connection on an upgraded socket. */
export class WsConnection extends EventEmitter<WsEvents> {
  private buf: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private fragmentsLength = 0;
  private fragmentOpcode = 0;
  private closeSent = false;
  private closed = false;
  private closeTimer: NodeJS.Timeout | null = null;
  private closeCode = 1006;
  private closeReason = '';
  /** False once the peer broke the protocol: its further bytes are ignored. */
  private reading = true;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    readonly socket: Duplex,
    private readonly opts: WsOptions,
  ) {
    super();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.finish());
    socket.on('close', () => this.finish());
    socket.on('end', () => socket.end()); // the peer half-closed: so do we
  }

  /** Completes the handshake on `socket` (already checked with checkUpgrade). */
  static accept(req: IncomingMessage, socket: Duplex, head: Buffer, opts: WsOptions): WsConnection {
    const key = (req.headers['sec-websocket-key'] as string).trim();
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
    );
    const s = socket as Duplex & { setNoDelay?: (v: boolean) => void };
    s.setNoDelay?.(true);
    const ws = new WsConnection(socket, opts);
    if (head.length) ws.onData(head);
    return ws;
  }

  get isOpen(): boolean {
    return !this.closed && !this.closeSent;
  }

  /** Bytes queued in user space that the peer has not taken yet. */
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  sendText(text: string): boolean {
    return this.sendFrame(OP_TEXT, Buffer.from(text, 'utf8'));
  }

  sendBinary(data: Buffer | Buffer[]): boolean {
    return this.sendFrame(OP_BINARY, data);
  }

  /** Starts the closing handshake (the socket ends when the peer answers or after 2 s). */
  close(code = CLOSE_NORMAL, reason = ''): void {
    if (this.closed) return;
    if (!this.closeSent) this.sendClose(code, reason);
  }

  /** Sends a close frame and ends the socket (without waiting for the peer's answer). */
  shutdown(code = CLOSE_GOING_AWAY, reason = ''): void {
    if (this.closed) return;
    this.reading = false;
    this.sendClose(code, reason);
    this.socket.end();
  }

  /** Drops the connection without a closing handshake. */
  terminate(code = 1006, reason = ''): void {
    if (this.closeCode === 1006) {
      this.closeCode = code;
      this.closeReason = reason;
    }
    this.socket.destroy();
    this.finish();
  }

  private sendFrame(opcode: number, payload: Buffer | Buffer[]): boolean {
    if (this.closed || this.closeSent || this.socket.destroyed) return false;
    const parts = Array.isArray(payload) ? payload : [payload];
    const len = parts.reduce((n, p) => n + p.length, 0);
    let header: Buffer;
    if (len < 126) {
      header = Buffer.allocUnsafe(2);
      header[1] = len;
    } else if (len < 0x10000) {
      header = Buffer.allocUnsafe(4);
      header[1] = 126;
      header.writeUInt16BE(len, 2);
    } else {
      header = Buffer.allocUnsafe(10);
      header[1] = 127;
      header.writeBigUInt64BE(BigInt(len), 2);
    }
    header[0] = 0x80 | opcode; // FIN, no RSV, server frames are not masked
    this.bytesOut += header.length + len;
    const s = this.socket as Duplex & { cork?: () => void; uncork?: () => void };
    s.cork?.();
    this.socket.write(header);
    for (const p of parts) if (p.length) this.socket.write(p);
    s.uncork?.();
    return true;
  }

  private sendClose(code: number, reason: string): void {
    if (this.closeSent || this.closed) return;
    let r = Buffer.from(reason, 'utf8');
    if (r.length > 123) r = r.subarray(0, 123);
    const payload = Buffer.allocUnsafe(2 + r.length);
    payload.writeUInt16BE(code, 0);
    r.copy(payload, 2);
    this.sendFrame(OP_CLOSE, payload);
    this.closeSent = true;
    if (this.closeCode === 1006) {
      this.closeCode = code;
      this.closeReason = reason;
    }
    this.closeTimer = setTimeout(() => this.terminate(), CLOSE_TIMEOUT_MS);
    this.closeTimer.unref();
  }

  /** A protocol violation: close with `code` and stop reading. */
  private fail(code: number, reason: string): void {
    this.reading = false;
    this.buf = Buffer.alloc(0);
    this.fragments = [];
    this.sendClose(code, reason);
    // Nothing more from this peer is worth reading; give it a moment to take our close frame.
    this.socket.end();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.buf = Buffer.alloc(0);
    this.fragments = [];
    if (!this.socket.destroyed) this.socket.destroy();
    this.emit('close', this.closeCode, this.closeReason);
  }

  private onData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    if (this.closed || !this.reading) return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    try {
      while (!this.closed && this.reading && this.parseOne());
    } catch (e) {
      this.fail(CLOSE_PROTOCOL, `internal: ${(e as Error).message}`);
    }
  }

  /** Parses one frame from the buffer; false when more bytes are needed. */
  private parseOne(): boolean {
    const b = this.buf;
    if (b.length < 2) return false;
    // After our close frame went out (or a failure) only the peer's close frame matters.
    const fin = (b[0]! & 0x80) !== 0;
    const rsv = b[0]! & 0x70;
    const opcode = b[0]! & 0x0f;
    const masked = (b[1]! & 0x80) !== 0;
    let len = b[1]! & 0x7f;
    let off = 2;
    if (rsv) return this.fail(CLOSE_PROTOCOL, 'reserved bits set'), false;
    if (!masked) return this.fail(CLOSE_PROTOCOL, 'client frames must be masked'), false;
    const control = opcode >= 0x8;
    if (![OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG].includes(opcode)) return this.fail(CLOSE_PROTOCOL, `opcode ${opcode}`), false;
    if (control && (!fin || len > 125)) return this.fail(CLOSE_PROTOCOL, 'bad control frame'), false;
    if (len === 126) {
      if (b.length < 4) return false;
      len = b.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (b.length < 10) return false;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(this.opts.maxPayload)) return this.fail(CLOSE_TOO_BIG, 'message too big'), false;
      len = Number(big);
      off = 10;
    }
    if (!control && this.fragmentsLength + len > this.opts.maxPayload) return this.fail(CLOSE_TOO_BIG, 'message too big'), false;
    if (b.length < off + 4 + len) return false;
    const mask = b.subarray(off, off + 4);
    const payload = Buffer.allocUnsafe(len);
    for (let i = 0; i < len; i++) payload[i] = b[off + 4 + i]! ^ mask[i & 3]!;
    this.buf = b.subarray(off + 4 + len);

    switch (opcode) {
      case OP_PING:
        this.sendFrame(OP_PONG, payload);
        return true;
      case OP_PONG:
        return true;
      case OP_CLOSE: {
        if (len === 1) return this.fail(CLOSE_PROTOCOL, 'bad close payload'), false;
        const code = len >= 2 ? payload.readUInt16BE(0) : CLOSE_NORMAL;
        this.reading = false;
        if (!this.closeSent) this.sendClose(code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : CLOSE_PROTOCOL, '');
        this.socket.end();
        return false;
      }
      case OP_CONT:
        if (!this.fragmentOpcode) return this.fail(CLOSE_PROTOCOL, 'continuation without a message'), false;
        break;
      default: // text, binary
        if (this.fragmentOpcode) return this.fail(CLOSE_PROTOCOL, 'new message inside a fragmented one'), false;
        this.fragmentOpcode = opcode;
    }
    if (this.closeSent) return true; // closing: data frames are read and dropped
    this.fragments.push(payload);
    this.fragmentsLength += len;
    if (!fin) return true;
    const message = this.fragments.length === 1 ? this.fragments[0]! : Buffer.concat(this.fragments);
    const op = this.fragmentOpcode;
    this.fragments = [];
    this.fragmentsLength = 0;
    this.fragmentOpcode = 0;
    if (op === OP_TEXT) {
      let text: string;
      try {
        text = this.utf8.decode(message);
      } catch {
        return this.fail(CLOSE_BAD_DATA, 'text message is not UTF-8'), false;
      }
      this.emit('text', text);
    } else {
      this.emit('binary', message);
    }
    return true;
  }
}
