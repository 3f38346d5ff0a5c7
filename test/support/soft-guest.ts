// In-process "guest" for the viewer tests (VNC, web) and the VNC benchmark:
// the native soft backend with Displays on top, a memfd as guest RAM and the
// command ring (docs/soft-device.md) driven through backend.mmioWrite, so
// frames reach the viewers exactly as a guest's presents do.
import { once } from 'node:events';
import { writeSync } from 'node:fs';
import type { Logger } from 'pino';
import { Displays } from '#daemon/display/displays.js';
import type { DisplaySource } from '#daemon/display/display-source.js';
import { native, type DisplayModeSpec, type NativeBackend } from '#daemon/native.js';
import { Op, Reg, damageArg, encodeRangeList, xy } from './soft-ring.js';

/**
 * Resolves on the next `name` event. The timer keeps the event loop alive
 * (backend events arrive through an unref'd threadsafe function) and turns a
 * lost event into a clear failure.
 */
function next(emitter: DisplaySource, name: 'frame' | 'mode' | 'cursor', ms = 5000): Promise<unknown> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    once(emitter, name).finally(() => clearTimeout(timer)),
    new Promise(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`no '${name}' event on display ${emitter.port} within ${ms} ms`)), ms)),
    ),
  ]);
}

const RAM_GPA = 0x40000000n;
const RING_ENTRIES = 256;
const LIST_OFF = 0x10000;
const TASK = 1;
/** Task offset 0 = guest RAM offset FRAMES_OFF. */
const FRAMES_OFF = 1 << 20;

export class SoftGuest {
  readonly backend: NativeBackend;
  readonly displays: Displays;
  private readonly ram: number;
  private tail = 0;
  /** Bytes of task space for frames and glyphs. */
  readonly slotBytes: number;

  /** `frameBytes`: the largest frame to present (one slot each, `slots` slots). */
  constructor(
    log: Logger,
    readonly frameBytes = 64 * 48 * 4,
    readonly slots = 2,
  ) {
    this.slotBytes = Math.ceil(frameBytes / 4096) * 4096;
    const taskBytes = this.slotBytes * (slots + 1); // + one slot for glyphs
    const ramSize = FRAMES_OFF + taskBytes;
    this.ram = native.memfdCreate('vnc-guest-ram', ramSize);
    native.gmMap(RAM_GPA, BigInt(ramSize), this.ram, 0n, true);
    let displays: Displays | null = null;
    this.backend = new native.Backend('soft', '', { variant: 0, displayPorts: 4 }, (evs) => displays?.handle(evs));
    this.displays = displays = new Displays(this.backend, log, 4);
    this.write(LIST_OFF, encodeRangeList([[RAM_GPA + BigInt(FRAMES_OFF), taskBytes]]));
    this.backend.mmioWrite(0, Reg.RING_BASE_LO, Number(RAM_GPA & 0xffffffffn));
    this.backend.mmioWrite(0, Reg.RING_BASE_HI, 0);
    this.backend.mmioWrite(0, Reg.RING_ENTRIES, RING_ENTRIES);
    this.run([
      [Op.TASK_CREATE, [TASK, taskBytes]],
      [Op.TASK_MAP, [TASK, 0, RAM_GPA + BigInt(LIST_OFF), 1, 1]],
    ]);
  }

  attach(modes: DisplayModeSpec[], port?: number, name?: string): DisplaySource {
    return this.displays.attach(modes, port, name);
  }

  /** Attaches a display with one mode and waits until its mode is known. */
  async attachMode(port: number, width: number, height: number, name?: string): Promise<DisplaySource> {
    const d = this.attach([{ width, height, refreshHz: 60 }], port, name);
    if (d.width !== width) await next(d, 'mode');
    return d;
  }

  /** Presents a frame of the display's current size from that display's own slot. */
  async show(port: number, bgra: Buffer): Promise<void> {
    await this.present(port, bgra, this.displays.get(port)!.width, port);
  }

  /** Glyph, show and move in one go; resolves when the display has all three. */
  async cursor(port: number, glyph: { w: number; h: number; hx: number; hy: number; bgra: Buffer }, x: number, y: number): Promise<void> {
    await this.cursorGlyph(port, glyph.bgra, glyph.w, glyph.h, glyph.hx, glyph.hy);
    await this.cursorShow(port, true);
    await this.cursorMove(port, x, y);
  }

