// The data plane (native/core/dataplane/): a native thread per client owns the
// vfio-user socket and answers BAR accesses itself; everything else goes to
// the TypeScript session, in arrival order. These tests fail without it: an
// MMIO answered while the daemon's JS thread is blocked, viewers and the
// control API served while a backend MMIO takes long, message order across
// the hand-over, the never-reading client, the bounded log queue, trace logs.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ControlClient } from '#daemon/control/control-client.js';
import { native } from '#daemon/native.js';
import { Command, MsgFlag, PciIrq, encodeMessage, encodeRegionAccess } from 'vfio-user-ts';
import { startDaemon, tick, type RunningDaemon } from '../support/daemon.js';
import { buildLibBackend } from '../support/lib-backend.js';
import { RfbClient } from '../support/rfb-client.js';
import { Op, Reg } from '../support/soft-ring.js';

const LIB_ID = 0x2142494c;
const SLOW = 0x1010; // lib fixture: a read that takes as long as 0x1014 says
const SLOW_MS = 0x1014;
const BLOCK_SET_MODES_MS = 0x1018; // lib fixture: the next set_modes (JS thread) takes this long
const RAM = 0x40000000n;

const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
const read = (region: number, offset: number, count = 4): Buffer => encodeRegionAccess(BigInt(offset), region, count);
const write = (region: number, offset: number, data: Buffer): Buffer => encodeRegionAccess(BigInt(offset), region, data.length, data);
const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

