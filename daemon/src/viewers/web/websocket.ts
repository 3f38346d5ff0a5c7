// A small RFC 6455 WebSocket server endpoint for the web viewer: the opening
// handshake (Sec-WebSocket-Accept = base64(sha1(key + GUID))), masked client
// frames, text/binary messages (with fragmentation), ping/pong, the closing
// handshake, and a cap on message size. No extensions, no subprotocols.
//
// Anything a client sends that breaks the protocol closes that connection
// with the RFC's status code (1002 protocol error, 1007 bad UTF-8, 1009 too
// big); nothing a client sends can throw out of this module.
//
// Every byte queued for the peer (updates, JSON, pongs, the close frame)
// counts against one limit (limits.ts, docs/design.md invariant 4): a peer
// that keeps sending while its queue is high is not read until the queue
// drains, one that takes nothing for a while or whose queue passes the limit
// is dropped.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebLimits } from './limits.js';

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
/** Frames up to this size go out as one write (header and payload copied together). */
const SMALL_FRAME_BYTES = 4096;
/**
 * Frames handled from one peer per event-loop turn; then the peer waits for
 * the next turn. libuv hands a busy socket up to 32 reads (2 MiB) in a row:
 * unchecked, a flood of small requests held the JS thread (and every guest
 * MMIO behind it) for half a second (docs/design.md invariant 4).
 */
const FRAMES_PER_TURN = 256;

export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/**
 * Checks an upgrade request. Returns null when it is a valid WebSocket
 * version 13 opening handshake, else the HTTP status and reason to refuse it.
 */
export function checkUpgrade(req: IncomingMessage): { status: number; reason: string; headers?: Record<string, string> } | null {
  if (req.method !== 'GET') return { status: 405, reason: 'WebSocket upgrade must be a GET' };
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return { status: 400, reason: 'Upgrade: websocket expected' };
  const conn = (req.headers.connection ?? '')
    .toLowerCase()
    .split(',')
    .map((s) => s.trim());
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
  limits: Pick<WebLimits, 'maxQueuedBytes' | 'readPauseBytes' | 'stallMs' | 'writeCost'>;
}

export interface WsEvents {
  text: [text: string];
  binary: [data: Buffer];
  /** Once, when the connection is gone; `code` is what we or the peer sent. */
  close: [code: number, reason: string];
  /** The peer was dropped for what it made us queue (`queued`: bytes plus write charges), just before `close`. */
  dropped: [reason: string, queued: number];
}