  private write(off: number, data: Buffer): void {
    writeSync(this.ram, data, 0, data.length, off);
  }

  /** Runs ring commands synchronously (DOORBELL 1); throws if one failed. */
  run(cmds: [number, (number | bigint)[]][]): void {
    const errorsBefore = this.backend.mmioRead(0, Reg.ERRORS);
    for (const [op, args] of cmds) {
      const e = Buffer.alloc(64);
      e.writeUInt32LE(op, 0);
      e.writeUInt32LE(0xffffffff, 8);
      args.forEach((a, k) => e.writeBigUInt64LE(BigInt(a), 16 + k * 8));
      this.write((this.tail % RING_ENTRIES) * 64, e);
      this.tail = (this.tail + 1) >>> 0;
    }
    this.backend.mmioWrite(0, Reg.RING_TAIL, this.tail);
    this.backend.mmioWrite(0, Reg.DOORBELL, 1);
    const errors = this.backend.mmioRead(0, Reg.ERRORS) - errorsBefore;
    if (errors > 0) throw new Error(`${errors} ring command(s) failed`);
  }

  /** Writes a BGRA frame into slot `slot` of guest RAM (no present). */
  store(slot: number, bgra: Buffer): void {
    if (bgra.length > this.slotBytes) throw new Error('frame larger than a slot');
    this.write(FRAMES_OFF + slot * this.slotBytes, bgra);
  }

  /**
   * PRESENTs slot `slot` on `port` (the current mode's size, packed rows);
   * with `damage`, only that rectangle (the guest's damage hint).
   */
  presentSlot(port: number, slot: number, width: number, damage?: { x: number; y: number; w: number; h: number }): void {
    const hint = damage ? damageArg(damage.x, damage.y, damage.w, damage.h) : 0;
    this.run([[Op.PRESENT, [port, TASK, slot * this.slotBytes, width * 4, 0, hint]]]);
  }

  /** COPY_RECT on `port`: a blit within the frame; waits for the display's 'frame' event. */
  async copyRect(port: number, src: { x: number; y: number }, dst: { x: number; y: number }, w: number, h: number): Promise<void> {
    const ev = next(this.displays.get(port)!, 'frame');
    this.run([[Op.COPY_RECT, [port, xy(src.x, src.y), xy(dst.x, dst.y), xy(w, h)]]]);
    await ev;
  }

  /** Presents `bgra` (width x height of the current mode) and waits for the display's 'frame' event. */
  async present(port: number, bgra: Buffer, width: number, slot = 0): Promise<void> {
    const d = this.displays.get(port)!;
    const ev = next(d, 'frame');
    this.store(slot, bgra);
    this.presentSlot(port, slot, width);
    await ev;
  }

  async setMode(port: number, width: number, height: number): Promise<void> {
    const d = this.displays.get(port)!;
    const ev = next(d, 'mode');
    this.run([[Op.SET_MODE, [port, width, height]]]);
    await ev;
  }

  async cursorGlyph(port: number, bgra: Buffer, width: number, height: number, hotX: number, hotY: number): Promise<void> {
    const d = this.displays.get(port)!;
    const ev = next(d, 'cursor');
    const off = this.slots * this.slotBytes;
    this.write(FRAMES_OFF + off, bgra);
    this.run([[Op.CURSOR_GLYPH, [port, TASK, off, width | (height << 16), hotX | (hotY << 16)]]]);
    await ev;
  }

  async cursorShow(port: number, show: boolean): Promise<void> {
    const ev = next(this.displays.get(port)!, 'cursor');
    this.run([[Op.CURSOR_SHOW, [port, show ? 1 : 0]]]);
    await ev;
  }

  async cursorMove(port: number, x: number, y: number): Promise<void> {
    const ev = next(this.displays.get(port)!, 'cursor');
    this.run([[Op.CURSOR_MOVE, [port, x, y]]]);
    await ev;
  }

  destroy(): void {
    this.backend.destroy();
    native.gmUnmapAll();
  }
}

/** A deterministic BGRA test pattern (opaque), different for each `seed`. */
export function pattern(width: number, height: number, seed = 0): Buffer {
  const b = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      b[o] = (x * 4 + seed * 17) & 0xff; // B
      b[o + 1] = (y * 5 + seed * 29) & 0xff; // G
      b[o + 2] = ((x ^ y) * 3 + seed * 7) & 0xff; // R
      b[o + 3] = 0xff;
    }
  return b;
}
