// The VNC server: one listening TCP port per display (display port N on
// PORT + N), following hot-plug. Displays attached later get their port when
// attached; a detached display's listener and viewers are closed.
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Logger } from 'pino';
import type { DisplaySource } from '../../display/display-source.js';
import type { Displays } from '../../display/displays.js';
import type { InputSink } from '../../input/input-sink.js';
import { ClientSession, type SessionStats } from './client-session.js';

export interface VncListen {
  host: string;
  /** Base port: display N listens on port + N. 0 = any free port for each display. */
  port: number;
}

export const DEFAULT_VNC_HOST = '127.0.0.1';

/** Parses `--vnc [HOST:]PORT` ("5900", "0.0.0.0:5900", "[::1]:5900"). */
export function parseVncListen(spec: string): VncListen {
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]*):)?(\d{1,5})$/.exec(spec.trim());
  if (!m) throw new Error(`--vnc expects [HOST:]PORT, got '${spec}'`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`--vnc port ${port} is out of range`);
  const host = m[1] ?? (m[2] || DEFAULT_VNC_HOST);
  return { host, port };
}

export interface VncServerOptions {
  listen: VncListen | string;
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
}

export interface VncDisplayStats {
  display: number;
  host: string;
  port: number;
  clients: SessionStats[];
}

interface DisplayListener {
  display: DisplaySource;
  server: Server;
  port: number;
  sessions: Set<ClientSession>;
}

export class VncServer {
  readonly listen: VncListen;
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

  stats(): VncDisplayStats[] {
    return [...this.listeners.values()]
      .sort((a, b) => a.display.port - b.display.port)
      .map((l) => ({ display: l.display.port, host: this.listen.host, port: l.port, clients: [...l.sessions].map((s) => s.stats()) }));
  }

  private serve(display: DisplaySource): Promise<void> {
    const wanted = this.listen.port === 0 ? 0 : this.listen.port + display.port;
    const sessions = new Set<ClientSession>();
    const max = this.opts.maxClientsPerDisplay ?? 64;
    const server = createServer({ noDelay: true }, (socket) => {
      if (sessions.size >= max) {
        this.log.warn({ display: display.port, remote: `${socket.remoteAddress}:${socket.remotePort}`, max }, 'vnc_client_refused');
        socket.destroy();
        return;
      }
      const s = new ClientSession(socket, {
        id: this.nextClientId++,
        display,
        input: this.opts.input,
        log: this.log,
        password: this.opts.password,
        handshakeTimeoutMs: this.opts.handshakeTimeoutMs ?? 10_000,
        stallTimeoutMs: this.opts.stallTimeoutMs ?? 30_000,
        zlibLevel: this.opts.zlibLevel ?? 1,
      });
      sessions.add(s);
      s.once('closed', () => sessions.delete(s));
    });
    server.maxConnections = max + 8; // the kernel-level cap; the polite one is above
    return new Promise((resolve, reject) => {
      server.once('error', (err) => {
        this.log.error({ display: display.port, host: this.listen.host, port: wanted, err: err.message }, 'vnc_listen_failed');
        reject(err);
      });
      server.listen({ host: this.listen.host, port: wanted, exclusive: true }, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.log.error({ display: display.port, err: err.message }, 'vnc_server_error'));
        const port = (server.address() as AddressInfo).port;
        if (!display.isAttached || !this.started) {
          server.close();
          return resolve();
        }
        this.listeners.set(display.port, { display, server, port, sessions });
        this.log.info({ display: display.port, host: this.listen.host, port, auth: this.opts.password ? 'vnc' : 'none' }, 'vnc_listening');
        resolve();
      });
    });
  }

  private unserve(port: number): Promise<void> {
    const l = this.listeners.get(port);
    if (!l) return Promise.resolve();
    this.listeners.delete(port);
    for (const s of l.sessions) s.close('display detached');
    return new Promise((resolve) =>
      l.server.close(() => {
        this.log.info({ display: port, port: l.port }, 'vnc_server_closed');
        resolve();
      }),
    );
  }
}

/** Starts a VncServer for `displays` (see VncServer); rejects when a port cannot be listened on. */
export async function startVncServers(opts: VncServerOptions): Promise<VncServer> {
  const s = new VncServer(opts);
  await s.start();
  return s;
}
