import { RegionFlag } from '../../constants.js';
import {
  decodeDeviceInfoRequest,
  decodeIrqInfoRequest,
  decodeRegionInfoRequest,
  encodeDeviceInfo,
  encodeIrqInfo,
  encodeRegionInfo,
} from '../../codec/device-info.js';
import { invalid } from '../../errors.js';
import type { Handler } from '../handler.js';

export const deviceInfo: Handler = {
  acceptsFds: false,
  handle(ctx, h, payload) {
    decodeDeviceInfoRequest(payload);
    const info = ctx.device.info();
    ctx.log.debug({ ...info }, 'vfio_user_get_info');
    return encodeDeviceInfo(info);
  },
};

export const regionInfo: Handler = {
  acceptsFds: false,
  handle(ctx, h, payload) {
    const { argsz, index } = decodeRegionInfoRequest(payload);
    const { numRegions } = ctx.device.info();
    if (index >= numRegions) throw invalid(`region index ${index} >= ${numRegions}`);
    const info = ctx.device.regionInfo(index);
    ctx.log.debug({ index, size: Number(info.size), flags: info.flags, argsz }, 'vfio_user_get_region_info');
    return encodeRegionInfo(index, info, argsz, RegionFlag.CAPS);
  },
};

export const irqInfo: Handler = {
  acceptsFds: false,
  handle(ctx, h, payload) {
    const { index } = decodeIrqInfoRequest(payload);
    const { numIrqs } = ctx.device.info();
    if (index >= numIrqs) throw invalid(`IRQ index ${index} >= ${numIrqs}`);
    const info = ctx.device.irqInfo(index);
    ctx.log.debug({ index, ...info }, 'vfio_user_get_irq_info');
    return encodeIrqInfo(index, info);
  },
};
