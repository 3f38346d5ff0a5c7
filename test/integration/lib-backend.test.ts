// --backend lib:PATH: a shared library implementing the backend ABI is loaded,
// checked against the ABI version, and served like the built-in backends.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { native } from '#daemon/native.js';
import { daemonMain, repoRoot, startDaemon, tick } from '../support/daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'agfx-lib-'));
function build(name: string, defines: string[] = []): string {
  const out = join(dir, `${name}.so`);
  execFileSync('gcc', [
    '-shared',
    '-fPIC',
    '-O1',
    '-Wall',
    '-Werror',
    ...defines.map((d) => `-D${d}`),
    '-I',
    join(repoRoot, 'native/include'),
    '-o',
    out,
    join(repoRoot, 'test/fixtures/lib-backend.c'),
  ]);
  return out;
}

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
