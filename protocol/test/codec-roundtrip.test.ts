// Every codec of the package, both ways: what an encoder writes, the matching
// decoder reads back field for field, for any value the wire allows; and a
// decoder refuses the payloads a peer could get wrong (sizes, flags, counts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DMA_MAP_SIZE,
  DMA_UNMAP_SIZE,
  DmaFlag,
  DmaUnmapFlag,
  FeatureFlag,
  IrqSetFlag,
  Limits,
  MsgFlag,
  REGION_INFO_SIZE,
  VfioUserError,
  decodeDeviceInfo,
  decodeDeviceInfoRequest,
  decodeDmaMap,
  decodeDmaUnmap,
  decodeFeature,
  decodeHeader,
  decodeIrqInfo,
  decodeIrqInfoRequest,
  decodeMigDataRead,
  decodeMigDataWrite,
  decodeRegionAccess,
  decodeRegionInfo,
  decodeRegionInfoRequest,
  decodeSetIrqs,
  decodeVersion,
  decodeWriteMulti,
  encodeDeviceInfo,
  encodeDmaMap,
  encodeDmaUnmap,
  encodeFeature,
  encodeIrqInfo,
  encodeMessage,
  encodeMigData,
  encodeRegionAccess,
  encodeRegionInfo,
  encodeRegionInfoRequest,
  encodeSetIrqs,
  encodeVersion,
  encodeWriteMulti,
  isReply,
  wantsReply,
} from 'vfio-user-ts';

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const refused = (f: () => unknown): void => assert.throws(f, (e: unknown) => e instanceof VfioUserError && e.errno === 22);

