// One browser viewer on the WebSocket (protocol: see web-server.ts): what it
// is subscribed to, the last frame it was sent (to find dirty rectangles),
// flow control, cursor forwarding, and its keyboard/pointer input.
import { deflate } from 'node:zlib';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { CursorGlyph, CursorState, DisplaySource, Frame } from '../../display/display-source.js';
import type { Displays } from '../../display/displays.js';
import type { InputSink } from '../../input/input-sink.js';
import { extractRgba, updateRects, type Rect } from './update-rects.js';
import type { WebLimits } from './limits.js';
import type { WsConnection } from './websocket.js';

const deflateAsync = promisify(deflate);

export const MSG_RECT = 1;
export const ENC_RAW = 0;
export const ENC_DEFLATE = 1;
export const ENC_COPY = 2;
export const FLAG_LAST = 1;
export const RECT_HEADER_BYTES = 24;
/** Rectangles smaller than this go raw: deflating them is not worth a round trip to the thread pool. */
const DEFLATE_MIN_BYTES = 2048;
/** At most this many wheel steps per pointer message. */
const MAX_WHEEL_STEPS = 16;
const RFB_WHEEL_UP = 8;
const RFB_WHEEL_DOWN = 16;

export interface ViewerStats {
  connections: number;
  updates: number;
  rects: number;
  frameBytes: number;
  /** Frames that were never sent to some viewer because a newer one replaced them. */
  framesSkipped: number;
  /** Times an update waited because the client's queue was full. */
  backpressured: number;
  keys: number;
  pointers: number;
  badMessages: number;
  screenshots: number;
}

export interface SessionContext {
  displays: Displays;
  input: InputSink;
  log: Logger;
  stats: ViewerStats;
  limits: Pick<WebLimits, 'softQueuedBytes'>;
  /** PNG data URL of a cursor glyph (cached by the viewer). */
  glyphUrl(glyph: CursorGlyph): string;
  displayInfo(src: DisplaySource): DisplayInfo;
  /** The viewer's window size as the display's preferred mode (preferSize); absent: refused. Resolves null when applied, else why not. */
  resize?: ((src: DisplaySource, width: number, height: number) => Promise<string | null>) | undefined;
}

/** A viewer's resize requests are applied at most this often (as VNC SetDesktopSize's). */
const RESIZE_INTERVAL_MS = 250;

export interface DisplayInfo {
  port: number;
  name: string;
  serial: number;
  modes: { width: number; height: number; refreshHz: number }[];
  width: number;
  height: number;
}

type ClientMessage = { type: string; [k: string]: unknown };

const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

export class Session {
  readonly id: number;
  private source: DisplaySource | null = null;
  /** Bumped on every (re)subscription: work started for an older one is thrown away. */
  private generation = 0;
  /** The last frame this client was sent (shared, never modified): dirty tiles are found against it. */
  /** The frame the client has (its read-out version and size). */
  private lastSent: Pick<Frame, 'version' | 'width' | 'height' | 'sequence'> | null = null;
  /** Update number of the update the client has not acknowledged yet, or 0. */
  private unacked = 0;
  private updateNo = 0;
  private encoding = false;
  private deflateOk = false;
  private copyOk = false;
  private cursorPending = false;
  private lastGlyphSerial = -1;
  private waitingForDrain = false;
  private readonly keysDown = new Set<string>();
  private buttons = 0;
  private lastPointer = { x: 0, y: 0 };
  private closed = false;
  /** A resize of this viewer is being applied; when the last one was. */
  private resizing = false;
  private lastResizeAt = 0;
  private readonly onFrame = (): void => this.pump();
  private readonly onMode = (): void => this.pump();
  private readonly onCursor = (): void => this.scheduleCursor();
  private readonly onDetached = (): void => this.unsubscribe();

  constructor(
    readonly ws: WsConnection,
    private readonly ctx: SessionContext,
    id: number,
  ) {
    this.id = id;
    ws.on('text', (t) => this.onText(t));
    ws.on('binary', () => this.bad('binary messages are not part of the protocol', true));
    ws.on('close', () => this.dispose());
    ws.socket.on('drain', () => {
      if (!this.waitingForDrain) return;
      this.waitingForDrain = false;
      this.pump();
      if (this.cursorPending) this.flushCursor();
    });
  }

