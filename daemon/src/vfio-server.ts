// Accepts vfio-user clients on the listening socket, one at a time. While a
// client is connected the listener is paused, so a second client waits in
// the backlog until the first leaves (one socket = one client = one device).
import type { Logger } from 'pino';
import { LatencyHistogram, ServerSession, maxMessageSize, type Capabilities, type ServerLimits, type VfioUserDevice } from 'vfio-user-ts';
import { native, type NativeListener } from './native.js';
import { nativeTransport, type NativeTransport } from './native-transport.js';

export class VfioUserServer {
  private listener: NativeListener | null = null;
  private active: { session: ServerSession; transport: NativeTransport; id: number } | null = null;
  private clients = 0;
  /** Message handling time by command, across all clients. */
  readonly latency = new Map<string, LatencyHistogram>();

  constructor(
    private readonly listenFd: number,
    private readonly device: VfioUserDevice,
    private readonly limits: ServerLimits,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.listener = new native.Listener(this.listenFd, (fd) => this.accept(fd));
  }

  get connected(): boolean {
    return this.active !== null;
  }

  get clientsServed(): number {
    return this.clients;
  }

  /** Capabilities negotiated with the current client, if any. */
  get negotiated(): Capabilities | null {
    return this.active?.session.negotiated ?? null;
  }

  private accept(fd: number): void {
    if (fd < 0) {
      // EMFILE and friends: back off instead of spinning on the listener.
      this.log.error({ errno: -fd }, 'vfio_user_accept_failed');
      this.listener?.pause();
      setTimeout(() => this.active || this.listener?.resume(), 200).unref();
      return;
    }
    if (this.active) {
      // The listener is paused while a client is connected; this is a race we lost.
      this.log.warn({ fd }, 'vfio_user_second_client_refused');
      native.closeFd(fd);
      return;
    }
    this.listener?.pause();
    const id = ++this.clients;
    const log = this.log.child({ client: id });
    let session: ServerSession | null = null;
    const transport = nativeTransport(
      fd,
      {
        onMessage: (message, fds) => session!.handleMessage(message, fds),
        onClose: (reason) => this.closed(id, reason),
      },
      { maxMessageSize: maxMessageSize(this.limits), maxFds: this.limits.maxMsgFds },
    );
    session = new ServerSession(this.device, transport, this.limits, log, this.latency);
    this.active = { session, transport, id };
    log.info({}, 'vfio_user_client_connected');
  }

  private closed(id: number, reason: string | null): void {
    if (!this.active || this.active.id !== id) return;
    const { session } = this.active;
    this.active = null;
    // A broken frame closes this client only, with the reason in the log.
    if (reason) this.log.warn({ client: id, reason }, 'vfio_user_client_dropped');
    session.closed(reason);
    this.listener?.resume();
  }

  /** Ends the current client (as if it left) and stops accepting. */
  stop(): void {
    if (this.active) {
      const { session, transport, id } = this.active;
      this.active = null;
      transport.close();
      session.closed(`daemon stopping (client ${id})`);
    }
    this.listener?.close();
    this.listener = null;
  }
}
