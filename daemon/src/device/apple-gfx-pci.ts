// The apple-gfx device as one vfio-user PCI function.
//
//   BAR0  16 KiB  PVG registers from 0x1000; MSI-X table at 0x0000, PBA at 0x0800
//   BAR2  64 KiB  IOSFC region (variant mmio only)
//   cfg   256 B   106b:eeee, class 038000, MSI (64-bit) and MSI-X capabilities
//   vectors: 0 = gfx, 1 = IOSFC (mmio only)
import type { Logger } from 'pino';
import {
  DeviceFlag,
  IrqInfoFlag,
  PciIrq,
  PciRegion,
  RegionFlag,
  type DeviceInfo,
  type DmaMapping,
  type IrqInfo,
  type IrqRequest,
  type MigratableDevice,
  type RegionInfo,
  type VfioUserDevice,
} from 'vfio-user-ts';
import { deviceOps, type DeviceOps } from './device-ops.js';
import { GuestMemory } from './guest-memory.js';
import { Interrupts } from './interrupts.js';
import { native, type DataPlaneRegion, type NativeBackend } from '../native.js';
import { Cap, Cfg, CONFIG_SIZE, PciConfigSpace } from './pci-config.js';

export type Variant = 'pci' | 'mmio';

export const APPLE_VENDOR_ID = 0x106b;
export const APPLE_GFX_DEVICE_ID = 0xeeee;
/** PCI_CLASS_DISPLAY_OTHER, prog-if 0. */
export const APPLE_GFX_CLASS = 0x038000;
export const GFX_BAR = PciRegion.BAR0;
/** BAR0's size when the backend asks for none (Apple: "should be sized to 16KB"). */
export const GFX_BAR_SIZE = 0x4000;
export const IOSFC_BAR = PciRegion.BAR2;
export const IOSFC_BAR_SIZE = 0x10000;
export const MSIX_TABLE_OFFSET = 0x0000;
export const MSIX_PBA_OFFSET = 0x0800;
export const GFX_VECTOR = 0;
export const IOSFC_VECTOR = 1;

/**
 * BAR0's size: what the backend asks for (agfx_backend region_size: PVG's
 * [PGDeviceDescriptor new].mmioLength, as QEMU sizes it), else
 * GFX_BAR_SIZE. A BAR is a power of two and holds the MSI-X table and PBA.
 */
export function gfxBarSize(requested: number): number {
  if (!Number.isSafeInteger(requested) || requested <= 0) return GFX_BAR_SIZE;
  let size = 0x1000;
  while (size < requested && size < 0x80000000) size *= 2;
  return size;
}

function buildConfigSpace(vectors: number, variant: Variant, gfxSize: number): PciConfigSpace {
  const cfg = new PciConfigSpace()
    .set16(Cfg.VENDOR_ID, APPLE_VENDOR_ID)
    .set16(Cfg.DEVICE_ID, APPLE_GFX_DEVICE_ID)
    .set16(Cfg.COMMAND, 0, 0x0547) // IO, MEM, MASTER, PARITY, SERR, INTx disable
    .set8(Cfg.REVISION, 0)
    .set8(Cfg.CLASS_PROG, APPLE_GFX_CLASS & 0xff)
    .set16(Cfg.CLASS_PROG + 1, APPLE_GFX_CLASS >>> 8)
    .set8(Cfg.CACHE_LINE, 0, 0xff)
    .set8(Cfg.LATENCY, 0, 0xff)
    // QEMU gives every in-process PCI device this subsystem (Red Hat / QEMU).
    .set16(Cfg.SUBSYS_VENDOR, 0x1af4)
    .set16(Cfg.SUBSYS_ID, 0x1100)
    .set32(Cfg.ROM, 0) // no option ROM: ROM BAR sizing reads back 0
    .set8(Cfg.INT_LINE, 0, 0xff)
    .set8(Cfg.INT_PIN, 0) // no INTx: MSI or MSI-X only
    .bar32(GFX_BAR, gfxSize);
  if (variant === 'mmio') cfg.bar32(IOSFC_BAR, IOSFC_BAR_SIZE);

  // MSI, 64-bit, no per-vector masking (as apple-gfx-pci's msi_init).
  const mmc = Math.ceil(Math.log2(vectors));
  const msi = Buffer.alloc(12);
  const msiMask = Buffer.alloc(12);
  msi.writeUInt16LE(0x0080 | (mmc << 1), 0);
  msiMask.writeUInt16LE(0x0071, 0); // enable + multiple message enable
  msiMask.writeUInt32LE(0xfffffffc, 2); // address low
  msiMask.writeUInt32LE(0xffffffff, 6); // address high
  msiMask.writeUInt16LE(0xffff, 10); // data
  cfg.addCapability(Cap.MSI, { value: msi, writeMask: msiMask });

  // MSI-X: table and PBA in BAR0 below the registers; QEMU emulates both.
  const msix = Buffer.alloc(10);
  const msixMask = Buffer.alloc(10);
  msix.writeUInt16LE(vectors - 1, 0);
  msixMask.writeUInt16LE(0xc000, 0); // enable + function mask
  msix.writeUInt32LE(MSIX_TABLE_OFFSET | GFX_BAR, 2);
  msix.writeUInt32LE(MSIX_PBA_OFFSET | GFX_BAR, 6);
  cfg.addCapability(Cap.MSIX, { value: msix, writeMask: msixMask });
  return cfg.seal();
}