  get port(): number | null {
    return this.source?.port ?? null;
  }

  hello(): void {
    this.sendJson({
      type: 'hello',
      version: 1,
      resize: this.ctx.resize !== undefined,
      displays: this.ctx.displays.list().map((d) => this.ctx.displayInfo(d)),
    });
  }

  /** Sends a JSON message (the connection drops a client whose queue is over the limit). */
  sendJson(msg: object): void {
    if (this.closed) return;
    this.ws.sendText(JSON.stringify(msg));
  }

  // ---- client messages ----

  private onText(text: string): void {
    let msg: ClientMessage;
    try {
      msg = JSON.parse(text) as ClientMessage;
    } catch {
      return this.bad('not JSON', true);
    }
    if (typeof msg !== 'object' || msg === null || typeof msg.type !== 'string') return this.bad('no message type', true);
    switch (msg.type) {
      case 'subscribe':
        return this.subscribe(msg);
      case 'ack':
        if (!isInt(msg.update, 1, 2 ** 32)) return this.bad('ack needs the update number');
        if (msg.update === this.unacked) {
          this.unacked = 0;
          this.pump();
        }
        return;
      case 'refresh':
        this.lastSent = null;
        return this.pump();
      case 'key':
        return this.key(msg);
      case 'pointer':
        return this.pointer(msg);
      case 'resize':
        return this.resize(msg);
      default:
        return this.bad(`unknown message type ${JSON.stringify(msg.type).slice(0, 40)}`);
    }
  }

  /** A malformed message: an error reply, or the connection closed when the client is clearly not ours. */
  private bad(what: string, fatal = false): void {
    this.ctx.stats.badMessages++;
    this.ctx.log.debug({ client: this.id, what }, 'web_client_bad_message');
    if (fatal) this.ws.shutdown(1003, what);
    else this.sendJson({ type: 'error', message: what });
  }

  private subscribe(msg: ClientMessage): void {
    if (!isInt(msg.port, 0, 0xffff)) return this.bad('subscribe needs a port');
    const src = this.ctx.displays.get(msg.port);
    if (!src) return this.sendJson({ type: 'error', message: `no display on port ${msg.port}`, port: msg.port });
    this.deflateOk = Array.isArray(msg.encodings) ? msg.encodings.includes('deflate') : false;
    this.copyOk = Array.isArray(msg.encodings) ? msg.encodings.includes('copy') : false;
    this.unsubscribe(false);
    this.source = src;
    this.generation++;
    this.lastSent = null;
    this.unacked = 0;
    this.lastGlyphSerial = -1;
    src.on('frame', this.onFrame);
    src.on('mode', this.onMode);
    src.on('cursor', this.onCursor);
    src.on('detached', this.onDetached);
    this.sendJson({ type: 'subscribed', port: src.port });
    this.flushCursor();
    this.pump();
  }

  private unsubscribe(notify = true): void {
    const src = this.source;
    if (!src) return;
    src.off('frame', this.onFrame);
    src.off('mode', this.onMode);
    src.off('cursor', this.onCursor);
    src.off('detached', this.onDetached);
    this.source = null;
    this.generation++;
    this.lastSent = null;
    this.releaseInput(src.port);
    if (notify) this.sendJson({ type: 'unsubscribed', port: src.port });
  }

