// The control schema (control.proto), loaded by reflection with protobufjs.
// The .proto file is read from the source tree, next to this file's source.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

export const CONTROL_SCHEMA_VERSION = 1;

function protoPath(): string {
  // src: daemon/src/control/schema.ts; dist: dist/daemon/src/control/schema.js
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, 'control.proto'), resolve(here, '../../../../daemon/src/control/control.proto')])
    if (existsSync(candidate)) return candidate;
  throw new Error('control.proto not found next to the control code');
}

const root = protobuf.loadSync(protoPath());
export const RequestType = root.lookupType('apple_gfxd.control.v1.Request');
export const ResponseType = root.lookupType('apple_gfxd.control.v1.Response');
export const ErrorCode = root.lookupEnum('apple_gfxd.control.v1.Error.Code').values as Record<string, number>;

/** Plain-object views (toObject with longs as numbers, enums as strings). */
export const toPlain = (t: protobuf.Type, m: protobuf.Message): Record<string, any> =>
  t.toObject(m, { longs: Number, enums: String, bytes: Buffer, defaults: true, oneofs: true, arrays: true });

export type ErrorName =
  | 'BAD_REQUEST'
  | 'UNKNOWN_DISPLAY'
  | 'BAD_MODE'
  | 'VERSION_MISMATCH'
  | 'WRONG_VARIANT'
  | 'UNSUPPORTED'
  | 'NO_FREE_PORT'
  | 'INTERNAL';

/** A typed control error: becomes Response.error. */
export class ControlError extends Error {
  constructor(
    readonly code: ErrorName,
    message: string,
  ) {
    super(message);
  }
}

/** Splits a stream into varint-length-delimited messages. Throws on a bad or oversized prefix. */
export class DelimitedReader {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly maxMessage: number) {}

  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    for (;;) {
      let len = 0;
      let shift = 0;
      let i = 0;
      for (; i < this.buf.length && i < 5; i++) {
        const b = this.buf[i]!;
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (!(b & 0x80)) break;
      }
      if (i === this.buf.length) return out; // prefix incomplete
      if (i === 5) throw new ControlError('BAD_REQUEST', 'length prefix longer than 5 bytes');
      if (len > this.maxMessage) throw new ControlError('BAD_REQUEST', `message of ${len} bytes exceeds ${this.maxMessage}`);
      const start = i + 1;
      if (this.buf.length < start + len) return out;
      out.push(this.buf.subarray(start, start + len));
      this.buf = this.buf.subarray(start + len);
    }
  }
}

export function delimited(t: protobuf.Type, obj: Record<string, unknown>): Buffer {
  const msg = t.fromObject(obj); // converts enum names, numbers and nested objects
  const err = t.verify(msg);
  if (err) throw new Error(`invalid ${t.name}: ${err}`);
  return Buffer.from(t.encodeDelimited(msg).finish());
}
