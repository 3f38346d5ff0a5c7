import { Errno } from '../../constants.js';
import {
  Feature,
  FeatureFlag,
  MigState,
  MigrationFlag,
  decodeFeature,
  decodeMigDataRead,
  decodeMigDataWrite,
  encodeFeature,
  encodeMigData,
  migStateName,
} from '../../codec/migration.js';
import type { MigratableDevice } from '../../device.js';
import { VfioUserError, invalid } from '../../errors.js';
import { andThen, type Handler, type HandlerContext } from '../handler.js';

function migration(ctx: HandlerContext): MigratableDevice {
  const m = ctx.device.migration;
  if (!m) throw new VfioUserError(Errno.ENOTSUP, 'this device does not support migration');
  return m;
}

const SUPPORTED: Record<number, number> = {
  [Feature.MIGRATION]: FeatureFlag.GET,
  [Feature.MIG_DEVICE_STATE]: FeatureFlag.GET | FeatureFlag.SET,
  [Feature.MIG_DATA_SIZE]: FeatureFlag.GET,
};

export const deviceFeature: Handler = {
  acceptsFds: false,
  handle(ctx, h, payload) {
    const r = decodeFeature(payload);
    const m = migration(ctx);
    const allowed = SUPPORTED[r.index];
    const ops = r.flags & (FeatureFlag.GET | FeatureFlag.SET);
    if (allowed === undefined || (ops & ~allowed) !== 0)
      throw new VfioUserError(Errno.ENOTSUP, `device feature ${r.index} with flags 0x${r.flags.toString(16)} is not supported`);
    if (r.flags & FeatureFlag.PROBE) return encodeFeature(r.flags, Buffer.alloc(0), r.argsz);
    const u64 = (v: number) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(v));
      return b;
    };
    switch (r.index) {
      case Feature.MIGRATION:
        return encodeFeature(r.flags, u64(MigrationFlag.STOP_COPY));
      case Feature.MIG_DATA_SIZE:
        return encodeFeature(r.flags, u64(m.migrationDataSize()));
      case Feature.MIG_DEVICE_STATE: {
        if (ops === FeatureFlag.GET) {
          const d = Buffer.alloc(8);
          d.writeUInt32LE(m.migrationState(), 0);
          d.writeInt32LE(-1, 4); // data_fd: unused over vfio-user
          return encodeFeature(r.flags, d);
        }
        if (r.data.length < 4) throw invalid('MIG_DEVICE_STATE SET without a device_state');
        const to = r.data.readUInt32LE(0);
        const from = m.migrationState();
        return andThen(m.setMigrationState(to), () => {
          ctx.log.info({ from: migStateName(from), to: migStateName(to) }, 'vfio_user_migration_state');
          return encodeFeature(r.flags, r.data.subarray(0, 8), r.argsz);
        });
      }
      default:
        throw new VfioUserError(Errno.ENOTSUP, `device feature ${r.index}`);
    }
  },
};

export const migDataRead: Handler = {
  acceptsFds: false,
  handle(ctx, h, payload) {
    const r = decodeMigDataRead(payload);
    const m = migration(ctx);
    if (m.migrationState() !== MigState.STOP_COPY) throw invalid(`MIG_DATA_READ in state ${migStateName(m.migrationState())}`);
    if (r.size > ctx.maxDataXferSize) throw invalid(`MIG_DATA_READ of ${r.size} bytes exceeds max_data_xfer_size ${ctx.maxDataXferSize}`);
    const data = m.readMigrationData(r.size);
    return encodeMigData(data.length, data);
  },
};

export const migDataWrite: Handler = {
  acceptsFds: false,
  handle(ctx, h, payload) {
    const r = decodeMigDataWrite(payload);
    const m = migration(ctx);
    if (m.migrationState() !== MigState.RESUMING) throw invalid(`MIG_DATA_WRITE in state ${migStateName(m.migrationState())}`);
    if (r.size > ctx.maxDataXferSize) throw invalid(`MIG_DATA_WRITE of ${r.size} bytes exceeds max_data_xfer_size`);
    m.writeMigrationData(r.data);
    return undefined;
  },
};