describe('data plane', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agfx-dp-'));
  let lib: string;
  before(() => {
    lib = buildLibBackend(dir, 'lib');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('with a backend whose calls can be made slow (lib fixture)', () => {
    let d: RunningDaemon;
    let vncPort = 0;
    before(async () => {
      d = await startDaemon(['--backend', `lib:${lib}`, '--display', '640x480@60', '--vnc', '127.0.0.1:0']);
      vncPort = (await d.waitForLog((l) => l.msg === 'vnc_listening' && l.display === 0)).port as number;
    });
    after(async () => d.stop());

    it("answers BAR0 reads while the daemon's JS thread is blocked", async () => {
      const c = await d.connectNegotiated();
      const ctl = await ControlClient.connect(`${d.socketPath}.ctl`);
      try {
        await c.write32(0, BLOCK_SET_MODES_MS, 2000);
        const t0 = performance.now();
        // The daemon handles this on its JS thread and calls the backend's
        // set_modes there, which now takes 2 s: JS is blocked meanwhile.
        let modesAnswered = 0;
        const modes = ctl
          .call('displayModes', { port: 0, modes: [{ width: 640, height: 480, refreshHz: 60 }] })
          .then(() => (modesAnswered = performance.now()));
        await tick(300);
        const reads: number[] = [];
        for (let i = 0; i < 50; i++) {
          assert.equal(await c.read32(0, 0x1000), LIB_ID);
          reads.push(performance.now());
        }
        await c.write32(0, 0x1008, 0x5151);
        assert.equal(await c.read32(0, 0x1008), 0x5151);
        const readsDone = performance.now();
        await modes;
        assert.ok(modesAnswered - t0 >= 1900, `the JS thread was blocked (control reply after ${(modesAnswered - t0).toFixed(0)} ms)`);
        assert.ok(
          readsDone < modesAnswered,
          `50 reads answered before the JS thread was free again (${(readsDone - t0).toFixed(0)} ms vs ${(modesAnswered - t0).toFixed(0)} ms)`,
        );
      } finally {
        ctl.close();
        c.close();
      }
    });

    it('keeps serving VNC viewers and the control API while a backend MMIO takes 1.5 s', async () => {
      const c = await d.connectNegotiated();
      const ctl = await ControlClient.connect(`${d.socketPath}.ctl`);
      try {
        await c.write32(0, SLOW_MS, 1500);
        const t0 = performance.now();
        let slowDone = 0;
        const slow = c.read32(0, SLOW).then((v) => ((slowDone = performance.now()), v));
        await tick(100);
        // A new viewer's handshake and a status request both need the JS thread.
        const viewer = await RfbClient.connect(vncPort);
        assert.deepEqual([viewer.width, viewer.height], [640, 480]);
        const status = await ctl.call('status');
        const servedAt = performance.now();
        viewer.close();
        assert.equal(status.clientConnected, true);
        assert.equal(await slow, 0x510e);
        assert.ok(slowDone - t0 >= 1400, `the MMIO did take long (${(slowDone - t0).toFixed(0)} ms)`);
        assert.ok(
          servedAt < slowDone,
          `viewer and control were served during the slow MMIO (${(servedAt - t0).toFixed(0)} ms vs ${(slowDone - t0).toFixed(0)} ms)`,
        );
        await c.write32(0, SLOW_MS, 0);
      } finally {
        ctl.close();
        c.close();
      }
    });

    it('bounds the log events waiting for a blocked JS thread, and says how many it dropped', async () => {
      const c = await d.connectNegotiated();
      const ctl = await ControlClient.connect(`${d.socketPath}.ctl`);
      try {
        await c.write32(0, BLOCK_SET_MODES_MS, 1500);
        const mark = d.logs.length;
        const modes = ctl.call('displayModes', { port: 0, modes: [{ width: 640, height: 480, refreshHz: 60 }] });
        await tick(300);
        // 3000 refused 1-byte writes: two log events each (guest error, request failed).
        for (let i = 0; i < 3000; i++) c.post(Command.REGION_WRITE, write(0, 0x1008, Buffer.from([1])));
        assert.equal(await c.read32(0, 0x1000), LIB_ID, 'all of them handled while JS is blocked');
        await modes;
        const dropped = await d.waitForLog((l) => d.logs.indexOf(l) >= mark && l.msg === 'vfio_user_log_dropped');
        const kept = d.logs.slice(mark).filter((l) => l.msg === 'apple_gfx_guest_error' || l.msg === 'vfio_user_request_failed').length;
        assert.equal(kept + (dropped.count as number), 6000, `every event logged or counted (${kept} logged, ${dropped.count} dropped)`);
        assert.ok(kept <= 1024, `at most the queue bound was kept (${kept})`);
        const s = await ctl.call('status');
        assert.ok(s.dataPlane!.eventsDropped >= (dropped.count as number));
      } finally {
        ctl.close();
        c.close();
      }
    });
  });

  describe('with the soft backend', () => {
    let d: RunningDaemon;
    before(async () => (d = await startDaemon(['--log-level', 'trace'])));
    after(async () => d.stop());

    it('applies a DMA_MAP and SET_IRQS (the session) before the BAR writes pipelined behind them (the data plane)', async () => {
      const c = await d.connectNegotiated();
      const size = 1 << 20;
      const ram = native.memfdCreate('dp-order-ram', size);
      const efd = native.eventfdCreate();
      try {
        // A FENCE command at the ring's start, written before the ring's
        // memory is even mapped into the daemon.
        const e = Buffer.alloc(64);
        e.writeUInt32LE(Op.FENCE, 0);
        e.writeUInt32LE(0xffffffff, 8);
        e.writeBigUInt64LE(7n, 16);
        writeSync(ram, e, 0, 64, 0);
        // None of these waits for a reply: they are in the daemon's socket
        // together, the map and the interrupt fds first.
        const mapped = c.dmaMap({ iova: RAM, size: BigInt(size), fd: ram });
        const irqs = c.setIrqEventfds(PciIrq.MSIX, 0, [efd]);
        for (const [off, v] of [
          [Reg.RING_BASE_LO, Number(RAM)],
          [Reg.RING_BASE_HI, 0],
          [Reg.RING_ENTRIES, 16],
          [Reg.RING_TAIL, 1],
          [Reg.DOORBELL, 1],
          [0x100c, 0],
        ])
          c.post(Command.REGION_WRITE, write(0, off!, u32(v!)));
        const completed = c.read32(0, Reg.COMPLETED);
        const errors = c.read32(0, Reg.ERRORS);
        const fence = c.read32(0, Reg.FENCE_LO);
        await Promise.all([mapped, irqs]);
        assert.equal(await completed, 1, 'the command ran from guest memory mapped by the DMA_MAP before it');
        assert.equal(await errors, 0);
        assert.equal(await fence, 7);
        assert.equal(native.eventfdRead(efd), 2, "the fence's and the self-test's interrupts went to the eventfd assigned before them");
        const done = Buffer.alloc(8);
        readSync(ram, done, 0, 8, 8);
        assert.equal(done.readUInt32LE(0), 0, 'completion status OK');
      } finally {
        c.close();
        native.closeFd(ram);
        native.closeFd(efd);
      }
    });

    it('logs MMIO at trace level as apple_gfx_read / apple_gfx_write, following the log level', async () => {
      const c = await d.connectNegotiated();
      const ctl = await ControlClient.connect(`${d.socketPath}.ctl`);
      try {
        const mark = d.logs.length;
        await c.write32(0, Reg.SCRATCH, 0xabc);
        assert.equal(await c.read32(0, Reg.SCRATCH), 0xabc);
        const w = await d.waitForLog((l) => d.logs.indexOf(l) >= mark && l.msg === 'apple_gfx_write');
        assert.deepEqual([w.offset, w.val], ['0x1008', '0xabc']);
        const r = await d.waitForLog((l) => d.logs.indexOf(l) >= mark && l.msg === 'apple_gfx_read');
        assert.deepEqual([r.offset, r.res], ['0x1008', '0xabc']);
        await ctl.call('logLevel', { level: 'debug' });
        const quiet = d.logs.length;
        assert.equal(await c.read32(0, Reg.SCRATCH), 0xabc);
        await c.write32(0, Reg.SCRATCH, 0);
        await ctl.call('status'); // a round trip through the JS thread after the accesses
        assert.equal(d.logs.slice(quiet).filter((l) => l.msg === 'apple_gfx_read' || l.msg === 'apple_gfx_write').length, 0);
        await ctl.call('logLevel', { level: 'trace' });
      } finally {
        ctl.close();
        c.close();
      }
    });

    it('stops reading a client that never reads its replies, with bounded output, and serves the next client', async () => {
      const fd = native.connectUnix(d.socketPath);
      const ctl = await ControlClient.connect(`${d.socketPath}.ctl`);
      await ctl.call('logLevel', { level: 'info' }); // no trace line per read here
      try {
        // VERSION, read by hand (the socket is non-blocking).
        const version = Buffer.from('{"capabilities":{}}\0');
        const vp = Buffer.alloc(4 + version.length);
        vp.writeUInt16LE(0, 0);
        vp.writeUInt16LE(0, 2);
        version.copy(vp, 4);
        writeSync(fd, encodeMessage({ id: 1, command: Command.VERSION, flags: MsgFlag.TYPE_COMMAND, error: 0 }, vp));
        const reply = Buffer.alloc(4096);
        for (let i = 0; ; i++) {
          try {
            if (readSync(fd, reply) > 0) break;
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || i > 200) throw e;
            await tick(10);
          }
        }
        const rss0 = rssKiB(d.pid);
        // REGION_READs until the socket takes no more; never a read.
        const req = encodeMessage({ id: 2, command: Command.REGION_READ, flags: MsgFlag.TYPE_COMMAND, error: 0 }, read(0, 0x1000));
        const burst = Buffer.concat(Array.from({ length: 256 }, () => req));
        let sent = 0;
        for (let round = 0; round < 50; round++) {
          try {
            for (;;) sent += writeSync(fd, burst);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
          }
          await tick(5);
        }
        const s = await ctl.call('status');
        assert.ok(sent > 128 * 1024, `sent ${sent} bytes of requests`);
        assert.ok(s.dataPlane!.queuedBytes <= 64 * 1024 + 36, `output waiting: ${s.dataPlane!.queuedBytes} bytes`);
        assert.ok(s.dataPlane!.native < sent / 32, `the daemon stopped reading (${s.dataPlane!.native} of ${sent / 32} answered)`);
        assert.ok(rssKiB(d.pid) - rss0 < 16 * 1024, `RSS grew by ${rssKiB(d.pid) - rss0} KiB`);
        assert.equal((await ctl.call('status')).clientConnected, true, 'the control API is served meanwhile');
      } finally {
        native.closeFd(fd);
        ctl.close();
      }
      await d.waitForLog((l) => l.msg === 'vfio_user_client_closed' && (l.messages as number) > 1000);
      const next = await d.connectNegotiated();
      assert.equal(await next.read32(0, Reg.ID), 0x58464741);
      next.close();
    });

    it('closes a client that hangs up while its message is with the session, and serves the next', async () => {
      const c = await d.connectNegotiated();
      const mark = d.logs.length;
      // A message for the session and BAR reads behind it, then gone.
      c.sendRaw(encodeMessage({ id: 1, command: Command.DEVICE_GET_INFO, flags: MsgFlag.TYPE_COMMAND, error: 0 }, u32(16)));
      for (let i = 0; i < 20; i++) c.post(Command.REGION_READ, read(0, 0x1000));
      c.close();
      const closed = await d.waitForLog((l) => d.logs.indexOf(l) >= mark && l.msg === 'vfio_user_client_closed');
      assert.equal(closed.reason, null, 'an orderly disconnect');
      const next = await d.connectNegotiated();
      assert.equal(await next.read32(0, Reg.ID), 0x58464741);
      next.close();
    });
  });
});
