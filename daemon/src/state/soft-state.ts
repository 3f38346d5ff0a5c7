// The soft backend's state blob (native/soft/state.cc Save/Restore,
// little-endian, magic "AGFXSOF1") <-> the SoftDeviceState fields of the
// device-state message. Every length and count is checked on the way in; the
// backend checks everything again when it restores.
const MAGIC = Buffer.from('AGFXSOF1', 'latin1');

export interface SoftState {
  mmio: boolean;
  staticMap: boolean;
  registers: {
    scratch: number; irqStatus: number; ringBase: string; ringEntries: number; ringHead: number; ringTail: number;
    ringReady: boolean; ringHalted: boolean; fence: string; completed: number; errors: number; lastError: number;
  };
  tasks: { id: number; size: string; ranges: { taskOffset: string; gpa: string; length: string; readOnly: boolean }[] }[];
  iosfc: { handle: number; gpa: string; length: string; readOnly: boolean }[];
  displays: {
    port: number; attached: boolean; width: number; height: number; sequence: string; frame: Buffer;
    cursor: { x: number; y: number; visible: boolean; width: number; height: number; hotX: number; hotY: number; glyph: Buffer };
  }[];
}

class Reader {
  private pos = 0;
  constructor(private readonly b: Buffer) {}
  private need(n: number): void {
    if (this.b.length - this.pos < n) throw new Error('truncated soft-device state');
  }
  u8(): number {
    this.need(1);
    return this.b[this.pos++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.b.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): string {
    this.need(8);
    const v = this.b.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v.toString();
  }
  bytes(max: number): Buffer {
    const n = this.u32();
    if (n > max) throw new Error('oversized field in soft-device state');
    this.need(n);
    const v = Buffer.from(this.b.subarray(this.pos, this.pos + n));
    this.pos += n;
    return v;
  }
  count(max: number): number {
    const n = this.u32();
    if (n > max) throw new Error('count out of range in soft-device state');
    return n;
  }
  end(): void {
    if (this.pos !== this.b.length) throw new Error('trailing bytes in soft-device state');
  }
}

class Writer {
  private readonly parts: Buffer[] = [];
  u8(v: boolean | number): void {
    this.parts.push(Buffer.from([Number(v) & 0xff]));
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.parts.push(b);
  }
  u64(v: string | number | bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)));
    this.parts.push(b);
  }
  bytes(v: Buffer): void {
    this.u32(v.length);
    this.parts.push(v);
  }
  raw(v: Buffer): void {
    this.parts.push(v);
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export function decodeSoftState(blob: Buffer): SoftState {
  if (blob.length < 8 || !blob.subarray(0, 8).equals(MAGIC)) throw new Error('not a soft-device state');
  const r = new Reader(blob.subarray(8));
  const s: SoftState = {
    mmio: r.u32() !== 0,
    staticMap: r.u32() !== 0,
    registers: {
      scratch: r.u32(), irqStatus: r.u32(), ringBase: r.u64(), ringEntries: r.u32(), ringHead: r.u32(), ringTail: r.u32(),
      ringReady: r.u8() !== 0, ringHalted: r.u8() !== 0, fence: r.u64(), completed: r.u32(), errors: r.u32(), lastError: r.u32(),
    },
    tasks: [],
    iosfc: [],
    displays: [],
  };
  for (let i = r.count(64); i > 0; i--) {
    const t = { id: r.u32(), size: r.u64(), ranges: [] as SoftState['tasks'][0]['ranges'] };
    for (let k = r.count(1 << 20); k > 0; k--) t.ranges.push({ taskOffset: r.u64(), length: r.u64(), gpa: r.u64(), readOnly: r.u8() !== 0 });
    s.tasks.push(t);
  }
  for (let i = r.count(65535); i > 0; i--) s.iosfc.push({ handle: r.u32(), gpa: r.u64(), length: r.u64(), readOnly: r.u8() !== 0 });
  for (let port = 0, n = r.count(64); port < n; port++) {
    const d = { port, attached: r.u8() !== 0, width: r.u32(), height: r.u32(), sequence: r.u64(), frame: r.bytes(1 << 30) };
    const cursor = { x: r.u32(), y: r.u32(), visible: r.u8() !== 0, width: r.u32(), height: r.u32(), hotX: r.u32(), hotY: r.u32(), glyph: r.bytes(256 * 256 * 4) };
    s.displays.push({ ...d, cursor });
  }
  r.end();
  return s;
}

export function encodeSoftState(s: SoftState): Buffer {
  const w = new Writer();
  w.raw(MAGIC);
  w.u32(s.mmio ? 1 : 0);
  w.u32(s.staticMap ? 1 : 0);
  const g = s.registers;
  w.u32(g.scratch);
  w.u32(g.irqStatus);
  w.u64(g.ringBase);
  w.u32(g.ringEntries);
  w.u32(g.ringHead);
  w.u32(g.ringTail);
  w.u8(g.ringReady);
  w.u8(g.ringHalted);
  w.u64(g.fence);
  w.u32(g.completed);
  w.u32(g.errors);
  w.u32(g.lastError);
  w.u32(s.tasks.length);
  for (const t of s.tasks) {
    w.u32(t.id);
    w.u64(t.size);
    w.u32(t.ranges.length);
    for (const r of t.ranges) {
      w.u64(r.taskOffset);
      w.u64(r.length);
      w.u64(r.gpa);
      w.u8(r.readOnly);
    }
  }
  w.u32(s.iosfc.length);
  for (const m of s.iosfc) {
    w.u32(m.handle);
    w.u64(m.gpa);
    w.u64(m.length);
    w.u8(m.readOnly);
  }
  // The blob has one record per port, in port order.
  const ports = Math.max(0, ...s.displays.map((d) => d.port + 1));
  w.u32(ports);
  for (let p = 0; p < ports; p++) {
    const d = s.displays.find((x) => x.port === p);
    const c = d?.cursor;
    w.u8(d?.attached ?? false);
    w.u32(d?.width ?? 0);
    w.u32(d?.height ?? 0);
    w.u64(d?.sequence ?? 0);
    w.bytes(d?.frame ?? Buffer.alloc(0));
    w.u32(c?.x ?? 0xffff);
    w.u32(c?.y ?? 0xffff);
    w.u8(c?.visible ?? false);
    w.u32(c?.width ?? 0);
    w.u32(c?.height ?? 0);
    w.u32(c?.hotX ?? 0);
    w.u32(c?.hotY ?? 0);
    w.bytes(c?.glyph ?? Buffer.alloc(0));
  }
  return w.done();
}
