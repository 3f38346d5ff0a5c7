// The limits a session holds its client to, negotiated at VERSION: transfer
// size, fds per message, page sizes; and the message size a transport should
// accept for them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Command,
  Errno,
  Limits,
  PciRegion,
  VfioUserError,
  defaultServerLimits,
  encodeRegionAccess,
  maxMessageSize,
  negotiate,
} from 'vfio-user-ts';
import { BAR0_SIZE, MemoryDevice, loopback, negotiated } from './support/loopback.js';

const errno = (n: number) => (e: unknown) => e instanceof VfioUserError && e.errno === n;

describe('session limits', () => {
  it('offers at most what QEMU can take, and no more than the client asked', () => {
    const caps = negotiate({ maxDataXferSize: 4096, maxDmaMaps: 10 }, { ...defaultServerLimits, maxMsgFds: 64 });
    assert.deepEqual(caps, { maxMsgFds: Limits.MAX_MAX_FDS, maxDataXferSize: 4096, maxDmaMaps: 10, pgsizes: 4096 });
    assert.equal(
      negotiate({ writeMultiple: true }, defaultServerLimits).writeMultiple,
      undefined,
      'write_multiple only when the server offers it',
    );
    assert.equal(negotiate({ writeMultiple: true }, { ...defaultServerLimits, writeMultiple: true }).writeMultiple, true);
  });

  it('holds accesses to the negotiated max_data_xfer_size', async () => {
    const { client } = loopback(new MemoryDevice(), { ...defaultServerLimits, maxDataXferSize: 1024 });
    const v = await client.version({ maxDataXferSize: 2048 });
    assert.equal(v.caps.maxDataXferSize, 1024, 'the smaller of the two');
    assert.equal((await client.regionRead(PciRegion.BAR0, 0, 1024)).length, 1024);
    await assert.rejects(client.regionRead(PciRegion.BAR0, 0, 1025), errno(Errno.EINVAL));
    await assert.rejects(client.regionWrite(PciRegion.BAR0, 0, Buffer.alloc(1025)), errno(Errno.EINVAL));
  });

  it('refuses accesses outside a region or to a region the device does not have', async () => {
    const { client } = await negotiated();
    await assert.rejects(client.regionRead(PciRegion.BAR0, BAR0_SIZE - 2, 4), errno(Errno.EINVAL));
    await assert.rejects(client.regionRead(PciRegion.BAR0, 2n ** 64n - 2n, 4), errno(Errno.EINVAL), 'offset + count past 2^64');
    await assert.rejects(client.regionRead(PciRegion.BAR2, 0, 4), errno(Errno.EINVAL), 'a region of size 0');
    await assert.rejects(client.request(Command.REGION_READ, encodeRegionAccess(0n, 99, 4)), errno(Errno.EINVAL), 'no such region');
  });

  it('sizes the transport for a maximal write plus headers', () => {
    const limits = { ...defaultServerLimits, maxDataXferSize: 1 << 20 };
    assert.ok(maxMessageSize(limits) >= 16 + 16 + (1 << 20));
    assert.ok(maxMessageSize(limits) < (1 << 20) + (1 << 17), 'and not much more');
  });

  it('keeps the VERSION reply inside QEMU 11.1’s 214-byte buffer whatever the limits', async () => {
    const { client, replies } = loopback(new MemoryDevice(), {
      ...defaultServerLimits,
      maxDmaMaps: 0xffffffff,
      maxDataXferSize: Limits.MAX_MAX_DATA_XFER,
      writeMultiple: true,
    });
    await client.version();
    assert.ok(replies[0]!.length <= Limits.VERSION_REPLY_MAX, `${replies[0]!.length} bytes`);
  });
});
