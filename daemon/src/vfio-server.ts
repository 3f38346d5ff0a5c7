// Accepts vfio-user clients on the listening socket, one at a time. While a
// client is connected the listener is paused, so a second client waits in
// the backlog until the first leaves (one socket = one client = one device).
//
// Each client gets a data plane (native/core/dataplane/data_plane.h): a native
// thread that owns the socket, answers the device's BAR accesses itself and
// hands every other message here, to the session, one at a time and in
// arrival order (docs/design.md invariant 2). The JS thread never touches the
// socket and never calls the backend's MMIO.
import type { Logger } from 'pino';
import {
  DEFAULT_BOUNDS_US,
  LatencyHistogram,
  ServerSession,
  commandName,
  maxMessageSize,
  type Capabilities,
  type ServerLimits,
  type Transport,
  type VfioUserDevice,
} from 'vfio-user-ts';
import {
  native,
  type DataPlaneEvent,
  type DataPlaneRegion,
  type NativeBackend,
  type NativeDataPlane,
  type NativeListener,
} from './native.js';
import { deviceOps, type DeviceOps } from './device/device-ops.js';

/** What the server needs of the device: the vfio-user device, its region table and the backend that serves its BARs. */
export interface DataPlaneDevice extends VfioUserDevice {
  dataPlaneRegions(): DataPlaneRegion[];
  readonly backend: NativeBackend;
}

export interface LatencyEntry {
  name: string;
  boundsUs: number[];
  counts: number[];
  total: number;
}

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

export class VfioUserServer {
  private listener: NativeListener | null = null;
  private active: { session: ServerSession; dataPlane: NativeDataPlane; id: number; log: Logger } | null = null;
  private clients = 0;
  /** Handling time by command of the messages the session handles (JS), across all clients. */
  readonly latency = new Map<string, LatencyHistogram>();
  /** The same for the messages the data planes answer natively. */
  private readonly nativeLatency = new native.DataPlaneStats(DEFAULT_BOUNDS_US);
  private readonly ops: DeviceOps;

  constructor(
    private readonly listenFd: number,
    private readonly device: DataPlaneDevice,
    private readonly limits: ServerLimits,
    private readonly log: Logger,
  ) {
    this.ops = deviceOps(device.backend);
  }

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

  /** Handling-time histograms by command: the session's and the data planes', merged. */
  latencySnapshot(): LatencyEntry[] {
    const out = new Map<string, LatencyEntry>();
    for (const [name, h] of this.latency) out.set(name, { name, boundsUs: [...h.boundsUs], counts: [...h.counts], total: h.total });
    for (const n of this.nativeLatency.snapshot()) {
      if (n.total === 0) continue;
      const name = commandName(n.command);
      const e = out.get(name);
      if (!e) out.set(name, { name, boundsUs: [...DEFAULT_BOUNDS_US], counts: n.counts, total: n.total });
      else {
        e.counts = e.counts.map((c, i) => c + (n.counts[i] ?? 0));
        e.total += n.total;
      }
    }
    return [...out.values()];
  }

  /** The current client's data plane: messages answered natively and handed to the session, output waiting. */
  dataPlaneStats(): ReturnType<NativeDataPlane['stats']> | null {
    return this.active?.dataPlane.stats() ?? null;
  }

