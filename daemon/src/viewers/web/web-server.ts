// The web viewer: an HTTP server (node:http) that serves a page showing the
// guest's displays, a WebSocket for live frames and input, and PNG screenshots.
//
// HTTP
//   GET /                      the viewer page (static/index.html)
//   GET /viewer.js, /viewer.css  its script and style (no token needed: nothing secret)
//   GET /screenshot/<port>.png the display's current frame as PNG (404 JSON: no such display)
//   GET /displays              the displays as JSON (as in `hello`)
//   GET /ws (Upgrade)          the WebSocket below
// With a token, /, /screenshot, /displays and /ws need ?token=TOKEN (401
// JSON otherwise; compared in constant time). When bound to a loopback
// address, requests must name a loopback host (Host: localhost, 127.x, [::1]),
// which keeps DNS-rebinding pages out; a WebSocket whose Origin is another
// site than Host is refused (403), so other pages cannot type into the guest.
//
// WebSocket protocol (version 1). Text messages are JSON objects with `type`.
// Server -> client:
//   {type:'hello', version:1, resize, displays:[D...]}  first message; D = {port, name, serial,
//                                                      modes:[{width,height,refreshHz}], width, height};
//                                                      resize: whether `resize` requests are taken
//   {type:'attached', display:D} / {type:'detached', port}   hot-plug, every client
//   {type:'mode', port, width, height}                 a display changed size, every client
//   {type:'subscribed', port} / {type:'unsubscribed', port}   (the latter: that display went away)
//   {type:'cursor', port, visible, x, y, glyphSerial, glyph?}  subscribed display only; x = y = 65535
//       when the cursor is not on this display; `glyph` ({width, height, hotX, hotY, png: data URL})
//       is present only when it changed since the last cursor message (null: no glyph)
//   {type:'resized', port, width, height, ok, message?}  the answer to a `resize`
//   {type:'error', message}                            a request was refused
// Binary messages are frame updates, one rectangle each, little-endian 24-byte header:
//   u8 1 (rect) | u8 encoding (0 raw, 1 deflate, 2 copy) | u8 flags (bit 0: last rect of this update) | u8 0
//   u16 port | u16 0 | u32 update number | u16 frame width | u16 frame height
//   u16 x | u16 y | u16 w | u16 h | payload
// The payload is the rectangle's pixels as RGBA8 (alpha 255), w*4 bytes per row, raw or
// zlib-deflated (DecompressionStream('deflate')); for 'copy' (only to a client that listed it,
// and only as the first rect of an update) it is u16 srcX | u16 srcY: the client copies that
// w x h rectangle of its own canvas to x, y (a guest blit or scroll) before drawing the rest.
// The first update after subscribing, and any after a size change, is the whole frame; later
// ones are the rectangles that differ from the last frame sent to that client (nothing at
// all while the display is idle).
// Client -> server:
//   {type:'subscribe', port, encodings:['copy','deflate','raw']}   show this display (the first update follows)
//   {type:'ack', update}        the update was drawn: the server sends the next one only after this,
//                               so a viewer has at most one update on the wire plus the newest frame
//                               waiting, and frames that came in between are skipped, not queued
//   {type:'refresh'}            send the whole frame again
//   {type:'key', code, down}    DOM KeyboardEvent.code
//   {type:'pointer', x, y, buttons, wheel?}  display pixels of the subscribed display; buttons RFB
//                               style (1 left, 2 middle, 4 right); wheel: steps, < 0 up, > 0 down
//   {type:'resize', width, height}  the page's size for the subscribed display (opt-in on the page):
//                               becomes its preferred mode, as VNC SetDesktopSize (preferSize);
//                               one per 250 ms per viewer; refused with --web-no-resize
// A client that sends a non-JSON text, a binary message, a broken or oversized frame is
// closed; a well-formed but wrong request gets {type:'error'}.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { CursorGlyph, DisplaySource } from '../../display/display-source.js';
import type { Displays } from '../../display/displays.js';
import { preferSize } from '../../display/prefer-size.js';
import { encodePng, encodePngAsync } from '../../display/png.js';
import type { InputSink } from '../../input/input-sink.js';
import { DEFAULT_WEB_LIMITS, type WebLimits } from './limits.js';
import { Session, type DisplayInfo, type ViewerStats } from './web-session.js';
import { CLOSE_GOING_AWAY, WsConnection, checkUpgrade, refuseUpgrade } from './websocket.js';

