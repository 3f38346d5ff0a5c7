// One VNC viewer of one display: the handshake, the client's messages, and
// its updates. A session keeps at most one update in flight (being encoded
// or written to the socket) plus a "something changed" flag; frames that
// arrive meanwhile are not read from the display, and the next update goes
// straight to the newest frame. So a slow or stuck viewer holds one frame at
// most and never delays the device or the other viewers.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { intersect, markRect, mergeDown, roundOut, union, tileCols, tileRows, tilesToRects, type Move } from '../../display/damage.js';
import type { DisplaySource, Frame } from '../../display/display-source.js';
import { CURSOR_OFF_DISPLAY } from '../../display/display-source.js';
import type { InputSink } from '../../input/input-sink.js';
import type { DesktopNames } from '../desktop-name.js';
import { ByteQueue } from './byte-queue.js';
import { DeflateStream } from './encodings/deflate-stream.js';
import {
  ExtDesktopReason,
  ExtDesktopStatus,
  encodeCursor,
  encodeDesktopName,
  encodeDesktopSize,
  encodeExtendedDesktopSize,
} from './encodings/pseudo.js';
import { encodeCopyRect, encodeRaw } from './encodings/raw.js';
import { TightState, encodeTight } from './encodings/tight.js';
import { encodeZlib } from './encodings/zlib.js';
import { encodeZrle } from './encodings/zrle.js';
import { checkVncAuth, negotiateVersion, newChallenge, securityFailure, securityOffer, securityResult, serverInit } from './handshake.js';
import { PixelTranslator, SERVER_PIXEL_FORMAT, decodePixelFormat, unsupportedReason } from './pixel-format.js';
import { ClientMsg, Encoding, PIXEL_ENCODINGS, PROTOCOL_VERSION, Security, rectHeader, updateHeader, type Rect } from './rfb.js';

/**
 * The byte stream a session speaks RFB over: a TCP socket, or a WebSocket
 * connection (websocket.ts). What is written between cork() and uncork() is
 * one FramebufferUpdate; a write's callback means its bytes left user space.
 */
export interface RfbStream {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly writableLength: number;
  setNoDelay(noDelay?: boolean): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'close' | 'end', listener: () => void): unknown;
  write(chunk: Buffer, cb?: (err?: Error | null) => void): boolean;
  cork(): void;
  uncork(): void;
  end(): unknown;
  destroy(): unknown;
}

export interface SessionOptions {
  id: number;
  display: DisplaySource;
  input: InputSink;
  log: Logger;
  password?: string | undefined;
  /** Close a client that has not finished the handshake by then. */
  handshakeTimeoutMs: number;
  /** Close a client whose pending update has not moved for this long. */
  stallTimeoutMs: number;
  zlibLevel: number;
  /**
   * A viewer's SetDesktopSize: make width x height the display's preferred
   * mode (VncServer: through Displays.setModes, as `ctl display`); resolves
   * with the ExtendedDesktopSize status. Absent: resizing is prohibited.
   */
  resize?: ((width: number, height: number) => Promise<number>) | undefined;
  /** The desktop's name as viewers see it (ServerInit, DesktopName); 'changed' when it changes. Absent: the display's name. */
  names?: DesktopNames | undefined;
}

export interface SessionStats {
  id: number;
  remote: string;
  phase: string;
  encoding: string;
  updates: number;
  rects: number;
  bytes: number;
  /** Frames the display presented while this client was busy or not asking (never read for it). */
  framesSkipped: number;
  /** Rectangles sent as CopyRect (a move the client does itself). */
  copyRects: number;
  /** Tight pieces sent as JPEG, and lossless refreshes of them. */
  jpegRects: number;
  losslessRefreshes: number;
  pendingBytes: number;
}

const MAX_ENCODINGS = 1024;
/**
 * Updates are sent on a grid of GRID-pixel cells: the changes the display
 * reports are rounded out to it (fine enough that a small change sends few
 * extra pixels, coarse enough that many changes merge into few rectangles).
 */
const GRID = 16;
/** More rectangles than this in one update are merged (each costs a header and a deflate flush). */
const MAX_UPDATE_RECTS = 16;
const MAX_CUT_TEXT = 1 << 20;
const MAX_SCREENS = 16;
/** A viewer's SetDesktopSize requests are applied at most this often. */
const RESIZE_INTERVAL_MS = 250;

const ENCODING_NAMES: Record<number, string> = {
  [Encoding.RAW]: 'raw',
  [Encoding.ZLIB]: 'zlib',
  [Encoding.TIGHT]: 'tight',
  [Encoding.ZRLE]: 'zrle',
};
/**
 * Tiles a client got as JPEG are sent again losslessly once the display has
 * not changed for this long (as QEMU's and TigerVNC's servers do), so an idle
 * screen ends exact in every viewer.
 */
