// The daemon's displays: attaches them to the backend, keeps one
// DisplaySource per port up to date from backend events, and logs them with
// QEMU's apple-gfx trace-event names. Displays can be added, removed and
// given new mode lists while the guest runs.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { BackendEvent, DisplayModeSpec, NativeBackend } from '../native.js';
import { DisplaySource } from './display-source.js';
import { deviceOps, type DeviceOps } from '../device/device-ops.js';
import { DeviceError } from '../device-error.js';
import { checkFrameBudget, checkModes, formatMode } from './modes.js';

/** 32-bit FNV-1a, as the soft device's CHECKSUM command computes it. */
export function fnv1a32(data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i]!, 0x01000193) >>> 0;
  return h >>> 0;
}

const hex32 = (v: number): string => `0x${v.toString(16).padStart(8, '0')}`;

/**
 * Display serial numbers: unique per daemon instance, so the guest tells
 * apart the displays of two devices (it ignores displays that share a
 * serial, QEMU notes), and stable across restarts of the same instance, so
 * it keeps its layout (PVG's serialNum). The base comes from --serial-base,
 * else from the socket the daemon serves (serialBaseFor); the low byte is
 * the port + 1.
 */
export const serialBaseFor = (identity: string): number => {
  const base = (fnv1a32(new TextEncoder().encode(`apple-gfxd:${identity}`)) & 0xffffff00) >>> 0;
  return base !== 0 ? base : 0x41470000;
};
export const displaySerial = (base: number, port: number): number => ((base & 0xffffff00) | ((port + 1) & 0xff)) >>> 0;
/** The base of a daemon that says nothing about its identity (tests, tools). */
export const DEFAULT_SERIAL_BASE = 0x41470000;

export class Displays extends EventEmitter<{ attached: [DisplaySource]; detached: [DisplaySource] }> {
  readonly ports = new Map<number, DisplaySource>();
  private readonly debug: boolean;
  /** The device's operations: display changes from viewers and control wait their turn (device-ops.ts). */
  readonly ops: DeviceOps;

  constructor(
    private readonly backend: NativeBackend,
    private readonly log: Logger,
    readonly maxPorts: number,
    readonly serialBase: number = DEFAULT_SERIAL_BASE,
  ) {
    super();
    this.debug = log.isLevelEnabled('debug');
    this.ops = deviceOps(backend);
    // Read-outs refused while a long backend call ran are made now.
    this.ops.on('idle', () => {
      for (const d of this.ports.values()) d.retryDeferred();
    });
  }

  get(port: number): DisplaySource | undefined {
    return this.ports.get(port);
  }

  list(): DisplaySource[] {
    return [...this.ports.values()].sort((a, b) => a.port - b.port);
  }

  /**
   * Checks a whole set of displays (ports and mode lists) as attach and
   * setModes would, without changing anything: ports whole, in range and
   * distinct, every mode list valid (checkModes), the frame memory of the
   * set within budget. Throws DeviceError.
   */
  checkSet(
    set: readonly { port: unknown; modes: readonly { width?: unknown; height?: unknown; refreshHz?: unknown }[] }[],
  ): DisplayModeSpec[][] {
    const seen = new Set<number>();
    const lists = set.map((d) => {
      if (!Number.isInteger(d.port) || (d.port as number) < 0 || (d.port as number) >= this.maxPorts)
        throw new DeviceError('invalid', `display port ${String(d.port)} outside 0..${this.maxPorts - 1}`);
      if (seen.has(d.port as number)) throw new DeviceError('invalid', `display port ${String(d.port)} twice`);
      seen.add(d.port as number);
      try {
        return checkModes(d.modes);
      } catch (e) {
        throw new DeviceError('bad-mode', `display ${String(d.port)}: ${(e as Error).message}`);
      }
    });
    checkFrameBudget(lists);
    return lists;
  }

  /** The mode lists of the displays attached now, with `port` given `modes` (undefined: removed). */
  private withModes(port: number, modes: DisplayModeSpec[] | undefined): DisplayModeSpec[][] {
    const lists = [...this.ports.values()].filter((d) => d.port !== port).map((d) => d.modes);
    return modes ? [...lists, modes] : lists;
  }

