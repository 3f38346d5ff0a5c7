// GET_REGION_INFO capability chains and the argsz probe (docs/design.md P2): the reply never
// exceeds what the client asked for, and says how much it needs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegionCap, RegionFlag, encodeRegionInfo } from 'vfio-user-ts';

function sparseCap(areas: [bigint, bigint][]): Buffer {
  const b = Buffer.alloc(16 + areas.length * 16);
  b.writeUInt16LE(RegionCap.SPARSE_MMAP, 0);
  b.writeUInt16LE(1, 2);
  b.writeUInt32LE(areas.length, 8);
  areas.forEach(([off, size], i) => {
    b.writeBigUInt64LE(off, 16 + i * 16);
    b.writeBigUInt64LE(size, 24 + i * 16);
  });
  return b;
}

function typeCap(type: number, subtype: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(RegionCap.TYPE, 0);
  b.writeUInt16LE(1, 2);
  b.writeUInt32LE(type, 8);
  b.writeUInt32LE(subtype, 12);
  return b;
}

describe('region info encoding', () => {
  const info = { flags: RegionFlag.READ, size: 0x4000n, offset: 0n, caps: [sparseCap([[0n, 0x1000n]]), typeCap(7, 9)] };

  it('answers a 32-byte probe with the fixed part only and the full size in argsz', () => {
    const p = encodeRegionInfo(3, info, 32, RegionFlag.CAPS);
    assert.equal(p.length, 32);
    assert.equal(p.readUInt32LE(0), 32 + 32 + 16);
    assert.equal(p.readUInt32LE(4), RegionFlag.READ | RegionFlag.CAPS);
    assert.equal(p.readUInt32LE(8), 3);
    assert.equal(p.readUInt32LE(12), 0, 'no cap_offset when the caps are not included');
  });

  it('includes the chain, linked by next offsets, when argsz is large enough', () => {
    const p = encodeRegionInfo(3, info, 1024, RegionFlag.CAPS);
    assert.equal(p.length, 80);
    assert.equal(p.readUInt32LE(12), 32, 'first cap right after the struct');
    assert.equal(p.readUInt16LE(32), RegionCap.SPARSE_MMAP);
    assert.equal(p.readUInt32LE(36), 64, 'next points at the type cap');
    assert.equal(p.readUInt16LE(64), RegionCap.TYPE);
    assert.equal(p.readUInt32LE(68), 0, 'chain ends');
    assert.equal(p.readUInt32LE(72), 7);
    assert.equal(p.readBigUInt64LE(56), 0x1000n, 'sparse area size');
  });

  it('sets no CAPS flag and no cap_offset for a region without caps', () => {
    const p = encodeRegionInfo(0, { flags: 3, size: 16n, offset: 0n }, 1024, RegionFlag.CAPS);
    assert.equal(p.length, 32);
    assert.equal(p.readUInt32LE(0), 32);
    assert.equal(p.readUInt32LE(4), 3);
  });
});
