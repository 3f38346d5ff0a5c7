// The VNC server: one listening TCP port per display (display port N on
// PORT + N), and with `websocket` one more for RFB over WebSocket (display N
// on WSPORT + N), following hot-plug. Displays attached later get their
// ports when attached; a detached display's listeners and viewers are closed.
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { DisplaySource } from '../../display/display-source.js';
import type { Displays } from '../../display/displays.js';
import type { InputSink } from '../../input/input-sink.js';
import type { DesktopNames } from '../desktop-name.js';
import { preferSize } from '../../display/prefer-size.js';
import { refuseUpgrade } from '../web/websocket.js';
import { ExtDesktopStatus } from './encodings/pseudo.js';
import { ClientSession, type RfbStream, type SessionStats } from './client-session.js';
import { acceptRfbUpgrade } from './websocket.js';

export interface VncListen {
  host: string;
  /** Base port: display N listens on port + N. 0 = any free port for each display. */
  port: number;
}

export const DEFAULT_VNC_HOST = '127.0.0.1';

/** Parses `--vnc [HOST:]PORT` ("5900", "0.0.0.0:5900", "[::1]:5900"); `flag` names it in errors. */
export function parseVncListen(spec: string, flag = '--vnc'): VncListen {
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]*):)?(\d{1,5})$/.exec(spec.trim());
  if (!m) throw new Error(`${flag} expects [HOST:]PORT, got '${spec}'`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`${flag} port ${port} is out of range`);
  const host = m[1] ?? (m[2] || DEFAULT_VNC_HOST);
  return { host, port };
}

export interface VncServerOptions {
  listen: VncListen | string;
  /** RFB over WebSocket: display N on port + N (websocket.ts). */
  websocket?: VncListen | string | null | undefined;
  /** Browser origins allowed on the WebSocket port besides the Host's own ('*': any). */
  websocketOrigins?: readonly string[];
  displays: Displays;
  input: InputSink;
  log: Logger;
  /** Enables VNC Authentication (only the first 8 characters count, as in every VNC). */
  password?: string | undefined;
  maxClientsPerDisplay?: number;
  handshakeTimeoutMs?: number;
  stallTimeoutMs?: number;
  /** zlib level for the zlib and ZRLE encodings. */
  zlibLevel?: number;
  /** Viewers may change a display's preferred mode with SetDesktopSize (default true). */
  allowResize?: boolean;
  /** The desktops' names (with the VM's from QMP); absent: each display's name. */
  names?: DesktopNames;
}

export interface VncDisplayStats {
  display: number;
  host: string;
  port: number;
  /** The RFB-over-WebSocket port, when enabled. */
  websocketPort?: number;
  clients: SessionStats[];
}

interface DisplayListener {
  display: DisplaySource;
  server: Server;
  port: number;
  ws: HttpServer | null;
  wsPort: number | null;
  /** Viewers on both ports (one cap for the display). */
  sessions: Set<ClientSession>;
}

export class VncServer {
  readonly listen: VncListen;
  readonly websocket: VncListen | null;
  private readonly listeners = new Map<number, DisplayListener>();
  private readonly log: Logger;
  private nextClientId = 1;
  private started = false;
  private readonly onAttached = (d: DisplaySource): void => {
    this.serve(d).catch(() => {}); // logged in serve()
  };
  private readonly onDetached = (d: DisplaySource): void => void this.unserve(d.port);

  constructor(private readonly opts: VncServerOptions) {
    this.listen = typeof opts.listen === 'string' ? parseVncListen(opts.listen) : opts.listen;
    this.websocket = typeof opts.websocket === 'string' ? parseVncListen(opts.websocket, '--vnc-websocket') : (opts.websocket ?? null);
    this.log = opts.log;
    if (opts.password !== undefined && opts.password.length === 0) throw new Error('VNC password must not be empty');
    if (opts.password && opts.password.length > 8) this.log.warn({ length: opts.password.length }, 'vnc_password_truncated');
  }

  /** Listens for every attached display; rejects if one of them cannot listen. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.opts.displays.on('attached', this.onAttached);
    this.opts.displays.on('detached', this.onDetached);
    await Promise.all(this.opts.displays.list().map((d) => this.serve(d)));
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.opts.displays.off('attached', this.onAttached);
    this.opts.displays.off('detached', this.onDetached);
    await Promise.all([...this.listeners.keys()].map((p) => this.unserve(p)));
  }

  /** The TCP address serving display `port`, once listening. */
  address(port: number): { host: string; port: number } | null {
    const l = this.listeners.get(port);
    return l ? { host: this.listen.host, port: l.port } : null;
  }

  /** The RFB-over-WebSocket address of display `port`, once listening. */
  websocketAddress(port: number): { host: string; port: number } | null {
    const l = this.listeners.get(port);
    return l && this.websocket && l.wsPort !== null ? { host: this.websocket.host, port: l.wsPort } : null;
  }

  stats(): VncDisplayStats[] {
    return [...this.listeners.values()]
      .sort((a, b) => a.display.port - b.display.port)
      .map((l) => ({
        display: l.display.port,
        host: this.listen.host,
        port: l.port,
        ...(l.wsPort !== null ? { websocketPort: l.wsPort } : {}),
        clients: [...l.sessions].map((s) => s.stats()),
      }));
  }

