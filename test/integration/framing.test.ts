// Framing: what breaks the byte stream closes that client only; the daemon
// logs why, keeps its device state and serves the next client.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Command, MsgFlag, encodeMessage, encodeRegionAccess, encodeDmaMap } from 'vfio-user-ts';
import { native } from '#daemon/native.js';
import { startDaemon, tick, type RunningDaemon } from '../support/daemon.js';

function header(size: number, command = Command.DEVICE_GET_INFO, id = 1): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(id, 0);
  b.writeUInt16LE(command, 2);
  b.writeUInt32LE(size, 4);
  return b;
}

describe('framing', () => {
  let d: RunningDaemon;
  before(async () => (d = await startDaemon()));
  after(async () => d.stop());

  async function expectDropped(reasonPart: string, send: (c: ReturnType<RunningDaemon['connect']>) => void): Promise<void> {
    const c = await d.connectNegotiated();
    const seen = d.logs.length;
    send(c);
    const reason = await c.waitClosed();
    assert.equal(reason, null, 'the daemon closed the socket (orderly EOF for the client)');
    const line = await d.waitForLog((l) => d.logs.indexOf(l) >= seen && l.msg === 'vfio_user_client_dropped');
    assert.match(String(line.reason), new RegExp(reasonPart));
    // The daemon is alive and the next client is served.
    const next = await d.connectNegotiated();
    assert.equal(await next.read32(0, 0x1000), 0x58464741);
    next.close();
    await d.waitForLog((l) => d.logs.indexOf(l) >= seen && l.msg === 'vfio_user_client_closed' && l.reason === null);
  }

  it('closes a client whose header size is smaller than the header', async () => {
    await expectDropped('smaller than the 16-byte header', (c) => c.sendRaw(header(8)));
  });

  it('closes a client that announces a message larger than the limit', async () => {
    await expectDropped('exceeds', (c) => c.sendRaw(header(64 << 20)));
  });

  it('closes a client that hangs up inside a message', async () => {
    const c = await d.connectNegotiated();
    const seen = d.logs.length;
    c.sendRaw(header(100).subarray(0, 16)); // promises 100 bytes, sends 16
    await tick();
    c.close();
    const line = await d.waitForLog((l) => d.logs.indexOf(l) >= seen && l.msg === 'vfio_user_client_dropped');
    assert.match(String(line.reason), /inside a message \(16 bytes/);
  });

  it('closes a client that sends more fds than max_msg_fds, and closes every one of them', async () => {
    const before = d.fdCount();
    const fds = Array.from({ length: 17 }, () => native.eventfdCreate());
    await expectDropped('17 file descriptors', (c) =>
      c.sendRaw(encodeMessage({ id: 9, command: Command.DEVICE_SET_IRQS, flags: 0, error: 0 }, Buffer.alloc(20)), fds),
    );
    fds.forEach((fd) => native.closeFd(fd));
    await tick(50);
    assert.equal(d.fdCount(), before, 'no fd leaked in the daemon');
  });

  it('reassembles a message that arrives in pieces', async () => {
    const c = await d.connectNegotiated();
    const msg = encodeMessage({ id: 77, command: Command.REGION_READ, flags: 0, error: 0 }, encodeRegionAccess(0x1000n, 0, 4));
    const reply = c.waitReply(77);
    for (const [a, b] of [
      [0, 3],
      [3, 11],
      [11, 20],
      [20, msg.length],
    ]) {
      c.sendRaw(msg.subarray(a, b));
      await tick(5);
    }
    const r = await reply;
    assert.equal(r.payload.readUInt32LE(16), 0x58464741);
    c.close();
  });

  it('answers pipelined messages from one write in order, fds going with their own message', async () => {
    const c = await d.connectNegotiated();
    const memfd = native.memfdCreate('pipelined', 1 << 16);
    const read = encodeMessage({ id: 100, command: Command.REGION_READ, flags: 0, error: 0 }, encodeRegionAccess(0x1000n, 0, 4));
    const map = encodeMessage(
      { id: 101, command: Command.DMA_MAP, flags: 0, error: 0 },
      encodeDmaMap({ flags: 3, offset: 0n, iova: 0x10000000n, size: 1n << 16n }),
    );
    const order: number[] = [];
    const r1 = c.waitReply(100).then((r) => (order.push(100), r));
    const r2 = c.waitReply(101).then((r) => (order.push(101), r));
    c.sendRaw(Buffer.concat([read, map]), [memfd]);
    native.closeFd(memfd);
    const [a, b] = await Promise.all([r1, r2]);
    assert.deepEqual(order, [100, 101]);
    assert.equal(a.payload.readUInt32LE(16), 0x58464741);
    assert.equal(b.header.flags & MsgFlag.ERROR, 0, 'DMA_MAP got its fd');
    assert.equal(d.memfdMappings().filter((l) => l.includes('pipelined')).length, 1);
    c.close();
    await d.waitForLog((l) => l.msg === 'apple_gfx_client_detached' && l.regionsUnmapped === 1);
  });

  it('keeps device state when a client is dropped for bad framing', async () => {
    const c = await d.connectNegotiated();
    await c.write32(0, 0x1008, 0x5eed);
    c.sendRaw(header(3));
    await c.waitClosed();
    const next = await d.connectNegotiated();
    assert.equal(await next.read32(0, 0x1008), 0x5eed);
    next.close();
  });
});