export interface AppleGfxDeviceOptions {
  variant: Variant;
  log: Logger;
  backend: NativeBackend;
}

/** Backend MMIO region numbers (agfx_backend.h). */
const BACKEND_REGION = { gfx: 0, iosfc: 1 } as const;

export class AppleGfxPciDevice implements VfioUserDevice {
  readonly variant: Variant;
  readonly vectors: number;
  readonly config: PciConfigSpace;
  readonly memory: GuestMemory;
  readonly interrupts: Interrupts;
  readonly backend: NativeBackend;
  /** This device's operations, one at a time (reset, state, a client leaving). */
  readonly ops: DeviceOps;
  /** Set by the daemon once displays exist (vfio-user migration v2). */
  migration?: MigratableDevice & { reset(): void };
  /** BAR0's size (gfxBarSize of the backend's region_size). */
  readonly gfxBarSize: number;
  private readonly log: Logger;

  constructor(opts: AppleGfxDeviceOptions) {
    this.variant = opts.variant;
    this.log = opts.log;
    this.vectors = opts.variant === 'mmio' ? 2 : 1;
    this.gfxBarSize = gfxBarSize(opts.backend.regionSize(BACKEND_REGION.gfx));
    this.config = buildConfigSpace(this.vectors, opts.variant, this.gfxBarSize);
    this.memory = new GuestMemory(this.log);
    this.interrupts = new Interrupts(this.log, this.vectors);
    this.backend = opts.backend;
    this.ops = deviceOps(opts.backend);
    this.ops.on('slow', (operation, seconds) =>
      this.log.warn({ operation, seconds: Math.round(seconds), queued: this.ops.status()?.queued ?? 0 }, 'apple_gfx_operation_slow'),
    );
  }

  info(): DeviceInfo {
    return { flags: DeviceFlag.PCI | DeviceFlag.RESET, numRegions: PciRegion.COUNT, numIrqs: PciIrq.COUNT };
  }

  regionInfo(index: number): RegionInfo {
    const rw = RegionFlag.READ | RegionFlag.WRITE;
    // No MMAP flag anywhere: PVG registers must trap every access, and an
    // mmap'd BAR would disable posted writes for the whole device (docs/design.md P13).
    if (index === GFX_BAR) return { flags: rw, size: BigInt(this.gfxBarSize), offset: 0n };
    if (index === IOSFC_BAR && this.variant === 'mmio') return { flags: rw, size: BigInt(IOSFC_BAR_SIZE), offset: 0n };
    if (index === PciRegion.CONFIG) return { flags: rw, size: BigInt(CONFIG_SIZE), offset: 0n };
    return { flags: 0, size: 0n, offset: 0n };
  }

  irqInfo(index: number): IrqInfo {
    if (index === PciIrq.MSI || index === PciIrq.MSIX) return { flags: IrqInfoFlag.EVENTFD, count: this.vectors };
    // One ERR eventfd, as Linux's vfio-pci offers: QEMU wires it at realize
    // and otherwise warns "Could not enable error recovery for the device"
    // on every boot. The daemon never signals it (QEMU would stop the VM).
    if (index === PciIrq.ERR) return { flags: IrqInfoFlag.EVENTFD, count: 1 };
    return { flags: 0, count: 0 };
  }

