// The stage for real-client VNC tests: the in-process soft guest with one
// display (two modes), the VNC server on it (TCP and RFB-over-WebSocket), and
// the C demo's animation (demo-animator.ts). Clients connect first (each
// gets its session id recorded), then the guest animates, stops, and every
// client's picture is compared with the daemon's PNG screenshot.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Logger } from 'pino';
import type { DisplaySource } from '#daemon/display/display-source.js';
import { encodePngAsync } from '#daemon/display/png.js';
import { NullInput, type InputSink } from '#daemon/input/input-sink.js';
import { VncServer, type VncServerOptions } from '#daemon/viewers/vnc/index.js';
import type { SessionStats } from '#daemon/viewers/vnc/client-session.js';
import { DemoAnimator, type DemoOptions } from './demo-animator.js';
import { decodePng } from './png-decode.js';
import { assertShows, bgraToRgba, type Picture } from './pixels.js';

export type { Picture };
import { SoftGuest } from './soft-guest.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class AnimatedDisplay {
  readonly guest: SoftGuest;
  readonly display: DisplaySource;
  readonly vnc: VncServer;
  readonly anim: DemoAnimator;
  private reference: Picture | null = null;

  constructor(
    log: Logger,
    readonly modes: readonly (readonly [number, number])[],
    demo: Omit<DemoOptions, 'port' | 'modes'>,
    server: Partial<Omit<VncServerOptions, 'displays' | 'log'>> = {},
    input: InputSink = new NullInput(),
  ) {
    const largest = modes.reduce((n, [w, h]) => Math.max(n, w * h), 0);
    this.guest = new SoftGuest(log, largest * 4, 2);
    this.guest.attach(
      modes.map(([width, height]) => ({ width, height, refreshHz: 60 })),
      0,
      'apple-gfxd test',
    );
    this.display = this.guest.displays.get(0)!;
    this.vnc = new VncServer({
      listen: { host: '127.0.0.1', port: 0 },
      websocket: { host: '127.0.0.1', port: 0 },
      input,
      ...server,
      displays: this.guest.displays,
      log,
    });
    this.anim = new DemoAnimator(this.guest, { port: 0, modes, ...demo });
  }

  async start(): Promise<void> {
    await this.vnc.start();
    await this.anim.prepare();
  }

  get tcpPort(): number {
    return this.vnc.address(0)!.port;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.vnc.websocketAddress(0)!.port}/`;
  }

  /** Runs `connect` and returns the id of the VNC session it opened (once past the handshake). */
  async connect(what: string, connect: () => Promise<void>): Promise<number> {
    const known = new Set(this.sessions().map((s) => s.id));
    await connect();
    const end = Date.now() + 15_000;
    for (;;) {
      const s = this.sessions().find((x) => !known.has(x.id) && x.phase === 'normal');
      if (s) return s.id;
      if (Date.now() > end) throw new Error(`${what}: no VNC session reached the normal phase`);
      await sleep(50);
    }
  }

  sessions(): SessionStats[] {
    return this.vnc.stats()[0]?.clients ?? [];
  }

  session(id: number): SessionStats | undefined {
    return this.sessions().find((s) => s.id === id);
  }

  /**
   * Animates for `ms`, stops, and takes the daemon's screenshot as the
   * reference. With `photo`, the last frame is a photo-like one (JPEG for
   * Tight clients with a quality level, so they end exact only through the
   * lossless refresh).
   */
  async animate(ms: number, photo = false): Promise<void> {
    this.anim.run();
    await sleep(ms);
    await this.anim.stop();
    if (photo) {
      const shown = once(this.display, 'frame');
      this.anim.photo();
      await shown;
    }
    // The daemon's screenshot, as `apple-gfxd ctl screenshot` and the web viewer make it.
    const f = this.display.latest()!;
    this.reference = decodePng(await encodePngAsync(f.width, f.height, f.data));
    assert.deepEqual(this.reference.rgba, bgraToRgba(this.anim.expected()), 'the device shows the frame the guest drew');
  }

  /** Asserts that `capture()` shows the daemon's screenshot exactly (pixels.ts assertShows). */
  assertShows(name: string, capture: () => Promise<Picture>, settleMs = 8000): Promise<void> {
    return assertShows(name, this.reference!, capture, settleMs);
  }

  async stop(): Promise<void> {
    await this.anim.stop();
    await this.vnc.stop();
    this.guest.destroy();
  }
}
