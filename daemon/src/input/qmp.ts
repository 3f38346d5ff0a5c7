// Input back to QEMU: viewers' keyboard and pointer events become QMP
// `input-send-event` commands on QEMU's QMP socket (--qmp PATH), so a viewer
// is a full console. The guest needs an absolute pointer device
// (usb-tablet or virtio-tablet) for pointer events.
//
// Never blocks the caller: events are written to the socket and forgotten;
// while QEMU is not connected they are dropped (and counted), and the client
// reconnects in the background.
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

export class QmpInput implements InputSink {
  private sock: Socket | null = null;
  private ready = false;
  private buf = '';
  private buttons = 0;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;
  readonly stats = { sent: 0, dropped: 0, errors: 0, unknownKeys: 0 };

  constructor(
    private readonly path: string,
    private readonly log: Logger,
    /** Display sizes by port, for scaling pointer positions to QEMU's axes. */
    private readonly sizeOf: (port: number) => { width: number; height: number } | null,
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
    sock.on('close', () => {
      if (this.ready) this.log.warn({ path: this.path }, 'qmp_disconnected');
      this.ready = false;
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
      } else if ('error' in msg) {
        this.stats.errors++;
        this.log.warn({ error: msg.error }, 'qmp_input_error');
      }
    }
  }

  private send(events: QmpEvent[]): void {
    if (!this.ready || !this.sock) {
      this.stats.dropped++;
      return;
    }
    this.sock.write(JSON.stringify({ execute: 'input-send-event', arguments: { events } }) + '\n');
    this.stats.sent++;
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
    this.send(events);
  }
}