  /** The log level changed: trace-level MMIO logging follows it. */
  refreshTracing(): void {
    this.active?.dataPlane.setTracing(this.log.isLevelEnabled('trace'));
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
    const id = ++this.clients;
    const log = this.log.child({ client: id });
    let session: ServerSession | null = null;
    let negotiated = false;
    let dataPlane: NativeDataPlane;
    try {
      dataPlane = new native.DataPlane(
        fd,
        {
          backend: this.device.backend,
          stats: this.nativeLatency,
          numRegions: this.device.info().numRegions,
          regions: this.device.dataPlaneRegions(),
          maxMessageSize: maxMessageSize(this.limits),
          maxFds: this.limits.maxMsgFds,
        },
        (message, fds) => {
          // The data plane waits for this to return, or for the promise it
          // returns to settle, before it looks at the next message
          // (docs/design.md invariant 2). While a device operation (a
          // control-API reset, save or restore: device-ops.ts) is under
          // way, the message waits for it; the client's MMIO goes on.
          const handle = (): void | Promise<void> => {
            if (this.active?.session !== session) {
              // The client left while this waited: nothing of it is done now.
              for (const fd of fds) native.closeFd(fd);
              return;
            }
            const done = session!.handleMessage(message, fds);
            if (!negotiated && session!.negotiated) {
              negotiated = true;
              dataPlane.setNegotiated(session!.maxDataXferSize);
            }
            return done;
          };
          return this.ops.busy ? this.whenIdle(handle) : handle();
        },
        (events) => this.logEvents(log, events),
        (reason) => this.closed(id, reason),
      );
    } catch (e) {
      // The socket is closed by the failed data plane.
      this.log.error({ err: (e as Error).message }, 'vfio_user_accept_failed');
      return;
    }
    this.listener?.pause();
    dataPlane.setTracing(this.log.isLevelEnabled('trace'));
    const transport: Transport = { send: (m, fds) => dataPlane.send(m, fds), close: () => dataPlane.close() };
    session = new ServerSession(this.device, transport, this.limits, log, this.latency);
    this.active = { session, dataPlane, id, log };
    log.info({}, 'vfio_user_client_connected');
  }

  /** What the data plane logged, as the session and device logged it before (same event names and fields). */
  private logEvents(log: Logger, events: DataPlaneEvent[]): void {
    for (const e of events) {
      switch (e.type) {
        case 'request_failed':
          log.warn(
            { id: e.id, command: commandName(e.command), errno: e.errno, noReply: e.noReply, err: e.err },
            'vfio_user_request_failed',
          );
          break;
        case 'guest_error':
          log.warn({ region: e.region, offset: e.offset, count: e.count, what: e.what }, 'apple_gfx_guest_error');
          break;
        case 'trace':
          log.trace(e.write ? { offset: hex(e.offset), val: hex(e.value) } : { offset: hex(e.offset), res: hex(e.value) }, e.name);
          break;
        case 'dropped':
          log.warn({ count: e.count }, 'vfio_user_log_dropped');
          break;
      }
    }
  }

  /** Runs `fn` once no device operation is queued or running, in the same turn as the check. */
  private async whenIdle<T>(fn: () => T | Promise<T>): Promise<T> {
    while (this.ops.busy) await this.ops.idle();
    return fn();
  }

  private closed(id: number, reason: string | null): void {
    if (!this.active || this.active.id !== id) return;
    const { session, dataPlane } = this.active;
    this.active = null;
    // A broken frame closes this client only, with the reason in the log.
    if (reason) this.log.warn({ client: id, reason }, 'vfio_user_client_dropped');
    addNativeCounts(session, dataPlane);
    // The next client is accepted once the device has let go of this one's
    // guest memory (a device operation: it waits for one under way).
    const gone = session.closed(reason);
    if (gone instanceof Promise)
      gone.then(
        () => this.listener?.resume(),
        (e: unknown) => {
          this.log.error({ client: id, err: (e as Error).message }, 'vfio_user_client_release_failed');
          this.listener?.resume();
        },
      );
    else this.listener?.resume();
  }

  /** Ends the current client (as if it left) and stops accepting. */
  stop(): void {
    if (this.active) {
      const { session, dataPlane, id } = this.active;
      this.active = null;
      dataPlane.close();
      addNativeCounts(session, dataPlane);
      void Promise.resolve(session.closed(`daemon stopping (client ${id})`)).catch((e: unknown) =>
        this.log.error({ client: id, err: (e as Error).message }, 'vfio_user_client_release_failed'),
      );
    }
    this.listener?.close();
    this.listener = null;
  }
}

/** The session's message counts (logged at close) include what the data plane answered. */
function addNativeCounts(session: ServerSession, dataPlane: NativeDataPlane): void {
  const s = dataPlane.stats();
  session.stats.messages += s.native;
  session.stats.errors += s.errors;
}