const LOSSLESS_REFRESH_MS = 250;

/** A frame's rectangles for one client: a CopyRect first (if any), then pixels. */
interface Damage {
  copy: Move | null;
  rects: Rect[];
  /** The rectangles re-send JPEG'd tiles: lossless this time. */
  refresh?: boolean;
}

type Phase = 'version' | 'security' | 'auth' | 'init' | 'normal' | 'closed';

/** A client broke the protocol: it is dropped with this reason. */
class ProtocolError extends Error {}

export class ClientSession extends EventEmitter<{ closed: [reason: string | null] }> {
  readonly remote: string;
  private phase: Phase = 'version';
  private minor: 3 | 7 | 8 = 8;
  private challenge: Buffer | null = null;
  private readonly inbox = new ByteQueue();
  private skipBytes = 0;
  private handshakeTimer: NodeJS.Timeout | null;
  private stallTimer: NodeJS.Timeout | null = null;

  // what the client asked for
  private tr = new PixelTranslator(SERVER_PIXEL_FORMAT);
  private pixelEncoding: number = Encoding.RAW;
  private wantsCursor = false;
  private wantsCopyRect = false;
  private wantsDesktopSize = false;
  private wantsExtDesktopSize = false;
  private wantsLastRect = false;
  private wantsDesktopName = false;
  /** The name the client was last told (ServerInit or DesktopName). */
  private sentName = '';
  /** The client listed QEMU Extended Key Event: tell it (a -258 rectangle) that we take them. */
  private pendingExtKeyAck = false;
  private updateRequested = false;
  private requestArea: Rect | null = null;
  private forcedArea: Rect | null = null;
  private pendingExtDesktop: { reason: number; status: number } | null = null;
  /** A SetDesktopSize of this viewer is being applied; when the last one was. */
  private resizing = false;
  private lastResizeAt = 0;

  // what the client has
  private fbWidth = 0;
  private fbHeight = 0;
  /** The read-out version (DisplaySource) the client's framebuffer shows, outside `owed`. */
  private sentVersion: number | null = null;
  /** Keeps the frame being sent unchanged until it is written. */
  private releaseFrame: (() => void) | null = null;
  /** Tiles that changed but were outside the requested area (owed to the client). */
  private owed = new Uint8Array(0);
  private owedAny = false;
  private cursorDirty = true;
  private zlib: DeflateStream | null = null;
  private zrle: DeflateStream | null = null;
  private tight: TightState | null = null;
  /** QualityLevel 0..9 the client sent (Tight may use JPEG); null: lossless only. */
  private qualityLevel: number | null = null;
  /** CompressLevel 0..9 the client sent (Tight's zlib level, fixed at its first Tight update). */
  private compressLevel: number | null = null;
  /** Tiles (GRID cells of the client's framebuffer) it shows from JPEG. */
  private lossy = new Uint8Array(0);
  private lossyAny = false;
  private lastChangeAt = 0;
  private refreshTimer: NodeJS.Timeout | null = null;

  // pacing
  private busy = false;
  private scheduled = false;
  private lastSequence = 0;

  private readonly counters = { updates: 0, rects: 0, bytes: 0, framesSkipped: 0, copyRects: 0, jpegRects: 0, losslessRefreshes: 0 };
  private readonly debug: boolean;
  private readonly log: Logger;
  private readonly onFrame = (): void => this.kick();
  private readonly onMode = (): void => this.kick();
  private readonly onCursor = (): void => {
    this.cursorDirty = true;
    this.kick();
  };
  private readonly onDetached = (): void => this.close('display detached');
  private readonly onName = (): void => this.kick();

