import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QEMU_VERSION_JSON, decodeVersion, encodeVersion, negotiate } from 'vfio-user-ts';

const payload = (json: string): Buffer => Buffer.concat([Buffer.alloc(4), Buffer.from(json + '\0')]);
const server = { maxMsgFds: 16, maxDataXferSize: 1 << 20, maxDmaMaps: 4096, pgsizes: 4096, writeMultiple: false };

describe('VERSION codec', () => {
  it("decodes QEMU 11.1's offer", () => {
    const v = decodeVersion(payload(QEMU_VERSION_JSON));
    assert.deepEqual(v.caps, {
      pgsizes: 4096,
      maxMsgFds: 16,
      maxDmaMaps: 65535,
      maxDataXferSize: 1048576,
      migration: { maxBitmapSize: 268435456, pgsize: 4096 },
      writeMultiple: true,
    });
    assert.deepEqual(v.unknownKeys, []);
  });

  it('keeps unknown keys as information, not errors', () => {
    const v = decodeVersion(payload('{"capabilities":{"twin_socket":{"supported":true}},"x":1}'));
    assert.deepEqual(v.unknownKeys.sort(), ['capabilities.twin_socket', 'x']);
  });

  it('negotiates a subset: never more than the client offered or QEMU accepts', () => {
    assert.deepEqual(negotiate({ maxDataXferSize: 4096, maxDmaMaps: 10, writeMultiple: true }, server), {
      maxMsgFds: 16,
      maxDataXferSize: 4096,
      maxDmaMaps: 10,
      pgsizes: 4096,
    });
    assert.equal(negotiate({ writeMultiple: true }, { ...server, maxMsgFds: 64, writeMultiple: true }).maxMsgFds, 16);
    assert.equal(negotiate({ writeMultiple: true }, { ...server, writeMultiple: true }).writeMultiple, true);
    assert.equal(negotiate({}, { ...server, writeMultiple: true }).writeMultiple, undefined);
  });

  it("encodes a reply that round-trips and fits QEMU's 214-byte buffer", () => {
    const reply = encodeVersion(0, 0, negotiate(decodeVersion(payload(QEMU_VERSION_JSON)).caps, server));
    assert.ok(16 + reply.length <= 214, `${16 + reply.length} bytes`);
    assert.equal(reply[reply.length - 1], 0);
    assert.equal(decodeVersion(reply).caps.maxDataXferSize, 1 << 20);
  });
});