  private async serve(display: DisplaySource): Promise<void> {
    const sessions = new Set<ClientSession>();
    const max = this.opts.maxClientsPerDisplay ?? 64;
    const handshakeTimeoutMs = this.opts.handshakeTimeoutMs ?? 10_000;
    const full = (remote: string, via: string): boolean => {
      if (sessions.size < max) return false;
      this.log.warn({ display: display.port, remote, max, via }, 'vnc_client_refused');
      return true;
    };
    const session = (stream: RfbStream): void => {
      const s = new ClientSession(stream, {
        id: this.nextClientId++,
        display,
        input: this.opts.input,
        log: this.log,
        password: this.opts.password,
        handshakeTimeoutMs,
        stallTimeoutMs: this.opts.stallTimeoutMs ?? 30_000,
        zlibLevel: this.opts.zlibLevel ?? 1,
        resize: this.opts.allowResize === false ? undefined : (w, h) => this.resize(display, w, h),
        names: this.opts.names,
      });
      sessions.add(s);
      s.once('closed', () => sessions.delete(s));
    };
    const server = createServer({ noDelay: true }, (socket) => {
      if (full(`${socket.remoteAddress}:${socket.remotePort}`, 'tcp')) return void socket.destroy();
      session(socket);
    });
    server.maxConnections = max + 8; // the kernel-level cap; the polite one is above
    let ws: HttpServer | null = null;
    if (this.websocket) {
      // A client that never finishes its request is dropped after the handshake timeout (checked every second at most).
      const checkMs = Math.min(1000, handshakeTimeoutMs);
      ws = createHttpServer(
        {
          maxHeaderSize: 8192,
          headersTimeout: handshakeTimeoutMs,
          requestTimeout: handshakeTimeoutMs,
          connectionsCheckingInterval: checkMs,
        },
        (_req, res) => {
          res
            .writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket', Connection: 'close' })
            .end('RFB over WebSocket only (a VNC client such as noVNC)\n');
        },
      );
      ws.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        socket.on('error', () => socket.destroy());
        const sock = socket as Socket;
        if (full(`${sock.remoteAddress}:${sock.remotePort}`, 'websocket')) return refuseUpgrade(socket, 503, 'too many viewers');
        const stream = acceptRfbUpgrade(req, socket, head, this.opts.websocketOrigins ?? []);
        if (stream) session(stream);
        else
          this.log.warn(
            { display: display.port, remote: `${sock.remoteAddress}:${sock.remotePort}`, origin: req.headers.origin ?? null },
            'vnc_websocket_refused',
          );
      });
      ws.on('clientError', (_err, socket: Duplex) => {
        if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        else socket.destroy();
      });
      ws.maxConnections = max + 8;
    }
    let port: number;
    let wsPort: number | null = null;
    try {
      port = await this.bind(server, this.listen, display.port, 'vnc');
      if (ws) wsPort = await this.bind(ws, this.websocket!, display.port, 'vnc websocket');
    } catch (err) {
      server.close();
      ws?.close();
      throw err;
    }
    if (!display.isAttached || !this.started) {
      server.close();
      ws?.close();
      return;
    }
    this.listeners.set(display.port, { display, server, port, ws, wsPort, sessions });
    this.log.info({ display: display.port, host: this.listen.host, port, auth: this.opts.password ? 'vnc' : 'none' }, 'vnc_listening');
    if (ws)
      this.log.info(
        { display: display.port, host: this.websocket!.host, port: wsPort, auth: this.opts.password ? 'vnc' : 'none' },
        'vnc_websocket_listening',
      );
  }

  /** A viewer's SetDesktopSize (preferSize); resolves with the ExtendedDesktopSize status. */
  private async resize(display: DisplaySource, width: number, height: number): Promise<number> {
    const refused = await preferSize(this.opts.displays, display, width, height);
    if (refused === null) return ExtDesktopStatus.OK;
    this.log.warn({ display: display.port, width, height, err: refused }, 'vnc_desktop_size_failed');
    return ExtDesktopStatus.NO_RESOURCES;
  }

  /** Listens on `listen` (port + display, or any free port for 0); resolves with the port. */
  private bind(server: Server | HttpServer, listen: VncListen, display: number, what: string): Promise<number> {
    const wanted = listen.port === 0 ? 0 : listen.port + display;
    return new Promise((resolve, reject) => {
      server.once('error', (err) => {
        this.log.error({ display, host: listen.host, port: wanted, err: err.message, what }, 'vnc_listen_failed');
        reject(err);
      });
      server.listen({ host: listen.host, port: wanted, exclusive: true }, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.log.error({ display, err: err.message, what }, 'vnc_server_error'));
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  private unserve(port: number): Promise<void> {
    const l = this.listeners.get(port);
    if (!l) return Promise.resolve();
    this.listeners.delete(port);
    for (const s of l.sessions) s.close('display detached');
    const closing = l.ws ? new Promise<void>((resolve) => l.ws!.close(() => resolve())) : Promise.resolve();
    l.ws?.closeAllConnections();
    return Promise.all([
      closing,
      new Promise<void>((resolve) =>
        l.server.close(() => {
          this.log.info({ display: port, port: l.port }, 'vnc_server_closed');
          resolve();
        }),
      ),
    ]).then(() => {});
  }
}

/** Starts a VncServer for `displays` (see VncServer); rejects when a port cannot be listened on. */
export async function startVncServers(opts: VncServerOptions): Promise<VncServer> {
  const s = new VncServer(opts);
  await s.start();
  return s;
}
