// agfx_host.memory_map_acquire / memory_map_release
// (native/core/host/backend_host.cc): a snapshot of the static guest-RAM map
// keeps every listed region mapped across a DMA_UNMAP until it is released,
// as the pvg backend relies on when it hands the host pointers to
// PGMemoryMapDescriptor. Runs in-process on the test addon's guest-memory
// table (gmUnmap is what DMA_UNMAP calls), through its testMemoryMap* hooks
// (native/testing/) that call the same functions a backend gets in agfx_host.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, it } from 'node:test';
import { nativeTest as native } from '../support/native-test.js';

const GPA = 0x40000000n;
const SIZE = 0x10000;

let serial = 0;
/** Maps a fresh memfd at `gpa`, filled with `fill`; returns the memfd's name. */
function mapRegion(gpa: bigint, size: number, fill: number): string {
  const name = `agfx-it-snapshot-${process.pid}-${++serial}`;
  const fd = native.memfdCreate(name, size);
  native.gmMap(gpa, BigInt(size), fd, 0n, true); // the table owns fd now
  native.gmWrite(gpa, Buffer.alloc(size, fill));
  return name;
}

const mappingsOf = (name: string): string[] =>
  readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes(`/memfd:${name} `));

describe('memory_map_acquire / memory_map_release', () => {
  afterEach(() => {
    native.gmUnmapAll();
    assert.equal(native.testMemoryMapLive(), 0, 'every snapshot was released');
  });

  it('without a snapshot, DMA_UNMAP unmaps the region at once (the control case)', () => {
    const name = mapRegion(GPA, SIZE, 0x11);
    assert.equal(mappingsOf(name).length, 1);
    native.gmUnmap(GPA, BigInt(SIZE));
    assert.deepEqual(mappingsOf(name), []);
  });

  it('keeps an unmapped region mapped and readable until release, then unmaps it', () => {
    const name = mapRegion(GPA, SIZE, 0x5a);
    const snap = native.testMemoryMapAcquire(8);
    assert.notEqual(snap.token, null);
    assert.equal(snap.count, 1);
    const [r] = snap.ranges;
    assert.equal(r!.gpa, GPA);
    assert.equal(r!.len, BigInt(SIZE));
    assert.equal(native.testMemoryMapLive(), 1);

    native.gmUnmap(GPA, BigInt(SIZE)); // what DMA_UNMAP does
    assert.deepEqual(native.gmList(), [], 'gone from the table: nothing new can reach it');
    assert.equal(mappingsOf(name).length, 1, 'but still mapped for the snapshot');
    const seen = native.testMemoryMapRead(r!.host, SIZE);
    assert.ok(seen, 'the host pointer is readable after DMA_UNMAP');
    assert.ok(seen.equals(Buffer.alloc(SIZE, 0x5a)), 'and shows the guest memory');

    assert.equal(native.testMemoryMapRelease(snap.token!), true);
    assert.deepEqual(mappingsOf(name), [], 'unmapped once the last reference went');
    assert.equal(native.testMemoryMapRelease(snap.token!), false, 'a token is released once');
  });

  it('releases from a native thread (as a backend queue would)', () => {
    const name = mapRegion(GPA, SIZE, 0x33);
    const snap = native.testMemoryMapAcquire(8);
    native.gmUnmap(GPA, BigInt(SIZE));
    assert.equal(mappingsOf(name).length, 1);
    assert.equal(native.testMemoryMapRelease(snap.token!, true), true);
    assert.deepEqual(mappingsOf(name), []);
  });

  it('a released snapshot leaves regions still in the table mapped', () => {
    const name = mapRegion(GPA, SIZE, 0x44);
    const snap = native.testMemoryMapAcquire(8);
    native.testMemoryMapRelease(snap.token!);
    assert.equal(mappingsOf(name).length, 1);
    assert.ok(native.gmRead(GPA, 16).equals(Buffer.alloc(16, 0x44)));
  });

  it('the old snapshot pins the old map while a new one pins the new (the pvg switch)', () => {
    const a = mapRegion(GPA, SIZE, 0x01);
    const b = mapRegion(GPA + 0x100000n, SIZE, 0x02);
    const old = native.testMemoryMapAcquire(8);
    assert.equal(old.count, 2);
    native.gmUnmap(GPA, BigInt(SIZE)); // guest RAM changes: a goes away
    const fresh = native.testMemoryMapAcquire(8);
    assert.equal(fresh.count, 1);
    assert.equal(fresh.ranges[0]!.gpa, GPA + 0x100000n);
    assert.equal(mappingsOf(a).length, 1, 'a still pinned by the old snapshot');
    native.testMemoryMapRelease(old.token!); // after PVG switched to the new map
    assert.deepEqual(mappingsOf(a), []);
    assert.equal(mappingsOf(b).length, 1, 'b is still in the table and the new snapshot');
    native.gmUnmap(GPA + 0x100000n, BigInt(SIZE));
    assert.equal(mappingsOf(b).length, 1, 'b pinned by the new snapshot');
    native.testMemoryMapRelease(fresh.token!);
    assert.deepEqual(mappingsOf(b), []);
  });

  it('asks for room when the ranges do not fit, taking no reference', () => {
    mapRegion(GPA, SIZE, 0);
    mapRegion(GPA + 0x100000n, SIZE, 0);
    const small = native.testMemoryMapAcquire(1);
    assert.equal(small.token, null);
    assert.equal(small.count, 2);
    assert.equal(native.testMemoryMapLive(), 0);
    const none = native.testMemoryMapAcquire(0);
    assert.equal(none.token, null);
    assert.equal(none.count, 2);
  });

  it('an empty table gives a valid empty snapshot', () => {
    const snap = native.testMemoryMapAcquire(0);
    assert.notEqual(snap.token, null);
    assert.equal(snap.count, 0);
    assert.equal(native.testMemoryMapRelease(snap.token!), true);
  });
});
