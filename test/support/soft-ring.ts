// Drives the soft device's command ring (docs/soft-device.md) the way a guest
// driver would, with a memfd standing in for guest RAM. The register, opcode
// and status values below are native/include/agfx_soft.h's:
// test/unit/soft-guest-abi.test.ts fails when one differs.
import { readSync, writeSync } from 'node:fs';
import type { VfioUserClient } from 'vfio-user-ts';

/** What the ID register reads: "AGFX", little-endian. */
export const DEVICE_ID = 0x58464741;
/** VERSION: major << 16 | minor (AGFX_SOFT_VERSION; 1.1 has the display port registers). */
export const SOFT_VERSION = 0x00010001;

/** IOSFC registers, BAR2 of the mmio variant (native/include/agfx_soft.h, AGFX_SOFT_IOSFC_*). */
export const Iosfc = {
  GPA_LO: 0x00,
  GPA_HI: 0x04,
  LENGTH: 0x08,
  COMMAND: 0x0c,
  HANDLE: 0x10,
  STATUS: 0x14,
  PEEK_OFFSET: 0x18,
  PEEK_DATA: 0x1c,
  MAPPED: 0x20,
};

/** IOSFC COMMAND values (agfx_soft.h AGFX_SOFT_IOSFC_MAP_RO ...). */
export const IosfcCmd = { MAP_RO: 1, MAP_RW: 2, UNMAP: 3 };
/** What PEEK_DATA reads outside every mapping (AGFX_SOFT_IOSFC_BAD_PEEK). */
export const IOSFC_BAD_PEEK = 0xffffffff;

export const Reg = {
  ID: 0x1000,
  VERSION: 0x1004,
  SCRATCH: 0x1008,
  IRQ_TEST: 0x100c,
  STATUS: 0x1010,
  CONTROL: 0x1014,
  IRQ_STATUS: 0x1018,
  RING_BASE_LO: 0x1020,
  RING_BASE_HI: 0x1024,
  RING_ENTRIES: 0x1028,
  RING_HEAD: 0x102c,
  RING_TAIL: 0x1030,
  DOORBELL: 0x1034,
  FENCE_LO: 0x1038,
  FENCE_HI: 0x103c,
  COMPLETED: 0x1040,
  ERRORS: 0x1044,
  LAST_ERROR: 0x1048,
  DISPLAYS: 0x104c,
  PORT_SELECT: 0x1050,
  PORT_STATUS: 0x1054,
  PORT_GENERATION: 0x1058,
  PORT_MODE_COUNT: 0x105c,
  PORT_MODE_INDEX: 0x1060,
  PORT_MODE_SIZE: 0x1064,
  PORT_MODE_RATE: 0x1068,
  PORT_CURRENT: 0x106c,
  DISPLAY_CHANGED: 0x1070,
  DISPLAY_IRQ: 0x1074,
} as const;

/** PORT_STATUS and DISPLAY_IRQ bits (agfx_soft.h). */
export const PORT_ATTACHED = 1;
export const DISPLAY_IRQ_ENABLE = 1;

export const Op = {
  NOP: 0,
  TASK_CREATE: 1,
  TASK_DESTROY: 2,
  TASK_MAP: 3,
  TASK_UNMAP: 4,
  CHECKSUM: 5,
  SET_MODE: 6,
  PRESENT: 7,
  CURSOR_GLYPH: 8,
  CURSOR_SHOW: 9,
  CURSOR_MOVE: 10,
  FENCE: 11,
  COPY_RECT: 12,
} as const;

/** PRESENT's a5: the guest's damage rectangle. */
export const damageArg = (x: number, y: number, w: number, h: number): bigint =>
  BigInt(x) | (BigInt(y) << 16n) | (BigInt(w) << 32n) | (BigInt(h) << 48n);

/** COPY_RECT's packed x | y << 16. */
export const xy = (x: number, y: number): number => x + y * 65536;

export const St = {
  OK: 0,
  BAD_OPCODE: 1,
  BAD_ARGS: 2,
  NO_TASK: 3,
  TASK_EXISTS: 4,
  MAP_FAILED: 5,
  OUT_OF_RANGE: 6,
  NO_DISPLAY: 7,
  BAD_MODE: 8,
  NO_MEMORY: 9,
  NOT_MAPPED: 10,
  GUEST_MEMORY: 11,
  /** Written by the driver, replaced by the device's status. */
  PENDING: 0xffffffff,
} as const;

/** Bytes per ring entry; status and result sit at byte 8. */
export const ENTRY_SIZE = 64;
/** CHECKSUM's 32-bit FNV-1a. */
export const FNV_BASIS = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

export function fnv1a32(data: Uint8Array): number {
  let h = FNV_BASIS;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i]!, FNV_PRIME) >>> 0;
  return h >>> 0;
}