  /**
   * The page's window size for the subscribed display (opt-in on the page):
   * it becomes the display's preferred mode, as a VNC viewer's SetDesktopSize
   * (preferSize). One at a time and at most one per RESIZE_INTERVAL_MS per
   * viewer, so a page cannot churn the guest's mode list (docs/design.md
   * invariant 4); the mode check bounds the size.
   */
  private resize(msg: ClientMessage): void {
    const src = this.source;
    if (!src) return this.bad('resize needs a subscribed display');
    if (!isInt(msg.width, 1, 0xffff) || !isInt(msg.height, 1, 0xffff)) return this.bad('resize needs width and height in 1..65535');
    const { width, height } = msg;
    const answer = (message: string | null): void => {
      this.ctx.log.info(
        { client: this.id, port: src.port, width, height, refused: message },
        message === null ? 'web_resize' : 'web_resize_refused',
      );
      this.sendJson(
        message === null
          ? { type: 'resized', port: src.port, width, height, ok: true }
          : { type: 'resized', port: src.port, width, height, ok: false, message },
      );
    };
    if (!this.ctx.resize) return answer('resizing from the viewer is off (--web-no-resize)');
    if (this.resizing || Date.now() - this.lastResizeAt < RESIZE_INTERVAL_MS) return answer(`one resize per ${RESIZE_INTERVAL_MS} ms`);
    this.resizing = true;
    this.lastResizeAt = Date.now();
    this.ctx.resize(src, width, height).then(
      (err) => {
        this.resizing = false;
        answer(err);
      },
      (e: unknown) => {
        this.resizing = false;
        answer((e as Error).message);
      },
    );
  }

  private key(msg: ClientMessage): void {
    if (typeof msg.code !== 'string' || !/^[A-Za-z0-9]{1,40}$/.test(msg.code) || typeof msg.down !== 'boolean')
      return this.bad('key needs code and down');
    if (msg.down) this.keysDown.add(msg.code);
    else if (!this.keysDown.delete(msg.code)) return; // an up for a key we never pressed
    this.ctx.stats.keys++;
    this.ctx.input.key({ code: msg.code, down: msg.down });
  }

  private pointer(msg: ClientMessage): void {
    const src = this.source;
    if (!isInt(msg.x, -0x7fff, 0x7fff) || !isInt(msg.y, -0x7fff, 0x7fff) || !isInt(msg.buttons, 0, 7))
      return this.bad('pointer needs x, y and buttons (0..7)');
    if (msg.wheel !== undefined && !isInt(msg.wheel, -1000, 1000)) return this.bad('wheel must be a whole number');
    if (!src || src.width === 0) return; // not on a display: nothing to point at
    const x = Math.min(Math.max(msg.x, 0), src.width - 1);
    const y = Math.min(Math.max(msg.y, 0), src.height - 1);
    const port = src.port;
    this.buttons = msg.buttons;
    this.lastPointer = { x, y };
    this.ctx.stats.pointers++;
    this.ctx.input.pointer({ port, x, y, buttons: msg.buttons });
    const wheel = (msg.wheel as number | undefined) ?? 0;
    const bit = wheel < 0 ? RFB_WHEEL_UP : RFB_WHEEL_DOWN;
    for (let i = 0; i < Math.min(Math.abs(wheel), MAX_WHEEL_STEPS); i++) {
      this.ctx.input.pointer({ port, x, y, buttons: msg.buttons | bit });
      this.ctx.input.pointer({ port, x, y, buttons: msg.buttons });
    }
  }

  /** Lets go of keys and buttons this client holds (it left, or left the display). */
  private releaseInput(port: number | null): void {
    for (const code of this.keysDown) this.ctx.input.key({ code, down: false });
    this.keysDown.clear();
    if (this.buttons && port !== null && this.ctx.displays.get(port))
      this.ctx.input.pointer({ port, x: this.lastPointer.x, y: this.lastPointer.y, buttons: 0 });
    this.buttons = 0;
  }

  // ---- frames ----

