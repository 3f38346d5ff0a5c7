// The guest demo (test/guest/soft-driver.c, `demo`) ported onto the in-process
// soft guest, for real-client tests: each frame is a COPY_RECT (the bars move
// DEMO_SCROLL pixels left) and two hinted PRESENTs (the new strip on the
// right, the square's old and new place), the cursor circles, and the mode
// flips between two sizes every `modeEveryMs`. Like the C demo it relies on
// the device's frame after the blit and the two presents being exactly the
// frame it drew, so `expected()` is what the display must show.
import type { SoftGuest } from './soft-guest.js';
import { Op, damageArg, xy } from './soft-ring.js';

const SQUARE = 80;
const SCROLL = 4;
const PALETTE: readonly (readonly [number, number, number])[] = [
  [40, 40, 200],
  [40, 160, 220],
  [60, 200, 80],
  [220, 200, 40],
  [230, 120, 40],
  [200, 50, 120],
];

export interface DemoOptions {
  port: number;
  modes: readonly (readonly [number, number])[];
  /** A mode change this often (0: never). */
  modeEveryMs: number;
  /** Pause between frames (lets viewers and the event loop run). */
  frameMs: number;
  /** Cursor glyph size (16x16 as in the C demo; odd sizes make RFB's cursor mask an odd number of bytes). */
  cursorSize?: readonly [number, number];
}

export class DemoAnimator {
  frames = 0;
  modeChanges = 0;
  private t = 0;
  private mode = 0;
  private sq = { x: 0, y: 0 };
  private fresh = true;
  private running = false;
  private done: Promise<void> | null = null;
  private frame: Buffer;

  constructor(
    private readonly guest: SoftGuest,
    private readonly opts: DemoOptions,
  ) {
    const [w, h] = opts.modes[0]!;
    this.frame = Buffer.alloc(w * h * 4);
  }

  get size(): { width: number; height: number } {
    const [width, height] = this.opts.modes[this.mode]!;
    return { width, height };
  }

  /** The frame the display shows after the last complete step (BGRA). */
  expected(): Buffer {
    return this.frame;
  }

  /** Sets the first mode, shows the cursor and presents the first frame. */
  async prepare(): Promise<void> {
    const [w, h] = this.opts.modes[0]!;
    const d = this.guest.displays.get(this.opts.port)!;
    if (d.width !== w || d.height !== h) await this.guest.setMode(this.opts.port, w, h);
    await this.guest.cursor(this.opts.port, arrow(...(this.opts.cursorSize ?? [16, 16])), w >> 1, h >> 1);
    this.step();
  }

  /** Draws frames until stop(). */
  run(): void {
    if (this.running) return;
    this.running = true;
    this.done = this.loop();
  }

  async start(): Promise<void> {
    await this.prepare();
    this.run();
  }

