// The control stream's length-delimited reader (issue 12, defect 7): any
// chunking gives the same messages; a message over the limit is reported and
// skipped, and the stream goes on; a big message costs linear time (the old
// reader concatenated every chunk onto all before it: a 64 MiB message in
// 4 KiB chunks took minutes). And delimitedWithBytes encodes what protobufjs
// decodes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DelimitedReader,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeRestoreRequest,
  encodeSavedResponse,
} from '#daemon/control/schema.js';

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Buffer.from(out);
}

describe('DelimitedReader', () => {
  it('any chunking yields the same messages; oversized ones are reported and skipped', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 3000 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 50 }),
        (sizes, cuts) => {
          const max = 2000;
          const msgs = sizes.map((n, i) => Buffer.alloc(n, i + 1));
          const stream = Buffer.concat(msgs.flatMap((m) => [varint(m.length), m]));
          const r = new DelimitedReader(max);
          const got: ReturnType<DelimitedReader['push']> = [];
          let at = 0;
          for (let i = 0; at < stream.length; i++) {
            const n = cuts[i % cuts.length]!;
            got.push(...r.push(stream.subarray(at, at + n)));
            at += n;
          }
          assert.equal(got.length, msgs.length);
          got.forEach((g, i) => {
            if (msgs[i]!.length > max) assert.deepEqual(g, { tooLarge: msgs[i]!.length });
            else assert.ok('message' in g && g.message.equals(msgs[i]!), `message ${i}`);
          });
          assert.equal(r.buffered, 0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a prefix longer than 5 bytes breaks framing', () => {
    const r = new DelimitedReader(100);
    assert.throws(() => r.push(Buffer.from([0x80, 0x80, 0x80])) && r.push(Buffer.from([0x80, 0x80, 0x80])), /longer than 5 bytes/);
  });

  it('a 256 MiB message in 4 KiB chunks takes linear time', () => {
    const len = 256 << 20;
    const chunk = Buffer.alloc(4096, 7);
    const r = new DelimitedReader(len);
    const t0 = performance.now();
    let got = r.push(varint(len));
    for (let sent = 0; sent < len; sent += chunk.length) got = got.concat(r.push(chunk));
    const ms = performance.now() - t0;
    console.log(JSON.stringify({ bytes: len, chunks: len / 4096, ms: Math.round(ms) }));
    assert.equal(got.length, 1);
    assert.ok('message' in got[0]! && got[0].message.length === len);
    assert.ok(ms < 10_000, `${ms} ms`);
  });
});

describe('encodeSavedResponse / encodeRestoreRequest', () => {
  it('encode what protobufjs decodes, the data not copied', () => {
    for (const n of [0, 1, 127, 128, 300, 70000]) {
      const data = Buffer.alloc(n, 0xa5);
      const parts = encodeSavedResponse(7, data);
      assert.equal(parts.at(-1), data, 'the data is one of the parts');
      const r = new DelimitedReader(1 << 20);
      const [m] = r.push(Buffer.concat(parts));
      const res = decodeResponse((m as { message: Buffer }).message);
      assert.equal(res.id, 7);
      assert.equal(res.body, 'saved');
      assert.ok(res.saved!.state.equals(data));
      const [q] = new DelimitedReader(1 << 20).push(Buffer.concat(encodeRestoreRequest(3, 1, data)));
      const req = decodeRequest((q as { message: Buffer }).message);
      assert.deepEqual([req.id, req.schemaVersion, req.body], [3, 1, 'restore']);
      assert.ok(req.restore!.state.equals(data));
    }
    // Same message as protobufjs encodes for a request (field order aside): decoded alike.
    const data = Buffer.from('state');
    const mine = Buffer.concat(encodeRestoreRequest(3, 1, data));
    const theirs = encodeRequest({ id: 3, schemaVersion: 1, restore: { state: data } });
    const [a] = new DelimitedReader(1000).push(mine);
    const [b] = new DelimitedReader(1000).push(theirs);
    assert.deepEqual(decodeRequest((a as { message: Buffer }).message), decodeRequest((b as { message: Buffer }).message));
  });
});
