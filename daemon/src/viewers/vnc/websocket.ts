// RFB over WebSocket (`--vnc-websocket`), as QEMU's `-vnc ...,websocket=`:
// noVNC and the consoles built on it connect straight to the daemon, no
// websockify. One HTTP listener per display; an upgrade request becomes a
// VNC ClientSession whose byte stream is carried in binary WebSocket
// messages (subprotocol `binary` when the client offers it). The RFC 6455
// framing is the web viewer's (viewers/web/websocket.ts).
//
// Same auth and limits as the plain VNC port (docs/design.md invariant 4): the session is a ClientSession
// like any other (VNC Authentication, handshake timeout, stall timeout), the
// display's client cap counts both ports, and the HTTP part is bounded too
// (headers: 8 KiB within the handshake timeout; client messages: 1 MiB +
// a ClientCutText header, the largest a VNC client may send).
//
// Browsers let any page open a WebSocket to any host, so a page the user
// visits could reach a loopback VNC port without a password. An upgrade whose
// Origin names another host than the request's Host header (ports aside) is
// refused unless that origin is listed with --vnc-websocket-origin (or '*');
// requests without an Origin (non-browser clients) are accepted.
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { acceptKey, checkUpgrade, refuseUpgrade, CLOSE_NORMAL, CLOSE_UNSUPPORTED, WsConnection } from '../web/websocket.js';
import { DEFAULT_WEB_LIMITS } from '../web/limits.js';
import type { RfbStream } from './client-session.js';

/** Largest WebSocket message a VNC client may send: a ClientCutText (8 + 1 MiB) and then some. */
export const WS_MAX_CLIENT_MESSAGE = (1 << 20) + 64;
/** Server messages are split into WebSocket messages of at most this many bytes. */
export const WS_MAX_FRAME = 1 << 20;
const EMPTY = Buffer.alloc(0);

/** The subprotocols a client offered (Sec-WebSocket-Protocol, comma-separated). */
function offeredProtocols(req: IncomingMessage): string[] {
  const h = req.headers['sec-websocket-protocol'];
  if (!h) return [];
  return String(h)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Why an upgrade's Origin is refused, or null. */
export function originRefusal(req: IncomingMessage, allowed: readonly string[]): string | null {
  const origin = req.headers.origin;
  if (origin === undefined) return null;
  if (allowed.includes('*') || allowed.includes(origin)) return null;
  let originHost: string;
  try {
    originHost = new URL(origin).hostname.toLowerCase();
  } catch {
    return `Origin '${origin}' is not a URL`;
  }
  let host = '';
  try {
    host = new URL(`http://${req.headers.host ?? ''}`).hostname.toLowerCase();
  } catch {
    // no usable Host: refused below
  }
  return originHost !== '' && originHost === host
    ? null
    : `cross-origin WebSocket from ${origin} refused (allow it with --vnc-websocket-origin)`;
}

/**
 * Completes an RFB-over-WebSocket upgrade on `socket`, or refuses it with an
 * HTTP error (returns null then). The caller has checked the client cap.
 */
export function acceptRfbUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  allowedOrigins: readonly string[],
): WsRfbStream | null {
  const bad = checkUpgrade(req);
  if (bad) return (refuseUpgrade(socket, bad.status, bad.reason, bad.headers), null);
  const refused = originRefusal(req, allowedOrigins);
  if (refused) return (refuseUpgrade(socket, 403, refused), null);
  const offered = offeredProtocols(req);
  if (offered.length > 0 && !offered.includes('binary'))
    return (refuseUpgrade(socket, 400, `subprotocol binary required (offered: ${offered.join(', ')})`), null);
  const key = (req.headers['sec-websocket-key'] as string).trim();
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\n' +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      (offered.length ? 'Sec-WebSocket-Protocol: binary\r\n' : '') +
      `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
  );
  (socket as Socket).setNoDelay?.(true);
  if (head.length) socket.unshift(head); // read by WsConnection's 'data' listener first
  return new WsRfbStream(new WsConnection(socket, { maxPayload: WS_MAX_CLIENT_MESSAGE, limits: DEFAULT_WEB_LIMITS }), socket as Socket);
}

/**
 * The RFB byte stream of one WebSocket connection, as ClientSession uses a
 * TCP socket: binary messages in are 'data'; what is written between cork()
 * and uncork() (one FramebufferUpdate) goes out as binary messages of at
 * most WS_MAX_FRAME bytes; a write's callback runs once its bytes are handed
 * to the kernel, as on a socket.
 */
export class WsRfbStream extends EventEmitter implements RfbStream {
  private corked = 0;
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private callbacks: (() => void)[] = [];

  constructor(
    readonly ws: WsConnection,
    private readonly socket: Socket,
  ) {
    super();
    ws.on('binary', (data) => this.emit('data', data));
    ws.on('text', () => ws.close(CLOSE_UNSUPPORTED, 'RFB needs binary messages'));
    ws.on('close', () => {
      this.parts = [];
      this.callbacks = [];
      this.emit('close');
    });
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  /** Bytes written and not yet taken by the peer's TCP stack (WebSocket framing included). */
  get writableLength(): number {
    return this.ws.bufferedAmount + this.partsBytes;
  }

  setNoDelay(): this {
    return this; // done on upgrade
  }

  write(chunk: Buffer, cb?: () => void): boolean {
    this.parts.push(chunk);
    this.partsBytes += chunk.length;
    if (cb) this.callbacks.push(cb);
    if (this.corked === 0) this.flush();
    return true;
  }

  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked > 0 && --this.corked === 0) this.flush();
  }

  end(): void {
    this.flush();
    this.ws.close(CLOSE_NORMAL);
  }

  destroy(): void {
    this.ws.terminate();
  }

  private flush(): void {
    const parts = this.parts;
    const callbacks = this.callbacks;
    this.parts = [];
    this.partsBytes = 0;
    this.callbacks = [];
    let frame: Buffer[] = [];
    let bytes = 0;
    for (let p of parts) {
      while (p.length > 0) {
        const take = Math.min(p.length, WS_MAX_FRAME - bytes);
        frame.push(p.subarray(0, take));
        bytes += take;
        p = p.subarray(take);
        if (bytes === WS_MAX_FRAME) {
          this.ws.sendBinary(frame);
          frame = [];
          bytes = 0;
        }
      }
    }
    if (bytes > 0) this.ws.sendBinary(frame);
    // An empty write completes after everything written before it.
    for (const cb of callbacks) if (!this.socket.destroyed) this.socket.write(EMPTY, cb);
  }
}