  /**
   * Presents one photo-like frame (smooth colour gradients with fine noise:
   * thousands of colours, what Tight sends as JPEG) in the current mode.
   */
  photo(seed = 1): void {
    const { width: w, height: h } = this.size;
    if (this.frame.length !== w * h * 4) this.frame = Buffer.alloc(w * h * 4);
    const f = this.frame;
    let r = seed * 2654435761;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        r = (Math.imul(r, 1103515245) + 12345) >>> 0;
        const o = (y * w + x) * 4;
        f[o] = ((x * 255) / w + ((r >>> 8) & 7)) & 0xff;
        f[o + 1] = ((y * 255) / h + ((r >>> 16) & 7)) & 0xff;
        f[o + 2] = ((x + y) * 2 + ((r >>> 24) & 7)) & 0xff;
        f[o + 3] = 0xff;
      }
    const slot = this.t & 1;
    this.guest.store(slot, f);
    this.guest.run([[Op.PRESENT, [this.opts.port, 1, slot * this.guest.slotBytes, w * 4, 0, 0]]]);
    this.t++;
  }

  /** Stops after the frame being drawn; resolves once the device has it. */
  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  private async loop(): Promise<void> {
    let lastMode = Date.now();
    while (this.running) {
      if (this.opts.modeEveryMs > 0 && Date.now() - lastMode >= this.opts.modeEveryMs) {
        this.mode = (this.mode + 1) % this.opts.modes.length;
        lastMode = Date.now();
        const [w, h] = this.opts.modes[this.mode]!;
        await this.guest.setMode(this.opts.port, w, h);
        this.modeChanges++;
        this.fresh = true;
      }
      this.step();
      await new Promise((r) => setTimeout(r, this.opts.frameMs));
    }
  }

  /** One demo frame: draw, then blit + hinted presents (or a whole present after a mode change). */
  private step(): void {
    const { width: w, height: h } = this.size;
    const port = this.opts.port;
    const slot = this.t & 1;
    const sq = this.draw(w, h, this.t);
    this.guest.store(slot, this.frame);
    const off = slot * this.guest.slotBytes;
    const cmds: [number, (number | bigint)[]][] = [];
    if (this.fresh) {
      cmds.push([Op.PRESENT, [port, 1, off, w * 4, 0, 0]]);
      this.fresh = false;
    } else {
      const old = this.sq;
      const ox = old.x >= SCROLL ? old.x - SCROLL : 0;
      const x0 = Math.min(ox, sq.x);
      const y0 = Math.min(old.y, sq.y);
      const x1 = Math.min(w, Math.max(old.x + SQUARE, sq.x + SQUARE));
      const y1 = Math.min(h, Math.max(old.y + SQUARE, sq.y + SQUARE));
      cmds.push([Op.COPY_RECT, [port, xy(SCROLL, 0), xy(0, 0), xy(w - SCROLL, h)]]);
      cmds.push([Op.PRESENT, [port, 1, off, w * 4, 0, damageArg(w - SCROLL, 0, SCROLL, h)]]);
      cmds.push([Op.PRESENT, [port, 1, off, w * 4, 0, damageArg(x0, y0, x1 - x0, y1 - y0)]]);
    }
    const a = this.t * 0.15;
    cmds.push([Op.CURSOR_MOVE, [port, Math.round(w / 2 + (w / 3) * Math.cos(a)), Math.round(h / 2 + (h / 3) * Math.sin(a))]]);
    this.guest.run(cmds);
    this.sq = sq;
    this.t++;
    this.frames++;
  }

  /** draw_demo(): scrolling bars, shaded top to bottom, and the square. */
  private draw(w: number, h: number, t: number): { x: number; y: number } {
    if (this.frame.length !== w * h * 4) this.frame = Buffer.alloc(w * h * 4);
    let bx = (t * 7) % (w - SQUARE);
    let by = (t * 5) % (h - SQUARE);
    if (Math.floor(t / Math.floor((w - SQUARE) / 7)) & 1) bx = w - SQUARE - bx;
    if (Math.floor(t / Math.floor((h - SQUARE) / 5)) & 1) by = h - SQUARE - by;
    const f = this.frame;
    for (let y = 0; y < h; y++) {
      const shade = 128 + Math.floor((y * 127) / h);
      let o = y * w * 4;
      for (let x = 0; x < w; x++, o += 4) {
        if (x >= bx && x < bx + SQUARE && y >= by && y < by + SQUARE) {
          f[o] = f[o + 1] = f[o + 2] = 250;
        } else {
          const p = PALETTE[Math.floor((x + t * SCROLL) / 40) % 6]!;
          f[o] = Math.floor((p[0] * shade) / 255);
          f[o + 1] = Math.floor((p[1] * shade) / 255);
          f[o + 2] = Math.floor((p[2] * shade) / 255);
        }
        f[o + 3] = 0xff;
      }
    }
    return { x: bx, y: by };
  }
}

/** The demo's arrow (16x16 there), hot spot at its tip. */
function arrow(w: number, h: number): { w: number; h: number; hx: number; hy: number; bgra: Buffer } {
  const g = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const inside = x <= y && x + (y >> 1) < w - 2;
      const edge = inside && (x === 0 || x === y || x + (y >> 1) === w - 3);
      const o = (y * w + x) * 4;
      g[o] = g[o + 1] = g[o + 2] = edge ? 0 : 255;
      g[o + 3] = inside ? 255 : 0;
    }
  return { w, h, hx: 0, hy: 0, bgra: g };
}
