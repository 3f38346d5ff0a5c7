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
  | 'TOO_LARGE'
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

/** One item of a delimited stream: a whole message, or the length of one over the limit (its bytes are skipped). */
export type Delimited = { message: Buffer } | { tooLarge: number };

/**
 * Splits a stream into varint-length-delimited messages, in time linear in
 * the bytes: each byte is copied once, as it arrives (a message that lies in
 * one chunk is not copied at all), so a big message costs no quadratic
 * copying and no one long copy at the end. A message over `maxMessage` comes
 * out as `{tooLarge}` and its bytes are skipped as they arrive, so the stream
 * stays in step and the sender can be told (a typed error, not a dropped
 * connection). Throws only when framing is lost (a prefix over 5 bytes).
 */
export class DelimitedReader {
  /** Bytes after the last whole message (at most a prefix and part of a message that fits one chunk). */
  private rest: Buffer = Buffer.alloc(0);
  /** The message being filled in as its bytes come. */
  private filling: { buf: Buffer; at: number } | null = null;
  /** Bytes of a refused message still to skip. */
  private skipping = 0;
  constructor(private readonly maxMessage: number) {}

  /** Bytes held for a message not complete yet. */
  get buffered(): number {
    return this.rest.length + (this.filling?.at ?? 0);
  }

  push(chunk: Buffer): Delimited[] {
    const out: Delimited[] = [];
    let c = chunk;
    for (;;) {
      if (this.skipping) {
        const n = Math.min(this.skipping, c.length);
        this.skipping -= n;
        c = c.subarray(n);
        if (this.skipping) return out;
      }
      if (this.filling) {
        const f = this.filling;
        const n = Math.min(f.buf.length - f.at, c.length);
        c.copy(f.buf, f.at, 0, n);
        f.at += n;
        c = c.subarray(n);
        if (f.at < f.buf.length) return out;
        this.filling = null;
        out.push({ message: f.buf });
      }
      if (c.length === 0) return out;
      // Only a short tail (a prefix split across chunks) is ever joined.
      const b = this.rest.length ? Buffer.concat([this.rest, c]) : c;
      this.rest = Buffer.alloc(0);
      const prefix = readPrefix(b);
      if (!prefix) {
        this.rest = b;
        return out;
      }
      const [len, p] = prefix;
      if (len > this.maxMessage) {
        this.skipping = len;
        out.push({ tooLarge: len });
        c = b.subarray(p);
        continue;
      }
      if (b.length >= p + len) {
        out.push({ message: b.subarray(p, p + len) });
        c = b.subarray(p + len);
        continue;
      }
      // Spans chunks: allocated once, filled as the bytes come.
      this.filling = { buf: Buffer.allocUnsafe(len), at: 0 };
      c = b.subarray(p);
    }
  }
}

/** [length, bytes of the prefix] when a whole varint prefix starts `b`, else null. */
function readPrefix(b: Buffer): [number, number] | null {
  let len = 0;
  for (let i = 0; i < b.length; i++) {
    if (i === 5) throw new ControlError('BAD_REQUEST', 'length prefix longer than 5 bytes');
    len += (b[i]! & 0x7f) * 2 ** (7 * i);
    if (!(b[i]! & 0x80)) return [len, i + 1];
  }
  if (b.length >= 5) throw new ControlError('BAD_REQUEST', 'length prefix longer than 5 bytes');
  return null;
}

export function delimited(t: protobuf.Type, obj: Record<string, unknown>): Buffer {
  const msg = t.fromObject(obj); // converts enum names, numbers and nested objects
  const err = t.verify(msg);
  if (err) throw new Error(`invalid ${t.name}: ${err}`);
  return Buffer.from(t.encodeDelimited(msg).finish());
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Buffer.from(out);
}

/**
 * Length-delimited `obj` of type `t` plus `{[body]: {[field]: data}}` (a
 * message whose one big `bytes` field is a saved state), as parts for one
 * write: `data` is not copied. protobufjs would copy it twice into fresh
 * memory, ~0.35 s per 100 MB each on the JS thread here. The body goes after
 * the other fields, which protobuf allows; field numbers come from the schema.
 */
export function delimitedWithBytes(t: protobuf.Type, obj: Record<string, unknown>, body: string, field: string, data: Buffer): Buffer[] {
  const head = Buffer.from(t.encode(t.fromObject(obj)).finish());
  const bodyField = t.fields[body]!.resolve();
  const inner = (bodyField.resolvedType as protobuf.Type).fields[field]!;
  const innerHead = Buffer.concat([varint((inner.id << 3) | 2), varint(data.length)]);
  const bodyHead = Buffer.concat([varint((bodyField.id << 3) | 2), varint(innerHead.length + data.length)]);
  return [varint(head.length + bodyHead.length + innerHead.length + data.length), head, bodyHead, innerHead, data];
}
