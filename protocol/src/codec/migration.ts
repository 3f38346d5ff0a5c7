// DEVICE_FEATURE (16), MIG_DATA_READ (17), MIG_DATA_WRITE (18): vfio-user
// migration v2 (the kernel's VFIO_DEVICE_FEATURE migration uAPI over the socket).
import { invalid } from '../errors.js';

export const FeatureFlag = {
  INDEX_MASK: 0xffff,
  GET: 1 << 16,
  SET: 1 << 17,
  PROBE: 1 << 18,
} as const;

export const Feature = {
  MIGRATION: 1,
  MIG_DEVICE_STATE: 2,
  DMA_LOGGING_START: 6,
  DMA_LOGGING_STOP: 7,
  DMA_LOGGING_REPORT: 8,
  MIG_DATA_SIZE: 9,
} as const;

/** VFIO_MIGRATION_* flags of the MIGRATION feature. */
export const MigrationFlag = { STOP_COPY: 1, P2P: 2, PRE_COPY: 4 } as const;

export const MigState = {
  ERROR: 0,
  STOP: 1,
  RUNNING: 2,
  STOP_COPY: 3,
  RESUMING: 4,
  RUNNING_P2P: 5,
  PRE_COPY: 6,
  PRE_COPY_P2P: 7,
} as const;

export const migStateName = (s: number): string => Object.entries(MigState).find(([, v]) => v === s)?.[0] ?? `UNKNOWN(${s})`;

export interface FeatureRequest {
  argsz: number;
  flags: number;
  index: number;
  data: Buffer;
}

export function decodeFeature(p: Buffer): FeatureRequest {
  if (p.length < 8) throw invalid(`DEVICE_FEATURE payload is ${p.length} bytes; 8 needed`);
  const r = { argsz: p.readUInt32LE(0), flags: p.readUInt32LE(4), data: p.subarray(8) };
  if (r.argsz < 8) throw invalid(`DEVICE_FEATURE argsz ${r.argsz} < 8`);
  const known = FeatureFlag.INDEX_MASK | FeatureFlag.GET | FeatureFlag.SET | FeatureFlag.PROBE;
  if (r.flags & ~known) throw invalid(`DEVICE_FEATURE flags 0x${r.flags.toString(16)} has unknown bits`);
  const ops = r.flags & (FeatureFlag.GET | FeatureFlag.SET);
  if (!(r.flags & FeatureFlag.PROBE) && ops !== FeatureFlag.GET && ops !== FeatureFlag.SET)
    throw invalid('DEVICE_FEATURE needs exactly one of GET and SET (or PROBE)');
  return { ...r, index: r.flags & FeatureFlag.INDEX_MASK };
}

export function encodeFeature(flags: number, data: Buffer = Buffer.alloc(0), argsz = 8 + data.length): Buffer {
  const p = Buffer.alloc(8 + data.length);
  p.writeUInt32LE(argsz, 0);
  p.writeUInt32LE(flags >>> 0, 4);
  data.copy(p, 8);
  return p;
}

export function decodeMigDataRead(p: Buffer): { argsz: number; size: number } {
  if (p.length !== 8) throw invalid(`MIG_DATA_READ payload is ${p.length} bytes; 8 expected`);
  return { argsz: p.readUInt32LE(0), size: p.readUInt32LE(4) };
}

export function decodeMigDataWrite(p: Buffer): { argsz: number; size: number; data: Buffer } {
  if (p.length < 8) throw invalid(`MIG_DATA_WRITE payload is ${p.length} bytes; at least 8 needed`);
  const r = { argsz: p.readUInt32LE(0), size: p.readUInt32LE(4), data: p.subarray(8) };
  if (r.data.length !== r.size) throw invalid(`MIG_DATA_WRITE size ${r.size} but ${r.data.length} data bytes`);
  return r;
}

export function encodeMigData(size: number, data?: Buffer): Buffer {
  const p = Buffer.alloc(8 + (data?.length ?? 0));
  p.writeUInt32LE(p.length, 0);
  p.writeUInt32LE(size, 4);
  data?.copy(p, 8);
  return p;
}