  /** Hot-plugs a display; `port` defaults to the lowest free one. */
  attach(modes: DisplayModeSpec[], port = this.freePort(), name = `apple-gfxd ${port}`): DisplaySource {
    if (port < 0 || port >= this.maxPorts) throw new DeviceError('invalid', `display port ${port} outside 0..${this.maxPorts - 1}`);
    if (this.ports.has(port)) throw new DeviceError('invalid', `display port ${port} is in use`);
    modes = checkModes(modes);
    checkFrameBudget(this.withModes(port, modes));
    const src = new DisplaySource(this.backend, port, displaySerial(this.serialBase, port), name, modes);
    this.ports.set(port, src); // before attaching: the backend reports the first mode at once
    if (!this.backend.attachDisplay(port, src.serial, name, modes)) {
      this.ports.delete(port);
      throw new DeviceError(
        'bad-mode',
        `backend refused display ${port} (${modes.map(formatMode).join(',')}): no memory for its frame, or modes it cannot show`,
      );
    }
    this.log.info({ port, serial: src.serial, modes: modes.map(formatMode) }, 'apple_gfx_display_attached');
    this.emit('attached', src);
    return src;
  }

  detach(port: number): void {
    const src = this.ports.get(port);
    if (!src) throw new DeviceError('no-such-display', `no display on port ${port}`);
    this.backend.detachDisplay(port);
    this.ports.delete(port);
    src.onDetached();
    this.log.info({ port }, 'apple_gfx_display_detached');
    this.emit('detached', src);
  }

  setModes(port: number, modes: DisplayModeSpec[]): void {
    const src = this.ports.get(port);
    if (!src) throw new DeviceError('no-such-display', `no display on port ${port}`);
    modes = checkModes(modes);
    checkFrameBudget(this.withModes(port, modes));
    if (!this.backend.setModes(port, modes))
      throw new DeviceError(
        'bad-mode',
        `backend refused the mode list for display ${port}: no memory for a new frame, or modes it cannot show`,
      );
    src.modes = modes;
    this.log.info({ port, modes: modes.map(formatMode) }, 'apple_gfx_display_modes');
  }

  private freePort(): number {
    for (let p = 0; p < this.maxPorts; p++) if (!this.ports.has(p)) return p;
    throw new DeviceError('no-free-port', `all ${this.maxPorts} display ports are in use`);
  }

  /** Backend events, delivered on the JS thread (fire-and-forget on the backend side). */
  handle(events: BackendEvent[]): void {
    for (const ev of events) {
      const d = this.ports.get(ev.port);
      switch (ev.type) {
        case 'mode_changed':
          if (d && ev.width > 0) d.onMode(ev.width, ev.height);
          this.log.info({ port: ev.port, width: ev.width, height: ev.height }, 'apple_gfx_mode_change');
          break;
        case 'new_frame':
          d?.onFrames(ev.count);
          if (this.debug) this.logFrame(ev.port, ev.count);
          break;
        case 'cursor_glyph': {
          const glyph = { width: ev.width, height: ev.height, hotX: ev.hotX, hotY: ev.hotY, pixels: ev.pixels };
          d?.onCursor({ glyph });
          this.log.debug(
            { port: ev.port, width: ev.width, height: ev.height, hotX: ev.hotX, hotY: ev.hotY, checksum: hex32(fnv1a32(ev.pixels)) },
            'apple_gfx_cursor_glyph',
          );
          break;
        }
        case 'cursor_show':
          d?.onCursor({ visible: ev.show });
          this.log.debug({ port: ev.port, show: ev.show }, 'apple_gfx_cursor_show');
          break;
        case 'cursor_moved':
          d?.onCursor({ x: ev.x, y: ev.y });
          this.log.debug({ port: ev.port, x: ev.x, y: ev.y }, 'apple_gfx_cursor_move');
          break;
        case 'guest_error':
          this.log.warn({ what: ev.message }, 'apple_gfx_guest_error');
          break;
      }
    }
  }

  private logFrame(port: number, coalesced: number): void {
    const f = this.ports.get(port)?.latest();
    if (!f) return;
    this.log.debug(
      { port, width: f.width, height: f.height, sequence: f.sequence, coalesced, checksum: hex32(fnv1a32(f.data)) },
      'apple_gfx_new_frame',
    );
  }
}
