// The server session's state machine, in process: VERSION first and once,
// one reply per command and none for NO_REPLY (not even an error), replies
// carrying the command's id, error replies header-only, fds a handler does
// not take closed, a departing client releases what it held.
import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  Command,
  DmaFlag,
  Errno,
  MigState,
  MsgFlag,
  PciIrq,
  PciRegion,
  VfioUserError,
  decodeHeader,
  encodeMessage,
  encodeRegionAccess,
  type MigratableDevice,
} from 'vfio-user-ts';
import { MemoryDevice, loopback, negotiated } from './support/loopback.js';

const errno = (n: number) => (e: unknown) => e instanceof VfioUserError && e.errno === n;
const isOpen = (fd: number): boolean => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};
const devNull = (): number => openSync('/dev/null', 'r');

describe('server session state machine', () => {
  it('refuses every command before VERSION, and a second VERSION', async () => {
    const { client, device } = loopback();
    await assert.rejects(client.read32(PciRegion.BAR0, 0), errno(Errno.EINVAL));
    await assert.rejects(client.deviceInfo(), errno(Errno.EINVAL));
    const v = await client.version();
    assert.deepEqual([v.major, v.minor], [0, 0]);
    await assert.rejects(client.version(), errno(Errno.EINVAL));
    assert.equal((await client.deviceInfo()).numRegions, device.info().numRegions);
  });

  it('refuses a major version it does not speak, and stays un-negotiated', async () => {
    const { client } = loopback();
    await assert.rejects(client.request(Command.VERSION, Buffer.from([1, 0, 0, 0])), errno(Errno.ENOTSUP));
    await assert.rejects(client.read32(PciRegion.BAR0, 0), errno(Errno.EINVAL), 'still before VERSION');
    await client.version();
    assert.equal(await client.read32(PciRegion.BAR0, 0), 0);
  });

  it('answers each command once, with its id; error replies are header-only', async () => {
    const { client, replies } = await negotiated();
    const before = replies.length;
    await client.write32(PciRegion.BAR0, 8, 0x12345678);
    assert.equal(await client.read32(PciRegion.BAR0, 8), 0x12345678);
    const bad = await client.requestRaw(Command.REGION_READ, encodeRegionAccess(0n, PciRegion.BAR0, 8192));
    assert.ok(bad.header.flags & MsgFlag.ERROR);
    assert.equal(bad.header.error, Errno.EINVAL);
    assert.equal(bad.payload.length, 0, 'error replies carry no payload');
    assert.equal(replies.length - before, 3, 'one reply per command');
    assert.deepEqual(
      replies.slice(before).map((r) => decodeHeader(r).flags & MsgFlag.TYPE_MASK),
      [MsgFlag.TYPE_REPLY, MsgFlag.TYPE_REPLY, MsgFlag.TYPE_REPLY],
    );
  });

  it('sends nothing back for NO_REPLY commands, even when they fail; applies them in order', async () => {
    const { client, device, replies } = await negotiated();
    const before = replies.length;
    client.postRegionWrite(PciRegion.BAR0, 0, Buffer.from([1, 2, 3, 4]));
    client.postRegionWrite(PciRegion.BAR0, 1 << 20, Buffer.from([9])); // outside the BAR: refused, silently
    client.postRegionWrite(PciRegion.BAR0, 2, Buffer.from([7]));
    assert.equal(replies.length, before, 'no reply to any posted write');
    assert.deepEqual([...device.bar0.subarray(0, 4)], [1, 2, 7, 4], 'applied in arrival order');
    assert.equal(await client.read32(PciRegion.BAR0, 0), 0x04070201, 'the next reply is the read');
  });

  it('refuses unknown commands with ENOSYS and malformed headers with EINVAL', async () => {
    const { client } = await negotiated();
    await assert.rejects(client.request(0x77), errno(Errno.ENOSYS));
    const id = client.allocId();
    const waiting = client.waitReply(id);
    client.sendRaw(
      encodeMessage({ id, command: Command.DEVICE_GET_INFO, flags: MsgFlag.TYPE_COMMAND | 0x100, error: 0 }, Buffer.alloc(16)),
    );
    const r = await waiting;
    assert.equal(r.header.error, Errno.EINVAL, 'unknown header flag');
    const id2 = client.allocId();
    const waiting2 = client.waitReply(id2);
    client.sendRaw(encodeMessage({ id: id2, command: Command.DEVICE_GET_INFO, flags: MsgFlag.TYPE_COMMAND, error: 5 }, Buffer.alloc(16)));
    assert.equal((await waiting2).header.error, Errno.EINVAL, 'a command with an error field');
  });

  it('ignores replies from the client (it never asked anything)', async () => {
    const { client, replies } = await negotiated();
    const before = replies.length;
    client.sendRaw(encodeMessage({ id: 9, command: Command.REGION_READ, flags: MsgFlag.TYPE_REPLY, error: 0 }));
    assert.equal(replies.length, before);
    assert.equal(await client.read32(PciRegion.BAR0, 0), 0);
  });

  it('closes fds that came with a message that takes none, or with a refused one', async () => {
    const { client } = await negotiated();
    const fd = devNull();
    await assert.rejects(client.request(Command.DEVICE_GET_INFO, Buffer.alloc(16).fill(16, 0, 1), [fd]), errno(Errno.EINVAL));
    assert.equal(isOpen(fd), false, 'closed by the session');
    const fd2 = devNull();
    await assert.rejects(client.dmaMap({ iova: 0x1000n, size: 0n, fd: fd2 }), errno(Errno.EINVAL));
    assert.equal(isOpen(fd2), false, 'a refused DMA_MAP does not keep its fd');
  });

  it('hands a DMA_MAP fd to the device, which then owns it', async () => {
    const { client, device } = await negotiated();
    const fd = devNull();
    await client.dmaMap({ iova: 0x10000n, size: 0x1000n, fd, flags: DmaFlag.READ });
    assert.equal(isOpen(fd), true);
    assert.deepEqual(
      device.maps.map((m) => [m.iova, m.size, m.fd, m.readable, m.writable]),
      [[0x10000n, 0x1000n, fd, true, false]],
    );
    await assert.rejects(client.dmaMap({ iova: 0x10800n, size: 0x1000n }), errno(Errno.EEXIST), "the device's refusal reaches the client");
    await client.dmaUnmap(0x10000n, 0x1000n);
    closeSync(fd);
  });

  it('passes SET_IRQS eventfd assignments with their fds; a count mismatch is refused', async () => {
    const { client, device } = await negotiated();
    const fds = [devNull(), devNull()];
    await client.setIrqEventfds(PciIrq.MSIX, 1, fds);
    assert.deepEqual(device.irqRequests, [{ kind: 'assign', index: PciIrq.MSIX, start: 1, fds }]);
    await assert.rejects(client.setIrqEventfds(PciIrq.MSIX, 3, [devNull()], 2), errno(Errno.EINVAL));
    await assert.rejects(client.setIrqEventfds(PciIrq.MSIX, 3, [devNull(), devNull()]), errno(Errno.EINVAL), 'past the last vector');
    for (const fd of fds) closeSync(fd);
  });

  it('checks a REGION_WRITE_MULTI batch whole before applying any entry', async () => {
    const device = new MemoryDevice();
    device.readOnly.add(0x20);
    const { client } = await negotiated(device);
    const entries = [
      { offset: 0x10n, region: PciRegion.BAR0, count: 1, data: Buffer.from([1]) },
      { offset: 0x20n, region: PciRegion.BAR0, count: 1, data: Buffer.from([2]) },
    ];
    client.postWriteMulti(entries);
    assert.equal(device.writes.length, 0, 'the refused entry keeps the first from being applied');
    client.postWriteMulti([entries[0]!]);
    assert.deepEqual(
      device.writes.map((w) => w.offset),
      [0x10],
    );
  });

  it('resets the device on DEVICE_RESET', async () => {
    const { client, device } = await negotiated();
    await client.write32(PciRegion.BAR0, 0, 0xffffffff);
    await client.reset();
    assert.equal(device.resets, 1);
    assert.equal(await client.read32(PciRegion.BAR0, 0), 0);
  });

  it('an asynchronous DEVICE_RESET: replied when it settles, the messages behind it handled after it; a rejected one gets an error reply', async () => {
    const { client, device } = await negotiated();
    let finish = (): void => {};
    let fail = false;
    device.reset = () => {
      device.resets++;
      return new Promise<void>((resolve, reject) => {
        finish = () => (fail ? reject(new VfioUserError(Errno.EIO, 'backend reset failed')) : (device.bar0.fill(0), resolve()));
      });
    };
    await client.write32(PciRegion.BAR0, 0, 0x1234);
    const order: string[] = [];
    const reset = client.reset().then(() => order.push('reset'));
    const read = client.read32(PciRegion.BAR0, 0).then((v) => (order.push('read'), v));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(order, [], 'nothing answered while the reset runs');
    finish();
    assert.equal(await read, 0, 'the read saw the reset device');
    await reset;
    assert.deepEqual(order, ['reset', 'read']);
    fail = true;
    const failed = client.requestRaw(Command.DEVICE_RESET);
    await new Promise((r) => setTimeout(r, 10));
    finish();
    const r = await failed;
    assert.equal(r.header.flags & MsgFlag.ERROR, MsgFlag.ERROR);
    assert.equal(r.header.error, Errno.EIO);
  });

  it('tells the device when the client leaves; the device keeps its state', async () => {
    const { client, device } = await negotiated();
    await client.write32(PciRegion.BAR0, 4, 0xabcd);
    await client.dmaMap({ iova: 0x1000n, size: 0x1000n });
    client.close();
    assert.equal(device.disconnects, 1);
    assert.equal(device.maps.length, 0);
    assert.equal(device.bar0.readUInt32LE(4), 0xabcd);
  });

  it('refuses migration commands on a device without migration', async () => {
    const { client } = await negotiated();
    await assert.rejects(client.migrationState(), errno(Errno.ENOTSUP));
    await assert.rejects(client.migDataRead(16), errno(Errno.ENOTSUP));
  });

  it('routes migration through the device: state changes, data only in STOP_COPY / RESUMING', async () => {
    const device = new MemoryDevice();
    let state: number = MigState.RUNNING;
    const saved = Buffer.from('device state bytes');
    let read = 0;
    const incoming: Buffer[] = [];
    const migration: MigratableDevice = {
      migrationState: () => state,
      setMigrationState: (to) => void (state = to),
      migrationDataSize: () => saved.length - read,
      readMigrationData: (max) => saved.subarray(read, (read = Math.min(saved.length, read + max))),
      writeMigrationData: (d) => void incoming.push(Buffer.from(d)),
    };
    device.migration = migration;
    const { client } = await negotiated(device);
    await assert.rejects(client.migDataRead(4), errno(Errno.EINVAL), 'RUNNING: no data');
    await client.setMigrationState(MigState.STOP_COPY);
    assert.equal(await client.migrationState(), MigState.STOP_COPY);
    const a = await client.migDataRead(8);
    const b = await client.migDataRead(64);
    assert.equal(Buffer.concat([a, b]).toString(), saved.toString());
    await assert.rejects(client.migDataWrite(Buffer.from('x')), errno(Errno.EINVAL), 'STOP_COPY: no writes');
    await client.setMigrationState(MigState.RESUMING);
    await client.migDataWrite(Buffer.from('abc'));
    assert.deepEqual(incoming.map(String), ['abc']);
  });
});
