// One display as the viewers see it (VNC, web viewer, screenshots): the current
// mode, the latest frame, what changed between frames, the cursor, and
// events when any of them changes.
//
// Frame pacing: the backend is never blocked and never asked for a frame
// nobody wants. A guest present only bumps `presented` and emits 'frame';
// the pixels are copied out of the backend when a viewer asks (latest()), at
// most once per guest frame however many viewers ask. A viewer keeps at most
// the frame it is sending plus a "newer one exists" flag, so with any number
// of viewers no display ever has more than 2 frames in flight per viewer and
// stale frames are dropped, not queued.
//
// Read-outs copy only what changed when the backend tracks damage: each
// buffer is brought forward in place from the version it holds. A buffer
// that a viewer still sends from is pinned and left alone; the next read-out
// goes to another one.
import { EventEmitter } from 'node:events';
import type { DisplayModeSpec, NativeBackend } from '../native.js';
import { appendChanges, markDirtyTiles, tileCols, tileRows, tilesToRects, type Changes } from './damage.js';

export interface Frame {
  width: number;
  height: number;
  /**
   * BGRA8, `width * 4` bytes per row. Shared between viewers: never modify.
   * Valid until control returns to the event loop; a viewer that sends from
   * it for longer pins it first (DisplaySource.pin).
   */
  data: Buffer;
  /** The backend's present counter for this display. */
  sequence: number;
  /** This read-out's number: changesSince(version) is what differs from it. */
  version: number;
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

/** A frame buffer of the current mode and the backend frame version it holds. */
interface Slot {
  data: Buffer | null;
  backendVersion: number;
  pins: number;
}

/** Read-outs remembered for changesSince(): older viewers get everything. */
const LOG_DEPTH = 64;

export class DisplaySource extends EventEmitter<DisplaySourceEvents> {
  width = 0;
  height = 0;
  /** Frames the guest presented. */
  presented = 0;
  /** Frames copied out of the backend for viewers. */
  readouts = 0;
  /** Bytes copied out of the backend for viewers. */
  readoutBytes = 0;
  readonly cursor: CursorState = { visible: false, x: CURSOR_OFF_DISPLAY, y: CURSOR_OFF_DISPLAY, glyph: null, glyphSerial: 0 };
  private cached: Frame | null = null;
  /** No guest frame or mode change since `cached` was read. */
  private fresh = false;
  private attached = true;
  private slots: Slot[] = [];
  private current: Slot | null = null;
  private readonly slotOf = new WeakMap<Frame, Slot>();
  /** latest() found the backend busy (retryDeferred). */
  private deferred = false;
  /** log[i] is what changed from read-out version `to - 1` to `to`; null: unknown. */
  private log: { to: number; changes: Changes | null }[] = [];
  private version = 0;

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

  /** The current frame (read from the backend at most once per guest frame). */
  latest(): Frame | null {
    if (!this.attached) return null;
    if (this.cached && this.fresh) return this.cached;
    if (this.backend.busy) {
      // A long backend call is under way (a reset, save or restore:
      // docs/design.md, "Long backend calls"); the backend takes no other
      // call meanwhile. Viewers keep the frame they have and are told to
      // ask again once it is over (retryDeferred).
      this.deferred = true;
      return this.cached;
    }
    const prev = this.cached;
    const read = this.backend.tracksDamage ? this.readChanged(prev) : this.readWhole(prev);
    if (!read) return null;
    this.readouts++;
    const frame: Frame = {
      width: read.width,
      height: read.height,
      data: read.slot.data!,
      sequence: read.sequence,
      version: ++this.version,
    };
    this.slotOf.set(frame, read.slot);
    this.current = read.slot;
    this.log.push({ to: frame.version, changes: read.changes });
    if (this.log.length > LOG_DEPTH) this.log.shift();
    this.cached = frame;
    this.fresh = true;
    return frame;
  }

  /**
   * What changed from read-out `version` to the latest one; null when the
   * source cannot tell (too old, another mode, unknown): send everything.
   */
  changesSince(version: number): Changes | null {
    const latest = this.cached?.version ?? 0;
    if (version === latest) return { move: null, rects: [] };
    const first = this.log.findIndex((e) => e.to === version + 1);
    if (first < 0 || version > latest) return null;
    const out: Changes = { move: null, rects: [] };
    for (let i = first; i < this.log.length; i++) {
      const c = this.log[i]!.changes;
      if (!c) return null;
      appendChanges(out, c);
    }
    return out;
  }

