// Interrupt routing. The fd table is native: raising a vector is an eventfd
// write done in C, from any thread, with no JS on the path (invariant 6).
import type { Logger } from 'pino';
import { PciIrq, type IrqRequest } from 'vfio-user-ts';
import { native } from '../native.js';

export class Interrupts {
  constructor(
    private readonly log: Logger,
    readonly vectors: number,
  ) {}

  apply(r: IrqRequest): void {
    switch (r.kind) {
      case 'assign':
        native.irqSet(r.index, r.start, r.fds);
        break;
      case 'deassign':
        native.irqClear(r.index, r.start, r.count);
        break;
      case 'disable':
        native.irqDisable(r.index);
        break;
      case 'trigger':
        // A loopback trigger raises device vectors; ERR is QEMU's to act on, never raised here.
        if (r.index !== PciIrq.MSI && r.index !== PciIrq.MSIX) break;
        for (let i = 0; i < r.count; i++) if (!r.bools || r.bools[i]) this.raise(r.start + i);
        break;
      case 'mask':
      case 'unmask':
        // MSI/MSI-X masking is QEMU's: it swaps the eventfd instead (vfio-user §10.2).
        break;
    }
    this.log.debug({ ...r, fds: r.kind === 'assign' ? r.fds.length : undefined }, 'apple_gfx_irq_config');
  }

  raise(vector: number): boolean {
    const delivered = native.irqRaise(vector);
    this.log.trace({ vector, delivered }, 'apple_gfx_raise_irq');
    return delivered;
  }

  closeAll(): void {
    native.irqCloseAll();
  }

  stats(): { vector: number; raised: number; delivered: number; dropped: number }[] {
    return Array.from({ length: this.vectors }, (_, v) => ({ vector: v, ...native.irqStats(v) }));
  }
}
