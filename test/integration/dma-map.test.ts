// DMA_MAP (2): guest RAM shared as QEMU shares it (memfd + offset), and every
// way a map can be wrong. Each refusal must cost only an error reply: the fd
// that came with it is closed and the same session keeps answering.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, DmaFlag, Errno, MsgFlag, encodeDmaMap, type Reply } from 'vfio-user-ts';
import { native } from '#daemon/native.js';
import { assertErrorReply as assertError } from '../support/replies.js';
import { useDaemon, memfd } from '../support/daemon-fixture.js';
import type { LogLine } from '../support/daemon.js';
import { DEVICE_ID } from '../support/soft-ring.js';

const RW = DmaFlag.READ | DmaFlag.WRITE;

const mapPayload = (m: { iova: bigint; size: bigint; offset?: bigint; flags?: number; argsz?: number }): Buffer =>
  encodeDmaMap({ flags: m.flags ?? RW, offset: m.offset ?? 0n, iova: m.iova, size: m.size, argsz: m.argsz });

const assertOk = (r: Reply): void => {
  assert.equal(r.header.flags, MsgFlag.TYPE_REPLY, `error ${r.header.error}`);
  assert.equal(r.header.size, 16, 'DMA_MAP replies carry no payload');
  assert.equal(r.fds.length, 0);
};

