// The soft device's display port registers (interface 1.1, docs/soft-device.md
// "Display port registers"): the guest reads each port's attached state, mode
// list (preferred first) and current mode, and gets DISPLAY_CHANGED plus an
// interrupt on vector 0 when the daemon hot-plugs a display or gives it a new
// mode list: from `ctl display` (the control API) and from a VNC viewer's
// SetDesktopSize (our RFB client). Our vfio-user client is the VMM, memfds
// are guest RAM, the interrupt is a real eventfd.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ControlClient } from '#daemon/control/control-client.js';
import { native } from '#daemon/native.js';
import { Encoding } from '#daemon/viewers/vnc/rfb.js';
import type { VfioUserClient } from 'vfio-user-ts';
import { startDaemon, tick, type RunningDaemon } from '../support/daemon.js';
import { RfbClient } from '../support/rfb-client.js';
import { DISPLAY_IRQ_ENABLE, GuestRam, Op, PORT_ATTACHED, Reg, SOFT_VERSION, SoftRing, St } from '../support/soft-ring.js';

const RAM = 0x40000000n;
const RAM_SIZE = 4 << 20;

interface PortView {
  attached: boolean;
  generation: number;
  modes: string[];
  current: string;
}

/** What a driver reads for `port`: the list read whole (GENERATION the same before and after). */
async function readPort(c: VfioUserClient, port: number): Promise<PortView> {
  await c.write32(0, Reg.PORT_SELECT, port);
  for (;;) {
    const generation = await c.read32(0, Reg.PORT_GENERATION);
    const attached = ((await c.read32(0, Reg.PORT_STATUS)) & PORT_ATTACHED) !== 0;
    const n = await c.read32(0, Reg.PORT_MODE_COUNT);
    const modes: string[] = [];
    for (let i = 0; i < n; i++) {
      await c.write32(0, Reg.PORT_MODE_INDEX, i);
      const size = await c.read32(0, Reg.PORT_MODE_SIZE);
      const rate = await c.read32(0, Reg.PORT_MODE_RATE);
      modes.push(`${size & 0xffff}x${size >>> 16}@${rate / 1000}`);
    }
    const cur = await c.read32(0, Reg.PORT_CURRENT);
    if ((await c.read32(0, Reg.PORT_GENERATION)) === generation)
      return { attached, generation, modes, current: `${cur & 0xffff}x${cur >>> 16}` };
  }
}

