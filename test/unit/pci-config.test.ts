import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cap, Cfg, PciConfigSpace } from '#daemon/device/pci-config.js';

describe('PCI config space model', () => {
  const make = () => {
    const cfg = new PciConfigSpace().set16(Cfg.VENDOR_ID, 0x106b).set16(Cfg.COMMAND, 0, 0x0547).bar32(0, 0x4000);
    cfg.addCapability(Cap.MSI, { value: Buffer.from([0x80, 0, 0, 0]), writeMask: Buffer.from([0x01, 0, 0xfc, 0xff]) });
    cfg.addCapability(Cap.MSIX, { value: Buffer.alloc(10), writeMask: Buffer.alloc(10) });
    return cfg.seal();
  };

  it('links capabilities from 0x34 and sets the capability-list status bit', () => {
    const cfg = make();
    assert.equal(cfg.read(Cfg.STATUS, 2).readUInt16LE(0) & 0x10, 0x10);
    const first = cfg.read(Cfg.CAP_PTR, 1)[0]!;
    assert.equal(first, 0x40);
    assert.equal(cfg.read(first, 1)[0], Cap.MSI);
    const second = cfg.read(first + 1, 1)[0]!;
    assert.equal(cfg.read(second, 1)[0], Cap.MSIX);
    assert.equal(second % 4, 0, 'capabilities are dword aligned');
    assert.equal(cfg.read(second + 1, 1)[0], 0, 'chain ends');
    assert.equal(cfg.capabilityOffset(Cap.MSIX), second);
  });

  it('applies write masks byte by byte: read-only bytes keep their value', () => {
    const cfg = make();
    cfg.write(Cfg.VENDOR_ID, Buffer.from([0xff, 0xff]));
    assert.equal(cfg.read(Cfg.VENDOR_ID, 2).readUInt16LE(0), 0x106b);
    cfg.write(Cfg.COMMAND, Buffer.from([0xff, 0xff]));
    assert.equal(cfg.read(Cfg.COMMAND, 2).readUInt16LE(0), 0x0547);
    cfg.write(0x42, Buffer.from([0xff, 0xff, 0xff, 0xff]));
    assert.deepEqual([...cfg.read(0x42, 4)], [0x81, 0x00, 0xfc, 0xff]);
  });

  it('sizes a BAR: all-ones reads back the size mask', () => {
    const cfg = make();
    const ones = Buffer.alloc(4, 0xff);
    cfg.write(Cfg.BAR0, ones);
    assert.equal(cfg.read(Cfg.BAR0, 4).readUInt32LE(0), 0xffffc000);
    assert.throws(() => new PciConfigSpace().bar32(0, 0x3000), /power of two/);
  });

  it('reset restores the sealed contents', () => {
    const cfg = make();
    cfg.write(Cfg.COMMAND, Buffer.from([0x06, 0x00]));
    cfg.reset();
    assert.equal(cfg.read(Cfg.COMMAND, 2).readUInt16LE(0), 0);
  });
});
