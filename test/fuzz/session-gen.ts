// Generators and the checking client shared by the session fuzzer
// (session-fuzz.test.ts, scripts/fuzz) and the regression tests.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import {
  Command,
  DmaFlag,
  DmaUnmapFlag,
  IrqSetFlag,
  MsgFlag,
  encodeDmaMap,
  encodeDmaUnmap,
  encodeMessage,
  encodeRegionAccess,
  encodeRegionInfoRequest,
  encodeSetIrqs,
  encodeWriteMulti,
  type VfioUserClient,
} from 'vfio-user-ts';
import { native } from '#daemon/native.js';
import type { RunningDaemon } from '../support/daemon.js';

export type FdKind = 'mem' | 'ev';
/** One message before its id is assigned: bytes 0-1 (id) are overwritten at send time. */
export interface FuzzMsg {
  bytes: Buffer;
  fds: FdKind[];
}

const PAGE = 4096;
/** Size of the memfd handed out with DMA_MAP. */
export const MEMFD_SIZE = 1 << 20;

const u32 = (...v: number[]): Buffer => {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i));
  return b;
};

const msg = (command: number, payload: Buffer, flags = 0, fds: FdKind[] = []): FuzzMsg => ({
  bytes: encodeMessage({ id: 0, command, flags: MsgFlag.TYPE_COMMAND | flags, error: 0 }, payload),
  fds,
});

const noReply = fc.constantFrom(0, 0, 0, MsgFlag.NO_REPLY);
const soft = fc.constantFrom(0x1000, 0x1004, 0x1008, 0x100c, 0x1010, 0x1018, 0x1020, 0x1024, 0x102c, 0x1030, 0x1040, 0x104c);
const offset = fc.oneof(
  soft.map(BigInt),
  fc.integer({ min: 0, max: 0x4000 }).map(BigInt),
  fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }),
);
const region = fc.oneof(fc.constantFrom(0, 0, 7, 2), fc.integer({ min: 0, max: 12 }));
const count = fc.oneof(fc.constantFrom(4, 4, 1, 2, 8, 0), fc.integer({ min: 0, max: 300 }), fc.nat());
const page = (max: number) => fc.integer({ min: 0, max }).map((n) => BigInt(n * PAGE));

const regionRead = fc.tuple(offset, region, count, noReply).map(([o, r, c, f]) => msg(Command.REGION_READ, encodeRegionAccess(o, r, c), f));
const regionWrite = fc
  .tuple(offset, region, fc.constantFrom(4, 4, 1, 2, 8, 0, 3), fc.uint8Array({ minLength: 0, maxLength: 16 }), noReply)
  .map(([o, r, c, d, f]) => {
    const data = Buffer.alloc(c);
    Buffer.from(d).copy(data);
    // The soft device's DOORBELL/CONTROL are fair game: the ring sits in guest RAM or nowhere.
    return msg(Command.REGION_WRITE, encodeRegionAccess(o, r, c, data), f);
  });
const writeMulti = fc
  .array(fc.tuple(soft.map(BigInt), fc.constantFrom(0, 2), fc.constantFrom(4, 8, 2), fc.nat()), { minLength: 0, maxLength: 5 })
  .map((es) =>
    msg(
      Command.REGION_WRITE_MULTI,
      encodeWriteMulti(es.map(([o, r, c, v]) => ({ offset: o, region: r, count: c, data: u32(v, v).subarray(0, c) }))),
      MsgFlag.NO_REPLY,
    ),
  );
const dmaMap = fc
  .tuple(
    fc.constantFrom(DmaFlag.READ | DmaFlag.WRITE, DmaFlag.READ, DmaFlag.READ | DmaFlag.WRITE, 0, 4),
    fc.oneof(page(300), fc.bigInt({ min: 0n, max: 1n << 40n })),
    fc.oneof(page(64), fc.constant(0n), fc.bigInt({ min: 0n, max: 0xffffffffffffffffn })),
    fc.oneof(page(256), fc.constant(BigInt(MEMFD_SIZE) + 4096n)),
    fc.constantFrom<FdKind[]>(['mem'], ['mem'], ['mem'], [], ['ev'], ['mem', 'mem']),
    noReply,
  )
  .map(([flags, iova, size, off, fds, f]) => msg(Command.DMA_MAP, encodeDmaMap({ flags, offset: off, iova, size }), f, fds));
