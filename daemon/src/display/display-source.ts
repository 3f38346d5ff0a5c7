// One display as the sinks see it (VNC, web viewer, screenshots): the current
// mode, the latest frame, the cursor, and events when any of them changes.
//
// Frame pacing: the backend is never blocked and never asked for a frame
// nobody wants. A guest present only bumps `presented` and emits 'frame';
// the pixels are copied out of the backend when a viewer asks (latest()), at
// most once per guest frame however many viewers ask. A viewer keeps at most
// the frame it is sending plus a "newer one exists" flag, so with any number
// of viewers no display ever has more than 2 frames in flight per viewer and
// stale frames are dropped, not queued.
import { EventEmitter } from 'node:events';
import type { DisplayModeSpec, NativeBackend } from '../native.js';

export interface Frame {
  width: number;
  height: number;
  /** BGRA8, `width * 4` bytes per row. Shared between viewers: never modify. */
  data: Buffer;
  /** The backend's present counter for this display. */
  sequence: number;
}

export interface CursorGlyph {
  width: number;
  height: number;
  hotX: number;
  hotY: number;
  /** BGRA8, `width * 4` bytes per row. */
  pixels: Buffer;
}

export interface CursorState {
  visible: boolean;
  /** AGFX_CURSOR_OFF_DISPLAY (0xffff) when not on this display. */
  x: number;
  y: number;
  glyph: CursorGlyph | null;
  /** Increments whenever the glyph changes. */
  glyphSerial: number;
}

export const CURSOR_OFF_DISPLAY = 0xffff;

export interface DisplaySourceEvents {
  frame: [sequence: number];
  mode: [width: number, height: number];
  cursor: [state: CursorState];
  detached: [];
}

export class DisplaySource extends EventEmitter<DisplaySourceEvents> {
  width = 0;
  height = 0;
  /** Frames the guest presented. */
  presented = 0;
  /** Frames copied out of the backend for viewers. */
  readouts = 0;
  readonly cursor: CursorState = { visible: false, x: CURSOR_OFF_DISPLAY, y: CURSOR_OFF_DISPLAY, glyph: null, glyphSerial: 0 };
  private cached: Frame | null = null;
  /** No guest frame or mode change since `cached` was read. */
  private fresh = false;
  private attached = true;

  constructor(
    private readonly backend: NativeBackend,
    readonly port: number,
    readonly serial: number,
    readonly name: string,
    public modes: DisplayModeSpec[],
  ) {
    super();
    this.setMaxListeners(0); // one listener per viewer
  }

  get isAttached(): boolean {
    return this.attached;
  }

  /** The current frame (copied from the backend at most once per guest frame). */
  latest(): Frame | null {
    if (!this.attached) return null;
    if (this.cached && this.fresh) return this.cached;
    const f = this.backend.readFrame(this.port);
    if (!f) return null;
    this.readouts++;
    // The soft backend packs rows (stride = width * 4); other backends may pad.
    const data = f.stride === f.width * 4 ? f.data : packRows(f.data, f.width, f.height, f.stride);
    this.cached = { width: f.width, height: f.height, data, sequence: f.sequence };
    this.fresh = true;
    return this.cached;
  }

  // ---- fed by Displays from backend events (JS thread) ----

  onFrames(count: number): void {
    this.presented += count;
    this.fresh = false;
    this.emit('frame', this.presented);
  }

  onMode(width: number, height: number): void {
    this.width = width;
    this.height = height;
    this.cached = null;
    this.fresh = false;
    this.emit('mode', width, height);
  }

  onCursor(change: Partial<Omit<CursorState, 'glyphSerial'>>): void {
    if (change.glyph !== undefined) this.cursor.glyphSerial++;
    Object.assign(this.cursor, change);
    this.emit('cursor', this.cursor);
  }

  onDetached(): void {
    this.attached = false;
    this.cached = null;
    this.emit('detached');
  }
}

function packRows(src: Buffer, width: number, height: number, stride: number): Buffer {
  const row = width * 4;
  const out = Buffer.allocUnsafe(row * height);
  for (let y = 0; y < height; y++) src.copy(out, y * row, y * stride, y * stride + row);
  return out;
}
