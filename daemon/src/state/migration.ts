// vfio-user migration v2, device side: the migration state machine over the
// device-state message (the same one `ctl save`/`restore` use). QEMU 11.1's
// client does not drive it yet; when it does, this is what it will talk to.
//
//   RUNNING <-> STOP <-> STOP_COPY      (source: stop, then read the state)
//               STOP <-> RESUMING       (destination: write the state, then stop)
// Any other pair goes through STOP (the shortest path); PRE_COPY and the P2P
// states are not offered. ERROR is left only by a device reset.
import type { Logger } from 'pino';
import { Errno, MigState, VfioUserError, migStateName, type MigratableDevice } from 'vfio-user-ts';
import { deviceOps } from '../device/device-ops.js';
import { restoreDeviceState, saveDeviceState, type StateParts } from './device-state.js';

const SUPPORTED = new Set<number>([MigState.RUNNING, MigState.STOP, MigState.STOP_COPY, MigState.RESUMING]);

export class DeviceMigration implements MigratableDevice {
  private state: number = MigState.RUNNING;
  private outgoing: Buffer | null = null;
  private readPos = 0;
  private incoming: Buffer[] = [];
  private incomingBytes = 0;
  private static readonly MAX_INCOMING = 256 << 20;

  constructor(
    private readonly parts: StateParts,
    private readonly log: Logger,
  ) {}

  migrationState(): number {
    return this.state;
  }

  /** A DeviceOps operation: the backend's part runs off the JS thread, the session's next message waits for it. */
  setMigrationState(to: number): Promise<void> | void {
    if (this.state === MigState.ERROR) throw new VfioUserError(Errno.EINVAL, 'migration state ERROR: only a device reset leaves it');
    if (!SUPPORTED.has(to)) throw new VfioUserError(Errno.EINVAL, `migration state ${migStateName(to)} is not supported`);
    if (to === this.state) return;
    return deviceOps(this.parts.device.backend).run(`migration to ${migStateName(to)}`, async () => {
      // Shortest path: everything but RUNNING<->STOP passes through STOP.
      if (this.state !== MigState.STOP && to !== MigState.STOP) await this.step(MigState.STOP);
      await this.step(to);
    });
  }

  private async step(to: number): Promise<void> {
    const from = this.state;
    try {
      if (from === MigState.RUNNING && to === MigState.STOP) await this.parts.device.backend.setRunningAsync(false);
      else if (from === MigState.STOP && to === MigState.RUNNING) await this.parts.device.backend.setRunningAsync(true);
      else if (from === MigState.STOP && to === MigState.STOP_COPY) {
        this.outgoing = await saveDeviceState(this.parts);
        this.readPos = 0;
      } else if (from === MigState.STOP_COPY && to === MigState.STOP) this.outgoing = null;
      else if (from === MigState.STOP && to === MigState.RESUMING) {
        this.incoming = [];
        this.incomingBytes = 0;
      } else if (from === MigState.RESUMING && to === MigState.STOP) {
        const state = Buffer.concat(this.incoming);
        this.incoming = [];
        await restoreDeviceState(this.parts, state);
      } else throw new Error(`no arc ${migStateName(from)} -> ${migStateName(to)}`);
    } catch (e) {
      this.state = MigState.ERROR;
      this.log.error({ from: migStateName(from), to: migStateName(to), err: (e as Error).message }, 'apple_gfx_migration_failed');
      throw new VfioUserError(Errno.EIO, `migration ${migStateName(from)} -> ${migStateName(to)} failed: ${(e as Error).message}`);
    }
    this.state = to;
  }

  migrationDataSize(): number {
    return this.outgoing ? this.outgoing.length - this.readPos : 0;
  }

  readMigrationData(max: number): Buffer {
    if (!this.outgoing) return Buffer.alloc(0);
    const chunk = this.outgoing.subarray(this.readPos, this.readPos + max);
    this.readPos += chunk.length;
    return Buffer.from(chunk);
  }

  writeMigrationData(data: Buffer): void {
    if (this.incomingBytes + data.length > DeviceMigration.MAX_INCOMING)
      throw new VfioUserError(Errno.EFBIG, 'migration data larger than any device state');
    this.incoming.push(Buffer.from(data));
    this.incomingBytes += data.length;
  }

  /** Device reset (part of its DeviceOps operation): back to RUNNING, buffers dropped. */
  async reset(): Promise<void> {
    this.outgoing = null;
    this.incoming = [];
    if (this.state !== MigState.RUNNING) await this.parts.device.backend.setRunningAsync(true);
    this.state = MigState.RUNNING;
  }
}
