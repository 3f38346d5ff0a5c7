// vfio-user client side: what QEMU does, for tests and tools. It negotiates,
// maps memory, queries, reads and writes regions and sets eventfds. Raw
// access (sendRaw / request with any payload) lets tests send malformed input.
import { closeSync } from 'node:fs';
import { Command, DmaFlag, DmaUnmapFlag, HEADER_SIZE, IrqSetFlag, MsgFlag, PciRegion } from './constants.js';
import { decodeDeviceInfo, decodeIrqInfo, decodeRegionInfo, encodeRegionInfoRequest } from './codec/device-info.js';
import { encodeDmaMap, encodeDmaUnmap } from './codec/dma.js';
import { encodeRegionAccess, encodeWriteMulti, type WriteMultiEntry } from './codec/region-access.js';
import { encodeSetIrqs } from './codec/set-irqs.js';
import { decodeVersion, encodeVersion, type Capabilities } from './codec/version.js';
import { Feature, FeatureFlag, encodeFeature } from './codec/migration.js';
import { VfioUserError } from './errors.js';
import { decodeHeader, encodeMessage, type Header } from './header.js';
import type { Transport, TransportHandlers } from './transport.js';

export interface Reply {
  header: Header;
  payload: Buffer;
  fds: number[];
}

interface Pending {
  resolve(r: Reply): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** QEMU 11.1's VERSION offer, byte for byte (vfio-user reference §4). */
export const QEMU_VERSION_JSON =
  '{"capabilities": {"pgsizes": 4096, "max_msg_fds": 16, "max_dma_maps": 65535, "max_data_xfer_size": 1048576, "migration": {"max_bitmap_size": 268435456, "pgsize": 4096}, "write_multiple": true}}';

export class VfioUserClient implements TransportHandlers {
  private transport: Transport | null = null;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private closedReason: string | null | undefined = undefined;
  private readonly closeWaiters: ((reason: string | null) => void)[] = [];
  /** Replies nobody waited for (tests inspect them). */
  readonly unexpected: Reply[] = [];
  timeoutMs = 5000;

  attach(transport: Transport): void {
    this.transport = transport;
  }

  get isClosed(): boolean {
    return this.closedReason !== undefined;
  }

  onMessage(message: Buffer, fds: number[]): void {
    const header = decodeHeader(message);
    const reply = { header, payload: message.subarray(HEADER_SIZE), fds };
    const p = this.pending.get(header.id);
    if (!p) {
      this.unexpected.push(reply);
      return;
    }
    this.pending.delete(header.id);
    clearTimeout(p.timer);
    p.resolve(reply);
  }