export interface WebViewerOptions {
  /** Address to listen on ('127.0.0.1' by default, '::1', '0.0.0.0', ...). */
  host?: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  displays: Displays;
  input: InputSink;
  log: Logger;
  /** When set, the page, screenshots and the WebSocket need ?token=TOKEN. */
  token?: string;
  /** Most viewers at once (further WebSocket upgrades get 503). */
  maxClients?: number;
  /** Largest client message. */
  maxMessageBytes?: number;
  /** Bounds on what one peer can make the daemon hold (limits.ts). */
  limits?: Partial<WebLimits>;
  /** The page may make its window size the display's preferred mode (`resize`; default true). */
  allowResize?: boolean;
}

const STATIC_FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'viewer.js': 'text/javascript; charset=utf-8',
  'viewer.css': 'text/css; charset=utf-8',
};

/** The viewer page: static/ beside this module (the build copies it into dist/). */
const STATIC_DIR = fileURLToPath(new URL('static/', import.meta.url));

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.')) || h === '::ffff:127.0.0.1';
}

/** Hostname part of a Host header ("[::1]:8080" -> "::1"). */
function hostnameOf(hostHeader: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(hostHeader) ?? /^([^:]+)(?::\d+)?$/.exec(hostHeader);
  return m ? m[1]!.toLowerCase() : hostHeader.toLowerCase();
}

export class WebViewer {
  private readonly host: string;
  private readonly server: Server;
  private readonly sessions = new Set<Session>();
  private readonly tokenHash: Buffer | null;
  private readonly files = new Map<string, Buffer>();
  private readonly limits: WebLimits;
  /** Requests of each HTTP connection not answered yet (pipelined ones wait behind them). */
  private readonly unanswered = new WeakMap<Duplex, number>();
  private screenshotsInFlight = 0;
  private readonly glyphUrls = new WeakMap<CursorGlyph, string>();
  private readonly watched = new Set<DisplaySource>();
  private nextClient = 1;
  private url = '';
  private started = false;
  private readonly statsData: ViewerStats = {
    connections: 0,
    updates: 0,
    rects: 0,
    frameBytes: 0,
    framesSkipped: 0,
    backpressured: 0,
    keys: 0,
    pointers: 0,
    badMessages: 0,
    screenshots: 0,
  };

  private readonly onAttached = (src: DisplaySource): void => {
    this.watch(src);
    this.broadcast({ type: 'attached', display: this.displayInfo(src) });
  };
  private readonly onDetachedDisplay = (src: DisplaySource): void => {
    this.unwatch(src);
    this.broadcast({ type: 'detached', port: src.port });
  };
  private readonly modeListeners = new Map<DisplaySource, (w: number, h: number) => void>();

