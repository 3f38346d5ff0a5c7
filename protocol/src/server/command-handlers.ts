// Command id -> handler (one file per command family in handlers/).
import { Command } from '../constants.js';
import type { Handler } from './handler.js';
import { dmaMap, dmaUnmap } from './handlers/dma.js';
import { deviceInfo, irqInfo, regionInfo } from './handlers/info.js';
import { setIrqs } from './handlers/irqs.js';
import { deviceReset } from './handlers/reset.js';
import { regionRead, regionWrite, regionWriteMulti } from './handlers/region.js';
import { version } from './handlers/version.js';
import { deviceFeature, migDataRead, migDataWrite } from './handlers/migration.js';

export const handlers = new Map<number, Handler>([
  [Command.VERSION, version],
  [Command.DMA_MAP, dmaMap],
  [Command.DMA_UNMAP, dmaUnmap],
  [Command.DEVICE_GET_INFO, deviceInfo],
  [Command.DEVICE_GET_REGION_INFO, regionInfo],
  [Command.DEVICE_GET_IRQ_INFO, irqInfo],
  [Command.DEVICE_SET_IRQS, setIrqs],
  [Command.REGION_READ, regionRead],
  [Command.REGION_WRITE, regionWrite],
  [Command.DEVICE_RESET, deviceReset],
  [Command.REGION_WRITE_MULTI, regionWriteMulti],
  [Command.DEVICE_FEATURE, deviceFeature],
  [Command.MIG_DATA_READ, migDataRead],
  [Command.MIG_DATA_WRITE, migDataWrite],
]);