  onClose(reason: string | null): void {
    this.closedReason = reason;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`connection closed while waiting for reply ${id}${reason ? `: ${reason}` : ''}`));
    }
    this.pending.clear();
    for (const w of this.closeWaiters.splice(0)) w(reason);
  }

  /** Resolves when the server closes the connection. */
  waitClosed(): Promise<string | null> {
    if (this.closedReason !== undefined) return Promise.resolve(this.closedReason);
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  close(): void {
    this.transport?.close();
    if (this.closedReason === undefined) this.onClose(null);
  }

  allocId(): number {
    const id = this.nextId;
    this.nextId = (this.nextId + 1) & 0xffff;
    return id;
  }

  /** Sends bytes exactly as given (malformed-input tests). */
  sendRaw(message: Buffer, fds: readonly number[] = []): boolean {
    if (!this.transport) throw new Error('client not attached');
    return this.transport.send(message, fds);
  }

  /** Waits for the reply with this id. */
  waitReply(id: number, timeoutMs = this.timeoutMs): Promise<Reply> {
    return new Promise((resolve, reject) => {
      if (this.closedReason !== undefined) {
        reject(new Error(`connection closed${this.closedReason ? `: ${this.closedReason}` : ''}`));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no reply to message ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  /** Sends a command and resolves with its reply, error replies included. */
  requestRaw(command: number, payload?: Buffer, fds: readonly number[] = []): Promise<Reply> {
    const id = this.allocId();
    const waiting = this.waitReply(id);
    this.sendRaw(encodeMessage({ id, command, flags: MsgFlag.TYPE_COMMAND, error: 0 }, payload), fds);
    return waiting;
  }

  /** Like requestRaw, but an error reply rejects with VfioUserError(errno). */
  async request(command: number, payload?: Buffer, fds: readonly number[] = []): Promise<Reply> {
    const r = await this.requestRaw(command, payload, fds);
    if (r.header.flags & MsgFlag.ERROR) {
      for (const fd of r.fds) closeQuietly(fd);
      throw new VfioUserError(r.header.error, `command ${command} failed with errno ${r.header.error}`);
    }
    return r;
  }

  /** A command with NO_REPLY: nothing comes back, not even an error. */
  post(command: number, payload?: Buffer): void {
    const id = this.allocId();
    this.sendRaw(encodeMessage({ id, command, flags: MsgFlag.TYPE_COMMAND | MsgFlag.NO_REPLY, error: 0 }, payload));
  }

  // ------------------------------------------------------------ helpers

  async version(
    json: string | Capabilities = QEMU_VERSION_JSON,
  ): Promise<{ major: number; minor: number; caps: Capabilities; raw: Buffer }> {
    const payload =
      typeof json === 'string' ? Buffer.concat([Buffer.from([0, 0, 0, 0]), Buffer.from(json + '\0', 'utf8')]) : encodeVersion(0, 0, json);
    const r = await this.request(Command.VERSION, payload);
    const v = decodeVersion(r.payload);
    return { major: v.major, minor: v.minor, caps: v.caps, raw: r.payload };
  }

  async dmaMap(m: { iova: bigint; size: bigint; offset?: bigint; flags?: number; fd?: number | null }): Promise<void> {
    const flags = m.flags ?? DmaFlag.READ | DmaFlag.WRITE;
    await this.request(
      Command.DMA_MAP,
      encodeDmaMap({ flags, offset: m.offset ?? 0n, iova: m.iova, size: m.size }),
      m.fd === undefined || m.fd === null ? [] : [m.fd],
    );
  }

  async dmaUnmap(iova: bigint, size: bigint): Promise<void> {
    await this.request(Command.DMA_UNMAP, encodeDmaUnmap({ flags: 0, iova, size }));
  }

  async dmaUnmapAll(): Promise<void> {
    await this.request(Command.DMA_UNMAP, encodeDmaUnmap({ flags: DmaUnmapFlag.ALL, iova: 0n, size: 0n }));
  }

  async deviceInfo(): Promise<{ flags: number; numRegions: number; numIrqs: number }> {
    const p = Buffer.alloc(16);
    p.writeUInt32LE(16, 0);
    return decodeDeviceInfo((await this.request(Command.DEVICE_GET_INFO, p)).payload);
  }

  async regionInfo(index: number, argsz = 32): Promise<ReturnType<typeof decodeRegionInfo> & { raw: Buffer }> {
    const r = await this.request(Command.DEVICE_GET_REGION_INFO, encodeRegionInfoRequest(index, argsz));
    for (const fd of r.fds) closeQuietly(fd);
    return { ...decodeRegionInfo(r.payload), raw: r.payload };
  }

  async irqInfo(index: number): Promise<{ flags: number; index: number; count: number }> {
    const p = Buffer.alloc(16);
    p.writeUInt32LE(16, 0);
    p.writeUInt32LE(index, 8);
    return decodeIrqInfo((await this.request(Command.DEVICE_GET_IRQ_INFO, p)).payload);
  }

  /** Assigns eventfds to vectors start.. (TRIGGER|EVENTFD); an empty list de-assigns `count` vectors. */
  async setIrqEventfds(index: number, start: number, fds: number[], count = fds.length): Promise<void> {
    const flags = IrqSetFlag.DATA_EVENTFD | IrqSetFlag.ACTION_TRIGGER;
    await this.request(Command.DEVICE_SET_IRQS, encodeSetIrqs({ flags, index, start, count, argsz: 20 }), fds);
  }

  async disableIrqs(index: number): Promise<void> {
    const flags = IrqSetFlag.DATA_NONE | IrqSetFlag.ACTION_TRIGGER;
    await this.request(Command.DEVICE_SET_IRQS, encodeSetIrqs({ flags, index, start: 0, count: 0 }));
  }

  async setIrqs(r: { flags: number; index: number; start: number; count: number; data?: Buffer }, fds: number[] = []): Promise<void> {
    await this.request(Command.DEVICE_SET_IRQS, encodeSetIrqs(r), fds);
  }

  async regionRead(region: number, offset: bigint | number, count: number): Promise<Buffer> {
    const r = await this.request(Command.REGION_READ, encodeRegionAccess(BigInt(offset), region, count));
    return r.payload.subarray(16);
  }

  async regionWrite(region: number, offset: bigint | number, data: Buffer): Promise<void> {
    await this.request(Command.REGION_WRITE, encodeRegionAccess(BigInt(offset), region, data.length, data));
  }

  /** A posted write, as QEMU sends memory-BAR writes. */
  postRegionWrite(region: number, offset: bigint | number, data: Buffer): void {
    this.post(Command.REGION_WRITE, encodeRegionAccess(BigInt(offset), region, data.length, data));
  }

  postWriteMulti(entries: WriteMultiEntry[]): void {
    this.post(Command.REGION_WRITE_MULTI, encodeWriteMulti(entries));
  }

  async read32(region: number, offset: number): Promise<number> {
    return (await this.regionRead(region, offset, 4)).readUInt32LE(0);
  }

  async write32(region: number, offset: number, value: number): Promise<void> {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0);
    await this.regionWrite(region, offset, b);
  }

  async configRead(offset: number, count: number): Promise<Buffer> {
    return this.regionRead(PciRegion.CONFIG, offset, count);
  }

  async reset(): Promise<void> {
    await this.request(Command.DEVICE_RESET);
  }

  // ---- migration v2 ----

  /** DEVICE_FEATURE with these flags (index | GET/SET/PROBE); resolves with the reply's data. */
  async feature(flags: number, data: Buffer = Buffer.alloc(0), argsz?: number): Promise<Buffer> {
    const r = await this.request(Command.DEVICE_FEATURE, encodeFeature(flags, data, argsz ?? 8 + Math.max(data.length, 8)));
    return r.payload.subarray(8);
  }

  async migrationState(): Promise<number> {
    return (await this.feature(Feature.MIG_DEVICE_STATE | FeatureFlag.GET)).readUInt32LE(0);
  }

  async setMigrationState(state: number): Promise<void> {
    const d = Buffer.alloc(8);
    d.writeUInt32LE(state, 0);
    d.writeInt32LE(-1, 4);
    await this.feature(Feature.MIG_DEVICE_STATE | FeatureFlag.SET, d);
  }

  async migDataRead(size: number): Promise<Buffer> {
    const p = Buffer.alloc(8);
    p.writeUInt32LE(8 + size, 0);
    p.writeUInt32LE(size, 4);
    const r = await this.request(Command.MIG_DATA_READ, p);
    return r.payload.subarray(8, 8 + r.payload.readUInt32LE(4));
  }

  async migDataWrite(data: Buffer): Promise<void> {
    const p = Buffer.alloc(8 + data.length);
    p.writeUInt32LE(p.length, 0);
    p.writeUInt32LE(data.length, 4);
    data.copy(p, 8);
    await this.request(Command.MIG_DATA_WRITE, p);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // not ours to worry about: it was already closed
  }
}