  constructor(
    private readonly socket: RfbStream,
    private readonly opts: SessionOptions,
  ) {
    super();
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.log = opts.log.child({ display: opts.display.port, client: opts.id });
    this.debug = this.log.isLevelEnabled('debug');
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.close(err.message));
    socket.on('close', () => this.close(null));
    socket.on('end', () => this.close(null));
    this.handshakeTimer = setTimeout(() => this.drop('handshake timed out'), opts.handshakeTimeoutMs);
    this.log.info({ remote: this.remote }, 'vnc_client_connected');
    socket.write(Buffer.from(PROTOCOL_VERSION, 'latin1'));
  }

  get closed(): boolean {
    return this.phase === 'closed';
  }

  stats(): SessionStats {
    return {
      id: this.opts.id,
      remote: this.remote,
      phase: this.phase,
      encoding: ENCODING_NAMES[this.pixelEncoding] ?? String(this.pixelEncoding),
      ...this.counters,
      pendingBytes: this.socket.writableLength,
    };
  }

  /**
   * Closes the connection; `reason` null for an orderly close. `flush` lets
   * what was already written (a SecurityResult with its reason) go out first.
   */
  close(reason: string | null, flush = false): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    if (this.stallTimer) clearTimeout(this.stallTimer);
    const d = this.opts.display;
    d.off('frame', this.onFrame);
    d.off('mode', this.onMode);
    d.off('cursor', this.onCursor);
    d.off('detached', this.onDetached);
    this.opts.names?.off('changed', this.onName);
    this.zlib?.close();
    this.zrle?.close();
    this.tight?.close();
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.sentVersion = null;
    this.unpin();
    if (flush) {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    } else this.socket.destroy();
    this.log.info({ remote: this.remote, reason, ...this.counters }, 'vnc_client_closed');
    this.emit('closed', reason);
  }

  /** Drops a misbehaving client with a warning. */
  private drop(reason: string, flush = false): void {
    if (this.phase === 'closed') return;
    this.log.warn({ remote: this.remote, phase: this.phase, reason }, 'vnc_client_dropped');
    this.close(reason, flush);
  }

  // ---------------------------------------------------------------- input

  private onData(chunk: Buffer): void {
    if (this.phase === 'closed') return;
    if (this.skipBytes > 0) {
      const n = Math.min(this.skipBytes, chunk.length);
      this.skipBytes -= n;
      chunk = chunk.subarray(n);
    }
    this.inbox.push(chunk);
    try {
      while (!this.closed && this.skipBytes === 0 && this.step());
      if (this.skipBytes > 0) this.skipBytes -= this.inbox.skip(this.skipBytes);
    } catch (e) {
      if (e instanceof ProtocolError) this.drop(e.message);
      else {
        this.log.error({ err: e }, 'vnc_internal_error');
        this.close('internal error');
      }
    }
  }

  /** Parses one message if complete; false when more bytes are needed. */
  private step(): boolean {
    const q = this.inbox;
    switch (this.phase) {
      case 'version': {
        if (q.length < 12) return false;
        const v = negotiateVersion(q.take(12));
        if (!v) throw new ProtocolError('bad ProtocolVersion');
        this.minor = v.minor;
        this.log.debug({ offered: v.offered, minor: v.minor }, 'vnc_client_version');
        const type = this.opts.password ? Security.VNC_AUTH : Security.NONE;
        this.socket.write(securityOffer(this.minor, type));
        if (this.minor === 3) this.afterSecurityChoice(type);
        else this.phase = 'security';
        return true;
      }
      case 'security': {
        if (q.length < 1) return false;
        const type = q.take(1)[0]!;
        const offered = this.opts.password ? Security.VNC_AUTH : Security.NONE;
        if (type !== offered) {
          if (this.minor === 8) this.socket.write(securityFailure(`security type ${type} not offered`));
          this.drop(`client chose security type ${type}, not offered`, true);
          return false;
        }
        this.afterSecurityChoice(type);
        return true;
      }
      case 'auth': {
        if (q.length < 16) return false;
        const response = q.take(16);
        if (!checkVncAuth(this.opts.password ?? '', this.challenge!, response)) {
          this.socket.write(securityResult(this.minor, false));
          this.log.warn({ remote: this.remote }, 'vnc_auth_failed');
          this.drop('authentication failed', true);
          return false;
        }
        this.socket.write(securityResult(this.minor, true));
        this.phase = 'init';
        return true;
      }
      case 'init': {
        if (q.length < 1) return false;
        q.take(1); // shared flag: every viewer shares the display
        this.serverInit();
        return true;
      }
      case 'normal':
        return this.message();
      default:
        return false;
    }
  }

  private afterSecurityChoice(type: number): void {
    if (type === Security.VNC_AUTH) {
      this.challenge = newChallenge();
      this.socket.write(this.challenge);
      this.phase = 'auth';
      return;
    }
    if (this.minor === 8) this.socket.write(securityResult(8, true));
    this.phase = 'init';
  }

  private serverInit(): void {
    const d = this.opts.display;
    const frame = d.latest();
    const mode = d.modes[0];
    this.fbWidth = frame?.width ?? (d.width || mode?.width || 0);
    this.fbHeight = frame?.height ?? (d.height || mode?.height || 0);
    this.sentName = this.desktopName();
    this.socket.write(serverInit(this.fbWidth, this.fbHeight, SERVER_PIXEL_FORMAT, this.sentName));
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    this.phase = 'normal';
    d.on('frame', this.onFrame);
    d.on('mode', this.onMode);
    d.on('cursor', this.onCursor);
    d.on('detached', this.onDetached);
    this.opts.names?.on('changed', this.onName);
    this.log.debug({ width: this.fbWidth, height: this.fbHeight }, 'vnc_client_ready');
  }

  /** One client-to-server message (RFC 6143 7.5). */
  private message(): boolean {
    const q = this.inbox;
    if (q.length < 1) return false;
    const type = q.peek(1)[0]!;
    switch (type) {
      case ClientMsg.SET_PIXEL_FORMAT: {
        if (q.length < 20) return false;
        const pf = decodePixelFormat(q.take(20), 4);
        const why = unsupportedReason(pf);
        if (why) throw new ProtocolError(`unsupported pixel format: ${why}`);
        this.tr = new PixelTranslator(pf);
        this.sentVersion = null; // everything again, in the new format
        this.cursorDirty = true;
        this.log.debug({ pixelFormat: pf }, 'vnc_client_pixel_format');
        return true;
      }
      case ClientMsg.SET_ENCODINGS: {
        if (q.length < 4) return false;
        const n = q.peek(4).readUInt16BE(2);
        if (n > MAX_ENCODINGS) throw new ProtocolError(`SetEncodings with ${n} encodings`);
        if (q.length < 4 + 4 * n) return false;
        const b = q.take(4 + 4 * n);
        const list: number[] = [];
        for (let i = 0; i < n; i++) list.push(b.readInt32BE(4 + 4 * i));
        this.setEncodings(list);
        return true;
      }
      case ClientMsg.FRAMEBUFFER_UPDATE_REQUEST: {
        if (q.length < 10) return false;
        const b = q.take(10);
        const r = { x: b.readUInt16BE(2), y: b.readUInt16BE(4), w: b.readUInt16BE(6), h: b.readUInt16BE(8) };
        this.requestArea = union(this.requestArea, r);
        if (b[1] === 0) this.forcedArea = union(this.forcedArea, r);
        this.updateRequested = true;
        this.kick();
        return true;
      }
      case ClientMsg.KEY_EVENT: {
        if (q.length < 8) return false;
        const b = q.take(8);
        this.opts.input.key({ keysym: b.readUInt32BE(4), down: b[1] !== 0 });
        return true;
      }
      case ClientMsg.POINTER_EVENT: {
        if (q.length < 6) return false;
        const b = q.take(6);
        const x = Math.min(b.readUInt16BE(2), Math.max(0, this.fbWidth - 1));
        const y = Math.min(b.readUInt16BE(4), Math.max(0, this.fbHeight - 1));
        this.opts.input.pointer({ port: this.opts.display.port, x, y, buttons: b[1]! });
        return true;
      }
      case ClientMsg.CLIENT_CUT_TEXT: {
        if (q.length < 8) return false;
        const len = q.take(8).readInt32BE(4);
        if (len < 0 || len > MAX_CUT_TEXT) throw new ProtocolError(`ClientCutText of ${len} bytes`);
        this.skipBytes = len - q.skip(len); // ignored: we have no clipboard
        return true;
      }
      case ClientMsg.QEMU: {
        if (q.length < 2) return false;
        const subtype = q.peek(2)[1]!;
        if (subtype !== 0) throw new ProtocolError(`QEMU client message subtype ${subtype}`);
        if (q.length < 12) return false;
        const b = q.take(12);
        const keysym = b.readUInt32BE(4);
        const scancode = b.readUInt32BE(8);
        // No scancode (0) or none QEMU could name: the keysym, as for a plain KeyEvent.
        this.opts.input.key(
          scancode > 0 && scancode <= 0xff
            ? { keysym, scancode, down: b.readUInt16BE(2) !== 0 }
            : { keysym, down: b.readUInt16BE(2) !== 0 },
        );
        return true;
      }
      case ClientMsg.ENABLE_CONTINUOUS_UPDATES: {
        // We never announce ContinuousUpdates (no EndOfContinuousUpdates), so
        // a client should not send this; one that does keeps getting
        // updates on request, as before.
        if (q.length < 10) return false;
        q.take(10);
        this.log.debug('vnc_continuous_updates_refused');
        return true;
      }
      case ClientMsg.CLIENT_FENCE: {
        // Likewise for Fence: never announced, so read and ignored.
        if (q.length < 9) return false;
        const len = q.peek(9)[8]!;
        if (len > 64) throw new ProtocolError(`ClientFence with ${len} bytes of payload`);
        if (q.length < 9 + len) return false;
        q.take(9 + len);
        this.log.debug('vnc_fence_ignored');
        return true;
      }
      case ClientMsg.SET_DESKTOP_SIZE: {
        if (q.length < 8) return false;
        const screens = q.peek(8)[6]!;
        if (screens > MAX_SCREENS) throw new ProtocolError(`SetDesktopSize with ${screens} screens`);
        if (q.length < 8 + 16 * screens) return false;
        const b = q.take(8 + 16 * screens);
        this.setDesktopSize(b);
        return true;
      }
      default:
        throw new ProtocolError(`unknown message type ${type}`);
    }
  }

  /**
   * SetDesktopSize (RFB 7.5.x, ExtendedDesktopSize): one screen covering the
   * framebuffer at 0,0 becomes the display's preferred mode; the answer is an
   * ExtendedDesktopSize with reason "client" and the RFB status. One request
   * per viewer at a time and at most one per RESIZE_INTERVAL_MS (more: "out
   * of resources"), so a viewer cannot churn the guest's mode list
   * (docs/design.md invariant 4).
   */
  private setDesktopSize(b: Buffer): void {
    const width = b.readUInt16BE(2);
    const height = b.readUInt16BE(4);
    const screens = b[6]!;
    const answer = (status: number): void => {
      this.log.info({ width, height, status }, status === ExtDesktopStatus.OK ? 'vnc_desktop_size_requested' : 'vnc_desktop_size_refused');
      if (!this.wantsExtDesktopSize || this.phase === 'closed') return;
      this.pendingExtDesktop = { reason: ExtDesktopReason.CLIENT, status };
      this.kick();
    };
    const one =
      screens === 1 &&
      b.readUInt16BE(12) === 0 &&
      b.readUInt16BE(14) === 0 &&
      b.readUInt16BE(16) === width &&
      b.readUInt16BE(18) === height;
    if (!this.opts.resize) return answer(ExtDesktopStatus.PROHIBITED);
    if (!one || width === 0 || height === 0) return answer(ExtDesktopStatus.INVALID_LAYOUT);
    if (this.resizing || Date.now() - this.lastResizeAt < RESIZE_INTERVAL_MS) return answer(ExtDesktopStatus.NO_RESOURCES);
    this.resizing = true;
    this.lastResizeAt = Date.now();
    this.opts.resize(width, height).then(
      (status) => {
        this.resizing = false;
        answer(status);
      },
      () => {
        this.resizing = false;
        answer(ExtDesktopStatus.NO_RESOURCES);
      },
    );
  }

  private setEncodings(list: number[]): void {
    this.pixelEncoding = list.find((e) => PIXEL_ENCODINGS.includes(e)) ?? Encoding.RAW;
    this.wantsCursor = list.includes(Encoding.CURSOR);
    this.wantsCopyRect = list.includes(Encoding.COPY_RECT);
    this.wantsDesktopSize = list.includes(Encoding.DESKTOP_SIZE);
    this.wantsLastRect = list.includes(Encoding.LAST_RECT);
    this.wantsDesktopName = list.includes(Encoding.DESKTOP_NAME);
    // Not acted on, by design (docs/viewers.md): QEMU LED state (-261), since
    // QEMU tells nobody outside its process the guest's LEDs, so there is no
    // true state to send; Fence (-312) and ContinuousUpdates (-313), never
    // announced (no Fence, no EndOfContinuousUpdates), so a client keeps
    // asking for updates as plain RFB does, and its messages are read and
    // ignored (message()).
    const level = (base: number): number | null => {
      const e = list.find((x) => x >= base && x <= base + 9);
      return e === undefined ? null : e - base;
    };
    this.qualityLevel = level(Encoding.QUALITY_LEVEL_0);
    this.compressLevel = level(Encoding.COMPRESS_LEVEL_0);
    // As QEMU: every SetEncodings that lists it is answered, so the client knows.
    this.pendingExtKeyAck = list.includes(Encoding.QEMU_EXTENDED_KEY_EVENT);
    const ext = list.includes(Encoding.EXTENDED_DESKTOP_SIZE);
    // A first ExtendedDesktopSize tells the client that we support it.
    if (ext && !this.wantsExtDesktopSize) this.pendingExtDesktop = { reason: ExtDesktopReason.SERVER, status: ExtDesktopStatus.OK };
    this.wantsExtDesktopSize = ext;
    this.cursorDirty = true;
    this.log.debug({ encodings: list, pixelEncoding: ENCODING_NAMES[this.pixelEncoding] }, 'vnc_client_encodings');
  }

  // -------------------------------------------------------------- updates

  /** Something may be worth sending: try once the current update is out. */
  private kick(): void {
    if (this.busy || this.scheduled || this.phase !== 'normal') return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.updateRequested && !this.busy && this.phase === 'normal') void this.update();
    });
  }

  private async update(): Promise<void> {
    this.busy = true;
    const started = this.debug ? process.hrtime.bigint() : 0n;
    try {
      const parts = await this.compose();
      if (this.phase !== 'closed' && parts) {
        this.write(parts, started);
        return; // busy until written
      }
    } catch (e) {
      this.log.error({ err: e }, 'vnc_internal_error');
      this.close('internal error');
    }
    this.unpin();
    this.busy = false;
  }

  private desktopName(): string {
    return this.opts.names?.of(this.opts.display) ?? this.opts.display.name;
  }

  private unpin(): void {
    this.releaseFrame?.();
    this.releaseFrame = null;
  }

  /** The FramebufferUpdate to send now, or null when the client has everything. */
  private async compose(): Promise<{ buffers: Buffer[]; rects: number } | null> {
    const d = this.opts.display;
    const tr = this.tr;
    const out: Buffer[] = [];
    let rects = 0;
    const add = (b: Buffer[]): void => {
      for (const x of b) out.push(x);
      rects++;
    };
    const frame = d.latest();
    if (frame && (frame.width !== this.fbWidth || frame.height !== this.fbHeight) && (this.wantsExtDesktopSize || this.wantsDesktopSize)) {
      // The answer to this viewer's own SetDesktopSize, if that is what changed the size.
      const mine = this.pendingExtDesktop?.reason === ExtDesktopReason.CLIENT && this.pendingExtDesktop.status === ExtDesktopStatus.OK;
      if (this.wantsExtDesktopSize)
        add(
          encodeExtendedDesktopSize(
            mine ? ExtDesktopReason.CLIENT : ExtDesktopReason.SERVER,
            ExtDesktopStatus.OK,
            frame.width,
            frame.height,
            d.serial,
          ),
        );
      else add(encodeDesktopSize(frame.width, frame.height));
      this.fbWidth = frame.width;
      this.fbHeight = frame.height;
      this.sentVersion = null;
      this.pendingExtDesktop = null;
      this.requestArea = { x: 0, y: 0, w: frame.width, h: frame.height };
      this.log.info({ width: frame.width, height: frame.height }, 'vnc_desktop_size');
    } else if (this.pendingExtDesktop && this.wantsExtDesktopSize) {
      const { reason, status } = this.pendingExtDesktop;
      add(encodeExtendedDesktopSize(reason, status, this.fbWidth, this.fbHeight, d.serial));
      this.pendingExtDesktop = null;
    }
    // The cursor goes after the pixel rectangles: its mask can make it any
    // number of bytes, and noVNC 1.3's Raw decoder corrupts pixels whose
    // data does not start 4-byte aligned in its receive buffer (see
    // PixelTranslator.padding). Everything before the pixels is a multiple of 4.
    let cursor: Buffer[] | null = null;
    if (this.pendingExtKeyAck) {
      add([rectHeader(0, 0, 0, 0, Encoding.QEMU_EXTENDED_KEY_EVENT)]);
      this.pendingExtKeyAck = false;
    }
    if (this.cursorDirty && this.wantsCursor) {
      const c = d.cursor;
      const shown = c.visible && c.glyph && c.x !== CURSOR_OFF_DISPLAY;
      cursor = encodeCursor(tr, shown ? c.glyph : null);
      this.cursorDirty = false;
    }
    if (frame) {
      // Encoding may wait for zlib and the socket: the frame's buffer must
      // not be brought forward meanwhile.
      this.releaseFrame = d.pin(frame);
      const { copy, rects: rs, refresh } = this.damage(frame);
      if (copy) {
        add(encodeCopyRect(copy));
        this.counters.copyRects++;
        if (this.lossyAny) this.moveLossy(copy);
      }
      if (!refresh && (copy || rs.length > 0)) this.lastChangeAt = Date.now();
      if (refresh) this.counters.losslessRefreshes++;
      const enc = this.pixelEncoding;
      const stride = frame.width * 4;
      for (const r of rs) {
        if (enc === Encoding.TIGHT) {
          const t = (this.tight ??= new TightState(this.compressLevel ?? this.opts.zlibLevel));
          t.quality = refresh ? null : this.qualityLevel;
          const jpegs: Rect[] = [];
          for (const piece of await encodeTight(tr, frame.data, stride, r, t, jpegs)) add(piece);
          this.markLossy(r, false);
          for (const j of jpegs) this.markLossy(j, true);
          this.counters.jpegRects += jpegs.length;
          continue;
        }
        if (enc === Encoding.ZRLE) add(await encodeZrle(tr, frame.data, stride, r, (this.zrle ??= new DeflateStream(this.opts.zlibLevel))));
        else if (enc === Encoding.ZLIB)
          add(await encodeZlib(tr, frame.data, stride, r, (this.zlib ??= new DeflateStream(this.opts.zlibLevel))));
        else add(encodeRaw(tr, frame.data, stride, r));
        if (this.lossyAny) this.markLossy(r, false);
      }
    }
    if (cursor) add(cursor);
    // Also after the pixels (any length: see the cursor above).
    const name = this.desktopName();
    if (this.wantsDesktopName && name !== this.sentName) {
      add(encodeDesktopName(name));
      this.sentName = name;
      this.log.debug({ name }, 'vnc_desktop_name');
    }
    if (rects === 0) return null;
    this.updateRequested = false;
    this.requestArea = null;
    this.forcedArea = null;
    // With LastRect the count is left open (0xffff) and a LastRect rectangle
    // ends the update; without it, more than 0xffff rectangles cannot be said.
    if (this.wantsLastRect) {
      out.push(rectHeader(0, 0, 0, 0, Encoding.LAST_RECT));
      return { buffers: [updateHeader(0xffff), ...out], rects };
    }
    if (rects > 0xffff) throw new Error(`${rects} rectangles in one update`);
    return { buffers: [updateHeader(rects), ...out], rects };
  }

  /**
   * What of `frame` the client lacks, within what it asked for: a CopyRect
   * when the frame moved a rectangle and the client can do it, then the
   * damaged tiles. Updates `sentVersion`/`owed`.
   */
  private damage(frame: Frame): Damage {
    const w = Math.min(frame.width, this.fbWidth);
    const h = Math.min(frame.height, this.fbHeight);
    if (w === 0 || h === 0) return { copy: null, rects: [] };
    const ntiles = tileCols(w, GRID) * tileRows(h, GRID);
    const d = this.opts.display;
    const changes = this.sentVersion !== null && this.owed.length === ntiles ? d.changesSince(this.sentVersion) : null;
    if (changes && !changes.move && changes.rects.length === 0 && this.forcedArea === null && !this.owedAny) {
      this.sentVersion = frame.version;
      if (this.lossyAny) return this.losslessRefresh(w, h);
      return { copy: null, rects: [] }; // idle: nothing new, nothing owed
    }
    const all = { x: 0, y: 0, w, h };
    if (changes && !this.owedAny && this.forcedArea === null && this.requestArea && within(all, this.requestArea)) {
      // The common case, an incremental request for everything: the
      // display's changes rounded out to the grid, no per-cell bookkeeping.
      let copy: Move | null = null;
      const rs: Rect[] = [];
      const m = changes.move;
      if (m && this.wantsCopyRect && within(m, all) && within({ x: m.srcX, y: m.srcY, w: m.w, h: m.h }, all)) copy = m;
      else if (m) rs.push(m);
      for (const r of changes.rects) rs.push(r); // no spread: a count is no argument list (issue 17)
      const cells = rs.map((r) => intersect(roundOut(r, GRID), all)).filter((r): r is Rect => r !== null);
      this.sent(frame);
      return { copy, rects: mergeDown(cells, MAX_UPDATE_RECTS) };
    }
    const dirty = changes ? this.owed.slice() : new Uint8Array(ntiles).fill(1);
    let copy: Move | null = null;
    if (changes?.move) {
      const m = changes.move;
      const src = { x: m.srcX, y: m.srcY, w: m.w, h: m.h };
      // A CopyRect works on what the client shows: not where it is owed
      // pixels, and only inside its framebuffer and what it asked for.
      const usable =
        this.wantsCopyRect &&
        !this.owedAny &&
        this.requestArea !== null &&
        within(m, this.requestArea) &&
        within(m, all) &&
        within(src, all);
      if (usable) copy = m;
      else markRect(dirty, w, h, m, GRID);
    }
    for (const r of changes?.rects ?? []) markRect(dirty, w, h, r, GRID);
    if (this.forcedArea) markRect(dirty, w, h, this.forcedArea, GRID);
    // Only tiles in the requested area go now; the rest are owed.
    const allowed = new Uint8Array(ntiles);
    if (this.requestArea) markRect(allowed, w, h, this.requestArea, GRID);
    const owed = new Uint8Array(ntiles);
    let owedAny = false;
    for (let i = 0; i < ntiles; i++) {
      if (dirty[i] && !allowed[i]) {
        owed[i] = 1;
        owedAny = true;
        dirty[i] = 0;
      }
    }
    this.sent(frame);
    this.owed = owed;
    this.owedAny = owedAny;
    return { copy, rects: tilesToRects(dirty, w, h, GRID) };
  }

  /** The lossy tile map for the client's framebuffer size (cleared when that changed). */
  private lossyMap(): Uint8Array {
    const n = tileCols(this.fbWidth, GRID) * tileRows(this.fbHeight, GRID);
    if (this.lossy.length !== n) {
      this.lossy = new Uint8Array(n);
      this.lossyAny = false;
    }
    return this.lossy;
  }

  /** `r` was sent as JPEG (lossy) or losslessly (its tiles are exact now: `r` is grid-aligned or ends at the frame's edge). */
  private markLossy(r: Rect, lossy: boolean): void {
    const map = this.lossyMap();
    if (lossy) {
      markRect(map, this.fbWidth, this.fbHeight, r, GRID);
      this.lossyAny = true;
      return;
    }
    const cols = tileCols(this.fbWidth, GRID);
    for (let ty = Math.floor(r.y / GRID); ty * GRID < Math.min(this.fbHeight, r.y + r.h); ty++)
      for (let tx = Math.floor(r.x / GRID); tx * GRID < Math.min(this.fbWidth, r.x + r.w); tx++) map[ty * cols + tx] = 0;
    this.lossyAny = map.includes(1);
  }

  /** A CopyRect carries JPEG'd pixels along: its destination counts as lossy if its source had any. */
  private moveLossy(m: Move): void {
    const map = this.lossyMap();
    const src = new Uint8Array(map.length);
    markRect(src, this.fbWidth, this.fbHeight, { x: m.srcX, y: m.srcY, w: m.w, h: m.h }, GRID);
    for (let i = 0; i < map.length; i++)
      if (src[i] && map[i]) {
        markRect(map, this.fbWidth, this.fbHeight, m, GRID);
        return;
      }
  }

  /** The idle display's JPEG'd tiles, once it has been idle LOSSLESS_REFRESH_MS; until then a timer. */
  private losslessRefresh(w: number, h: number): Damage {
    const wait = this.lastChangeAt + LOSSLESS_REFRESH_MS - Date.now();
    if (wait > 0) {
      this.refreshTimer ??= setTimeout(() => {
        this.refreshTimer = null;
        this.kick();
      }, wait);
      return { copy: null, rects: [] };
    }
    const rects = tilesToRects(this.lossyMap(), w, h, GRID);
    this.lossy.fill(0);
    this.lossyAny = false;
    return { copy: null, rects, refresh: true };
  }

  /** The client will have `frame` (outside what it is owed). */
  private sent(frame: Frame): void {
    if (this.sentVersion !== frame.version && frame.sequence > this.lastSequence + 1)
      this.counters.framesSkipped += frame.sequence - this.lastSequence - 1;
    this.lastSequence = frame.sequence;
    this.sentVersion = frame.version;
  }

  private write(update: { buffers: Buffer[]; rects: number }, started: bigint): void {
    const s = this.socket;
    let bytes = 0;
    for (const b of update.buffers) bytes += b.length;
    this.counters.updates++;
    this.counters.rects += update.rects;
    this.counters.bytes += bytes;
    if (this.debug)
      this.log.debug(
        {
          rects: update.rects,
          bytes,
          encoding: ENCODING_NAMES[this.pixelEncoding],
          encodeMs: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'vnc_update',
      );
    s.cork();
    const last = update.buffers.length - 1;
    update.buffers.forEach((b, i) => (i === last ? s.write(b, () => this.written()) : s.write(b)));
    s.uncork();
    if (s.writableLength > 0) this.watchStall();
  }

  private written(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    this.unpin();
    this.busy = false;
    if (this.phase === 'normal') this.kick();
  }

  /** Drops the client if its pending update makes no progress for stallTimeoutMs. */
  private watchStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    const pending = this.socket.writableLength;
    this.stallTimer = setTimeout(() => {
      this.stallTimer = null;
      if (!this.busy || this.phase === 'closed') return;
      if (this.socket.writableLength >= pending)
        this.drop(`not reading: ${this.socket.writableLength} bytes pending for ${this.opts.stallTimeoutMs} ms`);
      else this.watchStall();
    }, this.opts.stallTimeoutMs);
    this.stallTimer.unref();
  }
}

function within(r: Rect, outer: Rect): boolean {
  const i = intersect(r, outer);
  return i !== null && i.w === r.w && i.h === r.h;
}
