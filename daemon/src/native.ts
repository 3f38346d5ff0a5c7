// Typed loader for the N-API addon (native/). One instance per process.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeListener {
  pause(): void;
  resume(): void;
  close(): void;
}

export interface NativeConnection {
  send(message: Buffer, fds?: readonly number[]): boolean;
  close(): void;
  stats(): { messagesIn: number; messagesOut: number; fdsIn: number; queued: number };
}

/**
 * How the data plane treats one vfio-user region (native/core/dataplane/
 * region_table.h). The device model builds the table; the data plane answers
 * accesses to `native` regions itself and hands the rest to the session.
 */
export interface DataPlaneRegion {
  index: number;
  size: number;
  readable: boolean;
  writable: boolean;
  native: boolean;
  /** The backend's region number (agfx_region) of a native region. */
  backendRegion?: number;
  /** Reads as zeros, drops writes, whatever the access size (the MSI-X PBA). */
  zeroWindow?: { offset: number; length: number };
  /** Registers 64 bits wide: aligned 8-byte accesses go to the backend whole where it takes them. */
  whole64?: boolean;
  /** Trace events for MMIO reads and writes. */
  traceRead?: string;
  traceWrite?: string;
}

export type DataPlaneEvent =
  | { type: 'request_failed'; id: number; command: number; errno: number; noReply: boolean; err: string }
  | { type: 'guest_error'; region: number; offset: number; count: number; what: string }
  | { type: 'trace'; name: string; write: boolean; region: number; offset: number; value: number | bigint }
  | { type: 'dropped'; count: number };

/** One client's data-plane thread (native/core/dataplane/data_plane.h). */
export interface NativeDataPlane {
  /** Queues a message; sent in order after the message being handled. */
  send(message: Buffer, fds?: readonly number[]): boolean;
  /** VERSION done: region accesses are answered natively, up to this many bytes each. */
  setNegotiated(maxDataXferSize: number): void;
  setTracing(on: boolean): void;
  /** Ends the connection; onClose follows once the thread is done. */
  close(): void;
  stats(): { messages: number; native: number; handed: number; errors: number; fdsIn: number; queuedBytes: number; eventsDropped: number };
}

/** Handling-time histograms of the messages data planes answer, for the whole server. */
export interface NativeDataPlaneStats {
  snapshot(): { command: number; total: number; errors: number; counts: number[] }[];
}

export interface NativeGuestRegion {
  gpa: bigint;
  size: bigint;
  fdOffset: bigint;
  writable: boolean;
}

export interface DisplayModeSpec {
  width: number;
  height: number;
  refreshHz: number;
}

export interface FrameReadout {
  width: number;
  height: number;
  stride: number;
  format: number;
  sequence: number;
  data: Buffer;
}

/** A frame read-out that brought a caller's buffer from one version to the next (Backend.updateFrame). */
export interface FrameUpdate {
  width: number;
  height: number;
  sequence: number;
  /** The frame version `data` now holds. */
  version: number;
  /** The whole frame was copied (the old version was unknown or too old). */
  full: boolean;
  /** A rectangle moved within the frame: (srcX, srcY, w, h) went to (x, y). */
  move: { x: number; y: number; w: number; h: number; srcX: number; srcY: number } | null;
  /** Rectangles replaced after the move. */
  damage: { x: number; y: number; w: number; h: number }[];
  /** BGRA8, packed rows: the buffer passed in, or a new one. */
  data: Buffer;
}

export type BackendEvent =
  | { type: 'new_frame'; port: number; count: number }
  | { type: 'mode_changed'; port: number; width: number; height: number; format: number }
  | { type: 'cursor_glyph'; port: number; width: number; height: number; hotX: number; hotY: number; pixels: Buffer }
  | { type: 'cursor_show'; port: number; show: boolean }
  | { type: 'cursor_moved'; port: number; x: number; y: number }
  | { type: 'guest_error'; port: number; message: string };

export interface NativeBackend {
  readonly name: string;
  /** Display ports the device has: its backend's own limit (agfx_backend max_display_ports) unless fewer were asked for. */
  readonly displayPorts: number;
  /**
   * MMIO from JS: for in-process tests and benchmarks that drive a backend
   * without a vfio-user client. The daemon never calls these: a client's
   * MMIO runs on its data-plane thread (docs/design.md invariant 1).
   */
  mmioRead(region: number, offset: number): number;
  mmioWrite(region: number, offset: number, value: number): void;
  /** An 8-byte access whole (agfx_backend mmio_read64); null when the backend has no such call. */
  mmioRead64(region: number, offset: number): bigint | null;
  /** False when the backend has no mmio_write64 (the caller splits). */
  mmioWrite64(region: number, offset: number, value: bigint): boolean;
  /** The BAR size the backend asks for (agfx_backend region_size), 0 for the daemon's default. */
  regionSize(region: number): number;
  attachDisplay(port: number, serial: number, name: string, modes: DisplayModeSpec[]): boolean;
  setModes(port: number, modes: DisplayModeSpec[]): boolean;
  detachDisplay(port: number): boolean;
  readFrame(port: number): FrameReadout | null;
  /** True when the backend reports what changed between frames (updateFrame works). */
  readonly tracksDamage: boolean;
  /** Brings `buffer` (frame version `since`) up to date in place, copying only what changed. */
  updateFrame(port: number, buffer: Buffer | null, since: number): FrameUpdate | null;
  cursorPosition(port: number): { x: number; y: number } | null;
  memoryMapChanged(): void;
  /**
   * The long calls, off the JS thread (docs/design.md, "Long backend calls"):
   * each runs on a thread of its own and settles its promise on the JS
   * thread. One at a time; while one runs, `busy` names it and every other
   * call throws EBUSY. The daemon makes them through DeviceOps
   * (device/device-ops.ts).
   */
  /** Reset to the power-on state. */
  resetAsync(): Promise<void>;
  /** The backend's own state blob, or null when it cannot save. */
  saveStateAsync(): Promise<Buffer | null>;
  /** Rejects with the backend's explanation when the blob is refused. */
  restoreStateAsync(state: Buffer): Promise<void>;
  /** Quiesce (false) or resume (true): stopped, the device touches no guest memory. */
  setRunningAsync(running: boolean): Promise<void>;
  /**
   * The VMM left (agfx_backend guest_memory_gone): the backend drops what
   * reaches its guest memory. Resolves with whether the backend has the call
   * and what the host still holds for it afterwards.
   */
  guestMemoryGoneAsync(): Promise<{ offered: boolean; tasksKept: number; iosfcMappingsKept: number; snapshotsKept: number }>;
  /** The long call under way, or null. */
  readonly busy: string | null;
  destroy(): void;
}