describe('soft device: display port registers (mode lists, hot-plug, change interrupt)', () => {
  let d: RunningDaemon;
  let c: VfioUserClient;
  let ctl: ControlClient;
  let efd: number;
  let ring: SoftRing;
  let vncPort = 0;
  const interrupts = async (ms = 1000): Promise<number> => {
    let got = 0;
    for (let i = 0; i < ms / 10 && got === 0; i++) {
      got = native.eventfdRead(efd);
      if (got === 0) await tick(10);
    }
    return got;
  };

  before(async () => {
    d = await startDaemon(['--display', '64x48@60,32x24@60', '--display', '16x16@30', '--vnc', '127.0.0.1:0']);
    c = await d.connectNegotiated();
    const ramFd = native.memfdCreate('ports-ram', RAM_SIZE);
    await c.dmaMap({ iova: RAM, size: BigInt(RAM_SIZE), fd: ramFd });
    efd = native.eventfdCreate();
    await c.setIrqEventfds(2, 0, [efd]);
    ring = new SoftRing(c, new GuestRam(ramFd, RAM, RAM_SIZE), RAM, 64);
    await ring.configure();
    ctl = await ControlClient.connect(`${d.socketPath}.ctl`);
    const l = await d.waitForLog((x) => x.msg === 'vnc_listening' && x.display === 0);
    vncPort = Number(l.port);
  });
  after(async () => {
    ctl?.close();
    c?.close();
    await d?.stop();
  });

  it('interface 1.1: each port attached or not, its mode list preferred first, its current mode', async () => {
    assert.equal(await c.read32(0, Reg.VERSION), SOFT_VERSION);
    assert.deepEqual(await readPort(c, 0), { attached: true, generation: 1, modes: ['64x48@60', '32x24@60'], current: '64x48' });
    assert.deepEqual(await readPort(c, 1), { attached: true, generation: 1, modes: ['16x16@30'], current: '16x16' });
    assert.deepEqual(await readPort(c, 2), { attached: false, generation: 0, modes: [], current: '0x0' });
    assert.equal(await c.read32(0, Reg.DISPLAY_CHANGED), 0b11, 'both attachments are changes the guest has not seen');
    await c.write32(0, Reg.DISPLAY_CHANGED, 0b11);
    assert.equal(await c.read32(0, Reg.DISPLAY_CHANGED), 0, 'write 1 to clear');
    // Out-of-range selections are refused (guest errors), the old ones kept.
    await c.write32(0, Reg.PORT_SELECT, 4);
    assert.equal(await c.read32(0, Reg.PORT_SELECT), 2);
    await c.write32(0, Reg.PORT_MODE_INDEX, 128);
    assert.notEqual(await c.read32(0, Reg.PORT_MODE_INDEX), 128);
    await d.waitForLog((l) => l.msg === 'apple_gfx_guest_error' && /PORT_SELECT of 4/.test(String(l.what)));
  });

  it('ctl display modes / add / remove: DISPLAY_CHANGED and one interrupt each once enabled', async () => {
    native.eventfdRead(efd);
    await ctl.call('displayModes', {
      port: 0,
      modes: [
        { width: 48, height: 32, refreshHz: 50 },
        { width: 64, height: 48, refreshHz: 60 },
      ],
    });
    assert.equal(await interrupts(200), 0, 'not enabled: no interrupt');
    assert.equal(await c.read32(0, Reg.DISPLAY_CHANGED), 0b1);
    // Enabling with a change pending raises at once.
    await c.write32(0, Reg.DISPLAY_IRQ, DISPLAY_IRQ_ENABLE);
    assert.equal(await interrupts(), 1);
    const p0 = await readPort(c, 0);
    assert.deepEqual(p0.modes, ['48x32@50', '64x48@60']);
    assert.equal(p0.current, '64x48', 'the current mode is still listed: kept until the guest switches');
    assert.equal(p0.generation, 2);
    await c.write32(0, Reg.DISPLAY_CHANGED, 0xf);

    await ctl.call('displayAdd', { modes: [{ width: 20, height: 10, refreshHz: 60 }], port: 3, name: '' });
    assert.equal(await interrupts(), 1);
    assert.equal(await c.read32(0, Reg.DISPLAY_CHANGED), 0b1000);
    assert.deepEqual(await readPort(c, 3), { attached: true, generation: 1, modes: ['20x10@60'], current: '20x10' });
    await c.write32(0, Reg.DISPLAY_CHANGED, 0xf);
    await ctl.call('displayRemove', { port: 3 });
    assert.equal(await interrupts(), 1);
    assert.equal(await c.read32(0, Reg.DISPLAY_CHANGED), 0b1000);
    assert.deepEqual(await readPort(c, 3), { attached: false, generation: 2, modes: [], current: '0x0' });
    await c.write32(0, Reg.DISPLAY_CHANGED, 0xf);
  });

  it("a VNC viewer's SetDesktopSize reaches the guest: the size first in the list; the guest switches, the viewer gets the new size", async () => {
    native.eventfdRead(efd);
    const v = await RfbClient.connect(vncPort);
    try {
      v.setEncodings([Encoding.RAW, Encoding.EXTENDED_DESKTOP_SIZE]);
      v.requestUpdate(false);
      await v.nextUpdate();
      v.setDesktopSize(40, 30);
      assert.equal(await interrupts(), 1, 'the guest is interrupted');
      assert.equal(await c.read32(0, Reg.DISPLAY_CHANGED), 0b1);
      const p0 = await readPort(c, 0);
      assert.equal(p0.modes[0], '40x30@50', 'the requested size first, at the preferred rate');
      // The guest follows its preferred mode, as test/guest/demo does.
      assert.equal((await ring.run(Op.SET_MODE, [0, 40, 30])).status, St.OK);
      assert.equal((await readPort(c, 0)).current, '40x30');
      const end = Date.now() + 3000;
      while ((v.width !== 40 || v.height !== 30) && Date.now() < end) {
        v.requestUpdate(true);
        await v.nextUpdate(200);
      }
      assert.deepEqual([v.width, v.height], [40, 30]);
      assert.ok(
        v.extDesktop.some((e) => e.reason === 1 && e.status === 0),
        'answered OK',
      );
    } finally {
      v.close();
    }
  });

  it('device reset returns the registers to their reset values, every attached port changed; the lists stay', async () => {
    await c.write32(0, Reg.PORT_SELECT, 1);
    await c.write32(0, Reg.DISPLAY_CHANGED, 0xf);
    await c.write32(0, Reg.CONTROL, 1);
    assert.equal(await c.read32(0, Reg.PORT_SELECT), 0);
    assert.equal(await c.read32(0, Reg.DISPLAY_IRQ), 0);
    assert.equal(await c.read32(0, Reg.DISPLAY_CHANGED), 0b11, 'ports 0 and 1: a fresh driver has seen neither');
    assert.equal((await readPort(c, 0)).modes[0], '40x30@50');
    await ring.configure();
  });
});
