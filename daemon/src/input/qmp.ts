// Input back to QEMU: viewers' keyboard and pointer events become QMP
// `input-send-event` commands on QEMU's QMP socket (--qmp PATH), so a viewer
// is a full console. The guest needs an absolute pointer device
// (usb-tablet or virtio-tablet) for pointer events.
//
// Never blocks the caller: events are written to the socket and forgotten;
// while QEMU is not connected they are dropped (and counted), and the client
// reconnects in the background.
//
// Bounded (docs/design.md invariant 4, docs/security.md): while QEMU does not
// take what was written (more than QUEUE_HIGH_WATER bytes waiting), commands
// wait in a queue of at most MAX_WAITING where pointer motion is coalesced
// (the newest position replaces the one waiting); past that, input is dropped
// with a warning. A QMP peer that takes nothing for STALL_MS while input
// waits is dropped and reconnected.
import { createConnection, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { InputSink, KeyEvent, PointerEvent } from './input-sink.js';
import { domCodeToQcode, keysymToQcode } from './keymap.js';

/** QEMU's INPUT_EVENT_ABS_MAX: absolute axes run 0..0x7fff. */
const ABS_MAX = 0x7fff;
const BUTTONS: [number, string][] = [
  [1, 'left'],
  [2, 'middle'],
  [4, 'right'],
  [8, 'wheel-up'],
  [16, 'wheel-down'],
];

type QmpEvent = { type: string; data: Record<string, unknown> };

/** The id of our `query-name` (QEMU echoes it in the reply). */
const NAME_QUERY_ID = 'apple-gfxd-query-name';

/** Bytes waiting in the socket above which commands wait in our own queue instead. */
const QUEUE_HIGH_WATER = 64 << 10;
/** Commands waiting while QEMU does not read (pointer motion coalesced); more are dropped. */
const MAX_WAITING = 256;
/** A QMP peer that takes nothing for this long while input waits is dropped and reconnected. */
const STALL_MS = 5000;

export class QmpInput implements InputSink {
  private sock: Socket | null = null;
  private ready = false;
  private buf = '';
  private buttons = 0;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;
  /** Commands waiting for QEMU to take what was written; `motion` ones may be replaced by newer motion. */
  private waiting: { line: string; motion: boolean }[] = [];
  private stallTimer: NodeJS.Timeout | null = null;
  /** Drops since the last warning (one warning per backed-up spell, not one per event). */
  private droppedSinceWarn = 0;
  private lastErrorLog = 0;
  readonly stats = { sent: 0, dropped: 0, coalesced: 0, errors: 0, unknownKeys: 0, stalls: 0 };

  constructor(
    private readonly path: string,
    private readonly log: Logger,
    /** Display sizes by port, for scaling pointer positions to QEMU's axes. */
    private readonly sizeOf: (port: number) => { width: number; height: number } | null,
    /**
     * The VM's name (QEMU's -name, from QMP `query-name`) once QMP is ready;
     * null when QMP goes away or QEMU has none. For the viewers' titles.
     */
    private readonly onVmName?: (name: string | null) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.sock?.destroy();
    this.sock = null;
  }

  get connected(): boolean {
    return this.ready;
  }

  private connect(): void {
    const sock = createConnection(this.path);
    this.sock = sock;
    this.ready = false;
    this.buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => this.onData(chunk));
    sock.on('error', (err) => {
      if (!this.stopped) this.log.debug({ path: this.path, err: err.message }, 'qmp_connect_failed');
    });
    sock.on('drain', () => this.flush());
    sock.on('close', () => {
      if (this.ready) this.log.warn({ path: this.path }, 'qmp_disconnected');
      if (this.ready) this.onVmName?.(null);
      this.ready = false;
      this.waiting = [];
      this.buttons = 0;
      if (this.stallTimer) clearTimeout(this.stallTimer);
      this.stallTimer = null;
      if (!this.stopped) this.retry = setTimeout(() => this.connect(), 1000).unref();
    });
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    if (this.buf.length > 1 << 20) {
      this.log.error({ path: this.path }, 'qmp_protocol_error');
      this.sock?.destroy();
      return;
    }
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      if ('QMP' in msg) this.sock?.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
      else if ('return' in msg && !this.ready) {
        this.ready = true;
        this.log.info({ path: this.path }, 'qmp_connected');
        if (this.onVmName) this.sock?.write(JSON.stringify({ execute: 'query-name', id: NAME_QUERY_ID }) + '\n');
      } else if ('return' in msg && msg.id === NAME_QUERY_ID) {
        const name = (msg.return as { name?: unknown } | null)?.name;
        this.onVmName?.(typeof name === 'string' ? name : null);
      } else if ('error' in msg) {
        this.stats.errors++;
        // At most one line a second: a peer refusing every event must not flood the log.
        const now = Date.now();
        if (now - this.lastErrorLog >= 1000) {
          this.log.warn({ error: msg.error, errors: this.stats.errors }, 'qmp_input_error');
          this.lastErrorLog = now;
        }
      }
    }
  }

  private send(events: QmpEvent[], motion = false): void {
    const sock = this.sock;
    if (!this.ready || !sock) {
      this.stats.dropped++;
      return;
    }
    const line = JSON.stringify({ execute: 'input-send-event', arguments: { events } }) + '\n';
    if (this.waiting.length === 0 && sock.writableLength <= QUEUE_HIGH_WATER) {
      sock.write(line);
      this.stats.sent++;
      return;
    }
    const last = this.waiting[this.waiting.length - 1];
    if (motion && last?.motion) {
      last.line = line; // only the newest position matters
      this.stats.coalesced++;
    } else if (this.waiting.length < MAX_WAITING) {
      this.waiting.push({ line, motion });
    } else {
      this.stats.dropped++;
      if (this.droppedSinceWarn++ === 0)
        this.log.warn({ path: this.path, waiting: this.waiting.length, queued: sock.writableLength }, 'qmp_input_dropped');
    }
    if (!this.stallTimer) {
      // QEMU takes nothing: after STALL_MS it is dropped and reconnected.
      const drained = (sock.bytesWritten ?? 0) - sock.writableLength;
      this.stallTimer = setTimeout(() => {
        this.stallTimer = null;
        if (sock !== this.sock || sock.destroyed) return;
        if ((sock.bytesWritten ?? 0) - sock.writableLength > drained) return this.flush(); // it moved: not stalled
        this.stats.stalls++;
        this.log.warn(
          { path: this.path, queued: sock.writableLength, waiting: this.waiting.length, dropped: this.droppedSinceWarn },
          'qmp_stalled',
        );
        sock.destroy(); // 'close' reconnects
      }, STALL_MS).unref();
    }
  }

  /** Writes waiting commands while QEMU takes them. */
  private flush(): void {
    const sock = this.sock;
    if (!sock || !this.ready) return;
    while (this.waiting.length && sock.writableLength <= QUEUE_HIGH_WATER) {
      sock.write(this.waiting.shift()!.line);
      this.stats.sent++;
    }
    if (this.waiting.length === 0) {
      if (this.stallTimer) clearTimeout(this.stallTimer);
      this.stallTimer = null;
      if (this.droppedSinceWarn > 1) this.log.warn({ path: this.path, dropped: this.droppedSinceWarn }, 'qmp_input_dropped');
      this.droppedSinceWarn = 0;
    }
  }

  key(ev: KeyEvent): void {
    // A scancode goes as QEMU's key number: input-send-event turns it into a
    // qcode with qemu_input_key_number_to_qcode(), the table QEMU's own VNC
    // server uses for this event, so the guest gets exactly that key.
    if (ev.scancode !== undefined && ev.scancode > 0 && ev.scancode <= 0xff) {
      this.send([{ type: 'key', data: { down: ev.down, key: { type: 'number', data: ev.scancode } } }]);
      return;
    }
    const qcode = ev.code !== undefined ? domCodeToQcode(ev.code) : ev.keysym !== undefined ? keysymToQcode(ev.keysym) : null;
    if (!qcode) {
      this.stats.unknownKeys++;
      return;
    }
    this.send([{ type: 'key', data: { down: ev.down, key: { type: 'qcode', data: qcode } } }]);
  }

  pointer(ev: PointerEvent): void {
    const size = this.sizeOf(ev.port);
    if (!size || size.width <= 1 || size.height <= 1) return;
    const scale = (v: number, max: number) => Math.round((Math.min(Math.max(v, 0), max - 1) * ABS_MAX) / (max - 1));
    const events: QmpEvent[] = [
      { type: 'abs', data: { axis: 'x', value: scale(ev.x, size.width) } },
      { type: 'abs', data: { axis: 'y', value: scale(ev.y, size.height) } },
    ];
    const changed = this.buttons ^ ev.buttons;
    for (const [bit, button] of BUTTONS) if (changed & bit) events.push({ type: 'btn', data: { down: (ev.buttons & bit) !== 0, button } });
    this.buttons = ev.buttons & ~(8 | 16); // wheel "buttons" are clicks, not held
    this.send(events, events.length === 2);
  }
}
