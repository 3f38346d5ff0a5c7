// Commands the daemon does not implement (QEMU 11 never sends them; the
// migration commands have their own test file, migration.test.ts) and
// malformed headers: ENOSYS / EINVAL error replies, silence for NO_REPLY and
// for messages typed as replies, and message ids echoed as given.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, Errno, MsgFlag, encodeMessage, type Reply, type VfioUserClient } from 'vfio-user-ts';
import { native } from '#daemon/native.js';
import { tick } from '../support/daemon.js';
import { useDaemon } from '../support/daemon-fixture.js';
import { DEVICE_ID } from '../support/soft-ring.js';

const deviceInfoPayload = (): Buffer => {
  const p = Buffer.alloc(16);
  p.writeUInt32LE(16, 0);
  return p;
};

const unsupported: [string, number, Buffer][] = [
  ['DEVICE_GET_REGION_IO_FDS', Command.DEVICE_GET_REGION_IO_FDS, Buffer.from([16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0])],
  ['DMA_READ', Command.DMA_READ, Buffer.alloc(16)],
  ['DMA_WRITE', Command.DMA_WRITE, Buffer.alloc(20)],
  ['DIRTY_PAGES (legacy 14)', Command.DIRTY_PAGES, Buffer.alloc(8)],
  ['command 0', 0, Buffer.alloc(0)],
  ['command 19', 19, Buffer.alloc(0)],
  ['command 999', 999, Buffer.alloc(4)],
  ['command 0xffff', 0xffff, Buffer.alloc(0)],
];

