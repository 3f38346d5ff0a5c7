// A conventional (256-byte) PCI configuration space with per-byte write masks.
// QEMU forwards every guest config access here (region 7) and emulates BARs,
// MSI and MSI-X itself from the layout it reads at realize (docs/design.md P11), so this
// model only has to hold sensible bytes and accept or mask writes.
export const CONFIG_SIZE = 256;

export const Cfg = {
  VENDOR_ID: 0x00,
  DEVICE_ID: 0x02,
  COMMAND: 0x04,
  STATUS: 0x06,
  REVISION: 0x08,
  CLASS_PROG: 0x09,
  CACHE_LINE: 0x0c,
  LATENCY: 0x0d,
  HEADER_TYPE: 0x0e,
  BAR0: 0x10,
  SUBSYS_VENDOR: 0x2c,
  SUBSYS_ID: 0x2e,
  ROM: 0x30,
  CAP_PTR: 0x34,
  INT_LINE: 0x3c,
  INT_PIN: 0x3d,
} as const;

export const Cap = { MSI: 0x05, MSIX: 0x11 } as const;
const STATUS_CAP_LIST = 0x0010;
const FIRST_CAP = 0x40;

export class PciConfigSpace {
  private readonly bytes = Buffer.alloc(CONFIG_SIZE);
  private readonly mask = Buffer.alloc(CONFIG_SIZE);
  private initial: Buffer | null = null;
  private nextCap = FIRST_CAP;
  private lastCapNextPtr = -1;
  private readonly caps = new Map<number, number>();

  set8(off: number, v: number, writeMask = 0): this {
    this.bytes[off] = v & 0xff;
    this.mask[off] = writeMask & 0xff;
    return this;
  }
  set16(off: number, v: number, writeMask = 0): this {
    return this.set8(off, v, writeMask).set8(off + 1, v >>> 8, writeMask >>> 8);
  }
  set32(off: number, v: number, writeMask = 0): this {
    return this.set16(off, v & 0xffff, writeMask & 0xffff).set16(off + 2, v >>> 16, writeMask >>> 16);
  }

  /** A 32-bit memory BAR; QEMU sizes it from region info, but the mask keeps sizing reads honest. */
  bar32(index: number, size: number, prefetchable = false): this {
    if (size & (size - 1) || size < 16) throw new Error(`BAR size ${size} is not a power of two >= 16`);
    return this.set32(Cfg.BAR0 + 4 * index, prefetchable ? 0x8 : 0, ~(size - 1) & 0xfffffff0);
  }

  /** Appends a capability; `body` excludes the 2-byte id/next header. Returns its offset. */
  addCapability(id: number, body: { value: Buffer; writeMask: Buffer }): number {
    const off = this.nextCap;
    const len = 2 + body.value.length;
    if (off + len > CONFIG_SIZE) throw new Error('capability list overflows config space');
    this.set8(off, id).set8(off + 1, 0);
    body.value.copy(this.bytes, off + 2);
    body.writeMask.copy(this.mask, off + 2);
    if (this.lastCapNextPtr < 0) this.set8(Cfg.CAP_PTR, off);
    else this.bytes[this.lastCapNextPtr] = off;
    this.lastCapNextPtr = off + 1;
    this.caps.set(id, off);
    this.nextCap = (off + len + 3) & ~3;
    const status = this.read(Cfg.STATUS, 2).readUInt16LE(0);
    this.set16(Cfg.STATUS, status | STATUS_CAP_LIST);
    return off;
  }

  capabilityOffset(id: number): number | undefined {
    return this.caps.get(id);
  }

  /** Freezes the current contents as the power-on/reset state. */
  seal(): this {
    this.initial = Buffer.from(this.bytes);
    return this;
  }

  reset(): void {
    if (this.initial) this.initial.copy(this.bytes);
  }

  /** Replaces the whole contents (device state restore). */
  load(bytes: Buffer): void {
    if (bytes.length !== CONFIG_SIZE) throw new Error(`configuration space of ${bytes.length} bytes`);
    bytes.copy(this.bytes);
  }

  read(off: number, count: number): Buffer {
    return Buffer.from(this.bytes.subarray(off, off + count));
  }

  write(off: number, data: Buffer): void {
    for (let i = 0; i < data.length; i++) {
      const o = off + i;
      const m = this.mask[o]!;
      this.bytes[o] = (this.bytes[o]! & ~m) | (data[i]! & m);
    }
  }
}
