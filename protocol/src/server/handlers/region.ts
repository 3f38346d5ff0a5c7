import { RegionFlag } from '../../constants.js';
import { decodeRegionAccess, decodeWriteMulti, encodeRegionAccess } from '../../codec/region-access.js';
import { invalid } from '../../errors.js';
import type { Handler, HandlerContext } from '../handler.js';

/** Checks one access against the region table; returns the offset as a number. */
function checkAccess(ctx: HandlerContext, region: number, offset: bigint, count: number, write: boolean): number {
  const { numRegions } = ctx.device.info();
  if (region >= numRegions) throw invalid(`region index ${region} >= ${numRegions}`);
  const info = ctx.device.regionInfo(region);
  if (info.size === 0n) throw invalid(`region ${region} does not exist on this device`);
  const need = write ? RegionFlag.WRITE : RegionFlag.READ;
  if (!(info.flags & need)) throw invalid(`region ${region} is not ${write ? 'writable' : 'readable'}`);
  if (count > ctx.maxDataXferSize) throw invalid(`access of ${count} bytes exceeds max_data_xfer_size ${ctx.maxDataXferSize}`);
  if (offset + BigInt(count) > info.size)
    throw invalid(`access [0x${offset.toString(16)}, +${count}) outside region ${region} of ${info.size} bytes`);
  return Number(offset);
}

export const regionRead: Handler = {
  acceptsFds: false,
  handle(ctx, h, payload) {
    const r = decodeRegionAccess(payload, false);
    const offset = checkAccess(ctx, r.region, r.offset, r.count, false);
    const data = ctx.device.regionRead(r.region, offset, r.count);
    if (data.length !== r.count) throw new Error(`device returned ${data.length} bytes for a ${r.count}-byte read`);
    return encodeRegionAccess(r.offset, r.region, r.count, data);
  },
};

export const regionWrite: Handler = {
  acceptsFds: false,
  handle(ctx, h, payload) {
    const r = decodeRegionAccess(payload, true);
    const offset = checkAccess(ctx, r.region, r.offset, r.count, true);
    ctx.device.regionWrite(r.region, offset, r.data);
    return encodeRegionAccess(r.offset, r.region, r.count);
  },
};

export const regionWriteMulti: Handler = {
  acceptsFds: false,
  handle(ctx, h, payload) {
    const entries = decodeWriteMulti(payload);
    // All entries are checked before any is applied.
    const offsets = entries.map((e) => checkAccess(ctx, e.region, e.offset, e.count, true));
    entries.forEach((e, i) => ctx.device.checkAccess?.(e.region, offsets[i]!, e.count, true));
    entries.forEach((e, i) => ctx.device.regionWrite(e.region, offsets[i]!, e.data));
    const reply = Buffer.alloc(8);
    reply.writeBigUInt64LE(BigInt(entries.length));
    return reply;
  },
};
