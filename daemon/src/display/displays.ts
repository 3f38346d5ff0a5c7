// The daemon's view of the device's displays: attaches them to the backend,
// follows mode changes, frames and the cursor from backend events, and logs
// them with QEMU's apple-gfx trace-event names.
import type { Logger } from 'pino';
import type { BackendEvent, DisplayModeSpec, NativeBackend } from '../native.js';
import { formatMode } from './modes.js';

export interface DisplayState {
  port: number;
  serial: number;
  name: string;
  modes: DisplayModeSpec[];
  width: number;
  height: number;
  framesPresented: number;
  cursor: { visible: boolean; x: number; y: number; glyph: { width: number; height: number; hotX: number; hotY: number; pixels: Buffer } | null };
}

/** 32-bit FNV-1a, as the soft device's CHECKSUM command computes it. */
export function fnv1a32(data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i]!, 0x01000193) >>> 0;
  return h >>> 0;
}

const hex32 = (v: number): string => `0x${v.toString(16).padStart(8, '0')}`;

export class Displays {
  readonly ports = new Map<number, DisplayState>();
  private readonly debug: boolean;

  constructor(
    private readonly backend: NativeBackend,
    private readonly log: Logger,
  ) {
    this.debug = log.isLevelEnabled('debug');
  }

  attach(port: number, modes: DisplayModeSpec[], name = `apple-gfxd ${port}`): void {
    // Serial numbers stay the same across runs so the guest keeps its layout.
    const serial = 0x41470000 + port + 1;
    const state: DisplayState = {
      port,
      serial,
      name,
      modes,
      width: 0,
      height: 0,
      framesPresented: 0,
      cursor: { visible: false, x: 0xffff, y: 0xffff, glyph: null },
    };
    this.ports.set(port, state);
    if (!this.backend.attachDisplay(port, serial, name, modes)) {
      this.ports.delete(port);
      throw new Error(`backend refused display ${port} (${modes.map(formatMode).join(',')})`);
    }
    this.log.info({ port, serial, modes: modes.map(formatMode) }, 'apple_gfx_display_attached');
  }

  handle(events: BackendEvent[]): void {
    for (const ev of events) {
      const d = this.ports.get(ev.port);
      switch (ev.type) {
        case 'mode_changed':
          if (d) {
            d.width = ev.width;
            d.height = ev.height;
          }
          this.log.info({ port: ev.port, width: ev.width, height: ev.height }, 'apple_gfx_mode_change');
          break;
        case 'new_frame':
          if (d) d.framesPresented += ev.count;
          if (this.debug) this.logFrame(ev.port, ev.count);
          break;
        case 'cursor_glyph':
          if (d) d.cursor.glyph = { width: ev.width, height: ev.height, hotX: ev.hotX, hotY: ev.hotY, pixels: ev.pixels };
          this.log.debug(
            { port: ev.port, width: ev.width, height: ev.height, hotX: ev.hotX, hotY: ev.hotY, checksum: hex32(fnv1a32(ev.pixels)) },
            'apple_gfx_cursor_glyph',
          );
          break;
        case 'cursor_show':
          if (d) d.cursor.visible = ev.show;
          this.log.debug({ port: ev.port, show: ev.show }, 'apple_gfx_cursor_show');
          break;
        case 'cursor_moved':
          if (d) {
            d.cursor.x = ev.x;
            d.cursor.y = ev.y;
          }
          this.log.debug({ port: ev.port, x: ev.x, y: ev.y }, 'apple_gfx_cursor_move');
          break;
        case 'guest_error':
          this.log.warn({ what: ev.message }, 'apple_gfx_guest_error');
          break;
      }
    }
  }

  private logFrame(port: number, coalesced: number): void {
    const f = this.backend.readFrame(port);
    if (!f) return;
    this.log.debug(
      { port, width: f.width, height: f.height, sequence: f.sequence, coalesced, checksum: hex32(fnv1a32(f.data)) },
      'apple_gfx_new_frame',
    );
  }
}