type Sock = Duplex & { bytesWritten?: number; cork?: () => void; uncork?: () => void };

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
  /** Writes handed to the socket whose callback has not come yet. */
  private pendingWrites = 0;
  /** True while we stopped reading a peer that sends but does not take its replies. */
  private readPaused = false;
  private stallTimer: NodeJS.Timeout | null = null;
  /** Frames handled this event-loop turn; over FRAMES_PER_TURN the rest wait for the next. */
  private turnFrames = 0;
  private yielding = false;
  private lastDrained = 0;
  private lastProgressAt = 0;
  private readonly onWritten = (): void => {
    this.pendingWrites--;
    if (this.readPaused && this.bufferedAmount <= this.opts.limits.readPauseBytes / 2) this.resumeReading();
  };
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
    socket.on('drain', () => this.resumeReading());
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

  /** What is queued for the peer: bytes in user space it has not taken yet, plus the charge for each queued write. */
  get bufferedAmount(): number {
    return this.socket.writableLength + this.pendingWrites * this.opts.limits.writeCost;
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
    this.finish();
  }

  /** Drops the peer for what it made us queue: stop reading, then close. */
  private drop(reason: string): void {
    if (this.closed) return;
    this.reading = false;
    this.emit('dropped', reason, this.bufferedAmount);
    this.terminate(CLOSE_POLICY, reason);
  }

  /** Bytes the kernel has taken from us so far. */
  private drained(): number {
    return ((this.socket as Sock).bytesWritten ?? 0) - this.socket.writableLength;
  }

  private pauseReading(): void {
    if (this.readPaused || this.closed) return;
    this.readPaused = true;
    this.socket.pause();
    this.lastDrained = this.drained();
    this.lastProgressAt = Date.now();
    this.stallTimer = setInterval(() => this.checkStall(), Math.max(10, Math.min(1000, this.opts.limits.stallMs / 4)));
    this.stallTimer.unref();
  }

  private resumeReading(): void {
    if (!this.readPaused || this.closed) return;
    this.readPaused = false;
    if (this.stallTimer) clearInterval(this.stallTimer);
    this.stallTimer = null;
    if (!this.yielding) this.socket.resume();
    this.parse();
  }

  /** Lets the rest of the daemon run before more of this peer's frames are handled. */
  private yieldTurn(): void {
    if (this.yielding) return;
    this.yielding = true;
    this.socket.pause();
    setImmediate(() => {
      this.yielding = false;
      this.turnFrames = 0;
      if (this.closed) return;
      if (!this.readPaused) this.socket.resume();
      this.parse();
    });
  }

  private checkStall(): void {
    const d = this.drained();
    const now = Date.now();
    if (d > this.lastDrained) {
      this.lastDrained = d;
      this.lastProgressAt = now;
    } else if (now - this.lastProgressAt >= this.opts.limits.stallMs) {
      return this.drop(`peer took nothing for ${this.opts.limits.stallMs} ms while sending`);
    }
    if (this.bufferedAmount <= this.opts.limits.readPauseBytes / 2) this.resumeReading();
  }

  private write(b: Buffer): void {
    this.pendingWrites++;
    this.socket.write(b, this.onWritten);
  }

  private sendFrame(opcode: number, payload: Buffer | Buffer[]): boolean {
    if (this.closed || this.closeSent || this.socket.destroyed) return false;
    const parts = Array.isArray(payload) ? payload : [payload];
    const len = parts.reduce((n, p) => n + p.length, 0);
    const cost = len + 10 + (parts.length + 1) * this.opts.limits.writeCost;
    if (this.bufferedAmount + cost > this.opts.limits.maxQueuedBytes) {
      this.drop(`more than ${this.opts.limits.maxQueuedBytes} bytes queued`);
      return false;
    }
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
    if (len <= SMALL_FRAME_BYTES) {
      // One write for a small frame: half the entries in the socket's queue.
      this.write(Buffer.concat([header, ...parts], header.length + len));
      return true;
    }
    const s = this.socket as Sock;
    s.cork?.();
    this.write(header);
    for (const p of parts) if (p.length) this.write(p);
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
    if (this.closed) return; // dropped: its queue was full
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
    if (this.stallTimer) clearInterval(this.stallTimer);
    this.buf = Buffer.alloc(0);
    this.fragments = [];
    // Destroyed with an error, Node fails every queued write with that one
    // error; without, it builds an Error per queued write (seconds of JS
    // thread for a queue of small frames: MMIO would wait, invariant 4).
    if (!this.socket.destroyed) this.socket.destroy(new Error('connection dropped'));
    this.emit('close', this.closeCode, this.closeReason);
  }

  private onData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    if (this.closed || !this.reading) return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    // A peer that sends while its replies pile up is not read until they drain.
    if (this.bufferedAmount > this.opts.limits.readPauseBytes) this.pauseReading();
    this.parse();
  }

  /** Handles the complete frames buffered, unless reading is paused. */
  private parse(): void {
    try {
      while (!this.closed && this.reading && !this.readPaused && !this.yielding && this.parseOne()) {
        if (this.bufferedAmount > this.opts.limits.readPauseBytes) this.pauseReading();
        if (++this.turnFrames >= FRAMES_PER_TURN) this.yieldTurn();
      }
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
    if (rsv) return (this.fail(CLOSE_PROTOCOL, 'reserved bits set'), false);
    if (!masked) return (this.fail(CLOSE_PROTOCOL, 'client frames must be masked'), false);
    const control = opcode >= 0x8;
    if (![OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG].includes(opcode))
      return (this.fail(CLOSE_PROTOCOL, `opcode ${opcode}`), false);
    if (control && (!fin || len > 125)) return (this.fail(CLOSE_PROTOCOL, 'bad control frame'), false);
    if (len === 126) {
      if (b.length < 4) return false;
      len = b.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (b.length < 10) return false;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(this.opts.maxPayload)) return (this.fail(CLOSE_TOO_BIG, 'message too big'), false);
      len = Number(big);
      off = 10;
    }
    if (!control && this.fragmentsLength + len > this.opts.maxPayload) return (this.fail(CLOSE_TOO_BIG, 'message too big'), false);
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
        if (len === 1) return (this.fail(CLOSE_PROTOCOL, 'bad close payload'), false);
        const code = len >= 2 ? payload.readUInt16BE(0) : CLOSE_NORMAL;
        this.reading = false;
        if (!this.closeSent) this.sendClose(code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : CLOSE_PROTOCOL, '');
        this.socket.end();
        return false;
      }
      case OP_CONT:
        if (!this.fragmentOpcode) return (this.fail(CLOSE_PROTOCOL, 'continuation without a message'), false);
        break;
      default: // text, binary
        if (this.fragmentOpcode) return (this.fail(CLOSE_PROTOCOL, 'new message inside a fragmented one'), false);
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
        return (this.fail(CLOSE_BAD_DATA, 'text message is not UTF-8'), false);
      }
      this.emit('text', text);
    } else {
      this.emit('binary', message);
    }
    return true;
  }
}
