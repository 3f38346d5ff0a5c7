// Display serial numbers (pvg-on-a-mac.md finding 18): unique per daemon
// instance (the guest ignores displays that share a serial), stable across
// restarts of the same instance (the guest keeps its layout), one per port;
// and --serial-base. Plus BAR0's size from the backend (finding 17).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgs } from '#daemon/cli.js';
import { gfxBarSize, GFX_BAR_SIZE } from '#daemon/device/apple-gfx-pci.js';
import { DEFAULT_SERIAL_BASE, displaySerial, serialBaseFor } from '#daemon/display/displays.js';

describe('display serials', () => {
  it('differ between daemons serving different sockets, for every port', () => {
    const a = serialBaseFor('/run/apple-gfxd/vm1.sock');
    const b = serialBaseFor('/run/apple-gfxd/vm2.sock');
    assert.notEqual(a, b);
    for (let port = 0; port < 8; port++) assert.notEqual(displaySerial(a, port), displaySerial(b, port));
  });

  it('are the same after a restart on the same socket', () => {
    const path = '/tmp/agfx.sock';
    assert.equal(displaySerial(serialBaseFor(path), 0), displaySerial(serialBaseFor(path), 0));
  });

  it('differ per port, are never 0, and keep the port in the low byte', () => {
    const base = serialBaseFor('/tmp/x.sock');
    const serials = [0, 1, 2, 3, 7].map((p) => displaySerial(base, p));
    assert.equal(new Set(serials).size, serials.length);
    for (const s of serials) assert.ok(s > 0 && s <= 0xffffffff);
    assert.equal(displaySerial(base, 0) & 0xff, 1);
    assert.equal(displaySerial(0, 0), 1);
    assert.equal(displaySerial(DEFAULT_SERIAL_BASE, 0), 0x41470001);
  });

  it('--serial-base sets the base; an out-of-range one is refused', () => {
    const cfg = parseArgs(['--socket-path', '/tmp/s', '--serial-base', String(0x12345600)], {});
    assert.equal(cfg.serialBase, 0x12345600);
    assert.equal(displaySerial(cfg.serialBase!, 2), 0x12345603);
    assert.equal(parseArgs(['--socket-path', '/tmp/s'], {}).serialBase, null);
    assert.throws(() => parseArgs(['--socket-path', '/tmp/s', '--serial-base', '5'], {}));
  });
});

describe("BAR0's size (finding 17)", () => {
  it("is the backend's region_size rounded up to a power of two, else 16 KiB", () => {
    assert.equal(gfxBarSize(0), GFX_BAR_SIZE);
    assert.equal(GFX_BAR_SIZE, 0x4000);
    assert.equal(gfxBarSize(0x4000), 0x4000);
    assert.equal(gfxBarSize(0x10000), 0x10000);
    assert.equal(gfxBarSize(0x5000), 0x8000);
    assert.equal(gfxBarSize(100), 0x1000);
    assert.equal(gfxBarSize(-1), GFX_BAR_SIZE);
  });
});
