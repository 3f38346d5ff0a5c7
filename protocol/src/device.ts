// What a vfio-user server session needs from the device it serves. The
// session checks every message against the spec and these descriptions
// before calling in, so a device sees only well-formed, in-range requests.
import type { DeviceInfo, IrqInfo, RegionInfo } from './codec/device-info.js';

export interface DmaMapping {
  iova: bigint;
  size: bigint;
  /** Offset into `fd`; 0 when there is no fd. */
  offset: bigint;
  readable: boolean;
  writable: boolean;
  /** Shared-memory fd, or null when the client can only offer DMA_READ/WRITE. */
  fd: number | null;
}

export type IrqRequest =
  | { kind: 'assign'; index: number; start: number; fds: number[] }
  | { kind: 'deassign'; index: number; start: number; count: number }
  | { kind: 'disable'; index: number }
  | { kind: 'mask' | 'unmask'; index: number; start: number; count: number }
  | { kind: 'trigger'; index: number; start: number; count: number; bools: boolean[] | null };

/** A device that can migrate (vfio-user migration v2); states are MigState values. */
export interface MigratableDevice {
  migrationState(): number;
  /**
   * Moves to `to` (any state the spec allows, via the shortest path); throws
   * (or rejects with) VfioUserError when refused. A promise: the session
   * replies, and looks at the next message, once it settles.
   */
  setMigrationState(to: number): void | Promise<void>;
  /** Bytes left to read in STOP_COPY. */
  migrationDataSize(): number;
  /** Up to `max` bytes of the device state (STOP_COPY); fewer = end of stream. */
  readMigrationData(max: number): Buffer;
  /** Appends device state bytes (RESUMING). */
  writeMigrationData(data: Buffer): void;
}

export interface VfioUserDevice {
  info(): DeviceInfo;
  regionInfo(index: number): RegionInfo;
  irqInfo(index: number): IrqInfo;
  /** `offset + count` is inside the region; the device may still refuse (throw VfioUserError). */
  regionRead(index: number, offset: number, count: number): Buffer;
  regionWrite(index: number, offset: number, data: Buffer): void;
  /**
   * Optional: throws (VfioUserError) when the device would refuse this access,
   * without performing it, so REGION_WRITE_MULTI can refuse a whole batch
   * before applying any entry.
   */
  checkAccess?(index: number, offset: number, count: number, write: boolean): void;
  /** On success the device owns `fd`; on a throw the session closes it. */
  dmaMap(m: DmaMapping): void;
  dmaUnmap(iova: bigint, size: bigint): void;
  dmaUnmapAll(): number;
  /** On success of an 'assign' the device owns the fds. */
  setIrqs(r: IrqRequest): void;
  /** A promise: the session replies, and looks at the next message, once it settles. */
  reset(): void | Promise<void>;
  /** The client went away: drop its memory and interrupt fds, keep device state. Settled: the next client may come. */
  disconnected(): void | Promise<void>;
  /** Present when the device supports migration. */
  readonly migration?: MigratableDevice;
}
