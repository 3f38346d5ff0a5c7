// REGION_READ (9), REGION_WRITE (10), REGION_WRITE_MULTI (15).
import { Limits } from '../constants.js';
import { invalid } from '../errors.js';

export interface RegionAccess {
  offset: bigint;
  region: number;
  count: number;
  data: Buffer;
}
export const REGION_ACCESS_SIZE = 16;

export function decodeRegionAccess(p: Buffer, write: boolean): RegionAccess {
  const name = write ? 'REGION_WRITE' : 'REGION_READ';
  if (p.length < REGION_ACCESS_SIZE) throw invalid(`${name} payload is ${p.length} bytes; ${REGION_ACCESS_SIZE} needed`);
  const r = { offset: p.readBigUInt64LE(0), region: p.readUInt32LE(8), count: p.readUInt32LE(12), data: p.subarray(16) };
  const expect = REGION_ACCESS_SIZE + (write ? r.count : 0);
  if (p.length !== expect) throw invalid(`${name} payload is ${p.length} bytes; ${expect} expected for count ${r.count}`);
  if (r.count === 0) throw invalid(`${name} of 0 bytes`);
  return r;
}

export function encodeRegionAccess(offset: bigint, region: number, count: number, data?: Buffer): Buffer {
  const p = Buffer.alloc(REGION_ACCESS_SIZE + (data?.length ?? 0));
  p.writeBigUInt64LE(offset, 0);
  p.writeUInt32LE(region, 8);
  p.writeUInt32LE(count, 12);
  if (data) data.copy(p, REGION_ACCESS_SIZE);
  return p;
}

export interface WriteMultiEntry {
  offset: bigint;
  region: number;
  count: number;
  data: Buffer;
}
const MULTI_ENTRY_SIZE = 24;

export function decodeWriteMulti(p: Buffer): WriteMultiEntry[] {
  if (p.length < 8) throw invalid(`REGION_WRITE_MULTI payload is ${p.length} bytes; 8 needed`);
  const n = p.readBigUInt64LE(0);
  if (n === 0n || n > BigInt(Limits.MULTI_MAX)) throw invalid(`REGION_WRITE_MULTI wr_cnt ${n} outside [1, ${Limits.MULTI_MAX}]`);
  const count = Number(n);
  if (p.length !== 8 + count * MULTI_ENTRY_SIZE)
    throw invalid(`REGION_WRITE_MULTI payload is ${p.length} bytes; ${8 + count * MULTI_ENTRY_SIZE} expected`);
  const out: WriteMultiEntry[] = [];
  for (let i = 0; i < count; i++) {
    const o = 8 + i * MULTI_ENTRY_SIZE;
    const e = { offset: p.readBigUInt64LE(o), region: p.readUInt32LE(o + 8), count: p.readUInt32LE(o + 12) };
    if (e.count === 0 || e.count > Limits.MULTI_DATA)
      throw invalid(`REGION_WRITE_MULTI entry ${i} count ${e.count} outside [1, ${Limits.MULTI_DATA}]`);
    out.push({ ...e, data: p.subarray(o + 16, o + 16 + e.count) });
  }
  return out;
}

export function encodeWriteMulti(entries: WriteMultiEntry[]): Buffer {
  const p = Buffer.alloc(8 + entries.length * MULTI_ENTRY_SIZE);
  p.writeBigUInt64LE(BigInt(entries.length), 0);
  entries.forEach((e, i) => {
    const o = 8 + i * MULTI_ENTRY_SIZE;
    p.writeBigUInt64LE(e.offset, o);
    p.writeUInt32LE(e.region, o + 8);
    p.writeUInt32LE(e.count, o + 12);
    e.data.copy(p, o + 16, 0, Math.min(8, e.data.length));
  });
  return p;
}
