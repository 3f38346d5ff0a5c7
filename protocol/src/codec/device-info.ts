// DEVICE_GET_INFO (4), DEVICE_GET_REGION_INFO (5), DEVICE_GET_IRQ_INFO (7).
import { invalid } from '../errors.js';

export interface DeviceInfo {
  flags: number;
  numRegions: number;
  numIrqs: number;
}
export const DEVICE_INFO_SIZE = 16;

/**
 * Request: argsz, then three fields the client leaves zero. Returns argsz.
 * The whole 16-byte struct is required: the reply is 16 bytes, and a reply
 * larger than the request would overrun a QEMU-style receive buffer (docs/design.md P2).
 */
export function decodeDeviceInfoRequest(p: Buffer): number {
  if (p.length < DEVICE_INFO_SIZE) throw invalid(`DEVICE_GET_INFO payload is ${p.length} bytes; ${DEVICE_INFO_SIZE} needed`);
  const argsz = p.readUInt32LE(0);
  if (argsz < DEVICE_INFO_SIZE) throw invalid(`DEVICE_GET_INFO argsz ${argsz} < ${DEVICE_INFO_SIZE}`);
  return argsz;
}

export function encodeDeviceInfo(i: DeviceInfo, argsz = DEVICE_INFO_SIZE): Buffer {
  const p = Buffer.alloc(DEVICE_INFO_SIZE);
  p.writeUInt32LE(argsz, 0);
  p.writeUInt32LE(i.flags, 4);
  p.writeUInt32LE(i.numRegions, 8);
  p.writeUInt32LE(i.numIrqs, 12);
  return p;
}

export function decodeDeviceInfo(p: Buffer): DeviceInfo {
  if (p.length < DEVICE_INFO_SIZE) throw invalid('short DEVICE_GET_INFO reply');
  return { flags: p.readUInt32LE(4), numRegions: p.readUInt32LE(8), numIrqs: p.readUInt32LE(12) };
}

export interface RegionInfo {
  flags: number;
  size: bigint;
  offset: bigint;
  /** Capability chain bodies, each starting with its 8-byte header (next filled in by the encoder). */
  caps?: Buffer[];
}
export const REGION_INFO_SIZE = 32;

export function decodeRegionInfoRequest(p: Buffer): { argsz: number; index: number } {
  if (p.length < REGION_INFO_SIZE) throw invalid(`DEVICE_GET_REGION_INFO payload is ${p.length} bytes; ${REGION_INFO_SIZE} needed`);
  const argsz = p.readUInt32LE(0);
  if (argsz < REGION_INFO_SIZE) throw invalid(`DEVICE_GET_REGION_INFO argsz ${argsz} < ${REGION_INFO_SIZE}`);
  return { argsz, index: p.readUInt32LE(8) };
}

export function encodeRegionInfoRequest(index: number, argsz = REGION_INFO_SIZE): Buffer {
  const p = Buffer.alloc(REGION_INFO_SIZE);
  p.writeUInt32LE(argsz, 0);
  p.writeUInt32LE(index, 8);
  return p;
}

/**
 * The reply never exceeds what the client asked for (docs/design.md P2): when the caps do not
 * fit `argsz`, only the fixed part goes out, with argsz = the full size so the
 * client can ask again.
 */
export function encodeRegionInfo(index: number, info: RegionInfo, argsz: number, capsFlag: number): Buffer {
  const caps = info.caps ?? [];
  const full = REGION_INFO_SIZE + caps.reduce((n, c) => n + c.length, 0);
  const withCaps = caps.length > 0 && argsz >= full;
  const p = Buffer.alloc(withCaps ? full : REGION_INFO_SIZE);
  p.writeUInt32LE(full, 0);
  p.writeUInt32LE(info.flags | (caps.length > 0 ? capsFlag : 0), 4);
  p.writeUInt32LE(index, 8);
  p.writeUInt32LE(withCaps ? REGION_INFO_SIZE : 0, 12);
  p.writeBigUInt64LE(info.size, 16);
  p.writeBigUInt64LE(info.offset, 24);
  if (withCaps) {
    let off = REGION_INFO_SIZE;
    caps.forEach((c, i) => {
      c.copy(p, off);
      const next = i + 1 < caps.length ? off + c.length : 0;
      p.writeUInt32LE(next, off + 4);
      off += c.length;
    });
  }
  return p;
}

export function decodeRegionInfo(p: Buffer): RegionInfo & { argsz: number; index: number; capOffset: number } {
  if (p.length < REGION_INFO_SIZE) throw invalid('short DEVICE_GET_REGION_INFO reply');
  return {
    argsz: p.readUInt32LE(0),
    flags: p.readUInt32LE(4),
    index: p.readUInt32LE(8),
    capOffset: p.readUInt32LE(12),
    size: p.readBigUInt64LE(16),
    offset: p.readBigUInt64LE(24),
  };
}

export interface IrqInfo {
  flags: number;
  count: number;
}
export const IRQ_INFO_SIZE = 16;

export function decodeIrqInfoRequest(p: Buffer): { argsz: number; index: number } {
  if (p.length < IRQ_INFO_SIZE) throw invalid(`DEVICE_GET_IRQ_INFO payload is ${p.length} bytes; ${IRQ_INFO_SIZE} needed`);
  const argsz = p.readUInt32LE(0);
  if (argsz < IRQ_INFO_SIZE) throw invalid(`DEVICE_GET_IRQ_INFO argsz ${argsz} < ${IRQ_INFO_SIZE}`);
  return { argsz, index: p.readUInt32LE(8) };
}

export function encodeIrqInfo(index: number, info: IrqInfo, argsz = IRQ_INFO_SIZE): Buffer {
  const p = Buffer.alloc(IRQ_INFO_SIZE);
  p.writeUInt32LE(argsz, 0);
  p.writeUInt32LE(info.flags, 4);
  p.writeUInt32LE(index, 8);
  p.writeUInt32LE(info.count, 12);
  return p;
}

export function decodeIrqInfo(p: Buffer): IrqInfo & { index: number } {
  if (p.length < IRQ_INFO_SIZE) throw invalid('short DEVICE_GET_IRQ_INFO reply');
  return { flags: p.readUInt32LE(4), index: p.readUInt32LE(8), count: p.readUInt32LE(12) };
}