describe('DMA_MAP', () => {
  const fx = useDaemon();
  const { connect, logAfter, settledFds, mappingsOf } = fx;

  it('maps a memfd: the daemon really mmaps it, and DMA_UNMAP removes the mapping and the fd', async () => {
    const c = await connect();
    const before = await settledFds(c);
    const m = memfd(0x10000);
    const mark = fx.d.logs.length;
    assertOk(await c.requestRaw(Command.DMA_MAP, mapPayload({ iova: 0x40000000n, size: 0x10000n }), [m.fd]));
    native.closeFd(m.fd); // the daemon holds its own copy now
    const maps = mappingsOf(m.name);
    assert.equal(maps.length, 1, `mappings: ${fx.d.memfdMappings().join('\n')}`);
    const [range, perms, offset] = maps[0]!.split(/\s+/);
    const [lo, hi] = range!.split('-').map((h) => BigInt(`0x${h}`));
    assert.equal(hi! - lo!, 0x10000n, 'the whole range is mapped');
    assert.equal(perms, 'rw-s', 'shared, writable');
    assert.equal(BigInt(`0x${offset}`), 0n);
    const added = await logAfter(mark, (l) => l.msg === 'guest_memory_region_added');
    assert.equal(added.iova, '0x40000000');
    assert.equal(added.size, '0x10000');
    assert.equal(added.writable, true);
    assert.equal(await settledFds(c), before + 1, 'the daemon keeps exactly one fd for the region');

    await c.dmaUnmap(0x40000000n, 0x10000n);
    assert.deepEqual(mappingsOf(m.name), []);
    assert.equal(await settledFds(c), before, 'the region fd is closed on unmap');
    c.close();
  });

  it('maps read-only memory (flags READ) with a read-only mapping', async () => {
    const c = await connect();
    const m = memfd(0x4000);
    const mark = fx.d.logs.length;
    assertOk(await c.requestRaw(Command.DMA_MAP, mapPayload({ iova: 0x80000n, size: 0x4000n, flags: DmaFlag.READ }), [m.fd]));
    native.closeFd(m.fd);
    const maps = mappingsOf(m.name);
    assert.equal(maps.length, 1);
    assert.equal(maps[0]!.split(/\s+/)[1], 'r--s');
    assert.equal((await logAfter(mark, (l) => l.msg === 'guest_memory_region_added')).writable, false);
    await c.dmaUnmap(0x80000n, 0x4000n);
    assert.deepEqual(mappingsOf(m.name), []);
    c.close();
  });

  /** Log lines at level error or fatal since `mark`. */
  const errorsSince = (mark: number): LogLine[] => fx.d.logs.slice(mark).filter((l) => l.level === 'error' || l.level === 'fatal');

  // q35 sends ROM, pflash and the VGA BAR without an fd even when RAM is a
  // shared memfd (docs/design.md invariant 3): accepted, recorded, never reached.
  it('accepts a map without an fd, records it as unreachable, and its unmap succeeds', async () => {
    const c = await connect();
    const before = await settledFds(c);
    const mark = fx.d.logs.length;
    assertOk(await c.requestRaw(Command.DMA_MAP, mapPayload({ iova: 0xc0000n, size: 0x20000n, flags: DmaFlag.READ })));
    const added = await logAfter(mark, (l) => l.msg === 'guest_memory_region_added' && l.iova === '0xc0000');
    assert.equal(added.size, '0x20000');
    assert.equal(added.fd, false, 'logged as a range without an fd');
    assert.equal(added.level, 'info');
    assert.equal(await settledFds(c), before, 'nothing is kept open for it');
    await c.dmaUnmap(0xc0000n, 0x20000n);
    const removed = await logAfter(mark, (l) => l.msg === 'guest_memory_region_removed' && l.iova === '0xc0000');
    assert.equal(removed.fd, false);
    assert.equal(removed.refusedUses, 0, 'nothing tried to use it');
    // The range is free again, for either kind (x86 PAM toggling re-maps it as RAM).
    assertOk(await c.requestRaw(Command.DMA_MAP, mapPayload({ iova: 0xc0000n, size: 0x20000n })));
    await c.dmaUnmap(0xc0000n, 0x20000n);
    const f = memfd(0x20000, 'after-fdless');
    await c.dmaMap({ iova: 0xc0000n, size: 0x20000n, fd: f.fd });
    native.closeFd(f.fd);
    assert.equal(mappingsOf(f.name).length, 1);
    await c.dmaUnmap(0xc0000n, 0x20000n);
    assert.deepEqual(
      fx.d.logs.slice(mark).filter((l) => l.msg === 'vfio_user_request_failed'),
      [],
      'no request failed',
    );
    assert.deepEqual(errorsSince(mark), [], 'no error logged');
    assert.equal(await c.read32(0, 0x1000), DEVICE_ID, 'still serving');
    c.close();
  });

  it('refuses overlaps between ranges with and without an fd with EEXIST, either way round', async () => {
    const c = await connect();
    const vga = { iova: 0xfd000000n, size: 0x1000000n };
    await c.dmaMap({ ...vga, fd: null });
    const ram = memfd(0x200000, 'ovl-ram');
    await c.dmaMap({ iova: 0x100000n, size: 0x200000n, fd: ram.fd });
    native.closeFd(ram.fd);
    const f = memfd(0x2000000, 'ovl-fd');
    const before = await settledFds(c);
    // An fd-backed map over the range without an fd.
    for (const [iova, size] of [
      [0xfd000000n, 0x1000n],
      [0xfcfff000n, 0x2000n],
      [0xfdfff000n, 0x2000n],
      [0xfc000000n, 0x2000000n],
    ] as const)
      assertError(await c.requestRaw(Command.DMA_MAP, mapPayload({ iova, size }), [f.fd]), Errno.EEXIST);
    assert.deepEqual(mappingsOf(f.name), [], 'nothing of the refused memfd is mapped');
    assert.equal(await settledFds(c), before, 'every refused fd was closed');
    // A map without an fd over fd-backed RAM, and over the other one.
    for (const [iova, size] of [
      [0x100000n, 0x1000n],
      [0x2ff000n, 0x2000n],
      [0xfd800000n, 0x1000n],
      [0xfc000000n, 0x2000000n],
    ] as const)
      assertError(await c.requestRaw(Command.DMA_MAP, mapPayload({ iova, size })), Errno.EEXIST);
    assert.equal(mappingsOf(ram.name).length, 1, 'RAM is untouched');
    // Touching neighbours are fine, and both kinds unmap.
    await c.dmaMap({ iova: 0xfe000000n, size: 0x1000n, fd: null });
    await c.dmaMap({ iova: 0xfcfff000n, size: 0x1000n, fd: f.fd });
    await c.dmaUnmap(0xfe000000n, 0x1000n);
    await c.dmaUnmap(vga.iova, vga.size);
    await c.dmaUnmapAll();
    assert.deepEqual(mappingsOf(f.name), []);
    native.closeFd(f.fd);
    assert.equal(await c.read32(0, 0x1000), DEVICE_ID, 'still serving');
    c.close();
  });

  const einvalNoFd: [string, Parameters<typeof mapPayload>[0]][] = [
    ['an unaligned address', { iova: 0xc0800n, size: 0x1000n }],
    ['an unaligned size', { iova: 0xc0000n, size: 0x1800n }],
    ['size 0', { iova: 0xc0000n, size: 0n }],
    ['a range that wraps past 2^64', { iova: 0xfffffffffffff000n, size: 0x2000n }],
    ['no READ flag', { iova: 0xc0000n, size: 0x1000n, flags: 0 }],
  ];
  for (const [name, m] of einvalNoFd) {
    it(`refuses a map without an fd with ${name} (EINVAL), as it would with one`, async () => {
      const c = await connect();
      assertError(await c.requestRaw(Command.DMA_MAP, mapPayload(m)), Errno.EINVAL);
      // The address was not taken.
      assertOk(await c.requestRaw(Command.DMA_MAP, mapPayload({ iova: 0xc0000n, size: 0x2000n })));
      await c.dmaUnmapAll();
      c.close();
    });
  }

  it('says once per client how to start QEMU when guest RAM itself came without an fd (plain -m), and keeps serving', async () => {
    for (const client of [1, 2]) {
      const c = await connect();
      const mark = fx.d.logs.length;
      // What q35 with a plain -m 512M sends: RAM below the VGA hole, above 1 MiB, ROMs, the VGA BAR.
      for (const [iova, size] of [
        [0n, 0xa0000n],
        [0xc0000n, 0x20000n],
        [0x100000n, 0x1ff00000n],
        [0xfd000000n, 0x1000000n],
      ] as const)
        assertOk(await c.requestRaw(Command.DMA_MAP, mapPayload({ iova, size })));
      await c.deviceInfo();
      await c.read32(7, 0); // QEMU reads config space at realize, after its initial maps
      assert.equal(await c.read32(0, 0x1000), DEVICE_ID, 'still serving');
      await c.write32(0, 0x1008, 0x1234);
      assert.equal(await c.read32(0, 0x1008), 0x1234);
      // The hint is logged while the config read is handled; the BAR accesses
      // after it are answered by the data plane without JS, so their replies
      // can overtake the log line on its way through stderr: wait for it.
      await fx.logAfter(mark, (l) => l.msg === 'guest_memory_without_fd');
      await c.configRead(0, 4); // one more round trip through the JS thread
      const hints = fx.d.logs.slice(mark).filter((l) => l.msg === 'guest_memory_without_fd');
      assert.equal(hints.length, 1, `client ${client}: one hint, not one per map or per request`);
      assert.equal(hints[0]!.level, 'error');
      assert.equal(hints[0]!.ranges, 4);
      assert.match(String(hints[0]!.hint), /memory-backend-memfd/);
      assert.match(String(hints[0]!.hint), /share=on/);
      assert.deepEqual(
        errorsSince(mark).map((l) => l.msg),
        ['guest_memory_without_fd'],
        'nothing else is an error',
      );
      assert.deepEqual(
        fx.d.logs.slice(mark).filter((l) => l.msg === 'vfio_user_request_failed'),
        [],
        'every map and request answered OK',
      );
      const detached = fx.d.logs.length;
      c.close();
      const gone = await logAfter(detached, (l) => l.msg === 'apple_gfx_client_detached');
      assert.equal(gone.regionsUnmapped, 4, 'ranges without an fd are dropped with the client');
    }
  });

  it('gives no hint when RAM is shared and only ROM and the VGA BAR come without an fd (q35 with a memfd)', async () => {
    const c = await connect();
    const mark = fx.d.logs.length;
    const ram = memfd(0x200000, 'q35-ram');
    await c.dmaMap({ iova: 0n, size: 0xa0000n, fd: ram.fd });
    await c.dmaMap({ iova: 0xc0000n, size: 0x20000n, fd: null });
    await c.dmaMap({ iova: 0x100000n, size: 0x100000n, offset: 0x100000n, fd: ram.fd });
    await c.dmaMap({ iova: 0xfd000000n, size: 0x1000000n, fd: null });
    native.closeFd(ram.fd);
    await c.deviceInfo();
    assert.equal(await c.read32(0, 0x1000), DEVICE_ID);
    assert.deepEqual(
      fx.d.logs.slice(mark).filter((l) => l.msg === 'guest_memory_without_fd'),
      [],
    );
    assert.deepEqual(errorsSince(mark), [], 'no error logged');
    assert.equal(mappingsOf(ram.name).length, 2, 'RAM mapped as usual');
    c.close();
  });

  it('refuses overlapping maps with EEXIST and keeps the first', async () => {
    const c = await connect();
    const a = memfd(0x10000, 'ovl-a');
    await c.dmaMap({ iova: 0x10000000n, size: 0x4000n, fd: a.fd });
    const b = memfd(0x10000, 'ovl-b');
    const before = await settledFds(c);
    const overlapping: [bigint, bigint][] = [
      [0x10000000n, 0x4000n], // identical
      [0x10002000n, 0x4000n], // tail
      [0x0fffe000n, 0x4000n], // head
      [0x10001000n, 0x1000n], // inside
      [0x0ffff000n, 0x10000n], // around
    ];
    for (const [iova, size] of overlapping) {
      const r = await c.requestRaw(Command.DMA_MAP, mapPayload({ iova, size }), [b.fd]);
      assertError(r, Errno.EEXIST);
      assert.equal(await c.read32(0, 0x1000), DEVICE_ID, 'still serving');
    }
    assert.deepEqual(mappingsOf(b.name), [], 'nothing of the refused memfd is mapped');
    assert.equal(await settledFds(c), before, 'every refused fd was closed');
    assert.equal(mappingsOf(a.name).length, 1, 'the first map is untouched');
    // Touching ranges on either side are fine.
    await c.dmaMap({ iova: 0x10004000n, size: 0x1000n, fd: b.fd });
    await c.dmaMap({ iova: 0x0ffff000n, size: 0x1000n, offset: 0x1000n, fd: b.fd });
    assert.equal(mappingsOf(b.name).length, 2);
    await c.dmaUnmapAll();
    assert.deepEqual(mappingsOf(a.name), []);
    assert.deepEqual(mappingsOf(b.name), []);
    native.closeFd(a.fd);
    native.closeFd(b.fd);
    c.close();
  });

  const einval: [string, Parameters<typeof mapPayload>[0]][] = [
    ['an unaligned address', { iova: 0x40000800n, size: 0x1000n }],
    ['an unaligned size', { iova: 0x40000000n, size: 0x1800n }],
    ['an unaligned fd offset', { iova: 0x40000000n, size: 0x1000n, offset: 0x10n }],
    ['size 0', { iova: 0x40000000n, size: 0n }],
    ['a range that wraps past 2^64', { iova: 0xfffffffffffff000n, size: 0x2000n }],
    ['an fd offset that wraps past 2^64', { iova: 0x40000000n, size: 0x2000n, offset: 0xfffffffffffff000n }],
    ['unknown flag bit 2 (libvfio-user MMAP)', { iova: 0x40000000n, size: 0x1000n, flags: RW | 0x4 }],
    ['unknown flag bit 3 (libvfio-user FILE_IO)', { iova: 0x40000000n, size: 0x1000n, flags: RW | 0x8 }],
    ['unknown flag bit 31', { iova: 0x40000000n, size: 0x1000n, flags: (RW | 0x80000000) >>> 0 }],
    ['argsz 0', { iova: 0x40000000n, size: 0x1000n, argsz: 0 }],
    ['argsz 31', { iova: 0x40000000n, size: 0x1000n, argsz: 31 }],
  ];
  for (const [name, m] of einval) {
    it(`refuses ${name} with EINVAL, closes the fd and keeps the session`, async () => {
      const c = await connect();
      const f = memfd(0x10000);
      const before = await settledFds(c);
      assertError(await c.requestRaw(Command.DMA_MAP, mapPayload(m), [f.fd]), Errno.EINVAL);
      native.closeFd(f.fd);
      assert.deepEqual(mappingsOf(f.name), []);
      assert.equal(await settledFds(c), before, 'the refused fd was closed');
      // The same connection still maps properly.
      const g = memfd(0x1000);
      await c.dmaMap({ iova: 0x40000000n, size: 0x1000n, fd: g.fd });
      native.closeFd(g.fd);
      assert.equal(mappingsOf(g.name).length, 1);
      await c.dmaUnmap(0x40000000n, 0x1000n);
      c.close();
    });
  }

  it('accepts an argsz larger than the request', async () => {
    const c = await connect();
    const f = memfd(0x1000);
    assertOk(await c.requestRaw(Command.DMA_MAP, mapPayload({ iova: 0x40000000n, size: 0x1000n, argsz: 4096 }), [f.fd]));
    native.closeFd(f.fd);
    assert.equal(mappingsOf(f.name).length, 1);
    await c.dmaUnmap(0x40000000n, 0x1000n);
    c.close();
  });

  const wrongSizes: [string, Buffer][] = [
    ['an empty payload', Buffer.alloc(0)],
    ['a 31-byte payload', mapPayload({ iova: 0x40000000n, size: 0x1000n }).subarray(0, 31)],
    ['a 33-byte payload', Buffer.concat([mapPayload({ iova: 0x40000000n, size: 0x1000n }), Buffer.alloc(1)])],
    ['a 64-byte payload', Buffer.concat([mapPayload({ iova: 0x40000000n, size: 0x1000n }), Buffer.alloc(32)])],
  ];
  for (const [name, payload] of wrongSizes) {
    it(`refuses ${name} with EINVAL and closes the fd that came with it`, async () => {
      const c = await connect();
      const f = memfd(0x1000);
      const before = await settledFds(c);
      assertError(await c.requestRaw(Command.DMA_MAP, payload, [f.fd]), Errno.EINVAL);
      native.closeFd(f.fd);
      assert.deepEqual(mappingsOf(f.name), []);
      assert.equal(await settledFds(c), before);
      c.close();
    });
  }

  it('refuses two fds on one DMA_MAP with EINVAL and closes both', async () => {
    const c = await connect();
    const a = memfd(0x1000, 'two-a');
    const b = memfd(0x1000, 'two-b');
    const before = await settledFds(c);
    assertError(await c.requestRaw(Command.DMA_MAP, mapPayload({ iova: 0x40000000n, size: 0x1000n }), [a.fd, b.fd]), Errno.EINVAL);
    assert.deepEqual(mappingsOf(a.name), []);
    assert.deepEqual(mappingsOf(b.name), []);
    assert.equal(await settledFds(c), before, 'both fds closed in the daemon');
    // The address is still free.
    await c.dmaMap({ iova: 0x40000000n, size: 0x1000n, fd: a.fd });
    assert.equal(mappingsOf(a.name).length, 1);
    await c.dmaUnmapAll();
    native.closeFd(a.fd);
    native.closeFd(b.fd);
    c.close();
  });

  it('refuses an eventfd instead of a memfd with EINVAL', async () => {
    const c = await connect();
    const efd = native.eventfdCreate();
    const before = await settledFds(c);
    assertError(await c.requestRaw(Command.DMA_MAP, mapPayload({ iova: 0x40000000n, size: 0x1000n }), [efd]), Errno.EINVAL);
    assert.equal(await settledFds(c), before, 'the eventfd was closed');
    native.closeFd(efd);
    c.close();
  });

  const tooSmall: [string, number, bigint, bigint][] = [
    ['a memfd smaller than size', 0x2000, 0n, 0x4000n],
    ['a memfd smaller than offset + size', 0x2000, 0x1000n, 0x2000n],
    ['an offset past the end of the memfd', 0x2000, 0x4000n, 0x1000n],
    ['an empty memfd', 0, 0n, 0x1000n],
  ];
  for (const [name, fileSize, offset, size] of tooSmall) {
    it(`refuses ${name} (never SIGBUS later) with EINVAL`, async () => {
      const c = await connect();
      const f = memfd(fileSize);
      const before = await settledFds(c);
      assertError(await c.requestRaw(Command.DMA_MAP, mapPayload({ iova: 0x40000000n, size, offset }), [f.fd]), Errno.EINVAL);
      native.closeFd(f.fd);
      assert.deepEqual(mappingsOf(f.name), []);
      assert.equal(await settledFds(c), before);
      assert.ok(fx.d.alive());
      c.close();
    });
  }

  it('maps the same memfd at two offsets, as QEMU does for RAM split around a hole', async () => {
    const c = await connect();
    const f = memfd(0x200000, 'twice');
    const before = await settledFds(c);
    // Low RAM below the VGA hole and RAM above 1 MiB: one fd, two messages.
    await c.dmaMap({ iova: 0n, size: 0xa0000n, offset: 0n, fd: f.fd });
    await c.dmaMap({ iova: 0x100000n, size: 0x100000n, offset: 0x100000n, fd: f.fd });
    native.closeFd(f.fd);
    const maps = mappingsOf(f.name);
    assert.equal(maps.length, 2, maps.join('\n'));
    const offsets = maps.map((l) => BigInt(`0x${l.split(/\s+/)[2]}`)).sort((x, y) => (x < y ? -1 : 1));
    assert.deepEqual(offsets, [0n, 0x100000n]);
    assert.equal(await settledFds(c), before + 2, 'one fd per region (each message brings its own)');
    await c.dmaUnmap(0n, 0xa0000n);
    const left = mappingsOf(f.name);
    assert.equal(left.length, 1);
    assert.equal(BigInt(`0x${left[0]!.split(/\s+/)[2]}`), 0x100000n);
    assert.equal(await settledFds(c), before + 1);
    await c.dmaUnmap(0x100000n, 0x100000n);
    assert.deepEqual(mappingsOf(f.name), []);
    assert.equal(await settledFds(c), before);
    c.close();
  });

  it('closes the fd of every refused map: fd count is stable over 50 refusals', async () => {
    const c = await connect();
    const occupant = memfd(0x1000, 'occupant');
    await c.dmaMap({ iova: 0x40000000n, size: 0x1000n, fd: occupant.fd });
    native.closeFd(occupant.fd);
    const before = await settledFds(c);
    const f = memfd(0x2000, 'refused');
    const efd = native.eventfdCreate();
    const cases: [Buffer, number[], number][] = [
      [mapPayload({ iova: 0x40000800n, size: 0x1000n }), [f.fd], Errno.EINVAL], // unaligned
      [mapPayload({ iova: 0x50000000n, size: 0x4000n }), [f.fd], Errno.EINVAL], // memfd too small
      [mapPayload({ iova: 0x40000000n, size: 0x1000n }), [f.fd], Errno.EEXIST], // overlap
      [mapPayload({ iova: 0x50000000n, size: 0x1000n }), [efd], Errno.EINVAL], // not a file
      [mapPayload({ iova: 0x50000000n, size: 0x1000n }), [f.fd, efd], Errno.EINVAL], // two fds
    ];
    for (let i = 0; i < 50; i++) {
      const [payload, fds, errno] = cases[i % cases.length]!;
      assertError(await c.requestRaw(Command.DMA_MAP, payload, fds), errno);
    }
    assert.equal(await settledFds(c), before, 'no fd leaked over 50 refused maps');
    assert.deepEqual(mappingsOf(f.name), []);
    native.closeFd(f.fd);
    native.closeFd(efd);
    await c.dmaUnmapAll();
    c.close();
  });

  it('unmaps everything and closes the fds when the client leaves', async () => {
    const c = await connect();
    const before = await settledFds(c);
    const f = memfd(0x4000, 'leave');
    await c.dmaMap({ iova: 0x40000000n, size: 0x2000n, fd: f.fd });
    await c.dmaMap({ iova: 0x40004000n, size: 0x2000n, offset: 0x2000n, fd: f.fd });
    native.closeFd(f.fd);
    assert.equal(mappingsOf(f.name).length, 2);
    const mark = fx.d.logs.length;
    c.close();
    const detached = await logAfter(mark, (l) => l.msg === 'apple_gfx_client_detached');
    assert.equal(detached.regionsUnmapped, 2);
    assert.deepEqual(mappingsOf(f.name), []);
    // The next client starts with an empty table: the same range maps again.
    const c2 = await connect();
    assert.equal(await settledFds(c2), before, 'region fds closed; the new socket replaces the old');
    const g = memfd(0x2000, 'leave-again');
    await c2.dmaMap({ iova: 0x40000000n, size: 0x2000n, fd: g.fd });
    native.closeFd(g.fd);
    await c2.dmaUnmapAll();
    c2.close();
  });
});
