// DMA_MAP (2) and DMA_UNMAP (3).
import { DmaFlag, DmaUnmapFlag } from '../constants.js';
import { invalid } from '../errors.js';

export interface DmaMapRequest {
  argsz: number;
  flags: number;
  offset: bigint;
  iova: bigint;
  size: bigint;
}
export const DMA_MAP_SIZE = 32;

export function decodeDmaMap(p: Buffer): DmaMapRequest {
  if (p.length !== DMA_MAP_SIZE) throw invalid(`DMA_MAP payload is ${p.length} bytes, expected ${DMA_MAP_SIZE}`);
  const r = {
    argsz: p.readUInt32LE(0),
    flags: p.readUInt32LE(4),
    offset: p.readBigUInt64LE(8),
    iova: p.readBigUInt64LE(16),
    size: p.readBigUInt64LE(24),
  };
  if (r.argsz < DMA_MAP_SIZE) throw invalid(`DMA_MAP argsz ${r.argsz} < ${DMA_MAP_SIZE}`);
  if (r.flags & ~(DmaFlag.READ | DmaFlag.WRITE)) throw invalid(`DMA_MAP flags 0x${r.flags.toString(16)} has unknown bits`);
  if (r.size === 0n) throw invalid('DMA_MAP of size 0');
  if (r.iova + r.size > 0xffffffffffffffffn + 1n) throw invalid('DMA_MAP range wraps past 2^64');
  return r;
}

export function encodeDmaMap(r: Omit<DmaMapRequest, 'argsz'> & { argsz?: number }): Buffer {
  const p = Buffer.alloc(DMA_MAP_SIZE);
  p.writeUInt32LE(r.argsz ?? DMA_MAP_SIZE, 0);
  p.writeUInt32LE(r.flags, 4);
  p.writeBigUInt64LE(r.offset, 8);
  p.writeBigUInt64LE(r.iova, 16);
  p.writeBigUInt64LE(r.size, 24);
  return p;
}

export interface DmaUnmapRequest {
  argsz: number;
  flags: number;
  iova: bigint;
  size: bigint;
}
export const DMA_UNMAP_SIZE = 24;

export function decodeDmaUnmap(p: Buffer): DmaUnmapRequest {
  if (p.length !== DMA_UNMAP_SIZE) throw invalid(`DMA_UNMAP payload is ${p.length} bytes, expected ${DMA_UNMAP_SIZE}`);
  const r = { argsz: p.readUInt32LE(0), flags: p.readUInt32LE(4), iova: p.readBigUInt64LE(8), size: p.readBigUInt64LE(16) };
  if (r.argsz < DMA_UNMAP_SIZE) throw invalid(`DMA_UNMAP argsz ${r.argsz} < ${DMA_UNMAP_SIZE}`);
  if (r.flags & ~(DmaUnmapFlag.ALL | DmaUnmapFlag.GET_DIRTY_BITMAP))
    throw invalid(`DMA_UNMAP flags 0x${r.flags.toString(16)} has unknown bits`);
  if (r.flags & DmaUnmapFlag.ALL && (r.iova !== 0n || r.size !== 0n)) throw invalid('DMA_UNMAP with FLAG_ALL needs address 0 and size 0');
  if (!(r.flags & DmaUnmapFlag.ALL) && r.size === 0n) throw invalid('DMA_UNMAP of size 0');
  return r;
}

export function encodeDmaUnmap(r: Omit<DmaUnmapRequest, 'argsz'> & { argsz?: number }): Buffer {
  const p = Buffer.alloc(DMA_UNMAP_SIZE);
  p.writeUInt32LE(r.argsz ?? DMA_UNMAP_SIZE, 0);
  p.writeUInt32LE(r.flags, 4);
  p.writeBigUInt64LE(r.iova, 8);
  p.writeBigUInt64LE(r.size, 16);
  return p;
}