  /** Sends the next update if the client acknowledged the last one and the frame changed. */
  private pump(): void {
    const src = this.source;
    if (!src || this.closed || this.encoding || this.unacked || this.waitingForDrain) return;
    if (this.ws.bufferedAmount > this.ctx.limits.softQueuedBytes) {
      this.ctx.stats.backpressured++;
      this.waitingForDrain = true;
      return;
    }
    const frame = src.latest();
    if (!frame || frame.version === this.lastSent?.version || frame.width === 0 || frame.height === 0) return;
    const prev = this.lastSent;
    if (prev && frame.sequence > prev.sequence + 1) this.ctx.stats.framesSkipped += frame.sequence - prev.sequence - 1;
    const changes = prev && prev.width === frame.width && prev.height === frame.height ? src.changesSince(prev.version) : null;
    // A move goes as a copy the browser does on its own canvas, first.
    const copy = changes?.move && this.copyOk ? changes.move : null;
    const rects: Rect[] = changes
      ? updateRects(copy ? { move: null, rects: changes.rects } : changes, frame.width, frame.height)
      : [{ x: 0, y: 0, w: frame.width, h: frame.height }];
    this.lastSent = { version: frame.version, width: frame.width, height: frame.height, sequence: frame.sequence };
    if (rects.length === 0 && !copy) return; // presented, but nothing changed: nothing to send
    this.encoding = true;
    const generation = this.generation;
    const update = (this.updateNo = (this.updateNo % 0xffffffff) + 1);
    this.encode(frame, rects)
      .then((encoded) => {
        const payloads = copy ? [{ rect: copy, enc: ENC_COPY, data: copySource(copy.srcX, copy.srcY) }, ...encoded] : encoded;
        this.encoding = false;
        if (this.closed || generation !== this.generation) return this.pump();
        this.unacked = update;
        payloads.forEach(({ rect, enc, data }, i) => {
          const h = Buffer.alloc(RECT_HEADER_BYTES);
          h[0] = MSG_RECT;
          h[1] = enc;
          h[2] = i === payloads.length - 1 ? FLAG_LAST : 0;
          h.writeUInt16LE(src.port, 4);
          h.writeUInt32LE(update, 8);
          h.writeUInt16LE(frame.width, 12);
          h.writeUInt16LE(frame.height, 14);
          h.writeUInt16LE(rect.x, 16);
          h.writeUInt16LE(rect.y, 18);
          h.writeUInt16LE(rect.w, 20);
          h.writeUInt16LE(rect.h, 22);
          this.ws.sendBinary([h, data]);
          this.ctx.stats.rects++;
          this.ctx.stats.frameBytes += h.length + data.length;
        });
        this.ctx.stats.updates++;
      })
      .catch((err: unknown) => {
        this.encoding = false;
        this.ctx.log.error({ client: this.id, err }, 'web_encode_failed');
      });
  }

  private async encode(frame: Frame, rects: Rect[]): Promise<{ rect: Rect; enc: number; data: Buffer }[]> {
    // The pixels are copied out now, in this turn: frame.data is brought
    // forward by the next read-out.
    const raws = rects.map((rect) => extractRgba(frame.data, frame.width, rect));
    return Promise.all(
      rects.map(async (rect, i) => {
        const raw = raws[i]!;
        if (!this.deflateOk || raw.length < DEFLATE_MIN_BYTES) return { rect, enc: ENC_RAW, data: raw };
        const z = await deflateAsync(raw, { level: 1 });
        return z.length < raw.length ? { rect, enc: ENC_DEFLATE, data: z } : { rect, enc: ENC_RAW, data: raw };
      }),
    );
  }

  // ---- cursor ----

  private scheduleCursor(): void {
    if (this.cursorPending) return;
    this.cursorPending = true;
    setImmediate(() => this.flushCursor());
  }

  /** Sends the cursor state (the glyph only when it changed since the last one sent). */
  private flushCursor(): void {
    const src = this.source;
    this.cursorPending = false;
    if (!src || this.closed) return;
    if (this.ws.bufferedAmount > this.ctx.limits.softQueuedBytes) {
      this.cursorPending = true; // the latest state goes out on drain
      this.waitingForDrain = true;
      return;
    }
    const c: CursorState = src.cursor;
    const msg: Record<string, unknown> = { type: 'cursor', port: src.port, visible: c.visible, x: c.x, y: c.y, glyphSerial: c.glyphSerial };
    if (c.glyphSerial !== this.lastGlyphSerial) {
      this.lastGlyphSerial = c.glyphSerial;
      msg.glyph = c.glyph
        ? { width: c.glyph.width, height: c.glyph.height, hotX: c.glyph.hotX, hotY: c.glyph.hotY, png: this.ctx.glyphUrl(c.glyph) }
        : null;
    }
    this.sendJson(msg);
  }

  private dispose(): void {
    if (this.closed) return;
    const port = this.port;
    this.unsubscribe(false);
    this.releaseInput(port);
    this.closed = true;
  }
}

function copySource(x: number, y: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16LE(x, 0);
  b.writeUInt16LE(y, 2);
  return b;
}