describe('unknown commands and malformed headers', () => {
  const fx = useDaemon();
  const { connect, connectRaw } = fx;
  /** Sends one message with a hand-picked header and resolves with its reply. */
  const send = (
    c: VfioUserClient,
    h: { id?: number; command: number; flags?: number; error?: number },
    payload?: Buffer,
    fds: number[] = [],
  ): Promise<Reply> => {
    const id = h.id ?? c.allocId();
    const waiting = c.waitReply(id, 2000);
    c.sendRaw(encodeMessage({ id, command: h.command, flags: h.flags ?? MsgFlag.TYPE_COMMAND, error: h.error ?? 0 }, payload), fds);
    return waiting;
  };
  const assertError = (r: Reply, h: { id: number; command: number }, errno: number): void => {
    assert.equal(r.header.flags, MsgFlag.TYPE_REPLY | MsgFlag.ERROR);
    assert.equal(r.header.error, errno, `errno ${r.header.error}, expected ${errno}`);
    assert.equal(r.header.size, 16, 'error replies are header-only');
    assert.equal(r.header.id, h.id, 'id echoed');
    assert.equal(r.header.command, h.command, 'command echoed');
    assert.equal(r.fds.length, 0);
  };

  for (const [name, command, payload] of unsupported) {
    it(`answers ${name} with ENOSYS and keeps the session`, async () => {
      const c = await connect();
      const id = c.allocId();
      assertError(await send(c, { id, command }, payload), { id, command }, Errno.ENOSYS);
      assert.equal(await c.read32(0, 0x1000), DEVICE_ID, 'still serving');
      c.close();
    });
  }

  it('never answers unsupported commands sent with NO_REPLY', async () => {
    const c = await connect();
    for (const [, command, payload] of unsupported) {
      c.sendRaw(encodeMessage({ id: c.allocId(), command, flags: MsgFlag.NO_REPLY, error: 0 }, payload));
    }
    assert.equal(await c.read32(0, 0x1000), DEVICE_ID);
    assert.equal(c.unexpected.length, 0, 'no reply to any of them');
    c.close();
  });

  it('closes fds attached to an unsupported command', async () => {
    const c = await connect();
    assert.equal(await c.read32(0, 0x1000), DEVICE_ID);
    const before = fx.d.fdCount();
    const efd = native.eventfdCreate();
    const mfd = native.memfdCreate(`agfx-it-unknown-${process.pid}`, 4096);
    const id = c.allocId();
    assertError(
      await send(c, { id, command: Command.DMA_READ }, Buffer.alloc(16), [efd, mfd]),
      { id, command: Command.DMA_READ },
      Errno.ENOSYS,
    );
    assert.equal(await c.read32(0, 0x1000), DEVICE_ID);
    assert.equal(fx.d.fdCount(), before);
    native.closeFd(efd);
    native.closeFd(mfd);
    c.close();
  });

  it('ignores a message typed as a reply (no answer at all) and carries on', async () => {
    const c = await connect();
    assert.equal(await c.read32(0, 0x1000), DEVICE_ID);
    const before = fx.d.fdCount();
    const efd = native.eventfdCreate();
    const mark = fx.d.logs.length;
    const sends: [number, number, Buffer | undefined, number[]][] = [
      [Command.DEVICE_GET_INFO, MsgFlag.TYPE_REPLY, deviceInfoPayload(), []],
      [Command.DMA_READ, MsgFlag.TYPE_REPLY, Buffer.alloc(24), []],
      [Command.REGION_READ, MsgFlag.TYPE_REPLY | MsgFlag.ERROR, undefined, [efd]],
      [Command.DEVICE_RESET, MsgFlag.TYPE_REPLY, undefined, []],
    ];
    await c.write32(0, 0x1008, 0x42);
    for (const [command, flags, payload, fds] of sends) {
      c.sendRaw(encodeMessage({ id: 0x7777, command, flags, error: flags & MsgFlag.ERROR ? Errno.EIO : 0 }, payload), fds);
    }
    assert.equal(await c.read32(0, 0x1008), 0x42, 'the "reply" to DEVICE_RESET did not reset anything');
    assert.equal(c.unexpected.length, 0, 'nothing answered the replies');
    assert.equal(fx.d.fdCount(), before, 'the fd on the stray reply was closed');
    const warned = await fx.d.waitForLog((l) => fx.d.logs.indexOf(l) >= mark && l.msg === 'vfio_user_unexpected_reply');
    assert.equal(warned.id, 0x7777);
    assert.equal((await c.deviceInfo()).numRegions, 9);
    native.closeFd(efd);
    c.close();
  });

  const badHeaders: [string, { flags: number; error?: number }][] = [
    ['message type 2', { flags: 2 }],
    ['message type 15', { flags: 0xf }],
    ['unknown flag bit 6', { flags: 0x40 }],
    ['unknown flag bit 31', { flags: 0x80000000 }],
    ['the error flag on a command', { flags: MsgFlag.ERROR, error: Errno.EIO }],
    ['the error flag with error 0', { flags: MsgFlag.ERROR }],
    ['a non-zero error field without the flag', { flags: 0, error: Errno.EIO }],
  ];
  for (const [name, h] of badHeaders) {
    it(`refuses a command with ${name} (EINVAL) without carrying it out`, async () => {
      const c = await connect();
      await c.write32(0, 0x1008, 0x99);
      const id = c.allocId();
      // A DEVICE_RESET would clear scratch if it were carried out.
      assertError(await send(c, { id, command: Command.DEVICE_RESET, ...h }), { id, command: Command.DEVICE_RESET }, Errno.EINVAL);
      assert.equal(await c.read32(0, 0x1008), 0x99, 'not reset; still serving');
      c.close();
    });
  }

  it('checks the header before the command: unknown flags on an unknown command are EINVAL', async () => {
    const c = await connect();
    const id = c.allocId();
    assertError(await send(c, { id, command: 999, flags: 0x40 }), { id, command: 999 }, Errno.EINVAL);
    c.close();
  });

  it('answers unknown commands before VERSION with EINVAL (negotiate first), then serves', async () => {
    const c = connectRaw();
    const id = c.allocId();
    assertError(await send(c, { id, command: 999 }), { id, command: 999 }, Errno.EINVAL);
    await c.version();
    const id2 = c.allocId();
    assertError(await send(c, { id: id2, command: 999 }), { id: id2, command: 999 }, Errno.ENOSYS);
    c.close();
  });

  it('echoes message ids as given, even when repeated', async () => {
    const c = await connect();
    for (const id of [7, 7, 0, 0xffff, 7]) {
      const ok = await send(c, { id, command: Command.DEVICE_GET_INFO }, deviceInfoPayload());
      assert.equal(ok.header.id, id);
      assert.equal(ok.header.command, Command.DEVICE_GET_INFO);
      assert.equal(ok.payload.readUInt32LE(8), 9);
      const bad = await send(c, { id, command: 999 });
      assertError(bad, { id, command: 999 }, Errno.ENOSYS);
    }
    c.close();
  });

  it('answers two pipelined messages with the same id in order, one reply each', async () => {
    const c = await connect();
    const id = 0x1234;
    const first = c.waitReply(id, 2000);
    c.sendRaw(encodeMessage({ id, command: Command.DEVICE_GET_INFO, flags: 0, error: 0 }, deviceInfoPayload()));
    c.sendRaw(encodeMessage({ id, command: 999, flags: 0, error: 0 }));
    const r1 = await first;
    assert.equal(r1.header.command, Command.DEVICE_GET_INFO);
    assert.equal(r1.header.flags, MsgFlag.TYPE_REPLY);
    // The second reply had no waiter left: it lands in `unexpected`.
    assert.equal(await c.read32(0, 0x1000), DEVICE_ID);
    await tick(0);
    assert.equal(c.unexpected.length, 1);
    assert.equal(c.unexpected[0]!.header.id, id);
    assert.equal(c.unexpected[0]!.header.command, 999);
    assert.equal(c.unexpected[0]!.header.error, Errno.ENOSYS);
    c.close();
  });
});