const dmaUnmap = fc
  .tuple(fc.constantFrom(0, 0, DmaUnmapFlag.ALL, 1, 8), page(300), page(64), noReply)
  .map(([flags, iova, size, f]) =>
    msg(Command.DMA_UNMAP, encodeDmaUnmap(flags === DmaUnmapFlag.ALL ? { flags, iova: 0n, size: 0n } : { flags, iova, size }), f),
  );
const setIrqs = fc
  .tuple(
    fc.constantFrom(
      IrqSetFlag.DATA_EVENTFD | IrqSetFlag.ACTION_TRIGGER,
      IrqSetFlag.DATA_NONE | IrqSetFlag.ACTION_TRIGGER,
      IrqSetFlag.DATA_BOOL | IrqSetFlag.ACTION_TRIGGER,
      IrqSetFlag.DATA_NONE | IrqSetFlag.ACTION_MASK,
      0xff,
    ),
    fc.integer({ min: 0, max: 5 }),
    fc.integer({ min: 0, max: 4 }),
    fc.integer({ min: 0, max: 4 }),
    noReply,
  )
  .map(([flags, index, start, n, f]) => {
    const evs = flags & IrqSetFlag.DATA_EVENTFD ? Array<FdKind>(n).fill('ev') : [];
    const data = flags & IrqSetFlag.DATA_BOOL ? Buffer.alloc(n, 1) : undefined;
    return msg(Command.DEVICE_SET_IRQS, encodeSetIrqs({ flags, index, start, count: n, data }), f, evs);
  });
const infos = fc.oneof(
  fc.constantFrom(16, 8, 0, 100).map((a) => msg(Command.DEVICE_GET_INFO, u32(a, 0, 0, 0))),
  fc
    .tuple(fc.integer({ min: 0, max: 12 }), fc.constantFrom(32, 64, 200, 4, 0))
    .map(([i, a]) => msg(Command.DEVICE_GET_REGION_INFO, encodeRegionInfoRequest(i, a))),
  fc.tuple(fc.integer({ min: 0, max: 8 }), fc.constantFrom(16, 8, 0)).map(([i, a]) => msg(Command.DEVICE_GET_IRQ_INFO, u32(a, 0, i, 0))),
  noReply.map((f) => msg(Command.DEVICE_RESET, Buffer.alloc(0), f)),
  fc.constant(msg(Command.VERSION, Buffer.from([1, 0, 0, 0]))),
);
/** A well-formed message of every kind QEMU sends, with plausible and hostile arguments. */
export const validMsg: fc.Arbitrary<FuzzMsg> = fc.oneof(
  { weight: 4, arbitrary: regionRead },
  { weight: 3, arbitrary: regionWrite },
  { weight: 1, arbitrary: writeMulti },
  { weight: 2, arbitrary: dmaMap },
  { weight: 2, arbitrary: dmaUnmap },
  { weight: 1, arbitrary: setIrqs },
  { weight: 2, arbitrary: infos },
);

/** Random header fields and payload; the size field is always right (framing is fuzzed elsewhere). */
export const randomMsg: fc.Arbitrary<FuzzMsg> = fc
  .tuple(
    fc.integer({ min: 0, max: 40 }),
    fc.oneof(fc.constantFrom(0, MsgFlag.NO_REPLY, 1, 2, MsgFlag.ERROR, 0x40), fc.nat()),
    fc.oneof(fc.constant(0), fc.nat()),
    fc.uint8Array({ maxLength: 80 }),
    fc.constantFrom<FdKind[]>([], [], [], ['ev'], ['mem'], ['mem', 'ev', 'ev']),
  )
  .map(([command, flags, error, p, fds]) => ({ bytes: encodeMessage({ id: 0, command, flags, error }, Buffer.from(p)), fds }));

