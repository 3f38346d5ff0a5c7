// Guest RAM as the VMM shares it (DMA_MAP). The table itself is native so that
// backend threads can translate and copy without the JS thread (invariant 1).
//
// A DMA_MAP without an fd is normal: q35 sends ROM, pflash and the VGA BAR
// that way even when RAM is shared, and a plain `-m` sends all of RAM that
// way. Such a range is recorded (so its unmap succeeds and overlaps are
// refused) but never reached: that would take DMA_READ/WRITE, which deadlocks
// when issued while a vCPU waits on us (docs/design.md invariant 3). A
// backend's use of it fails there, and the host service names the range in
// one log line (native/core/host/backend_host.cc).
import type { Logger } from 'pino';
import { Errno, VfioUserError, type DmaMapping } from 'vfio-user-ts';
import { native } from '../native.js';

const hex = (v: bigint): string => `0x${v.toString(16)}`;

export const NO_FD_HINT =
  'guest RAM must be shared with the device through a file descriptor: start QEMU with ' +
  '-object memory-backend-memfd,id=mem,size=<RAM>,share=on -machine memory-backend=mem ' +
  '(or memory-backend-shm / memory-backend-file,...,share=on)';

export class GuestMemory {
  /** Whether this client's guest RAM has been judged (once per client). */
  private judged = false;

  constructor(private readonly log: Logger) {}

  map(m: DmaMapping): void {
    if (!m.readable) throw new VfioUserError(Errno.EINVAL, 'DMA_MAP of memory the device may not read');
    if (m.fd === null) {
      native.gmMapUnreachable(m.iova, m.size);
      this.log.info({ iova: hex(m.iova), size: hex(m.size), writable: m.writable, fd: false }, 'guest_memory_region_added');
      return;
    }
    native.gmMap(m.iova, m.size, m.fd, m.offset, m.writable);
    this.log.info({ iova: hex(m.iova), size: hex(m.size), offset: hex(m.offset), writable: m.writable }, 'guest_memory_region_added');
  }

  unmap(iova: bigint, size: bigint): void {
    const r = native.gmUnmap(iova, size);
    if (!r.reachable) {
      this.log.info({ iova: hex(iova), size: hex(size), fd: false, refusedUses: r.refusedUses }, 'guest_memory_region_removed');
      return;
    }
    // Task aliases of it were replaced: the device can no longer reach it.
    this.log.info({ iova: hex(iova), size: hex(size), taskAliasesCut: r.taskAliasesCut }, 'guest_memory_region_removed');
  }

  unmapAll(): number {
    const refusedUses = native.gmListUnreachable().reduce((a, r) => a + r.refusedUses, 0);
    const n = native.gmUnmapAll();
    if (n) this.log.info({ regions: n, refusedUses }, 'guest_memory_cleared');
    this.judged = false; // the next client is judged afresh
    return n;
  }

  /**
   * Once per client, at its first config-space access (QEMU's initial maps
   * are in by then, docs/design.md P10; BAR accesses never reach JS: the data
   * plane answers them): if guest memory came only without fds, guest RAM itself
   * is not shared, nothing the backend needs is reachable, and the user is
   * told once how to start QEMU. The daemon keeps serving either way.
   */
  judgeSharing(): void {
    if (this.judged) return;
    this.judged = true;
    const without = native.gmListUnreachable();
    if (without.length === 0 || native.gmList().length > 0) return;
    const total = without.reduce((a, r) => a + r.size, 0n);
    this.log.error({ ranges: without.length, bytes: hex(total), hint: NO_FD_HINT }, 'guest_memory_without_fd');
  }

  regions(): { gpa: bigint; size: bigint; writable: boolean }[] {
    return native.gmList();
  }

  /** Ranges mapped without an fd (never reachable by the device). */
  unreachable(): { gpa: bigint; size: bigint; refusedUses: number }[] {
    return native.gmListUnreachable();
  }
}
