// VERSION (1): negotiation as QEMU 11.1 does it, and every malformed variant.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Command, Errno, Limits, MsgFlag, QEMU_VERSION_JSON, encodeMessage } from 'vfio-user-ts';
import { startDaemon, type RunningDaemon } from '../support/daemon.js';

const versionPayload = (major: number, minor: number, json?: string | Buffer): Buffer => {
  const head = Buffer.alloc(4);
  head.writeUInt16LE(major, 0);
  head.writeUInt16LE(minor, 2);
  if (json === undefined) return head;
  return Buffer.concat([head, typeof json === 'string' ? Buffer.from(json + '\0') : json]);
};

describe('VERSION', () => {
  let d: RunningDaemon;
  before(async () => (d = await startDaemon()));
  after(async () => d.stop());

  it("answers QEMU 11.1's exact offer within QEMU's 214-byte reply buffer", async () => {
    const c = d.connect();
    const r = await c.requestRaw(Command.VERSION, versionPayload(0, 0, QEMU_VERSION_JSON));
    assert.equal(r.header.flags & MsgFlag.ERROR, 0);
    assert.ok(r.header.size <= Limits.VERSION_REPLY_MAX, `reply is ${r.header.size} bytes`);
    assert.equal(r.payload.readUInt16LE(0), 0, 'major');
    assert.equal(r.payload.readUInt16LE(2), 0, 'minor');
    assert.equal(r.payload[r.payload.length - 1], 0, 'JSON is NUL-terminated');
    const caps = JSON.parse(r.payload.subarray(4, -1).toString()).capabilities;
    assert.ok(caps.max_msg_fds >= 1 && caps.max_msg_fds <= 16, 'max_msg_fds within QEMU limit');
    assert.equal(caps.max_data_xfer_size, 1048576);
    assert.equal(caps.pgsizes, 4096);
    assert.ok(caps.max_dma_maps <= 65535);
    assert.equal(caps.write_multiple, undefined, 'write_multiple not advertised by default (docs/design.md P12)');
    assert.equal(r.fds.length, 0);
    c.close();
  });

  it('replies with the smaller minor and a smaller max_data_xfer_size when the client offers less', async () => {
    const c = d.connect();
    const r = await c.requestRaw(Command.VERSION, versionPayload(0, 7, '{"capabilities":{"max_data_xfer_size":4096}}'));
    assert.equal(r.payload.readUInt16LE(2), 0);
    const caps = JSON.parse(r.payload.subarray(4, -1).toString()).capabilities;
    assert.equal(caps.max_data_xfer_size, 4096);
    // The negotiated limit is enforced afterwards.
    await assert.rejects(c.regionRead(7, 0, 8192), { errno: Errno.EINVAL });
    assert.equal((await c.regionRead(7, 0, 4)).readUInt16LE(0), 0x106b);
    c.close();
  });

  it('accepts a VERSION with no JSON at all', async () => {
    const c = d.connect();
    const r = await c.request(Command.VERSION, versionPayload(0, 0));
    assert.equal(r.payload.readUInt16LE(0), 0);
    c.close();
  });

  const bad: [string, Buffer][] = [
    ['a payload shorter than major+minor', Buffer.from([0, 0])],
    ['JSON without a NUL terminator', Buffer.concat([versionPayload(0, 0), Buffer.from('{"capabilities":{}}')])],
    ['JSON with broken braces', versionPayload(0, 0, '{"capabilities":{')],
    ['JSON with a bad quote', versionPayload(0, 0, '{"capabilities:{}}')],
    ['JSON that is an array', versionPayload(0, 0, '[1,2]')],
    ['"capabilities" that is not an object', versionPayload(0, 0, '{"capabilities":3}')],
    ['max_msg_fds that is a string', versionPayload(0, 0, '{"capabilities":{"max_msg_fds":"8"}}')],
    ['a negative max_msg_fds', versionPayload(0, 0, '{"capabilities":{"max_msg_fds":-1}}')],
    ['max_data_xfer_size of 0', versionPayload(0, 0, '{"capabilities":{"max_data_xfer_size":0}}')],
    ['pgsizes below 4 KiB', versionPayload(0, 0, '{"capabilities":{"pgsizes":512}}')],
    ['a migration that is not an object', versionPayload(0, 0, '{"capabilities":{"migration":true}}')],
    ['write_multiple that is not a boolean', versionPayload(0, 0, '{"capabilities":{"write_multiple":1}}')],
    ['a NUL inside the JSON', versionPayload(0, 0, Buffer.from('{"capabilities":{}}\0junk\0'))],
  ];
  for (const [name, payload] of bad) {
    it(`refuses ${name} with EINVAL and keeps the session`, async () => {
      const c = d.connect();
      const r = await c.requestRaw(Command.VERSION, payload);
      assert.equal(r.header.flags, MsgFlag.TYPE_REPLY | MsgFlag.ERROR);
      assert.equal(r.header.error, Errno.EINVAL);
      assert.equal(r.header.size, 16, 'error replies are header-only');
      // The same connection can still negotiate properly.
      const v = await c.version();
      assert.equal(v.major, 0);
      c.close();
    });
  }

  it('refuses an unsupported major version', async () => {
    const c = d.connect();
    const r = await c.requestRaw(Command.VERSION, versionPayload(1, 0, '{}'));
    assert.equal(r.header.error, Errno.ENOTSUP);
    c.close();
  });

  it('refuses a second VERSION on the same connection', async () => {
    const c = await d.connectNegotiated();
    await assert.rejects(c.version(), { errno: Errno.EINVAL });
    assert.equal(await c.read32(0, 0x1000), 0x58464741, 'still serving');
    c.close();
  });

  it('refuses other commands before VERSION, then negotiates', async () => {
    const c = d.connect();
    await assert.rejects(c.deviceInfo(), { errno: Errno.EINVAL });
    await c.version();
    assert.equal((await c.deviceInfo()).numRegions, 9);
    c.close();
  });

  it('advertises write_multiple only when told to', async () => {
    const d2 = await startDaemon(['--write-multiple']);
    try {
      const c = d2.connect();
      const v = await c.version();
      assert.equal(v.caps.writeMultiple, true);
      c.close();
    } finally {
      await d2.stop();
    }
  });

  it('never answers a VERSION sent with NO_REPLY', async () => {
    const c = d.connect();
    const id = c.allocId();
    c.sendRaw(encodeMessage({ id, command: Command.VERSION, flags: MsgFlag.NO_REPLY, error: 0 }, versionPayload(0, 0)));
    // It was processed (the session is negotiated) but not answered.
    assert.equal((await c.deviceInfo()).numIrqs, 5);
    assert.equal(c.unexpected.length, 0, 'no reply to the NO_REPLY message');
    c.close();
  });
});