export interface NativeAddon {
  listenUnix(path: string, mode: number, backlog?: number): number;
  connectUnix(path: string): number;
  adoptListener(fd: number): number;
  Listener: new (fd: number, onAccept: (fd: number) => void) => NativeListener;
  Connection: new (
    fd: number,
    onMessage: (message: Buffer, fds: number[]) => void,
    onClose: (reason: string | null) => void,
    opts: { maxMessageSize: number; maxFds: number },
  ) => NativeConnection;

  DataPlane: new (
    fd: number,
    opts: {
      backend: NativeBackend;
      stats: NativeDataPlaneStats;
      numRegions: number;
      regions: DataPlaneRegion[];
      maxMessageSize: number;
      maxFds: number;
      maxQueuedBytes?: number;
      maxEvents?: number;
    },
    /** A message for the session; the data plane reads nothing more until this returns, or the promise it returns settles. */
    onMessage: (message: Buffer, fds: number[]) => void | Promise<void>,
    onEvents: (events: DataPlaneEvent[]) => void,
    onClose: (reason: string | null) => void,
  ) => NativeDataPlane;
  DataPlaneStats: new (boundsUs: readonly number[]) => NativeDataPlaneStats;
  /** The wire constants the data plane was built with (checked against protocol/ by a unit test). */
  dataPlaneWire(): Record<string, number>;

  eventfdCreate(): number;
  eventfdRead(fd: number): number;
  eventfdWrite(fd: number, value?: number): void;
  memfdCreate(name: string, size: number): number;
  closeFd(fd: number): void;

  gmMap(gpa: bigint, size: bigint, fd: number, fdOffset: bigint, writable: boolean): void;
  /** Records a range mapped without an fd: never reachable, but it takes part in overlap checks. */
  gmMapUnreachable(gpa: bigint, size: bigint): void;
  /** Removes either kind of range (exact gpa and size). */
  gmUnmap(gpa: bigint, size: bigint): { taskAliasesCut: number; reachable: boolean; refusedUses: number };
  /** Removes every range of both kinds; returns how many. */
  gmUnmapAll(): number;
  /** The reachable (fd-backed) regions. */
  gmList(): NativeGuestRegion[];
  /** The ranges mapped without an fd, with how many backend uses of each were refused. */
  gmListUnreachable(): { gpa: bigint; size: bigint; refusedUses: number }[];
  gmRead(gpa: bigint, len: number): Buffer;
  gmWrite(gpa: bigint, data: Buffer): void;

  irqSet(index: number, start: number, fds: number[]): void;
  irqClear(index: number, start: number, count: number): void;
  irqDisable(index: number): void;
  irqCloseAll(): void;
  irqRaise(vector: number): boolean;
  irqStats(vector: number): { raised: number; delivered: number; dropped: number };
  irqAssigned(index: number): number;

  Backend: new (
    kind: 'soft' | 'pvg' | 'lib',
    path: string,
    /** displayPorts omitted: as many as the backend offers on this host. */
    opts: { variant: number; displayPorts?: number; memoryModel?: number },
    onEvents: (events: BackendEvent[]) => void,
  ) => NativeBackend;
  /** macOS builds only: writes PVG's option ROM, padded to a power of two. */
  pvgWriteOptionRom?(path: string): void;
  hostStats(): { tasks: number; aliases: number; maps: number; unmaps: number; failures: number; iosfcLive: number };
  /** After a client left: guest RAM a backend still holds through IOSFC mappings becomes zero pages, its fd closed. Returns the regions severed. */
  severKeptGuestMemory(): number;
}

/**
 * Finds native/build/Release/`file` above this file (src or dist): the shipped
 * addon, or the test addon (agfx_native_test.node: the same plus test and bench
 * hooks, loaded by test/support/native-test.ts and scripts/benchmarks).
 */
export function locateAddon(file = 'agfx_native.node'): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'native', 'build', 'Release', file);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`native addon not built: run \`npm run build:native\` (native/build/Release/${file})`);
}

export const native: NativeAddon = createRequire(import.meta.url)(locateAddon()) as NativeAddon;
