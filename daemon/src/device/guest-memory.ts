// Guest RAM as the VMM shares it (DMA_MAP). The table itself is native so that
// backend threads can translate and copy without the JS thread (invariant 1).
import type { Logger } from 'pino';
import { Errno, VfioUserError, type DmaMapping } from 'vfio-user-ts';
import { native } from '../native.js';

const hex = (v: bigint): string => `0x${v.toString(16)}`;

export const NO_FD_HINT =
  'guest RAM must be shared with the device through a file descriptor: start QEMU with ' +
  '-object memory-backend-memfd,id=mem,size=<RAM>,share=on -machine memory-backend=mem ' +
  '(or memory-backend-shm / memory-backend-file,...,share=on)';

export class GuestMemory {
  constructor(private readonly log: Logger) {}

  map(m: DmaMapping): void {
    if (m.fd === null) {
      // Reaching this memory would need DMA_READ/WRITE, which deadlocks when
      // issued while QEMU's vCPU waits on us holding the BQL (invariant 3).
      this.log.error({ iova: hex(m.iova), size: hex(m.size), hint: NO_FD_HINT }, 'guest_memory_without_fd');
      throw new VfioUserError(Errno.ENOTSUP, `DMA_MAP without an fd refused: ${NO_FD_HINT}`);
    }
    if (!m.readable) throw new VfioUserError(Errno.EINVAL, 'DMA_MAP of memory the device may not read');
    native.gmMap(m.iova, m.size, m.fd, m.offset, m.writable);
    this.log.info(
      { iova: hex(m.iova), size: hex(m.size), offset: hex(m.offset), writable: m.writable },
      'guest_memory_region_added',
    );
  }

  unmap(iova: bigint, size: bigint): void {
    const cut = native.gmUnmap(iova, size);
    // Task aliases of it were replaced: the device can no longer reach it.
    this.log.info({ iova: hex(iova), size: hex(size), taskAliasesCut: cut }, 'guest_memory_region_removed');
  }

  unmapAll(): number {
    const n = native.gmUnmapAll();
    if (n) this.log.info({ regions: n }, 'guest_memory_cleared');
    return n;
  }

  regions(): { gpa: bigint; size: bigint; writable: boolean }[] {
    return native.gmList();
  }
}