  constructor(private readonly opts: WebViewerOptions) {
    this.host = opts.host ?? '127.0.0.1';
    this.tokenHash = opts.token ? sha256(opts.token) : null;
    this.limits = { ...DEFAULT_WEB_LIMITS, ...opts.limits };
    this.server = createServer((req, res) => this.onRequest(req, res));
    this.server.maxConnections = this.limits.maxConnections;
    // Past this many requests on one connection the connection is closed
    // (a browser opens another): a pipelined flood is cut off after that
    // much work instead of being parsed and answered to the end.
    this.server.maxRequestsPerSocket = this.limits.maxRequestsPerConnection;
    this.server.on('dropRequest', (_req: IncomingMessage, socket: Duplex) => {
      if (!socket.destroyed) this.dropHttp(socket, `more than ${this.limits.maxRequestsPerConnection} requests on one connection`);
    });
    // An HTTP peer that neither sends nor takes a byte for stallMs is closed
    // (one we stopped reading because it does not take its responses, too).
    // Node's socket timeout lets one period pass when a write is pending, so
    // half the time here is stallMs at most.
    this.server.setTimeout(this.limits.stallMs / 2, (socket: Duplex) => {
      if (socket.writableLength > 0) this.dropHttp(socket, `peer took nothing for ${this.limits.stallMs} ms`);
      else socket.destroy();
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.server.on('clientError', (_err, socket: Duplex) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  async start(): Promise<{ url: string }> {
    if (this.started) return { url: this.url };
    for (const name of Object.keys(STATIC_FILES)) this.files.set(name, readFileSync(join(STATIC_DIR, name)));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.started = true;
    const addr = this.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : this.opts.port;
    const shownHost = this.host === '0.0.0.0' || this.host === '::' ? 'localhost' : this.host;
    const hostPart = isIP(shownHost) === 6 ? `[${shownHost}]` : shownHost;
    this.url = `http://${hostPart}:${port}/` + (this.opts.token ? `?token=${encodeURIComponent(this.opts.token)}` : '');
    for (const src of this.opts.displays.list()) this.watch(src);
    this.opts.displays.on('attached', this.onAttached);
    this.opts.displays.on('detached', this.onDetachedDisplay);
    this.opts.log.info({ host: this.host, port, token: Boolean(this.opts.token) }, 'web_viewer_listening');
    return { url: this.url };
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.opts.displays.off('attached', this.onAttached);
    this.opts.displays.off('detached', this.onDetachedDisplay);
    for (const src of [...this.watched]) this.unwatch(src);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    // Viewers get a close frame (1001) and a moment to take it; then they are cut off.
    const gone = [...this.sessions].map(
      (s) => new Promise<void>((resolve) => (s.ws.once('close', () => resolve()), s.ws.shutdown(CLOSE_GOING_AWAY, 'server stopping'))),
    );
    const timer = setTimeout(() => {
      for (const s of this.sessions) s.ws.terminate(CLOSE_GOING_AWAY, 'server stopping');
    }, 500);
    await Promise.all(gone);
    clearTimeout(timer);
    await closed;
  }

  stats(): ViewerStats & { clients: number; url: string } {
    return { ...this.statsData, clients: this.sessions.size, url: this.url };
  }

  // ---- displays ----

  private watch(src: DisplaySource): void {
    if (this.watched.has(src)) return;
    this.watched.add(src);
    const l = (width: number, height: number): void => this.broadcast({ type: 'mode', port: src.port, width, height });
    this.modeListeners.set(src, l);
    src.on('mode', l);
  }

  private unwatch(src: DisplaySource): void {
    const l = this.modeListeners.get(src);
    if (l) src.off('mode', l);
    this.modeListeners.delete(src);
    this.watched.delete(src);
  }

  private displayInfo(src: DisplaySource): DisplayInfo {
    return {
      port: src.port,
      name: src.name,
      serial: src.serial,
      modes: src.modes.map((m) => ({ width: m.width, height: m.height, refreshHz: m.refreshHz })),
      width: src.width,
      height: src.height,
    };
  }

  private glyphUrl(glyph: CursorGlyph): string {
    let url = this.glyphUrls.get(glyph);
    if (!url) {
      url = 'data:image/png;base64,' + encodePng(glyph.width, glyph.height, glyph.pixels, false).toString('base64');
      this.glyphUrls.set(glyph, url);
    }
    return url;
  }

  private broadcast(msg: object): void {
    for (const s of this.sessions) s.sendJson(msg);
  }

  // ---- access checks ----

  private tokenOk(url: URL): boolean {
    if (!this.tokenHash) return true;
    const given = url.searchParams.get('token');
    return given !== null && timingSafeEqual(sha256(given), this.tokenHash);
  }

  /** Null when the request may go on, else why not (status and message). */
  private refuse(req: IncomingMessage, url: URL, needsToken: boolean): [number, string] | null {
    if (isLoopbackHost(this.host) && !isLoopbackHost(hostnameOf(req.headers.host ?? ''))) return [403, 'Host must be a loopback name'];
    if (needsToken && !this.tokenOk(url)) return [401, 'token required'];
    return null;
  }

  // ---- HTTP ----

  /** Drops an HTTP peer for what it made us queue (limits.ts): stop reading, then close. */
  private dropHttp(socket: Duplex, reason: string): void {
    if (socket.destroyed) return;
    const remote = socket as Socket;
    this.opts.log.warn(
      { remote: `${remote.remoteAddress}:${remote.remotePort}`, reason, queued: socket.writableLength },
      'web_client_dropped',
    );
    // With an error, Node fails the queued writes with that one error instead of one Error each.
    socket.destroy(new Error(reason));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    // Node answers pipelined requests in order and calls us for each as soon
    // as it is parsed; a peer that sends many without reading would have us
    // hold (and, for screenshots, encode) all of them.
    const n = (this.unanswered.get(req.socket) ?? 0) + 1;
    this.unanswered.set(req.socket, n);
    if (n > this.limits.maxUnansweredRequests)
      return this.dropHttp(req.socket, `more than ${this.limits.maxUnansweredRequests} requests unanswered`);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://viewer');
    } catch {
      return this.json(res, 400, { error: 'bad URL' });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.json(res, 405, { error: 'only GET' }, { Allow: 'GET, HEAD' });
    const path = url.pathname;
    const name = path === '/' ? 'index.html' : path.slice(1);
    const isStatic = STATIC_FILES[name] !== undefined;
    if (path === '/favicon.ico') return this.send(res, 204, 'image/x-icon', Buffer.alloc(0), true);
    const denied = this.refuse(req, url, !isStatic || name === 'index.html');
    if (denied) return this.json(res, denied[0], { error: denied[1] });
    if (isStatic) return this.send(res, 200, STATIC_FILES[name]!, this.files.get(name)!, req.method === 'HEAD');
    if (path === '/displays') return this.json(res, 200, { displays: this.opts.displays.list().map((d) => this.displayInfo(d)) });
    const shot = /^\/screenshot\/(\d{1,5})\.png$/.exec(path);
    if (shot) return void this.screenshot(res, Number(shot[1]), req.method === 'HEAD');
    return this.json(res, 404, { error: `not found: ${path.slice(0, 100)}` });
  }

  private async screenshot(res: ServerResponse, port: number, headOnly: boolean): Promise<void> {
    const src = this.opts.displays.get(port);
    if (!src) return this.json(res, 404, { error: `no display on port ${port}` });
    const frame = src.latest();
    if (!frame || frame.width === 0) return this.json(res, 503, { error: `display ${port} has no frame yet` });
    if (this.screenshotsInFlight >= this.limits.maxScreenshotsInFlight)
      return this.json(res, 503, { error: 'screenshots busy, retry' }, { 'Retry-After': '1' });
    let png: Buffer;
    this.screenshotsInFlight++;
    try {
      png = await encodePngAsync(frame.width, frame.height, frame.data);
    } catch (err) {
      this.opts.log.error({ port, err }, 'web_screenshot_failed');
      return this.json(res, 500, { error: 'screenshot failed' });
    } finally {
      this.screenshotsInFlight--;
    }
    this.statsData.screenshots++;
    this.opts.log.info({ port, width: frame.width, height: frame.height, bytes: png.length, sequence: frame.sequence }, 'web_screenshot');
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    res.setHeader('Content-Disposition', `attachment; filename="apple-gfxd-display${port}-${stamp}.png"`);
    this.send(res, 200, 'image/png', png, headOnly);
  }

  private send(res: ServerResponse, status: number, type: string, body: Buffer, headOnly = false): void {
    const socket = res.req.socket;
    this.unanswered.set(socket, Math.max(0, (this.unanswered.get(socket) ?? 1) - 1));
    if (socket.destroyed) return;
    if (socket.writableLength + body.length > this.limits.maxQueuedBytes)
      return this.dropHttp(socket, `more than ${this.limits.maxQueuedBytes} bytes queued`);
    res.writeHead(status, {
      'Content-Type': type,
      'Content-Length': body.length,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Content-Security-Policy': "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'",
    });
    res.end(headOnly ? undefined : body);
  }

  private json(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    this.send(res, status, 'application/json', Buffer.from(JSON.stringify(body) + '\n'));
  }

  // ---- WebSocket ----

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://viewer');
    } catch {
      return refuseUpgrade(socket, 400, 'bad URL');
    }
    if (url.pathname !== '/ws') return refuseUpgrade(socket, 404, 'not found');
    const denied = this.refuse(req, url, true);
    if (denied) return refuseUpgrade(socket, denied[0], denied[1]);
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let originHost = '';
      try {
        originHost = new URL(origin).host;
      } catch {
        // not a URL: refused below
      }
      if (originHost.toLowerCase() !== (req.headers.host ?? '').toLowerCase())
        return refuseUpgrade(socket, 403, 'cross-origin WebSocket refused');
    }
    const bad = checkUpgrade(req);
    if (bad) return refuseUpgrade(socket, bad.status, bad.reason, bad.headers);
    if (this.sessions.size >= (this.opts.maxClients ?? 64)) return refuseUpgrade(socket, 503, 'too many viewers');

    (socket as Socket).setTimeout(0); // a viewer may be idle for hours; WsConnection watches for stalls
    const ws = WsConnection.accept(req, socket, head, { maxPayload: this.opts.maxMessageBytes ?? 64 * 1024, limits: this.limits });
    const id = this.nextClient++;
    ws.on('dropped', (reason, queued) => this.opts.log.warn({ client: id, reason, queued }, 'web_client_dropped'));
    const session = new Session(
      ws,
      {
        displays: this.opts.displays,
        input: this.opts.input,
        log: this.opts.log,
        stats: this.statsData,
        limits: this.limits,
        glyphUrl: (g) => this.glyphUrl(g),
        displayInfo: (d) => this.displayInfo(d),
        resize: this.opts.allowResize === false ? undefined : (d, w, h) => preferSize(this.opts.displays, d, w, h),
      },
      id,
    );
    this.sessions.add(session);
    this.statsData.connections++;
    const remote = socket as Socket;
    const since = Date.now();
    this.opts.log.info(
      { client: id, remote: `${remote.remoteAddress}:${remote.remotePort}`, clients: this.sessions.size },
      'web_client_connected',
    );
    ws.on('close', (code, reason) => {
      this.sessions.delete(session);
      this.opts.log.info(
        {
          client: id,
          code,
          reason: reason || null,
          seconds: (Date.now() - since) / 1000,
          bytesIn: ws.bytesIn,
          bytesOut: ws.bytesOut,
          clients: this.sessions.size,
        },
        'web_client_closed',
      );
    });
    session.hello();
  }
}