describe('codec round trips', () => {
  it('header: every field survives, the size counts the payload', () => {
    fc.assert(
      fc.property(u16, u16, u32, u32, fc.uint8Array({ maxLength: 64 }), (id, command, flags, error, payload) => {
        const msg = encodeMessage({ id, command, flags, error }, Buffer.from(payload));
        assert.deepEqual(decodeHeader(msg), { id, command, size: 16 + payload.length, flags, error });
        assert.deepEqual(msg.subarray(16), Buffer.from(payload));
        assert.equal(isReply(decodeHeader(msg)), (flags & MsgFlag.TYPE_MASK) === MsgFlag.TYPE_REPLY);
        assert.equal(wantsReply(decodeHeader(msg)), (flags & MsgFlag.NO_REPLY) === 0);
      }),
    );
  });

  it('DMA_MAP: any in-range mapping', () => {
    const mapping = fc
      .record({ flags: fc.integer({ min: 0, max: 3 }), offset: u64, iova: u64, size: fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }) })
      .filter((r) => r.iova + r.size <= 2n ** 64n);
    fc.assert(fc.property(mapping, (r) => assert.deepEqual(decodeDmaMap(encodeDmaMap(r)), { argsz: DMA_MAP_SIZE, ...r })));
  });

  it('DMA_MAP: refuses size 0, wrap past 2^64, unknown flags, short argsz, wrong length', () => {
    const ok = { flags: DmaFlag.READ, offset: 0n, iova: 0x1000n, size: 0x1000n };
    refused(() => decodeDmaMap(encodeDmaMap({ ...ok, size: 0n })));
    refused(() => decodeDmaMap(encodeDmaMap({ ...ok, iova: 2n ** 64n - 0x1000n, size: 0x2000n })));
    refused(() => decodeDmaMap(encodeDmaMap({ ...ok, flags: 4 })));
    refused(() => decodeDmaMap(encodeDmaMap({ ...ok, argsz: DMA_MAP_SIZE - 1 })));
    refused(() => decodeDmaMap(Buffer.concat([encodeDmaMap(ok), Buffer.alloc(1)])));
  });

  it('DMA_UNMAP: ranges and FLAG_ALL', () => {
    const range = fc.record({ flags: fc.constant(0), iova: u64, size: fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }) });
    fc.assert(fc.property(range, (r) => assert.deepEqual(decodeDmaUnmap(encodeDmaUnmap(r)), { argsz: DMA_UNMAP_SIZE, ...r })));
    const all = { flags: DmaUnmapFlag.ALL, iova: 0n, size: 0n };
    assert.deepEqual(decodeDmaUnmap(encodeDmaUnmap(all)), { argsz: DMA_UNMAP_SIZE, ...all });
    refused(() => decodeDmaUnmap(encodeDmaUnmap({ ...all, size: 0x1000n })));
    refused(() => decodeDmaUnmap(encodeDmaUnmap({ flags: 0, iova: 0x1000n, size: 0n })));
    refused(() => decodeDmaUnmap(encodeDmaUnmap({ flags: 8, iova: 0n, size: 1n })));
  });

  it('REGION_READ/WRITE: offset, region, count and the data', () => {
    fc.assert(
      fc.property(u64, u32, fc.uint8Array({ minLength: 1, maxLength: 256 }), (offset, region, bytes) => {
        const data = Buffer.from(bytes);
        const w = decodeRegionAccess(encodeRegionAccess(offset, region, data.length, data), true);
        assert.deepEqual({ ...w, data: Buffer.from(w.data) }, { offset, region, count: data.length, data });
        const r = decodeRegionAccess(encodeRegionAccess(offset, region, data.length), false);
        assert.deepEqual([r.offset, r.region, r.count, r.data.length], [offset, region, data.length, 0]);
      }),
    );
    refused(() => decodeRegionAccess(encodeRegionAccess(0n, 0, 0), false));
    refused(() => decodeRegionAccess(encodeRegionAccess(0n, 0, 4, Buffer.alloc(3)), true));
    refused(() => decodeRegionAccess(Buffer.alloc(15), false));
  });

  it('REGION_WRITE_MULTI: 1..200 entries of 1..8 bytes', () => {
    const entry = fc
      .record({ offset: u64, region: u32, bytes: fc.uint8Array({ minLength: 1, maxLength: Limits.MULTI_DATA }) })
      .map((e) => ({ offset: e.offset, region: e.region, count: e.bytes.length, data: Buffer.from(e.bytes) }));
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: Limits.MULTI_MAX }), (entries) => {
        const out = decodeWriteMulti(encodeWriteMulti(entries));
        assert.deepEqual(
          out.map((e) => ({ ...e, data: Buffer.from(e.data.subarray(0, e.count)) })),
          entries,
        );
      }),
      { numRuns: 50 },
    );
    refused(() => decodeWriteMulti(encodeWriteMulti([])));
    const one = { offset: 0n, region: 0, count: 1, data: Buffer.from([1]) };
    refused(() => decodeWriteMulti(encodeWriteMulti(Array.from({ length: Limits.MULTI_MAX + 1 }, () => one))));
    refused(() => decodeWriteMulti(encodeWriteMulti([{ ...one, count: Limits.MULTI_DATA + 1 }])));
  });

  it('DEVICE_SET_IRQS: one data type, one action, BOOL data sized by count', () => {
    const data = fc.constantFrom(IrqSetFlag.DATA_NONE, IrqSetFlag.DATA_BOOL, IrqSetFlag.DATA_EVENTFD);
    const action = fc.constantFrom(IrqSetFlag.ACTION_MASK, IrqSetFlag.ACTION_UNMASK, IrqSetFlag.ACTION_TRIGGER);
    fc.assert(
      fc.property(data, action, u32, fc.integer({ min: 0, max: 64 }), (d, a, index, count) => {
        const bools = d === IrqSetFlag.DATA_BOOL ? Buffer.alloc(count, 1) : undefined;
        const r = decodeSetIrqs(encodeSetIrqs({ flags: d | a, index, start: 3, count, data: bools }));
        assert.deepEqual([r.flags, r.index, r.start, r.count, r.data.length], [d | a, index, 3, count, bools?.length ?? 0]);
      }),
    );
    refused(() =>
      decodeSetIrqs(
        encodeSetIrqs({ flags: IrqSetFlag.DATA_NONE | IrqSetFlag.DATA_BOOL | IrqSetFlag.ACTION_TRIGGER, index: 0, start: 0, count: 0 }),
      ),
    );
    refused(() => decodeSetIrqs(encodeSetIrqs({ flags: IrqSetFlag.DATA_NONE, index: 0, start: 0, count: 0 })));
    refused(() =>
      decodeSetIrqs(
        encodeSetIrqs({ flags: IrqSetFlag.DATA_BOOL | IrqSetFlag.ACTION_TRIGGER, index: 0, start: 0, count: 2, data: Buffer.alloc(1) }),
      ),
    );
    refused(() =>
      decodeSetIrqs(encodeSetIrqs({ flags: IrqSetFlag.DATA_NONE | IrqSetFlag.ACTION_TRIGGER, index: 0, start: 0xffffffff, count: 1 })),
    );
  });

  it('DEVICE_GET_INFO, GET_REGION_INFO, GET_IRQ_INFO: requests and replies', () => {
    fc.assert(
      fc.property(u32, u32, u32, (flags, numRegions, numIrqs) => {
        assert.deepEqual(decodeDeviceInfo(encodeDeviceInfo({ flags, numRegions, numIrqs })), { flags, numRegions, numIrqs });
        assert.equal(decodeDeviceInfoRequest(encodeDeviceInfo({ flags, numRegions, numIrqs })), 16);
      }),
    );
    fc.assert(
      fc.property(u32, fc.integer({ min: REGION_INFO_SIZE, max: 4096 }), u64, u64, (index, argsz, size, offset) => {
        assert.deepEqual(decodeRegionInfoRequest(encodeRegionInfoRequest(index, argsz)), { argsz, index });
        const reply = decodeRegionInfo(encodeRegionInfo(index, { flags: 3, size, offset }, argsz, 8));
        assert.deepEqual(reply, { argsz: REGION_INFO_SIZE, flags: 3, index, capOffset: 0, size, offset });
      }),
    );
    fc.assert(
      fc.property(u32, u32, u32, (index, flags, count) => {
        assert.deepEqual(decodeIrqInfoRequest(encodeIrqInfo(index, { flags, count })), { argsz: 16, index });
        assert.deepEqual(decodeIrqInfo(encodeIrqInfo(index, { flags, count })), { flags, index, count });
      }),
    );
  });

  it('VERSION: capabilities survive encode and decode', () => {
    const caps = fc.record(
      {
        maxMsgFds: fc.integer({ min: 0, max: 1 << 16 }),
        maxDataXferSize: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
        maxDmaMaps: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
        pgsizes: fc.integer({ min: 1, max: 2 ** 20 }).map((n) => n * 4096),
        writeMultiple: fc.boolean(),
        migration: fc.record({ pgsize: fc.integer({ min: 1, max: 2 ** 32 }), maxBitmapSize: fc.integer({ min: 1, max: 2 ** 40 }) }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(u16, u16, caps, (major, minor, c) => {
        const v = decodeVersion(encodeVersion(major, minor, c));
        assert.deepEqual(v, { major, minor, caps: structuredClone(c), unknownKeys: [] });
      }),
    );
    assert.deepEqual(decodeVersion(encodeVersion(0, 0)), { major: 0, minor: 0, caps: {}, unknownKeys: [] });
  });

  it('DEVICE_FEATURE and MIG_DATA: flags, data, sizes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.constantFrom(FeatureFlag.GET, FeatureFlag.SET, FeatureFlag.PROBE),
        fc.uint8Array({ maxLength: 32 }),
        (index, op, bytes) => {
          const r = decodeFeature(encodeFeature(index | op, Buffer.from(bytes)));
          assert.deepEqual([r.index, r.flags, r.argsz, Buffer.from(r.data)], [index, index | op, 8 + bytes.length, Buffer.from(bytes)]);
        },
      ),
    );
    refused(() => decodeFeature(encodeFeature(1 | FeatureFlag.GET | FeatureFlag.SET)));
    refused(() => decodeFeature(encodeFeature(1)));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const w = decodeMigDataWrite(encodeMigData(bytes.length, Buffer.from(bytes)));
        assert.deepEqual([w.size, Buffer.from(w.data)], [bytes.length, Buffer.from(bytes)]);
      }),
    );
    assert.deepEqual(decodeMigDataRead(encodeMigData(4096)), { argsz: 8, size: 4096 });
    refused(() => decodeMigDataWrite(encodeMigData(5, Buffer.alloc(4))));
  });
});
