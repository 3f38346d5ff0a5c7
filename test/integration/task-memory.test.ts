// Task memory as QEMU's apple-gfx makes it (pvg-on-a-mac.md finding 9), in
// the daemon's host services (core/host/task_memory.cc) that the pvg
// backend calls: zero-fill reservations and holes, read-only aliases that a
// stray write cannot turn into a crash, no 64 GiB cap, the system's page
// size. Runs natively in this process: a fault would kill the test.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nativeTest } from '../support/native-test.js';

describe('zero-fill tasks (create_task_zero_fill)', () => {
  const r = nativeTest.testTaskSemantics();

  it('use the system page size', () => {
    assert.ok(r.pageSize >= 4096 && (r.pageSize & (r.pageSize - 1)) === 0, `page size ${r.pageSize}`);
  });

  it('reserve more than 64 GiB', () => assert.equal(r.bigTask, true));

  it('read zeros from a hole, which is writable', () => {
    assert.equal(r.holeReadsZero, true);
    assert.equal(r.holeWritable, true);
  });

  it('keep a stray write into a read-only alias in the daemon, out of guest RAM', () => {
    assert.equal(r.mapped, true);
    assert.equal(r.roStrayWriteKept, true);
    assert.equal(r.guestRamUnchanged, true);
  });

  it('put zero pages back on unmap_memory and on DMA_UNMAP', () => {
    assert.equal(r.unmapReadsZero, true);
    assert.equal(r.dmaUnmapReadsZero, true);
  });

  it("leave the soft device's strict tasks with inaccessible holes", () => assert.equal(r.strictHoleFaults, true));
});