/** A valid message with bytes flipped (never the size field), or its payload cut or extended. */
export const mutatedMsg: fc.Arbitrary<FuzzMsg> = fc
  .tuple(
    validMsg,
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
    fc.integer({ min: -24, max: 24 }),
  )
  .map(([m, flips, resize]) => {
    let b = Buffer.from(m.bytes);
    for (const [at, v] of flips) {
      const i = at % b.length;
      if (i >= 4 && i < 8) continue;
      b[i] = v;
    }
    const len = Math.max(16, b.length + resize);
    const out = Buffer.alloc(len);
    b.copy(out, 0, 0, Math.min(b.length, len));
    out.writeUInt32LE(len, 4);
    b = out;
    return { bytes: b, fds: m.fds };
  });

export const anyMsg: fc.Arbitrary<FuzzMsg> = fc.oneof(
  { weight: 5, arbitrary: validMsg },
  { weight: 3, arbitrary: mutatedMsg },
  { weight: 2, arbitrary: randomMsg },
);

/** Does the daemon owe this message a reply? (vfio-user: commands without NO_REPLY; never to a reply.) */
export function owesReply(bytes: Buffer): boolean {
  const flags = bytes.readUInt32LE(8);
  return (flags & MsgFlag.TYPE_MASK) !== MsgFlag.TYPE_REPLY && (flags & MsgFlag.NO_REPLY) === 0;
}

export class FdPool {
  readonly mem = native.memfdCreate('fuzz-guest-ram', MEMFD_SIZE);
  readonly ev = [native.eventfdCreate(), native.eventfdCreate(), native.eventfdCreate(), native.eventfdCreate()];
  pick(kinds: FdKind[]): number[] {
    return kinds.map((k, i) => (k === 'mem' ? this.mem : this.ev[i % this.ev.length]!));
  }
  close(): void {
    [this.mem, ...this.ev].forEach((fd) => native.closeFd(fd));
  }
}

const SENTINEL_ID = 0xffff;

/**
 * Sends `msgs` pipelined on a negotiated connection (ids 1..n), then a
 * sentinel REGION_READ of the ID register. Replies come in order, so once
 * the sentinel's is in, every reply the daemon will ever send is in. Checks
 * that every message owed a reply got exactly one and no other got any.
 */
export async function runSequence(c: VfioUserClient, pool: FdPool, msgs: FuzzMsg[]): Promise<{ replies: number }> {
  if (msgs.length >= SENTINEL_ID) throw new Error('too many messages for one sequence');
  const owed = new Map<number, number>();
  c.unexpected.length = 0;
  msgs.forEach((m, i) => {
    const id = i + 1;
    m.bytes.writeUInt16LE(id, 0);
    if (owesReply(m.bytes)) owed.set(id, 0);
    c.sendRaw(m.bytes, pool.pick(m.fds));
  });
  const sentinel = encodeMessage({ id: SENTINEL_ID, command: Command.REGION_READ, flags: 0, error: 0 }, encodeRegionAccess(0x1000n, 0, 4));
  const waited = c.waitReply(SENTINEL_ID, 30000);
  c.sendRaw(sentinel);
  const r = await waited;
  if (r.payload.readUInt32LE(16) !== 0x58464741) throw new Error('sentinel read of ID returned garbage');
  for (const rep of c.unexpected) {
    rep.fds.forEach((fd) => native.closeFd(fd));
    const id = rep.header.id;
    if (!owed.has(id)) throw new Error(`reply to message ${id} that is owed none: ${describe(msgs[id - 1])}`);
    owed.set(id, owed.get(id)! + 1);
    if ((rep.header.flags & MsgFlag.TYPE_MASK) !== MsgFlag.TYPE_REPLY) throw new Error(`message ${id}: answer is not a reply`);
  }
  for (const [id, n] of owed) if (n !== 1) throw new Error(`message ${id} got ${n} replies: ${describe(msgs[id - 1])}`);
  const replies = c.unexpected.length;
  c.unexpected.length = 0;
  return { replies };
}

export function describe(m: FuzzMsg | undefined): string {
  return m ? `${m.bytes.toString('hex')} fds=[${m.fds.join(',')}]` : '?';
}

export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Waits until the daemon is back to its idle fd count with no guest memory mapped. */
export async function settled(d: RunningDaemon, baselineFds: number, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const fds = d.fdCount();
    const maps = d.memfdMappings();
    if (fds === baselineFds && maps.length === 0) return;
    if (Date.now() > end)
      throw new Error(`daemon did not settle: ${fds} fds (baseline ${baselineFds}), memfd mappings:\n${maps.join('\n')}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
