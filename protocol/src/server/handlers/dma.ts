import { DmaFlag, DmaUnmapFlag, Errno } from '../../constants.js';
import { decodeDmaMap, decodeDmaUnmap, encodeDmaUnmap } from '../../codec/dma.js';
import { VfioUserError, invalid } from '../../errors.js';
import type { Handler } from '../handler.js';

const hex = (v: bigint): string => `0x${v.toString(16)}`;

export const dmaMap: Handler = {
  acceptsFds: true,
  handle(ctx, h, payload, fds) {
    const r = decodeDmaMap(payload);
    if (fds.length > 1) throw invalid(`DMA_MAP carries ${fds.length} fds; at most 1`);
    const fd = fds.length === 1 ? fds.peek(0) : null;
    ctx.log.debug({ iova: hex(r.iova), size: hex(r.size), offset: hex(r.offset), flags: r.flags, fd: fd !== null }, 'vfio_user_dma_map');
    ctx.device.dmaMap({
      iova: r.iova,
      size: r.size,
      offset: r.offset,
      readable: (r.flags & DmaFlag.READ) !== 0,
      writable: (r.flags & DmaFlag.WRITE) !== 0,
      fd,
    });
    fds.releaseAll(); // the device owns the fd now
    return undefined;
  },
};

export const dmaUnmap: Handler = {
  acceptsFds: false,
  handle(ctx, h, payload) {
    const r = decodeDmaUnmap(payload);
    if (r.flags & DmaUnmapFlag.GET_DIRTY_BITMAP)
      throw new VfioUserError(Errno.ENOTSUP, 'DMA_UNMAP dirty bitmaps are not supported (no dirty tracking)');
    if (r.flags & DmaUnmapFlag.ALL) {
      const n = ctx.device.dmaUnmapAll();
      ctx.log.debug({ all: true, regions: n }, 'vfio_user_dma_unmap');
    } else {
      ctx.log.debug({ iova: hex(r.iova), size: hex(r.size) }, 'vfio_user_dma_unmap');
      ctx.device.dmaUnmap(r.iova, r.size);
    }
    // The spec echoes the entry; QEMU ignores it. Same size as the request (docs/design.md P2).
    return encodeDmaUnmap(r);
  },
};
