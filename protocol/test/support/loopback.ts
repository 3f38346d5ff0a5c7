// A vfio-user client and a server session joined in memory, and a small
// device to serve: what the protocol package's own tests drive, with no
// daemon, socket or native code. Messages cross as whole buffers with their
// fds, in order, as the daemon's native transport delivers them.
import {
  DeviceFlag,
  Errno,
  IrqInfoFlag,
  PciIrq,
  PciRegion,
  RegionFlag,
  ServerSession,
  VfioUserClient,
  VfioUserError,
  defaultServerLimits,
  silentLogger,
  type DeviceInfo,
  type DmaMapping,
  type IrqInfo,
  type IrqRequest,
  type MigratableDevice,
  type RegionInfo,
  type ServerLimits,
  type Transport,
  type VfioUserDevice,
} from 'vfio-user-ts';

/** BAR0: 4 KiB of plain memory; config space: 256 bytes; MSI-X: 4 vectors. */
export const BAR0_SIZE = 4096;
export const MSIX_VECTORS = 4;

export class MemoryDevice implements VfioUserDevice {
  readonly bar0 = Buffer.alloc(BAR0_SIZE);
  readonly config = Buffer.alloc(256);
  readonly maps: DmaMapping[] = [];
  readonly irqRequests: IrqRequest[] = [];
  /** Every write the device applied, in order. */
  readonly writes: { index: number; offset: number; data: Buffer }[] = [];
  resets = 0;
  disconnects = 0;
  /** Offsets the device refuses to write (checkAccess and regionWrite). */
  readonly readOnly = new Set<number>();
  migration?: MigratableDevice;

  info(): DeviceInfo {
    return { flags: DeviceFlag.PCI | DeviceFlag.RESET, numRegions: PciRegion.CONFIG + 1, numIrqs: PciIrq.COUNT };
  }

  regionInfo(index: number): RegionInfo {
    if (index === PciRegion.BAR0) return { flags: RegionFlag.READ | RegionFlag.WRITE, size: BigInt(BAR0_SIZE), offset: 0n };
    if (index === PciRegion.CONFIG) return { flags: RegionFlag.READ | RegionFlag.WRITE, size: 256n, offset: 0n };
    return { flags: 0, size: 0n, offset: 0n };
  }

  irqInfo(index: number): IrqInfo {
    if (index === PciIrq.MSIX) return { flags: IrqInfoFlag.EVENTFD | IrqInfoFlag.NORESIZE, count: MSIX_VECTORS };
    return { flags: IrqInfoFlag.EVENTFD, count: index === PciIrq.INTX ? 1 : 0 };
  }

  private space(index: number): Buffer {
    return index === PciRegion.CONFIG ? this.config : this.bar0;
  }

  regionRead(index: number, offset: number, count: number): Buffer {
    return Buffer.from(this.space(index).subarray(offset, offset + count));
  }

  checkAccess(index: number, offset: number, count: number, write: boolean): void {
    if (write && index === PciRegion.BAR0 && [...this.readOnly].some((o) => o >= offset && o < offset + count))
      throw new VfioUserError(Errno.EPERM, `BAR0 offset ${offset} is read-only`);
  }

  regionWrite(index: number, offset: number, data: Buffer): void {
    this.checkAccess(index, offset, data.length, true);
    data.copy(this.space(index), offset);
    this.writes.push({ index, offset, data: Buffer.from(data) });
  }

  dmaMap(m: DmaMapping): void {
    if (this.maps.some((x) => m.iova < x.iova + x.size && x.iova < m.iova + m.size))
      throw new VfioUserError(Errno.EEXIST, 'overlapping DMA mapping');
    this.maps.push(m);
  }

  dmaUnmap(iova: bigint, size: bigint): void {
    const i = this.maps.findIndex((m) => m.iova === iova && m.size === size);
    if (i < 0) throw new VfioUserError(Errno.ENOENT, 'no such DMA mapping');
    this.maps.splice(i, 1);
  }

  dmaUnmapAll(): number {
    return this.maps.splice(0).length;
  }

  setIrqs(r: IrqRequest): void {
    this.irqRequests.push(r);
  }

  reset(): void {
    this.resets++;
    this.bar0.fill(0);
  }

  disconnected(): void {
    this.disconnects++;
    this.maps.splice(0);
  }
}

export interface Loopback {
  client: VfioUserClient;
  session: ServerSession;
  device: MemoryDevice;
  /** Every message the server sent, in order. */
  replies: Buffer[];
}

/** A client attached to a fresh session serving `device`, in this process. */
export function loopback(device = new MemoryDevice(), limits: ServerLimits = defaultServerLimits): Loopback {
  const client = new VfioUserClient();
  client.timeoutMs = 1000;
  const replies: Buffer[] = [];
  let open = true;
  const toClient: Transport = {
    send(message, fds) {
      if (!open) return false;
      replies.push(Buffer.from(message));
      client.onMessage(Buffer.from(message), [...(fds ?? [])]);
      return true;
    },
    close() {
      open = false;
      client.onClose(null);
    },
  };
  const session = new ServerSession(device, toClient, limits, silentLogger);
  // As the data plane: a message whose handling is asynchronous holds back
  // the ones after it until it settles (handleMessage's promise never rejects).
  const queue: [Buffer, number[]][] = [];
  let waiting = false;
  const pump = (): void => {
    while (!waiting && queue.length > 0) {
      const [m, f] = queue.shift()!;
      const done = session.handleMessage(m, f);
      if (done instanceof Promise) {
        waiting = true;
        void done.finally(() => {
          waiting = false;
          pump();
        });
      }
    }
  };
  const toServer: Transport = {
    send(message, fds) {
      if (!open) return false;
      queue.push([Buffer.from(message), [...(fds ?? [])]]);
      pump();
      return true;
    },
    close() {
      if (!open) return;
      open = false;
      void session.closed(null);
    },
  };
  client.attach(toServer);
  return { client, session, device, replies };
}

/** A loopback that has negotiated VERSION as QEMU 11.1 does. */
export async function negotiated(device = new MemoryDevice(), limits: ServerLimits = defaultServerLimits): Promise<Loopback> {
  const l = loopback(device, limits);
  await l.client.version();
  return l;
}