/** Guest RAM as a memfd mapped at `base`. */
/** TASK_MAP's range list (docs/soft-device.md): a {gpa, length} pair of u64 per range. */
export function encodeRangeList(ranges: [gpa: bigint, length: number | bigint][]): Buffer {
  const b = Buffer.alloc(16 * ranges.length);
  ranges.forEach(([gpa, len], i) => {
    b.writeBigUInt64LE(gpa, i * 16);
    b.writeBigUInt64LE(BigInt(len), i * 16 + 8);
  });
  return b;
}

export class GuestRam {
  constructor(
    readonly fd: number,
    readonly base: bigint,
    readonly size: number,
  ) {}
  write(gpa: bigint, data: Buffer): void {
    writeSync(this.fd, data, 0, data.length, Number(gpa - this.base));
  }
  read(gpa: bigint, len: number): Buffer {
    const b = Buffer.alloc(len);
    readSync(this.fd, b, 0, len, Number(gpa - this.base));
    return b;
  }
  /** Writes a TASK_MAP range list at `gpa`. */
  writeRangeList(gpa: bigint, ranges: [gpa: bigint, length: number | bigint][]): void {
    this.write(gpa, encodeRangeList(ranges));
  }
}

export interface Completion {
  status: number;
  result: number;
}

export class SoftRing {
  private tail = 0;
  constructor(
    private readonly c: VfioUserClient,
    private readonly ram: GuestRam,
    readonly ringGpa: bigint,
    readonly entries = 64,
  ) {}

  async configure(): Promise<void> {
    await this.c.write32(0, Reg.RING_BASE_LO, Number(this.ringGpa & 0xffffffffn));
    await this.c.write32(0, Reg.RING_BASE_HI, Number(this.ringGpa >> 32n));
    await this.c.write32(0, Reg.RING_ENTRIES, this.entries);
    this.tail = 0;
  }

  entryGpa(i: number): bigint {
    return this.ringGpa + BigInt((i % this.entries) * ENTRY_SIZE);
  }

  /** Writes one entry and returns its counter value. */
  push(opcode: number, args: (number | bigint)[] = []): number {
    const e = Buffer.alloc(ENTRY_SIZE);
    e.writeUInt32LE(opcode >>> 0, 0);
    e.writeUInt32LE(St.PENDING, 8);
    args.forEach((a, i) => e.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a)), 16 + i * 8));
    const i = this.tail;
    this.ram.write(this.entryGpa(i), e);
    this.tail = (this.tail + 1) >>> 0;
    return i;
  }

  completion(i: number): Completion {
    const b = this.ram.read(this.entryGpa(i) + 8n, 8);
    return { status: b.readUInt32LE(0), result: b.readUInt32LE(4) };
  }

  /** Publishes the tail and rings the doorbell (sync: returns when drained). */
  async kick(sync = true): Promise<void> {
    await this.c.write32(0, Reg.RING_TAIL, this.tail);
    await this.c.write32(0, Reg.DOORBELL, sync ? 1 : 0);
  }

  /** Runs one command synchronously and returns its completion. */
  async run(opcode: number, args: (number | bigint)[] = []): Promise<Completion> {
    const i = this.push(opcode, args);
    await this.kick(true);
    return this.completion(i);
  }
}

/**
 * A VMM with a small guest showing a frame: maps a fresh memfd as guest RAM at
 * `ramGpa` (4 MiB), configures the ring, maps the pixels (BGRA8, width*4
 * bytes per row, up to 1 MiB) into task 1 and presents them on `port`.
 */
export async function presentFrame(
  vmm: VfioUserClient,
  opts: { ramGpa: bigint; name: string; port: number; width: number; pixels: Buffer },
): Promise<{ ram: GuestRam; ring: SoftRing }> {
  const size = 4 << 20;
  const { memfdCreate } = (await import('#daemon/native.js')).native;
  const fd = memfdCreate(opts.name, size);
  await vmm.dmaMap({ iova: opts.ramGpa, size: BigInt(size), fd });
  const ram = new GuestRam(fd, opts.ramGpa, size);
  const ring = new SoftRing(vmm, ram, opts.ramGpa, 16);
  await ring.configure();
  const pixelsGpa = opts.ramGpa + 0x100000n;
  const listGpa = opts.ramGpa + 0x10000n;
  ram.write(pixelsGpa, opts.pixels);
  const list = Buffer.alloc(16);
  list.writeBigUInt64LE(pixelsGpa, 0);
  list.writeBigUInt64LE(BigInt(Math.ceil(opts.pixels.length / 4096) * 4096), 8);
  ram.write(listGpa, list);
  for (const [op, args] of [
    [Op.TASK_CREATE, [1, 0x100000]],
    [Op.TASK_MAP, [1, 0, listGpa, 1, 1]],
    [Op.PRESENT, [opts.port, 1, 0, opts.width * 4, 0]],
  ] as [number, (number | bigint)[]][]) {
    const done = await ring.run(op, args);
    if (done.status !== St.OK) throw new Error(`soft device command ${op} failed with status ${done.status}`);
  }
  return { ram, ring };
}