  /**
   * The region table the data plane reads (native/core/dataplane/
   * region_table.h): the device's BARs are served natively, on the client's
   * data-plane thread, with the rules of the PVG register file — aligned 4-
   * and 8-byte accesses only, 8-byte ones split low dword first
   * (docs/design.md P14) except IOSFC's, which go whole to a backend that
   * takes them (mmio_read64/mmio_write64), the MSI-X PBA reading as zeros —
   * and no JS call per access (docs/design.md invariant 6). Config space
   * stays here.
   */
  dataPlaneRegions(): DataPlaneRegion[] {
    const out: DataPlaneRegion[] = [];
    for (let index = 0; index < PciRegion.COUNT; index++) {
      const info = this.regionInfo(index);
      const region: DataPlaneRegion = {
        index,
        size: Number(info.size),
        readable: (info.flags & RegionFlag.READ) !== 0,
        writable: (info.flags & RegionFlag.WRITE) !== 0,
        native: false,
      };
      if (index === GFX_BAR) {
        Object.assign(region, {
          native: true,
          backendRegion: BACKEND_REGION.gfx,
          // QEMU forwards PBA reads; nothing is ever pending on our side, and the PBA is read-only.
          zeroWindow: { offset: MSIX_PBA_OFFSET, length: 8 },
          traceRead: 'apple_gfx_read',
          traceWrite: 'apple_gfx_write',
        });
      } else if (index === IOSFC_BAR && this.variant === 'mmio') {
        Object.assign(region, {
          native: true,
          backendRegion: BACKEND_REGION.iosfc,
          // IOSFC's registers are 64 bits wide (PVG's IOSurface device).
          whole64: true,
          traceRead: 'apple_gfx_iosfc_read',
          traceWrite: 'apple_gfx_iosfc_write',
        });
      }
      out.push(region);
    }
    return out;
  }

  regionRead(index: number, offset: number, count: number): Buffer {
    // QEMU reads config space at realize, after its initial DMA_MAPs (docs/design.md P10).
    this.memory.judgeSharing();
    if (index === PciRegion.CONFIG) return this.config.read(offset, count);
    throw this.notHere(index);
  }

  regionWrite(index: number, offset: number, data: Buffer): void {
    this.memory.judgeSharing();
    if (index === PciRegion.CONFIG) {
      this.config.write(offset, data);
      return;
    }
    throw this.notHere(index);
  }

  /** Refuses what regionRead/regionWrite would refuse, without doing the access. */
  checkAccess(index: number, _offset: number, _count: number, _write: boolean): void {
    if (index !== PciRegion.CONFIG) throw this.notHere(index);
  }

  // The data plane answers every access to the BARs (dataPlaneRegions) and
  // hands over only what is not one, so a BAR access here is a routing bug:
  // logged at error level, and refused rather than served on the JS thread
  // (backend calls never run on it).
  private notHere(index: number): Error {
    return new Error(`region ${index} access reached the session; the data plane serves the device's BARs`);
  }

  // Backends on the static memory model get the new guest-memory map before
  // the VMM hears back (tasks-model backends ignore the call).
  dmaMap(m: DmaMapping): void {
    this.memory.map(m);
    this.backend.memoryMapChanged();
  }

  dmaUnmap(iova: bigint, size: bigint): void {
    this.memory.unmap(iova, size);
    this.backend.memoryMapChanged();
  }

  dmaUnmapAll(): number {
    const n = this.memory.unmapAll();
    this.backend.memoryMapChanged();
    return n;
  }

  setIrqs(r: IrqRequest): void {
    this.interrupts.apply(r);
  }

  /**
   * A device operation (device-ops.ts): the backend's reset runs off the JS
   * thread (PVG's may take long and wait on the main queue); config space is
   * reset once it is done. DEVICE_RESET's reply waits for it.
   */
  reset(): Promise<void> {
    return this.ops.run('reset', async () => {
      await this.migration?.reset();
      await this.backend.resetAsync();
      this.config.reset();
      this.log.info({ variant: this.variant }, 'apple_gfx_reset');
    });
  }

  // The client left (docs/design.md invariant 5; issue 12 defect 2): the
  // backend first drops what reaches the guest's memory (tasks, IOSFC
  // mappings, map snapshots, and the handles and pointers the next client
  // could use to read it), then the table goes, then the interrupt fds.
  disconnected(): Promise<void> {
    return this.ops.run('client gone', () => this.release());
  }

  private async release(): Promise<void> {
    // Off the JS thread: PVG's may swap the device and wait for renders.
    const kept = await this.backend.guestMemoryGoneAsync();
    const regions = this.dmaUnmapAll();
    // A backend that did not let go (a library without the call): what its
    // IOSFC mappings still reach becomes zero pages, the fds are closed.
    const regionsSevered = kept.iosfcMappingsKept > 0 ? native.severKeptGuestMemory() : 0;
    this.interrupts.closeAll();
    const { offered, tasksKept, iosfcMappingsKept, snapshotsKept } = kept;
    const detail = { regionsUnmapped: regions, tasksKept, iosfcMappingsKept, snapshotsKept, regionsSevered };
    if (!offered && tasksKept + iosfcMappingsKept + snapshotsKept > 0)
      this.log.warn({ ...detail, backend: this.backend.name }, 'apple_gfx_client_detached');
    else this.log.info(detail, 'apple_gfx_client_detached');
  }
}
