// --backend lib:PATH: a shared library implementing the backend ABI is loaded,
// checked against the ABI version, and served like the built-in backends.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { native } from '#daemon/native.js';
import { daemonMain, startDaemon, tick } from '../support/daemon.js';
import { buildLibBackend } from '../support/lib-backend.js';

const dir = mkdtempSync(join(tmpdir(), 'agfx-lib-'));
const build = (name: string, defines: string[] = []): string => buildLibBackend(dir, name, defines);

describe('--backend lib:PATH', () => {
  let good: string;
  before(() => (good = build('good')));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('serves the library backend: registers, scratch, interrupts raised by the library', async () => {
    const d = await startDaemon(['--backend', `lib:${good}`, '--display', '640x480@60']);
    try {
      const init = await d.waitForLog((l) => l.msg === 'apple_gfx_common_init');
      assert.equal(init.backend, 'test-lib');
      await d.waitForLog((l) => l.msg === 'apple_gfx_mode_change' && l.width === 640);
      const c = await d.connectNegotiated();
      assert.equal(await c.read32(0, 0x1000), 0x2142494c);
      assert.equal(await c.read32(0, 0x1234), (0x1234 ^ 0xa5a5a5a5) >>> 0);
      await c.write32(0, 0x1008, 77);
      assert.equal(await c.read32(0, 0x1008), 77);
      await c.reset();
      assert.equal(await c.read32(0, 0x1008), 0, 'reset reached the library');
      const efd = native.eventfdCreate();
      await c.setIrqEventfds(2, 0, [efd]);
      await c.write32(0, 0x100c, 0);
      let n = 0;
      for (let i = 0; i < 50 && n === 0; i++) {
        n = native.eventfdRead(efd);
        if (!n) await tick(5);
      }
      assert.equal(n, 1);
      native.closeFd(efd);
      c.close();
    } finally {
      await d.stop();
    }
  });

  it('serves a library built before update_frame was appended to the ABI (it reads whole frames)', async () => {
    const old = build('v1-first', ['STRUCT_SIZE=offsetof(agfx_backend,update_frame)']);
    const d = await startDaemon(['--backend', `lib:${old}`, '--display', '640x480@60']);
    try {
      const init = await d.waitForLog((l) => l.msg === 'apple_gfx_common_init');
      assert.equal(init.backend, 'test-lib');
      const c = await d.connectNegotiated();
      assert.equal(await c.read32(0, 0x1000), 0x2142494c);
      c.close();
    } finally {
      await d.stop();
    }
  });

  // Each backend reports its own display-port limit (agfx_backend
  // max_display_ports); the daemon creates the device with it and offers that
  // many ports, no more (the soft device's 4 is not applied to others).
  it('creates the device with the display ports the library reports, and offers no more', async () => {
    const two = build('two-ports', ['MAX_PORTS=2']);
    const d = await startDaemon(['--backend', `lib:${two}`, '--display', '640x480@60', '--display', '800x600@60']);
    try {
      const c = await d.connectNegotiated();
      assert.equal(await c.read32(0, 0x104c), 2, "display_port_count: the library's own limit");
      c.close();
    } finally {
      await d.stop();
    }
    const r = spawnSync(
      process.execPath,
      [
        daemonMain,
        '--socket-path',
        join(dir, 'three.sock'),
        '--backend',
        `lib:${two}`,
        '--display',
        '640x480@60',
        '--display',
        '640x480@60',
        '--display',
        '640x480@60',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /3 displays; backend 'test-lib' has 2 display ports/);
  });

  it('gives a library built before max_display_ports the 4 ports every backend had before', async () => {
    const old = build('pre-ports', ['MAX_PORTS=2', 'STRUCT_SIZE=offsetof(agfx_backend,max_display_ports)']);
    const d = await startDaemon(['--backend', `lib:${old}`, '--display', '640x480@60']);
    try {
      const c = await d.connectNegotiated();
      assert.equal(await c.read32(0, 0x104c), 4, 'AGFX_DEFAULT_DISPLAY_PORTS: the field is past its struct_size');
      c.close();
    } finally {
      await d.stop();
    }
  });

  it("takes IOSFC's 8-byte accesses whole on the data plane where the library offers mmio_read64/mmio_write64", async () => {
    const d = await startDaemon(['--backend', `lib:${good}`, '--variant', 'mmio', '--display', '640x480@60']);
    try {
      const c = await d.connectNegotiated();
      const iosfc = 2; // BAR2
      assert.equal((await c.regionRead(iosfc, 0x20, 8)).readBigUInt64LE(0), 0x1122334455667788n ^ 0x20n, 'read whole');
      const v = Buffer.alloc(8);
      v.writeBigUInt64LE(0xfedcba9876543210n);
      await c.regionWrite(iosfc, 0x10, v);
      assert.equal((await c.regionRead(iosfc, 0x10, 8)).readBigUInt64LE(0), 0xfedcba9876543210n, 'written whole');
      // Not 8-aligned, or 4 bytes, or BAR0: split into dwords for mmio_read.
      assert.equal((await c.regionRead(iosfc, 0x24, 8)).readUInt32LE(0), (0x24 ^ 0xa5a5a5a5) >>> 0);
      assert.equal(await c.read32(iosfc, 0x20), (0x20 ^ 0xa5a5a5a5) >>> 0);
      assert.equal((await c.regionRead(0, 0x1020, 8)).readUInt32LE(4), (0x1024 ^ 0xa5a5a5a5) >>> 0);
      c.close();
    } finally {
      await d.stop();
    }
  });

  // The VMM leaving (guest_memory_gone, issue 12 defect 2): a library with
  // the call lets its IOSFC mapping go; from one without it the daemon takes
  // the guest RAM away (zero pages in place, fd closed) and says so in a
  // warning.
  for (const withCall of [true, false]) {
    it(`a client leaving: a library ${withCall ? 'with' : 'without'} guest_memory_gone ${withCall ? 'releases its IOSFC mapping' : 'has it severed'}`, async () => {
      const so = build(withCall ? 'gone' : 'keeps', withCall ? ['GONE'] : []);
      const d = await startDaemon(['--backend', `lib:${so}`, '--log-level', 'info']);
      try {
        const c = await d.connectNegotiated();
        const ram = native.memfdCreate('lib-guest', 1 << 20);
        await c.dmaMap({ iova: 0x40000000n, size: 1n << 20n, fd: ram });
        native.closeFd(ram);
        await c.write32(0, 0x1010, 0x40000); // the page at 0x40000000
        c.close();
        const gone = await d.waitForLog((l) => l.msg === 'apple_gfx_client_detached');
        assert.equal(gone.iosfcMappingsKept, withCall ? 0 : 1);
        assert.equal(gone.level, withCall ? 'info' : 'warn', 'a warning when the backend keeps guest memory');
        await tick(50);
        assert.equal(gone.regionsSevered, withCall ? 0 : 1, 'what the library kept is severed');
        assert.equal(d.memfdMappings().length, 0, 'no guest RAM of the old client stays mapped either way');
      } finally {
        await d.stop();
      }
    });
  }

  it('the soft backend offers its 4 ports (DISPLAYS), a fifth display is refused', () => {
    const backend = new native.Backend('soft', '', { variant: 0 }, () => {});
    try {
      assert.equal(backend.displayPorts, 4);
    } finally {
      backend.destroy();
    }
    assert.throws(
      () => new native.Backend('soft', '', { variant: 0, displayPorts: 5 }, () => {}),
      /offers 4 display ports on this host; 5 asked for/,
    );
    const disp = Array.from({ length: 5 }, () => ['--display', '640x480@60']).flat();
    const r = spawnSync(process.execPath, [daemonMain, '--socket-path', join(dir, 'five.sock'), ...disp], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /5 displays; backend 'soft' has 4 display ports/);
  });

  const refused: [string, () => string, RegExp][] = [
    [
      'a library whose backend struct is cut short',
      () => build('short', ['STRUCT_SIZE=offsetof(agfx_backend,set_running)']),
      /struct is smaller than ABI version 1's/,
    ],
    [
      'a library built for another ABI version',
      () => build('v99', ['ABI_VERSION=99']),
      /implements backend ABI version 99, this daemon speaks 1/,
    ],
    ['a library without the entry point', () => build('noentry', ['NO_ENTRY']), /does not export agfx_backend_entry/],
    [
      'a file that is not a library',
      () => (writeFileSync(join(dir, 'junk.so'), 'not ELF'), join(dir, 'junk.so')),
      /cannot load backend library/,
    ],
    ['a path that does not exist', () => join(dir, 'missing.so'), /cannot load backend library/],
  ];
  for (const [name, make, message] of refused) {
    it(`refuses ${name} with a clear error and exit 1`, () => {
      const sock = join(dir, `${name.length}.sock`);
      const r = spawnSync(process.execPath, [daemonMain, '--socket-path', sock, '--backend', `lib:${make()}`], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, message);
    });
  }
});