  /** Keeps `frame.data` unchanged until the returned function is called. */
  pin(frame: Frame): () => void {
    const slot = this.slotOf.get(frame);
    if (!slot) return () => {};
    slot.pins++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      slot.pins--;
    };
  }

  /** Damage-tracking backends: bring an unpinned buffer forward in place. */
  private readChanged(prev: Frame | null): { slot: Slot; width: number; height: number; sequence: number; changes: Changes | null } | null {
    const cur = this.current;
    let slot = cur && cur.pins === 0 ? cur : this.slots.find((s) => s.pins === 0 && s.data !== null);
    if (!slot) {
      // A new buffer starts as a copy of the current one, so what the
      // backend reports is exactly the change since the last read-out.
      slot = cur?.data
        ? { data: Buffer.from(cur.data), backendVersion: cur.backendVersion, pins: 0 }
        : { data: null, backendVersion: 0, pins: 0 };
      this.slots.push(slot);
    }
    let spare = 0; // buffers nobody pins any more: keep one for the next switch
    this.slots = this.slots.filter((s) => s === slot || s === cur || s.pins > 0 || spare++ < 1);
    if (cur?.data && slot !== cur && slot.backendVersion !== cur.backendVersion) {
      // A spare buffer from before the last read-out: bring it to the last
      // read-out first (one copy), so what the backend reports next is
      // exactly what changed since; otherwise a spare older than the
      // backend's change history is a full update and a move is lost.
      if (slot.data && slot.data.length === cur.data.length) cur.data.copy(slot.data);
      else slot.data = Buffer.from(cur.data);
      slot.backendVersion = cur.backendVersion;
    }
    const u = this.backend.updateFrame(this.port, slot.data, slot.backendVersion);
    if (!u) return null;
    const reused = slot.data === u.data;
    slot.data = u.data;
    slot.backendVersion = u.version;
    if (!reused) this.readoutBytes += u.data.length;
    else for (const r of [u.move, ...u.damage]) if (r) this.readoutBytes += r.w * r.h * 4;
    let changes: Changes | null = null;
    if (prev && !u.full && u.width === prev.width && u.height === prev.height) changes = { move: u.move, rects: u.damage };
    return { slot, width: u.width, height: u.height, sequence: u.sequence, changes };
  }

  /** Other backends: read the whole frame and compare it with the last one. */
  private readWhole(prev: Frame | null): { slot: Slot; width: number; height: number; sequence: number; changes: Changes | null } | null {
    const f = this.backend.readFrame(this.port);
    if (!f) return null;
    this.readoutBytes += f.data.length;
    // Rows may be padded (stride > width * 4); viewers get packed rows.
    const data = f.stride === f.width * 4 ? f.data : packRows(f.data, f.width, f.height, f.stride);
    let changes: Changes | null = null;
    if (prev && prev.width === f.width && prev.height === f.height) {
      const tiles = new Uint8Array(tileCols(f.width) * tileRows(f.height));
      markDirtyTiles(prev.data, f.width * 4, data, f.width * 4, f.width, f.height, tiles);
      changes = { move: null, rects: tilesToRects(tiles, f.width, f.height) };
    }
    // A fresh buffer each time: the previous frame stays intact for comparing.
    return { slot: { data, backendVersion: 0, pins: 0 }, width: f.width, height: f.height, sequence: f.sequence, changes };
  }

  /** A read-out was refused while the backend was busy: viewers ask again now. */
  retryDeferred(): void {
    if (!this.deferred) return;
    this.deferred = false;
    if (this.attached) this.emit('frame', this.presented);
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
    this.forget();
    this.emit('mode', width, height);
  }

  onCursor(change: Partial<Omit<CursorState, 'glyphSerial'>>): void {
    if (change.glyph !== undefined) this.cursor.glyphSerial++;
    Object.assign(this.cursor, change);
    this.emit('cursor', this.cursor);
  }

  onDetached(): void {
    this.attached = false;
    this.forget();
    this.emit('detached');
  }

  /** Drops every buffer and the change log (pinned buffers die when released). */
  private forget(): void {
    this.cached = null;
    this.fresh = false;
    this.slots = [];
    this.current = null;
    this.log = [];
  }
}

function packRows(src: Buffer, width: number, height: number, stride: number): Buffer {
  const row = width * 4;
  const out = Buffer.allocUnsafe(row * height);
  for (let y = 0; y < height; y++) src.copy(out, y * row, y * stride, y * stride + row);
  return out;
}
